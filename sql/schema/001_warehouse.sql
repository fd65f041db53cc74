-- 001_warehouse: the warehouse's public tables and views (issue 3).
--
-- Layout, for each snapshot table <name> (campaigns, leads, ...):
--   <name>_rows      the rows every run appended: run_id, batch (the Write
--                    call that staged the row, for resuming a run),
--                    snapshot_date, extracted_at, then the row's columns.
--                    Rows of a run not yet succeeded are staged here,
--                    durable but invisible.
--   <name>_history   view: the rows of every succeeded run, one snapshot
--                    each (run_id, snapshot_date, extracted_at, columns).
--   <name>           view: the rows of the latest succeeded run.
-- A run becomes visible in all of them at once when its etl_runs row flips
-- to 'succeeded' (one small transaction, no copy), so a crash at any moment
-- leaves every view exactly as it was.
--
-- No column anywhere holds a password or the API key.

CREATE TABLE etl_runs (
    run_id                    VARCHAR PRIMARY KEY,
    commit_seq                BIGINT,          -- order in which runs succeeded; the views follow the highest
    status                    VARCHAR NOT NULL CHECK (status IN ('running', 'succeeded', 'incomplete', 'failed', 'cancelled')),
    snapshot_date             DATE NOT NULL,
    started_at                TIMESTAMPTZ NOT NULL,
    finished_at               TIMESTAMPTZ,
    requests                  BIGINT,
    throttled                 BIGINT,          -- 429 responses seen
    retries                   BIGINT,
    wait_seconds              DOUBLE,          -- time spent waiting on the rate limiter
    rejected                  BIGINT,          -- rows in rejected_records for this run
    warnings                  BIGINT,          -- data_checks rows with severity 'warning'
    rows_campaigns            BIGINT,
    rows_campaign_analytics   BIGINT,
    rows_campaign_daily_stats BIGINT,
    rows_leads                BIGINT,
    rows_lead_email_stats     BIGINT,
    rows_sequences            BIGINT,
    rows_email_accounts       BIGINT,
    rows_clients              BIGINT,
    error                     VARCHAR,
    config                    JSON             -- the run's settings, never a secret
);

-- The quota ledger: one row per HTTP attempt, kept whatever the run's fate.
CREATE TABLE api_requests (
    run_id         VARCHAR NOT NULL,
    "at"           TIMESTAMPTZ NOT NULL,       -- when the request was sent
    endpoint       VARCHAR NOT NULL,           -- path template, never a URL
    campaign_id    BIGINT,
    status         INTEGER NOT NULL,           -- HTTP status; 0 for a transport error
    duration_ms    DOUBLE NOT NULL,
    attempt        INTEGER NOT NULL,
    waited_ms      DOUBLE NOT NULL,
    rate_remaining INTEGER,                    -- X-RateLimit-Remaining; NULL when absent
    error          VARCHAR
);

CREATE TABLE rejected_records (
    run_id     VARCHAR NOT NULL,
    stream     VARCHAR NOT NULL,
    record_key VARCHAR NOT NULL,
    field      VARCHAR NOT NULL,
    reason     VARCHAR NOT NULL,
    raw        JSON
);

CREATE TABLE data_checks (
    run_id   VARCHAR NOT NULL,
    "check"  VARCHAR NOT NULL,
    subject  VARCHAR NOT NULL,
    detail   VARCHAR NOT NULL,
    severity VARCHAR NOT NULL CHECK (severity IN ('ok', 'warning', 'error'))
);

CREATE TABLE campaigns_rows (
    run_id               VARCHAR NOT NULL,
    batch                BIGINT NOT NULL,
    snapshot_date        DATE NOT NULL,
    extracted_at         TIMESTAMPTZ NOT NULL,
    campaign_id          BIGINT NOT NULL,
    user_id              BIGINT,
    name                 VARCHAR NOT NULL,
    status               VARCHAR NOT NULL,
    created_at           TIMESTAMPTZ,
    updated_at           TIMESTAMPTZ,
    client_id            BIGINT,
    parent_campaign_id   BIGINT,
    track_settings       JSON,
    scheduler_cron_value JSON,
    min_time_btwn_emails BIGINT,
    max_leads_per_day    BIGINT,
    stop_lead_settings   VARCHAR,
    follow_up_percentage BIGINT,
    send_as_plain_text   BOOLEAN,
    tags                 JSON
);

CREATE TABLE campaign_analytics_rows (
    run_id             VARCHAR NOT NULL,
    batch              BIGINT NOT NULL,
    snapshot_date      DATE NOT NULL,
    extracted_at       TIMESTAMPTZ NOT NULL,
    campaign_id        BIGINT NOT NULL,
    name               VARCHAR,
    status             VARCHAR,
    client_id          BIGINT,
    sequence_count     BIGINT,
    sent_count         BIGINT NOT NULL,
    unique_sent_count  BIGINT NOT NULL,
    open_count         BIGINT NOT NULL,
    unique_open_count  BIGINT NOT NULL,
    click_count        BIGINT NOT NULL,
    unique_click_count BIGINT NOT NULL,
    reply_count        BIGINT NOT NULL,
    bounce_count       BIGINT NOT NULL,
    unsubscribed_count BIGINT NOT NULL,
    block_count        BIGINT NOT NULL,
    total_count        BIGINT NOT NULL,
    drafted_count      BIGINT NOT NULL,
    leads_total        BIGINT NOT NULL,
    leads_not_started  BIGINT NOT NULL,
    leads_in_progress  BIGINT NOT NULL,
    leads_completed    BIGINT NOT NULL,
    leads_paused       BIGINT NOT NULL,
    leads_stopped      BIGINT NOT NULL,
    leads_blocked      BIGINT NOT NULL,
    leads_interested   BIGINT NOT NULL,
    revenue            DOUBLE
);

CREATE TABLE leads_rows (
    run_id               VARCHAR NOT NULL,
    batch                BIGINT NOT NULL,
    snapshot_date        DATE NOT NULL,
    extracted_at         TIMESTAMPTZ NOT NULL,
    campaign_lead_map_id BIGINT NOT NULL,
    lead_id              BIGINT NOT NULL,
    campaign_id          BIGINT NOT NULL,
    email                VARCHAR NOT NULL,
    first_name           VARCHAR,
    last_name            VARCHAR,
    company_name         VARCHAR,
    phone_number         VARCHAR,
    website              VARCHAR,
    location             VARCHAR,
    linkedin_profile     VARCHAR,
    company_url          VARCHAR,
    status               VARCHAR,
    lead_category_id     BIGINT,
    created_at           TIMESTAMPTZ,
    is_unsubscribed      BOOLEAN NOT NULL,
    custom_fields        JSON
);

CREATE TABLE lead_email_stats_rows (
    run_id                VARCHAR NOT NULL,
    batch                 BIGINT NOT NULL,
    snapshot_date         DATE NOT NULL,
    extracted_at          TIMESTAMPTZ NOT NULL,
    stats_id              VARCHAR NOT NULL,
    campaign_id           BIGINT NOT NULL,
    lead_name             VARCHAR,
    lead_email            VARCHAR NOT NULL,
    lead_category         VARCHAR,
    sequence_number       BIGINT,
    email_campaign_seq_id BIGINT,
    seq_variant_id        BIGINT,
    email_subject         VARCHAR,
    sent_time             TIMESTAMPTZ,
    open_time             TIMESTAMPTZ,
    click_time            TIMESTAMPTZ,
    reply_time            TIMESTAMPTZ,
    open_count            BIGINT NOT NULL,
    click_count           BIGINT NOT NULL,
    is_bounced            BOOLEAN NOT NULL,
    is_unsubscribed       BOOLEAN NOT NULL
);

CREATE TABLE sequences_rows (
    run_id            VARCHAR NOT NULL,
    batch             BIGINT NOT NULL,
    snapshot_date     DATE NOT NULL,
    extracted_at      TIMESTAMPTZ NOT NULL,
    sequence_id       BIGINT NOT NULL,
    campaign_id       BIGINT NOT NULL,
    seq_number        BIGINT NOT NULL,
    subject           VARCHAR,
    delay_in_days     BIGINT,
    email_body        VARCHAR,
    created_at        TIMESTAMPTZ,
    updated_at        TIMESTAMPTZ,
    sequence_variants JSON
);

CREATE TABLE email_accounts_rows (
    run_id            VARCHAR NOT NULL,
    batch             BIGINT NOT NULL,
    snapshot_date     DATE NOT NULL,
    extracted_at      TIMESTAMPTZ NOT NULL,
    email_account_id  BIGINT NOT NULL,
    from_email        VARCHAR NOT NULL,
    from_name         VARCHAR,
    type              VARCHAR,
    message_per_day   BIGINT,
    daily_sent_count  BIGINT,
    warmup_status     VARCHAR,
    warmup_reputation DOUBLE,                  -- "95%" and 95 both become 95
    warmup_total_sent BIGINT,
    warmup_spam_count BIGINT,
    client_id         BIGINT,
    campaign_count    BIGINT,
    is_smtp_success   BOOLEAN,
    is_imap_success   BOOLEAN,
    smtp_host         VARCHAR,
    imap_host         VARCHAR,
    created_at        TIMESTAMPTZ,
    updated_at        TIMESTAMPTZ
);

CREATE TABLE clients_rows (
    run_id        VARCHAR NOT NULL,
    batch         BIGINT NOT NULL,
    snapshot_date DATE NOT NULL,
    extracted_at  TIMESTAMPTZ NOT NULL,
    client_id     BIGINT NOT NULL,
    name          VARCHAR,
    email         VARCHAR,
    uuid          VARCHAR,
    created_at    TIMESTAMPTZ,
    permissions   JSON                         -- client_permision, as sent
);

-- Totals the API stated (total_leads, total_stats) per stream and campaign
-- and run: what the data checks compare against, and what a later plan can
-- size work from (view reported_totals).
CREATE TABLE reported_totals_rows (
    run_id        VARCHAR NOT NULL,
    batch         BIGINT NOT NULL,
    snapshot_date DATE NOT NULL,
    stream        VARCHAR NOT NULL,
    campaign_id   BIGINT NOT NULL,
    total         BIGINT NOT NULL
);

-- Upserted on (campaign_id, day): a day's numbers can still move, so the
-- latest run that fetched a day wins; run_id and extracted_at say which.
CREATE TABLE campaign_daily_stats (
    campaign_id        BIGINT NOT NULL,
    day                DATE NOT NULL,
    sent_count         BIGINT NOT NULL,
    unique_sent_count  BIGINT NOT NULL,
    open_count         BIGINT NOT NULL,
    unique_open_count  BIGINT NOT NULL,
    click_count        BIGINT NOT NULL,
    unique_click_count BIGINT NOT NULL,
    reply_count        BIGINT NOT NULL,
    bounce_count       BIGINT NOT NULL,
    unsubscribed_count BIGINT NOT NULL,
    run_id             VARCHAR NOT NULL,
    extracted_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (campaign_id, day)
);

-- campaign_daily_stats is upserted, so a run's days wait here until it
-- commits; same leading columns as the _rows tables.
CREATE TABLE campaign_daily_stats_staging AS
    SELECT run_id, 0::BIGINT AS batch, NULL::DATE AS snapshot_date, extracted_at, * EXCLUDE (run_id, extracted_at)
    FROM campaign_daily_stats LIMIT 0;

-- The latest succeeded run; every plain-name view follows it, so a new
-- snapshot appears in all of them at the same instant.
CREATE VIEW latest_run AS
    SELECT run_id, snapshot_date, finished_at
    FROM etl_runs
    WHERE status = 'succeeded'
    ORDER BY commit_seq DESC
    LIMIT 1;

CREATE VIEW succeeded_runs AS
    SELECT run_id FROM etl_runs WHERE status = 'succeeded';

CREATE VIEW campaigns_history AS
    SELECT * EXCLUDE (batch) FROM campaigns_rows WHERE run_id IN (SELECT run_id FROM succeeded_runs);
CREATE VIEW campaigns AS
    SELECT * EXCLUDE (batch) FROM campaigns_rows WHERE run_id = (SELECT run_id FROM latest_run);
CREATE VIEW campaign_analytics_history AS
    SELECT * EXCLUDE (batch) FROM campaign_analytics_rows WHERE run_id IN (SELECT run_id FROM succeeded_runs);
CREATE VIEW campaign_analytics AS
    SELECT * EXCLUDE (batch) FROM campaign_analytics_rows WHERE run_id = (SELECT run_id FROM latest_run);
CREATE VIEW leads_history AS
    SELECT * EXCLUDE (batch) FROM leads_rows WHERE run_id IN (SELECT run_id FROM succeeded_runs);
CREATE VIEW leads AS
    SELECT * EXCLUDE (batch) FROM leads_rows WHERE run_id = (SELECT run_id FROM latest_run);
CREATE VIEW lead_email_stats_history AS
    SELECT * EXCLUDE (batch) FROM lead_email_stats_rows WHERE run_id IN (SELECT run_id FROM succeeded_runs);
CREATE VIEW lead_email_stats AS
    SELECT * EXCLUDE (batch) FROM lead_email_stats_rows WHERE run_id = (SELECT run_id FROM latest_run);
CREATE VIEW sequences_history AS
    SELECT * EXCLUDE (batch) FROM sequences_rows WHERE run_id IN (SELECT run_id FROM succeeded_runs);
CREATE VIEW sequences AS
    SELECT * EXCLUDE (batch) FROM sequences_rows WHERE run_id = (SELECT run_id FROM latest_run);
CREATE VIEW email_accounts_history AS
    SELECT * EXCLUDE (batch) FROM email_accounts_rows WHERE run_id IN (SELECT run_id FROM succeeded_runs);
CREATE VIEW email_accounts AS
    SELECT * EXCLUDE (batch) FROM email_accounts_rows WHERE run_id = (SELECT run_id FROM latest_run);
CREATE VIEW clients_history AS
    SELECT * EXCLUDE (batch) FROM clients_rows WHERE run_id IN (SELECT run_id FROM succeeded_runs);
CREATE VIEW clients AS
    SELECT * EXCLUDE (batch) FROM clients_rows WHERE run_id = (SELECT run_id FROM latest_run);
CREATE VIEW reported_totals AS
    SELECT run_id, snapshot_date, stream, campaign_id, arg_max(total, batch) AS total
    FROM reported_totals_rows WHERE run_id IN (SELECT run_id FROM succeeded_runs)
    GROUP BY ALL;
