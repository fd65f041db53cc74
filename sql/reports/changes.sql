-- What moved per campaign between the previous and the latest succeeded snapshot: new leads, new replies, status changes, counter deltas.
--
-- Parameters (bound by name, never spliced into the text):
--   $campaign  BIGINT  only this campaign; NULL = every campaign.
--
-- Compares the latest succeeded run (to_run) with the one that succeeded
-- before it (from_run). With a single snapshot there is nothing to compare
-- with: from_run is NULL and everything counts as new (deltas from zero).
--   new_leads / removed_leads  campaign_lead_map_ids only in the latest / only in the previous snapshot
--   lead_status_changes        leads in both whose status differs
--   new_replies                lead_email_stats rows with a reply_time now and none before
--   *_delta                    latest minus previous lifetime counter in campaign_analytics
--                              (a negative delta is a counter that went down, also flagged by the data checks)
--   campaign_status            latest status, with previous_status when it changed
WITH runs AS (
    SELECT run_id, snapshot_date, row_number() OVER (ORDER BY commit_seq DESC) AS n
    FROM etl_runs
    WHERE status = 'succeeded'
),
cur AS (SELECT run_id, snapshot_date FROM runs WHERE n = 1),
prev AS (SELECT run_id, snapshot_date FROM runs WHERE n = 2),
lc AS (SELECT * FROM leads_history WHERE run_id = (SELECT run_id FROM cur)),
lp AS (SELECT * FROM leads_history WHERE run_id = (SELECT run_id FROM prev)),
lead_moves AS (
    SELECT
        coalesce(c.campaign_id, p.campaign_id) AS campaign_id,
        count(*) FILTER (WHERE p.campaign_lead_map_id IS NULL) AS new_leads,
        count(*) FILTER (WHERE c.campaign_lead_map_id IS NULL) AS removed_leads,
        count(*) FILTER (WHERE c.campaign_lead_map_id IS NOT NULL AND p.campaign_lead_map_id IS NOT NULL
                           AND c.status IS DISTINCT FROM p.status) AS lead_status_changes
    FROM lc c FULL JOIN lp p ON c.campaign_lead_map_id = p.campaign_lead_map_id
    GROUP BY ALL
),
sc AS (SELECT * FROM lead_email_stats_history WHERE run_id = (SELECT run_id FROM cur)),
sp AS (SELECT * FROM lead_email_stats_history WHERE run_id = (SELECT run_id FROM prev)),
reply_moves AS (
    SELECT c.campaign_id, count(*) AS new_replies
    FROM sc c LEFT JOIN sp p ON c.stats_id = p.stats_id
    WHERE c.reply_time IS NOT NULL AND p.reply_time IS NULL
    GROUP BY ALL
),
ac AS (SELECT * FROM campaign_analytics_history WHERE run_id = (SELECT run_id FROM cur)),
ap AS (SELECT * FROM campaign_analytics_history WHERE run_id = (SELECT run_id FROM prev)),
cc AS (SELECT * FROM campaigns_history WHERE run_id = (SELECT run_id FROM cur)),
cp AS (SELECT * FROM campaigns_history WHERE run_id = (SELECT run_id FROM prev)),
ids AS (
    SELECT campaign_id FROM cc UNION SELECT campaign_id FROM cp
    UNION SELECT campaign_id FROM ac UNION SELECT campaign_id FROM ap
    UNION SELECT campaign_id FROM lead_moves UNION SELECT campaign_id FROM reply_moves
)
SELECT
    ids.campaign_id,
    coalesce(cc.name, cp.name)                                           AS name,
    (SELECT snapshot_date FROM prev)                                     AS from_snapshot,
    (SELECT snapshot_date FROM cur)                                      AS to_snapshot,
    (SELECT run_id FROM prev)                                            AS from_run,
    (SELECT run_id FROM cur)                                             AS to_run,
    cc.status                                                            AS campaign_status,
    CASE WHEN cc.status IS DISTINCT FROM cp.status THEN cp.status END    AS previous_status,
    coalesce(lm.new_leads, 0)                                            AS new_leads,
    coalesce(lm.removed_leads, 0)                                        AS removed_leads,
    coalesce(lm.lead_status_changes, 0)                                  AS lead_status_changes,
    coalesce(rm.new_replies, 0)                                          AS new_replies,
    coalesce(ac.sent_count, 0) - coalesce(ap.sent_count, 0)              AS sent_delta,
    coalesce(ac.unique_open_count, 0) - coalesce(ap.unique_open_count, 0) AS unique_opens_delta,
    coalesce(ac.unique_click_count, 0) - coalesce(ap.unique_click_count, 0) AS unique_clicks_delta,
    coalesce(ac.reply_count, 0) - coalesce(ap.reply_count, 0)            AS replies_delta,
    coalesce(ac.bounce_count, 0) - coalesce(ap.bounce_count, 0)          AS bounces_delta,
    coalesce(ac.unsubscribed_count, 0) - coalesce(ap.unsubscribed_count, 0) AS unsubscribes_delta
FROM ids
LEFT JOIN cc USING (campaign_id)
LEFT JOIN cp USING (campaign_id)
LEFT JOIN ac USING (campaign_id)
LEFT JOIN ap USING (campaign_id)
LEFT JOIN lead_moves lm USING (campaign_id)
LEFT JOIN reply_moves rm USING (campaign_id)
WHERE $campaign::BIGINT IS NULL OR ids.campaign_id = $campaign::BIGINT
ORDER BY ids.campaign_id;
