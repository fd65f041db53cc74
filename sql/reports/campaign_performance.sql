-- Per campaign funnel (leads, sent, reached, opened, clicked, replied, bounced, unsubscribed) and rates, latest snapshot.
--
-- Parameters (bound by name, never spliced into the text):
--   $campaign  BIGINT  only this campaign; NULL = every campaign.
--
-- Counters are SmartLead's lifetime totals from campaign_analytics. Rates
-- follow the vendor's definitions (reference §1.14), in percent with two
-- decimals, NULL when the denominator is zero:
--   open_rate_pct   = unique opens / unique leads reached (unique_sent_count)
--   reply_rate_pct  = replies / unique opens, or / unique leads reached when
--                     open tracking is off or nothing was opened
--                     (reply_rate_basis says which; NULL with the rate)
--   bounce_rate_pct = bounces / unique leads reached
-- Open tracking is off when track_settings holds DONT_EMAIL_OPEN (the read
-- vocabulary; DONT_TRACK_EMAIL_OPEN is accepted too), or when open_count is
-- 0 while unique_open_count is not (reference §1.3, §4.5). With tracking
-- off the open counts are not opens, so open_rate_pct is NULL.
WITH c AS (
    SELECT campaign_id, name, status, track_settings
    FROM campaigns
    WHERE $campaign::BIGINT IS NULL OR campaign_id = $campaign::BIGINT
),
a AS (
    SELECT ca.*,
        coalesce(c.track_settings::VARCHAR LIKE '%DONT_EMAIL_OPEN%'
                 OR c.track_settings::VARCHAR LIKE '%DONT_TRACK_EMAIL_OPEN%', false)
            OR (ca.open_count = 0 AND ca.unique_open_count > 0) AS tracking_off
    FROM campaign_analytics ca JOIN c USING (campaign_id)
)
SELECT
    c.campaign_id,
    c.name,
    c.status,
    a.leads_total                AS leads,
    a.sent_count                 AS emails_sent,
    a.unique_sent_count          AS leads_reached,
    a.unique_open_count          AS unique_opens,
    a.unique_click_count         AS unique_clicks,
    a.reply_count                AS replies,
    a.bounce_count               AS bounces,
    a.unsubscribed_count         AS unsubscribes,
    NOT a.tracking_off           AS open_tracking,
    CASE WHEN NOT a.tracking_off
         THEN round(100 * a.unique_open_count / nullif(a.unique_sent_count, 0), 2) END AS open_rate_pct,
    round(100 * a.reply_count / nullif(CASE WHEN a.tracking_off OR a.unique_open_count = 0
                                            THEN a.unique_sent_count ELSE a.unique_open_count END, 0), 2) AS reply_rate_pct,
    CASE WHEN a.tracking_off OR a.unique_open_count = 0
         THEN CASE WHEN a.unique_sent_count > 0 THEN 'leads_reached' END
         ELSE 'unique_opens' END AS reply_rate_basis,
    round(100 * a.bounce_count / nullif(a.unique_sent_count, 0), 2) AS bounce_rate_pct
FROM c LEFT JOIN a USING (campaign_id)
ORDER BY c.campaign_id;
