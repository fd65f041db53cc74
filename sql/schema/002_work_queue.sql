-- 002_work_queue: budget-aware, resumable, incremental runs (issue 6).
--
-- A run's work is a persisted queue of page-sized requests (work_items).
-- A page's rows are staged in the <name>_rows tables tagged with
-- batch = its item's seq, made durable, and only then is the item marked
-- done; so after a crash the rows of an item not done are deleted and the
-- page is fetched again, and a page is never held twice.
--
-- An incremental run copies the unchanged rows of the previous snapshot
-- into its own at commit (run_carry says which), so that each snapshot is
-- complete on its own and deleting an old run's rows is always safe.
-- Copied rows carry batch = 0, which no page uses.

-- DuckDB cannot add a column with a constraint: the values are enforced
-- by the program (RunStart.Mode), and runs before this migration were
-- all full refreshes.
ALTER TABLE etl_runs ADD COLUMN mode VARCHAR DEFAULT 'full';      -- 'full' | 'incremental'
ALTER TABLE etl_runs ADD COLUMN resumed INTEGER DEFAULT 0;        -- times the run was resumed
ALTER TABLE etl_runs ADD COLUMN planned BOOLEAN DEFAULT false;    -- its work plan is in work_items

-- The page that produced a rejected record, so that a page fetched again
-- after a crash does not report its rejects twice.
ALTER TABLE rejected_records ADD COLUMN batch BIGINT;

CREATE TABLE work_items (
    run_id      VARCHAR NOT NULL,
    seq         BIGINT NOT NULL,               -- order of enqueueing, which is priority; the batch of its rows
    status      VARCHAR NOT NULL CHECK (status IN ('pending', 'done')),
    stream      VARCHAR NOT NULL,
    campaign_id BIGINT,                        -- NULL for account-level streams
    day         VARCHAR,                       -- YYYY-MM-DD, daily stats only
    "offset"    INTEGER NOT NULL,
    since       TIMESTAMPTZ,                   -- incremental lower bound; NULL = full
    item        JSON NOT NULL,                 -- the extract.Item as enqueued, read back on resume
    done_at     TIMESTAMPTZ,
    PRIMARY KEY (run_id, seq)
);

CREATE TABLE run_carry (
    run_id      VARCHAR NOT NULL,
    stream      VARCHAR NOT NULL,              -- campaign_analytics, sequences, leads, lead_email_stats
    campaign_id BIGINT NOT NULL,
    from_run    VARCHAR NOT NULL,              -- the succeeded run whose rows are copied
    mode        VARCHAR NOT NULL CHECK (mode IN ('all', 'merge')),
    PRIMARY KEY (run_id, stream, campaign_id)
);
