-- 004_webhook_events: events SmartLead pushes to the webhook receiver
-- (`smartlead-etl listen`, issue 13).
--
-- The receiver never writes here while it waits for events: it appends
-- each delivery to a durable spool beside the warehouse (<db>.events/)
-- and the spool is merged in one transaction, by the receiver when the
-- warehouse is free and by `run` at its commit. email_events is not a
-- snapshot table: rows are only ever added.
--
-- No column holds the webhook secret: secret_key is removed from every
-- payload before it is spooled.

CREATE TABLE email_events (
    event_id             VARCHAR PRIMARY KEY,   -- identity of the event (see README "What identifies an event"); duplicates are stored once
    event_type           VARCHAR NOT NULL,      -- normalised spelling: EMAIL_SENT, EMAIL_OPEN, EMAIL_REPLY, ...; the original stays in payload
    event_at             TIMESTAMPTZ,           -- when it happened, as SmartLead says (UTC)
    received_at          TIMESTAMPTZ NOT NULL,  -- when the receiver acknowledged the first delivery that was merged
    campaign_id          BIGINT,
    campaign_name        VARCHAR,
    campaign_lead_map_id BIGINT,
    lead_id              BIGINT,
    lead_email           VARCHAR,
    sequence_number      BIGINT,
    stats_id             VARCHAR,
    message_id           VARCHAR,
    from_email           VARCHAR,               -- the sending mailbox
    subject              VARCHAR,
    old_lead_category    VARCHAR,
    new_lead_category    VARCHAR,
    payload              JSON NOT NULL          -- the delivery as received, secret_key removed
);

-- Deliveries that were not events: a body that is not JSON, or larger than
-- the 1 MB cap. Authentication failures are stored nowhere.
CREATE TABLE webhook_rejects (
    received_at    TIMESTAMPTZ NOT NULL,
    reason         VARCHAR NOT NULL,
    body_excerpt   VARCHAR,                     -- the first bytes of the body, secrets scrubbed
    remote_address VARCHAR
);

-- How far each spool segment has been merged: the byte offset after the
-- last record merged. Updated in the same transaction that inserts the
-- events, so a merge killed at any moment is either wholly done or not
-- at all, and a record is never merged twice.
CREATE TABLE webhook_spool (
    segment   VARCHAR PRIMARY KEY,              -- file name in <db>.events/
    "offset"  BIGINT NOT NULL,
    merged_at TIMESTAMPTZ NOT NULL
);

-- Webhooks registered through `smartlead-etl webhooks register`: the API
-- documents no way to list user-level webhooks, so the tool remembers
-- the ones it made. The URL is kept; no secret is.
CREATE TABLE webhook_registrations (
    webhook_id       BIGINT PRIMARY KEY,
    name             VARCHAR,
    webhook_url      VARCHAR NOT NULL,
    association_type VARCHAR NOT NULL,          -- user | client | campaign
    campaign_id      BIGINT,
    client_id        BIGINT,
    event_types      JSON,
    registered_at    TIMESTAMPTZ NOT NULL,
    deleted_at       TIMESTAMPTZ
);
