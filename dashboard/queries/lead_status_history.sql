-- Leads per snapshot, campaign and status, from leads_history (every succeeded run).
--
-- status is the lead's status in the campaign as lead_status reports it
-- (NULL when the API gave none). Counts are leads (campaign_lead_map_id
-- rows) in that snapshot, so a snapshot's counts add up to its leads.
SELECT run_id, campaign_id, status, count(*) AS leads
FROM leads_history
GROUP BY run_id, campaign_id, status
ORDER BY run_id, campaign_id, status NULLS LAST;
