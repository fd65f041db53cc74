-- The client of each campaign in the latest snapshot (campaign_performance does not carry it).
SELECT campaign_id, client_id
FROM campaigns
ORDER BY campaign_id;
