-- Sends, opens, clicks, replies, bounces per day and campaign, plus an ALL row per day, from campaign_daily_stats.
--
-- Parameters (bound by name, never spliced into the text):
--   $campaign  BIGINT  only this campaign (and no ALL rows); NULL = every campaign.
--   $since     DATE    first day included; NULL = no lower bound.
--   $until     DATE    last day included; NULL = no upper bound.
--
-- One row per campaign and day, then one row per day with campaign = 'ALL'
-- (campaign is text so the overall row can say so). Event counts (sent,
-- opens, clicks, replies, bounces, unsubscribes) are additive and summed in
-- the ALL row. Unique counts are COUNT(DISTINCT lead) and are never summed
-- (reference §1.14): the ALL row leaves unique_sent, unique_opens and the
-- rates NULL. Rates are percent with two decimals, defined as in
-- campaign_performance; a day with open tracking off (open_count 0 while
-- unique opens are not, or the campaign's track_settings say so) has a
-- NULL open rate and its reply rate is over unique leads reached.
WITH d AS (
    SELECT s.*,
        coalesce(c.track_settings::VARCHAR LIKE '%DONT_EMAIL_OPEN%'
                 OR c.track_settings::VARCHAR LIKE '%DONT_TRACK_EMAIL_OPEN%', false)
            OR (s.open_count = 0 AND s.unique_open_count > 0) AS tracking_off
    FROM campaign_daily_stats s LEFT JOIN campaigns c USING (campaign_id)
    WHERE ($campaign::BIGINT IS NULL OR s.campaign_id = $campaign::BIGINT)
      AND ($since::DATE IS NULL OR s.day >= $since::DATE)
      AND ($until::DATE IS NULL OR s.day <= $until::DATE)
),
per_campaign AS (
    SELECT
        day,
        campaign_id::VARCHAR      AS campaign,
        0                         AS overall,
        campaign_id,
        sent_count                AS sent,
        unique_sent_count         AS unique_sent,
        open_count                AS opens,
        unique_open_count         AS unique_opens,
        click_count               AS clicks,
        reply_count               AS replies,
        bounce_count              AS bounces,
        unsubscribed_count        AS unsubscribes,
        CASE WHEN NOT tracking_off
             THEN round(100 * unique_open_count / nullif(unique_sent_count, 0), 2) END AS open_rate_pct,
        round(100 * reply_count / nullif(CASE WHEN tracking_off OR unique_open_count = 0
                                              THEN unique_sent_count ELSE unique_open_count END, 0), 2) AS reply_rate_pct,
        round(100 * bounce_count / nullif(unique_sent_count, 0), 2) AS bounce_rate_pct
    FROM d
),
overall AS (
    SELECT
        day,
        'ALL'                     AS campaign,
        1                         AS overall,
        NULL::BIGINT              AS campaign_id,
        sum(sent_count)::BIGINT   AS sent,
        NULL::BIGINT              AS unique_sent,
        sum(open_count)::BIGINT   AS opens,
        NULL::BIGINT              AS unique_opens,
        sum(click_count)::BIGINT  AS clicks,
        sum(reply_count)::BIGINT  AS replies,
        sum(bounce_count)::BIGINT AS bounces,
        sum(unsubscribed_count)::BIGINT AS unsubscribes,
        NULL::DOUBLE              AS open_rate_pct,
        NULL::DOUBLE              AS reply_rate_pct,
        NULL::DOUBLE              AS bounce_rate_pct
    FROM d
    WHERE $campaign::BIGINT IS NULL
    GROUP BY day
)
SELECT * EXCLUDE (overall, campaign_id)
FROM (SELECT * FROM per_campaign UNION ALL SELECT * FROM overall)
ORDER BY day, overall, campaign_id;
