-- Leads per campaign by status and category, with each group's share of the campaign (latest snapshot).
--
-- Parameters (bound by name, never spliced into the text):
--   $campaign  BIGINT  only this campaign; NULL = every campaign.
--
-- status is the lead's status in the campaign (STARTED, INPROGRESS,
-- COMPLETED, PAUSED, STOPPED, BLOCKED; NULL when the API gave none);
-- lead_category_id is SmartLead's category id (NULL = uncategorised).
-- share_pct is the group's leads over the campaign's leads, in percent with
-- two decimals; unsubscribed counts the group's unsubscribed leads.
SELECT
    campaign_id,
    status,
    lead_category_id,
    count(*)                                                                   AS leads,
    count(*) FILTER (WHERE is_unsubscribed)                                    AS unsubscribed,
    round(100 * count(*) / sum(count(*)) OVER (PARTITION BY campaign_id), 2)   AS share_pct
FROM leads
WHERE $campaign::BIGINT IS NULL OR campaign_id = $campaign::BIGINT
GROUP BY campaign_id, status, lead_category_id
ORDER BY campaign_id, status NULLS LAST, lead_category_id NULLS FIRST;
