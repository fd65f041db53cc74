-- Webhook events per type by weekday and hour of day, in the time zone given with --tz (default UTC).
--
-- Parameters (bound by name, never spliced into the text):
--   $tz        VARCHAR  an IANA time zone, e.g. Europe/Berlin; NULL = UTC.
--   $campaign  BIGINT   only this campaign; NULL = every campaign.
--   $since     DATE     only events on or after this day (in that time zone); NULL = no bound.
--   $until     DATE     only events on or before this day (in that time zone); NULL = no bound.
--
-- One row per weekday and hour that had events; weekday_num is ISO (1 =
-- Monday). Columns per normalised event type; other counts every type not
-- listed (campaign status changes, manual steps, ...); events is the total.
WITH e AS (
    SELECT event_type, timezone(coalesce($tz::VARCHAR, 'UTC'), event_at) AS local_at
    FROM email_events
    WHERE event_at IS NOT NULL
      AND ($campaign::BIGINT IS NULL OR campaign_id = $campaign::BIGINT)
)
SELECT
    isodow(local_at)                                                              AS weekday_num,
    dayname(local_at)                                                             AS weekday,
    hour(local_at)                                                                AS hour,
    count(*) FILTER (WHERE event_type IN ('EMAIL_SENT', 'FIRST_EMAIL_SENT'))      AS sent,
    count(*) FILTER (WHERE event_type = 'EMAIL_OPEN')                             AS opened,
    count(*) FILTER (WHERE event_type = 'EMAIL_LINK_CLICK')                       AS clicked,
    count(*) FILTER (WHERE event_type = 'EMAIL_REPLY')                            AS replied,
    count(*) FILTER (WHERE event_type = 'EMAIL_BOUNCE')                           AS bounced,
    count(*) FILTER (WHERE event_type = 'LEAD_UNSUBSCRIBED')                      AS unsubscribed,
    count(*) FILTER (WHERE event_type = 'LEAD_CATEGORY_UPDATED')                  AS category_updated,
    count(*) FILTER (WHERE event_type NOT IN ('EMAIL_SENT', 'FIRST_EMAIL_SENT', 'EMAIL_OPEN', 'EMAIL_LINK_CLICK',
        'EMAIL_REPLY', 'EMAIL_BOUNCE', 'LEAD_UNSUBSCRIBED', 'LEAD_CATEGORY_UPDATED'))  AS other,
    count(*)                                                                      AS events,
    coalesce($tz::VARCHAR, 'UTC')                                                 AS time_zone
FROM e
WHERE ($since::DATE IS NULL OR local_at::DATE >= $since::DATE)
  AND ($until::DATE IS NULL OR local_at::DATE <= $until::DATE)
GROUP BY ALL
ORDER BY weekday_num, hour;
