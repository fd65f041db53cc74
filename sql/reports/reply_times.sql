-- Per campaign and sequence step: replies received as webhook events, and the median and 90th percentile time from send to reply, in hours.
--
-- Parameters (bound by name, never spliced into the text):
--   $campaign  BIGINT  only this campaign; NULL = every campaign.
--   $since     DATE    only replies on or after this day (UTC); NULL = no bound.
--   $until     DATE    only replies on or before this day (UTC); NULL = no bound.
--
-- A reply is an EMAIL_REPLY row of email_events (every spelling the vendor
-- uses is normalised to it). Its send time is that of the EMAIL_SENT event
-- of the same campaign, lead (campaign_lead_map_id, else email) and step,
-- else the sent_time of the email in the latest lead_email_stats snapshot
-- (by stats_id, else lead email and step). A reply whose send is unknown
-- counts in replies but not in the times: replies_timed says how many were
-- timed. A lead who replies twice to one step counts twice.
WITH replies AS (
    SELECT *
    FROM email_events
    WHERE event_type = 'EMAIL_REPLY' AND event_at IS NOT NULL
      AND ($campaign::BIGINT IS NULL OR campaign_id = $campaign::BIGINT)
      AND ($since::DATE IS NULL OR (event_at AT TIME ZONE 'UTC')::DATE >= $since::DATE)
      AND ($until::DATE IS NULL OR (event_at AT TIME ZONE 'UTC')::DATE <= $until::DATE)
),
sends AS (
    SELECT campaign_id, campaign_lead_map_id, lower(lead_email) AS lead_email, sequence_number, event_at AS sent_at
    FROM email_events
    WHERE event_type IN ('EMAIL_SENT', 'FIRST_EMAIL_SENT') AND event_at IS NOT NULL
),
timed AS (
    SELECT
        r.campaign_id,
        r.sequence_number,
        r.event_at AS replied_at,
        coalesce(
            (SELECT max(s.sent_at) FROM sends s
             WHERE s.campaign_id = r.campaign_id
               AND s.sequence_number IS NOT DISTINCT FROM r.sequence_number
               AND (s.campaign_lead_map_id = r.campaign_lead_map_id OR s.lead_email = lower(r.lead_email))
               AND s.sent_at <= r.event_at),
            (SELECT max(l.sent_time) FROM lead_email_stats l
             WHERE l.campaign_id = r.campaign_id
               AND (l.stats_id = r.stats_id
                    OR (lower(l.lead_email) = lower(r.lead_email) AND l.sequence_number = r.sequence_number))
               AND l.sent_time <= r.event_at)
        ) AS sent_at
    FROM replies r
)
SELECT
    campaign_id,
    sequence_number,
    count(*)                                                            AS replies,
    count(sent_at)                                                      AS replies_timed,
    round(median(epoch(replied_at - sent_at)) / 3600, 2)                AS median_hours,
    round(quantile_cont(epoch(replied_at - sent_at), 0.9) / 3600, 2)    AS p90_hours
FROM timed
GROUP BY campaign_id, sequence_number
ORDER BY campaign_id NULLS LAST, sequence_number NULLS LAST;
