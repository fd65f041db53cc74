-- 005_change_signals: nights that cost what happened (issue 19).
--
-- An incremental night asks the API once for the whole account what
-- changed (the campaign list, /campaigns/all-leads-activities,
-- /analytics/campaign/overall-stats, webhook events) and reads only the
-- campaigns a signal names. Two things follow for the schema.
--
-- data_checks gains the severity 'info': a signal the night could not
-- trust and replaced by the per-campaign path that completed. The
-- snapshot is exact, so it is not a warning (etl_runs.warnings and the
-- exit code do not count it), but it is recorded, with the reason.
-- DuckDB cannot change a CHECK in place: the table is rebuilt, rows kept.

CREATE TABLE data_checks_v5 (
    run_id   VARCHAR NOT NULL,
    "check"  VARCHAR NOT NULL,
    subject  VARCHAR NOT NULL,
    detail   VARCHAR NOT NULL,
    severity VARCHAR NOT NULL CHECK (severity IN ('ok', 'info', 'warning', 'error'))
);
INSERT INTO data_checks_v5 SELECT run_id, "check", subject, detail, severity FROM data_checks;
DROP TABLE data_checks;
ALTER TABLE data_checks_v5 RENAME TO data_checks;

-- overall_stats_seen keeps, per campaign and overall-stats range (a cell
-- of the fixed 30-day grid, keyed by its first day), the row the
-- published snapshot's night read: the next night compares its rows with
-- these, like with like, and re-reads the campaigns whose counters moved.
-- It is replaced cell by cell in the transaction that publishes a
-- snapshot (a cell read that night loses the rows of campaigns it no
-- longer lists), so it always describes the published snapshot. Internal:
-- not a snapshot table, not exported.
CREATE TABLE overall_stats_seen (
    campaign_id       BIGINT NOT NULL,
    range_start       DATE NOT NULL,     -- the cell's first day (UTC)
    range_end         DATE NOT NULL,     -- its last day as read (the newest cell grows daily)
    sent              BIGINT NOT NULL,
    opened            BIGINT NOT NULL,
    replied           BIGINT NOT NULL,
    bounced           BIGINT NOT NULL,
    unsubscribed      BIGINT NOT NULL,
    positive_replied  BIGINT NOT NULL,
    unique_lead_count BIGINT NOT NULL,
    unique_open_count BIGINT NOT NULL,
    run_id            VARCHAR NOT NULL,  -- the run that read it
    PRIMARY KEY (campaign_id, range_start)
);

-- The cells each night read, rows or none: a cell read with no rows is
-- known to be empty, not unread.
CREATE TABLE overall_stats_cells (
    range_start DATE PRIMARY KEY,
    range_end   DATE NOT NULL,
    run_id      VARCHAR NOT NULL
);
