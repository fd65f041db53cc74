-- Per campaign and sequence step: emails sent, opened, clicked, replied, bounced, from lead_email_stats (latest snapshot).
--
-- Parameters (bound by name, never spliced into the text):
--   $campaign  BIGINT  only this campaign; NULL = every campaign.
--   $since     DATE    only emails sent on or after this day (UTC); NULL = no bound.
--   $until     DATE    only emails sent on or before this day (UTC); NULL = no bound.
--
-- Each lead_email_stats row is one email of one step to one lead, so the
-- counts are per lead and step: opened counts emails opened at least once
-- (open_time set or open_count > 0), and so on. Rates are percent with two
-- decimals: open_rate_pct = opened / sent; reply_rate_pct = replied / opened,
-- or / sent when the campaign's open tracking is off or nothing was opened
-- (reply_rate_basis says which); bounce_rate_pct = bounced / sent. Open
-- tracking is off when track_settings holds DONT_EMAIL_OPEN; then
-- open_rate_pct is NULL. subject is the step's subject in sequences (an
-- empty subject continues the previous thread).
WITH s AS (
    SELECT *
    FROM lead_email_stats
    WHERE ($campaign::BIGINT IS NULL OR campaign_id = $campaign::BIGINT)
      AND ($since::DATE IS NULL OR (sent_time AT TIME ZONE 'UTC')::DATE >= $since::DATE)
      AND ($until::DATE IS NULL OR (sent_time AT TIME ZONE 'UTC')::DATE <= $until::DATE)
),
steps AS (
    SELECT
        campaign_id,
        sequence_number,
        count(*)                                                             AS sent,
        count(*) FILTER (WHERE open_time IS NOT NULL OR open_count > 0)      AS opened,
        count(*) FILTER (WHERE click_time IS NOT NULL OR click_count > 0)    AS clicked,
        count(*) FILTER (WHERE reply_time IS NOT NULL)                       AS replied,
        count(*) FILTER (WHERE is_bounced)                                   AS bounced,
        count(*) FILTER (WHERE is_unsubscribed)                              AS unsubscribed
    FROM s
    GROUP BY campaign_id, sequence_number
),
t AS (
    SELECT steps.*,
        coalesce(c.track_settings::VARCHAR LIKE '%DONT_EMAIL_OPEN%'
                 OR c.track_settings::VARCHAR LIKE '%DONT_TRACK_EMAIL_OPEN%', false) AS tracking_off
    FROM steps LEFT JOIN campaigns c USING (campaign_id)
)
SELECT
    t.campaign_id,
    t.sequence_number,
    q.subject,
    t.sent,
    t.opened,
    t.clicked,
    t.replied,
    t.bounced,
    t.unsubscribed,
    CASE WHEN NOT t.tracking_off THEN round(100 * t.opened / nullif(t.sent, 0), 2) END AS open_rate_pct,
    round(100 * t.replied / nullif(CASE WHEN t.tracking_off OR t.opened = 0 THEN t.sent ELSE t.opened END, 0), 2) AS reply_rate_pct,
    CASE WHEN t.tracking_off OR t.opened = 0 THEN 'sent' ELSE 'opened' END AS reply_rate_basis, -- sent > 0 always
    round(100 * t.bounced / nullif(t.sent, 0), 2) AS bounce_rate_pct
FROM t
LEFT JOIN sequences q ON q.campaign_id = t.campaign_id AND q.seq_number = t.sequence_number
ORDER BY t.campaign_id, t.sequence_number NULLS LAST;
