-- 003_row_versions: store each row version once (issue 12).
--
-- Until now every snapshot held a copy of every row, carried or not. From
-- here on each <name>_rows table holds one row per version of a key:
--
--   valid_from    commit_seq of the first snapshot holding this version
--   valid_to      commit_seq of the first snapshot that no longer holds it;
--                 9223372036854775807 (max BIGINT) while the latest does
--   extracted_at  when this version's data was first fetched
--   then the table's columns.
--
-- A version is in snapshot s when valid_from <= s.commit_seq < valid_to.
-- <name>_history joins the retained snapshots (view snapshots) to the
-- versions; <name> is the open versions. A night where nothing changed adds
-- no rows; a changed row closes its version and opens a new one.
--
-- Upgrade: every snapshot's rows become versions by grouping, per key,
-- consecutive snapshots whose rows are identical in every column,
-- extracted_at included, so every view returns exactly the rows it
-- returned before. (From now on an unchanged row fetched again extends its
-- version and keeps its first extracted_at: see load/doc.go.)
--
-- Staging, the work queue and carries move to a side file next to the
-- warehouse (<db>.staging/): runs that were interrupted under the old
-- layout cannot be continued and are marked failed.

UPDATE etl_runs SET status = 'failed', finished_at = coalesce(finished_at, now()),
    error = coalesce(error || '; ', '') || 'interrupted before the storage upgrade (migration 003); its pages are fetched again by the next run'
    WHERE status IN ('running', 'incomplete');

-- Snapshots older than the floor were removed by retention (--retain).
CREATE TABLE snapshot_floor (commit_seq BIGINT NOT NULL);
INSERT INTO snapshot_floor
    SELECT coalesce(min(commit_seq), 0) FROM etl_runs
    WHERE status = 'succeeded' AND run_id IN (SELECT run_id FROM campaigns_rows
        UNION SELECT run_id FROM campaign_analytics_rows
        UNION SELECT run_id FROM leads_rows
        UNION SELECT run_id FROM lead_email_stats_rows
        UNION SELECT run_id FROM sequences_rows
        UNION SELECT run_id FROM email_accounts_rows
        UNION SELECT run_id FROM clients_rows UNION SELECT run_id FROM reported_totals_rows);

CREATE TABLE campaigns_versions AS
    SELECT 0::BIGINT AS valid_from, 0::BIGINT AS valid_to, * EXCLUDE (run_id, batch, snapshot_date) FROM campaigns_rows LIMIT 0;
INSERT INTO campaigns_versions
    WITH snaps AS (SELECT run_id, commit_seq, row_number() OVER (ORDER BY commit_seq) AS n
            FROM etl_runs WHERE status = 'succeeded' AND commit_seq IS NOT NULL),
        r AS (SELECT s.n, s.commit_seq, t.* EXCLUDE (run_id, batch, snapshot_date) FROM campaigns_rows t JOIN snaps s USING (run_id)),
        d AS (SELECT n, commit_seq, campaign_id, struct_pack(*COLUMNS(* EXCLUDE (n, commit_seq))) AS v FROM r),
        e AS (SELECT *, CASE WHEN lag(n) OVER w = n - 1 AND lag(v) OVER w IS NOT DISTINCT FROM v THEN 0 ELSE 1 END AS brk
            FROM d WINDOW w AS (PARTITION BY campaign_id ORDER BY n)),
        f AS (SELECT *, sum(brk) OVER (PARTITION BY campaign_id ORDER BY n ROWS UNBOUNDED PRECEDING) AS isl FROM e),
        g AS (SELECT min(commit_seq) AS valid_from, max(n) AS last_n, any_value(v) AS v FROM f GROUP BY campaign_id, isl)
    SELECT g.valid_from, coalesce(nx.commit_seq, 9223372036854775807), unnest(g.v)
    FROM g LEFT JOIN snaps nx ON nx.n = g.last_n + 1
    ORDER BY g.valid_from, g.v.campaign_id;
DROP VIEW campaigns_history;
DROP VIEW campaigns;
DROP TABLE campaigns_rows;
ALTER TABLE campaigns_versions RENAME TO campaigns_rows;

CREATE TABLE campaign_analytics_versions AS
    SELECT 0::BIGINT AS valid_from, 0::BIGINT AS valid_to, * EXCLUDE (run_id, batch, snapshot_date) FROM campaign_analytics_rows LIMIT 0;
INSERT INTO campaign_analytics_versions
    WITH snaps AS (SELECT run_id, commit_seq, row_number() OVER (ORDER BY commit_seq) AS n
            FROM etl_runs WHERE status = 'succeeded' AND commit_seq IS NOT NULL),
        r AS (SELECT s.n, s.commit_seq, t.* EXCLUDE (run_id, batch, snapshot_date) FROM campaign_analytics_rows t JOIN snaps s USING (run_id)),
        d AS (SELECT n, commit_seq, campaign_id, struct_pack(*COLUMNS(* EXCLUDE (n, commit_seq))) AS v FROM r),
        e AS (SELECT *, CASE WHEN lag(n) OVER w = n - 1 AND lag(v) OVER w IS NOT DISTINCT FROM v THEN 0 ELSE 1 END AS brk
            FROM d WINDOW w AS (PARTITION BY campaign_id ORDER BY n)),
        f AS (SELECT *, sum(brk) OVER (PARTITION BY campaign_id ORDER BY n ROWS UNBOUNDED PRECEDING) AS isl FROM e),
        g AS (SELECT min(commit_seq) AS valid_from, max(n) AS last_n, any_value(v) AS v FROM f GROUP BY campaign_id, isl)
    SELECT g.valid_from, coalesce(nx.commit_seq, 9223372036854775807), unnest(g.v)
    FROM g LEFT JOIN snaps nx ON nx.n = g.last_n + 1
    ORDER BY g.valid_from, g.v.campaign_id;
DROP VIEW campaign_analytics_history;
DROP VIEW campaign_analytics;
DROP TABLE campaign_analytics_rows;
ALTER TABLE campaign_analytics_versions RENAME TO campaign_analytics_rows;

CREATE TABLE leads_versions AS
    SELECT 0::BIGINT AS valid_from, 0::BIGINT AS valid_to, * EXCLUDE (run_id, batch, snapshot_date) FROM leads_rows LIMIT 0;
INSERT INTO leads_versions
    WITH snaps AS (SELECT run_id, commit_seq, row_number() OVER (ORDER BY commit_seq) AS n
            FROM etl_runs WHERE status = 'succeeded' AND commit_seq IS NOT NULL),
        r AS (SELECT s.n, s.commit_seq, t.* EXCLUDE (run_id, batch, snapshot_date) FROM leads_rows t JOIN snaps s USING (run_id)),
        d AS (SELECT n, commit_seq, campaign_lead_map_id, struct_pack(*COLUMNS(* EXCLUDE (n, commit_seq))) AS v FROM r),
        e AS (SELECT *, CASE WHEN lag(n) OVER w = n - 1 AND lag(v) OVER w IS NOT DISTINCT FROM v THEN 0 ELSE 1 END AS brk
            FROM d WINDOW w AS (PARTITION BY campaign_lead_map_id ORDER BY n)),
        f AS (SELECT *, sum(brk) OVER (PARTITION BY campaign_lead_map_id ORDER BY n ROWS UNBOUNDED PRECEDING) AS isl FROM e),
        g AS (SELECT min(commit_seq) AS valid_from, max(n) AS last_n, any_value(v) AS v FROM f GROUP BY campaign_lead_map_id, isl)
    SELECT g.valid_from, coalesce(nx.commit_seq, 9223372036854775807), unnest(g.v)
    FROM g LEFT JOIN snaps nx ON nx.n = g.last_n + 1
    ORDER BY g.valid_from, g.v.campaign_lead_map_id;
DROP VIEW leads_history;
DROP VIEW leads;
DROP TABLE leads_rows;
ALTER TABLE leads_versions RENAME TO leads_rows;

CREATE TABLE lead_email_stats_versions AS
    SELECT 0::BIGINT AS valid_from, 0::BIGINT AS valid_to, * EXCLUDE (run_id, batch, snapshot_date) FROM lead_email_stats_rows LIMIT 0;
INSERT INTO lead_email_stats_versions
    WITH snaps AS (SELECT run_id, commit_seq, row_number() OVER (ORDER BY commit_seq) AS n
            FROM etl_runs WHERE status = 'succeeded' AND commit_seq IS NOT NULL),
        r AS (SELECT s.n, s.commit_seq, t.* EXCLUDE (run_id, batch, snapshot_date) FROM lead_email_stats_rows t JOIN snaps s USING (run_id)),
        d AS (SELECT n, commit_seq, stats_id, struct_pack(*COLUMNS(* EXCLUDE (n, commit_seq))) AS v FROM r),
        e AS (SELECT *, CASE WHEN lag(n) OVER w = n - 1 AND lag(v) OVER w IS NOT DISTINCT FROM v THEN 0 ELSE 1 END AS brk
            FROM d WINDOW w AS (PARTITION BY stats_id ORDER BY n)),
        f AS (SELECT *, sum(brk) OVER (PARTITION BY stats_id ORDER BY n ROWS UNBOUNDED PRECEDING) AS isl FROM e),
        g AS (SELECT min(commit_seq) AS valid_from, max(n) AS last_n, any_value(v) AS v FROM f GROUP BY stats_id, isl)
    SELECT g.valid_from, coalesce(nx.commit_seq, 9223372036854775807), unnest(g.v)
    FROM g LEFT JOIN snaps nx ON nx.n = g.last_n + 1
    ORDER BY g.valid_from, g.v.stats_id;
DROP VIEW lead_email_stats_history;
DROP VIEW lead_email_stats;
DROP TABLE lead_email_stats_rows;
ALTER TABLE lead_email_stats_versions RENAME TO lead_email_stats_rows;

CREATE TABLE sequences_versions AS
    SELECT 0::BIGINT AS valid_from, 0::BIGINT AS valid_to, * EXCLUDE (run_id, batch, snapshot_date) FROM sequences_rows LIMIT 0;
INSERT INTO sequences_versions
    WITH snaps AS (SELECT run_id, commit_seq, row_number() OVER (ORDER BY commit_seq) AS n
            FROM etl_runs WHERE status = 'succeeded' AND commit_seq IS NOT NULL),
        r AS (SELECT s.n, s.commit_seq, t.* EXCLUDE (run_id, batch, snapshot_date) FROM sequences_rows t JOIN snaps s USING (run_id)),
        d AS (SELECT n, commit_seq, sequence_id, struct_pack(*COLUMNS(* EXCLUDE (n, commit_seq))) AS v FROM r),
        e AS (SELECT *, CASE WHEN lag(n) OVER w = n - 1 AND lag(v) OVER w IS NOT DISTINCT FROM v THEN 0 ELSE 1 END AS brk
            FROM d WINDOW w AS (PARTITION BY sequence_id ORDER BY n)),
        f AS (SELECT *, sum(brk) OVER (PARTITION BY sequence_id ORDER BY n ROWS UNBOUNDED PRECEDING) AS isl FROM e),
        g AS (SELECT min(commit_seq) AS valid_from, max(n) AS last_n, any_value(v) AS v FROM f GROUP BY sequence_id, isl)
    SELECT g.valid_from, coalesce(nx.commit_seq, 9223372036854775807), unnest(g.v)
    FROM g LEFT JOIN snaps nx ON nx.n = g.last_n + 1
    ORDER BY g.valid_from, g.v.sequence_id;
DROP VIEW sequences_history;
DROP VIEW sequences;
DROP TABLE sequences_rows;
ALTER TABLE sequences_versions RENAME TO sequences_rows;

CREATE TABLE email_accounts_versions AS
    SELECT 0::BIGINT AS valid_from, 0::BIGINT AS valid_to, * EXCLUDE (run_id, batch, snapshot_date) FROM email_accounts_rows LIMIT 0;
INSERT INTO email_accounts_versions
    WITH snaps AS (SELECT run_id, commit_seq, row_number() OVER (ORDER BY commit_seq) AS n
            FROM etl_runs WHERE status = 'succeeded' AND commit_seq IS NOT NULL),
        r AS (SELECT s.n, s.commit_seq, t.* EXCLUDE (run_id, batch, snapshot_date) FROM email_accounts_rows t JOIN snaps s USING (run_id)),
        d AS (SELECT n, commit_seq, email_account_id, struct_pack(*COLUMNS(* EXCLUDE (n, commit_seq))) AS v FROM r),
        e AS (SELECT *, CASE WHEN lag(n) OVER w = n - 1 AND lag(v) OVER w IS NOT DISTINCT FROM v THEN 0 ELSE 1 END AS brk
            FROM d WINDOW w AS (PARTITION BY email_account_id ORDER BY n)),
        f AS (SELECT *, sum(brk) OVER (PARTITION BY email_account_id ORDER BY n ROWS UNBOUNDED PRECEDING) AS isl FROM e),
        g AS (SELECT min(commit_seq) AS valid_from, max(n) AS last_n, any_value(v) AS v FROM f GROUP BY email_account_id, isl)
    SELECT g.valid_from, coalesce(nx.commit_seq, 9223372036854775807), unnest(g.v)
    FROM g LEFT JOIN snaps nx ON nx.n = g.last_n + 1
    ORDER BY g.valid_from, g.v.email_account_id;
DROP VIEW email_accounts_history;
DROP VIEW email_accounts;
DROP TABLE email_accounts_rows;
ALTER TABLE email_accounts_versions RENAME TO email_accounts_rows;

CREATE TABLE clients_versions AS
    SELECT 0::BIGINT AS valid_from, 0::BIGINT AS valid_to, * EXCLUDE (run_id, batch, snapshot_date) FROM clients_rows LIMIT 0;
INSERT INTO clients_versions
    WITH snaps AS (SELECT run_id, commit_seq, row_number() OVER (ORDER BY commit_seq) AS n
            FROM etl_runs WHERE status = 'succeeded' AND commit_seq IS NOT NULL),
        r AS (SELECT s.n, s.commit_seq, t.* EXCLUDE (run_id, batch, snapshot_date) FROM clients_rows t JOIN snaps s USING (run_id)),
        d AS (SELECT n, commit_seq, client_id, struct_pack(*COLUMNS(* EXCLUDE (n, commit_seq))) AS v FROM r),
        e AS (SELECT *, CASE WHEN lag(n) OVER w = n - 1 AND lag(v) OVER w IS NOT DISTINCT FROM v THEN 0 ELSE 1 END AS brk
            FROM d WINDOW w AS (PARTITION BY client_id ORDER BY n)),
        f AS (SELECT *, sum(brk) OVER (PARTITION BY client_id ORDER BY n ROWS UNBOUNDED PRECEDING) AS isl FROM e),
        g AS (SELECT min(commit_seq) AS valid_from, max(n) AS last_n, any_value(v) AS v FROM f GROUP BY client_id, isl)
    SELECT g.valid_from, coalesce(nx.commit_seq, 9223372036854775807), unnest(g.v)
    FROM g LEFT JOIN snaps nx ON nx.n = g.last_n + 1
    ORDER BY g.valid_from, g.v.client_id;
DROP VIEW clients_history;
DROP VIEW clients;
DROP TABLE clients_rows;
ALTER TABLE clients_versions RENAME TO clients_rows;

DROP TABLE campaign_daily_stats_staging;
DROP TABLE work_items;
DROP TABLE run_carry;

-- The retained snapshots, oldest first: what every _history view shows.
CREATE VIEW snapshots AS
    SELECT run_id, commit_seq, snapshot_date FROM etl_runs
    WHERE status = 'succeeded' AND commit_seq >= (SELECT coalesce(max(commit_seq), 0) FROM snapshot_floor);

CREATE VIEW campaigns_history AS
    SELECT s.run_id, s.snapshot_date, v.* EXCLUDE (valid_from, valid_to)
    FROM campaigns_rows v JOIN snapshots s ON v.valid_from <= s.commit_seq AND s.commit_seq < v.valid_to;
CREATE VIEW campaigns AS
    SELECT s.run_id, s.snapshot_date, v.* EXCLUDE (valid_from, valid_to)
    FROM campaigns_rows v, latest_run s WHERE v.valid_to = 9223372036854775807;
CREATE VIEW campaign_analytics_history AS
    SELECT s.run_id, s.snapshot_date, v.* EXCLUDE (valid_from, valid_to)
    FROM campaign_analytics_rows v JOIN snapshots s ON v.valid_from <= s.commit_seq AND s.commit_seq < v.valid_to;
CREATE VIEW campaign_analytics AS
    SELECT s.run_id, s.snapshot_date, v.* EXCLUDE (valid_from, valid_to)
    FROM campaign_analytics_rows v, latest_run s WHERE v.valid_to = 9223372036854775807;
CREATE VIEW leads_history AS
    SELECT s.run_id, s.snapshot_date, v.* EXCLUDE (valid_from, valid_to)
    FROM leads_rows v JOIN snapshots s ON v.valid_from <= s.commit_seq AND s.commit_seq < v.valid_to;
CREATE VIEW leads AS
    SELECT s.run_id, s.snapshot_date, v.* EXCLUDE (valid_from, valid_to)
    FROM leads_rows v, latest_run s WHERE v.valid_to = 9223372036854775807;
CREATE VIEW lead_email_stats_history AS
    SELECT s.run_id, s.snapshot_date, v.* EXCLUDE (valid_from, valid_to)
    FROM lead_email_stats_rows v JOIN snapshots s ON v.valid_from <= s.commit_seq AND s.commit_seq < v.valid_to;
CREATE VIEW lead_email_stats AS
    SELECT s.run_id, s.snapshot_date, v.* EXCLUDE (valid_from, valid_to)
    FROM lead_email_stats_rows v, latest_run s WHERE v.valid_to = 9223372036854775807;
CREATE VIEW sequences_history AS
    SELECT s.run_id, s.snapshot_date, v.* EXCLUDE (valid_from, valid_to)
    FROM sequences_rows v JOIN snapshots s ON v.valid_from <= s.commit_seq AND s.commit_seq < v.valid_to;
CREATE VIEW sequences AS
    SELECT s.run_id, s.snapshot_date, v.* EXCLUDE (valid_from, valid_to)
    FROM sequences_rows v, latest_run s WHERE v.valid_to = 9223372036854775807;
CREATE VIEW email_accounts_history AS
    SELECT s.run_id, s.snapshot_date, v.* EXCLUDE (valid_from, valid_to)
    FROM email_accounts_rows v JOIN snapshots s ON v.valid_from <= s.commit_seq AND s.commit_seq < v.valid_to;
CREATE VIEW email_accounts AS
    SELECT s.run_id, s.snapshot_date, v.* EXCLUDE (valid_from, valid_to)
    FROM email_accounts_rows v, latest_run s WHERE v.valid_to = 9223372036854775807;
CREATE VIEW clients_history AS
    SELECT s.run_id, s.snapshot_date, v.* EXCLUDE (valid_from, valid_to)
    FROM clients_rows v JOIN snapshots s ON v.valid_from <= s.commit_seq AND s.commit_seq < v.valid_to;
CREATE VIEW clients AS
    SELECT s.run_id, s.snapshot_date, v.* EXCLUDE (valid_from, valid_to)
    FROM clients_rows v, latest_run s WHERE v.valid_to = 9223372036854775807;

-- One row per lead per retained snapshot in which its status or category
-- changed; its first appearance has NULL old values.
CREATE VIEW lead_changes AS
    SELECT v.campaign_lead_map_id, v.lead_id, v.campaign_id, v.email, s.run_id, s.snapshot_date,
        v.old_status, v.status AS new_status, v.old_lead_category_id, v.lead_category_id AS new_lead_category_id
    FROM (SELECT campaign_lead_map_id, lead_id, campaign_id, email, status, lead_category_id, valid_from,
            lag(valid_from) OVER w AS prev_from, lag(status) OVER w AS old_status,
            lag(lead_category_id) OVER w AS old_lead_category_id
          FROM leads_rows WINDOW w AS (PARTITION BY campaign_lead_map_id ORDER BY valid_from)) v
    JOIN snapshots s ON s.commit_seq = v.valid_from
    WHERE v.prev_from IS NULL OR v.status IS DISTINCT FROM v.old_status
        OR v.lead_category_id IS DISTINCT FROM v.old_lead_category_id;
