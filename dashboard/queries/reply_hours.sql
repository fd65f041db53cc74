-- Replies by campaign and hour of day (UTC), from email_events.
--
-- A reply is an event whose type is EMAIL_REPLY or one of the spellings
-- the vendor also uses (EMAIL_REPLIED, LEAD_REPLIED, UNTRACKED_REPLIES).
-- {{HOUR}} is replaced by the hour expression for event_at's type (a
-- fixed text chosen by the program, never user input).
SELECT campaign_id, {{HOUR}} AS hour, count(*) AS replies
FROM email_events
WHERE upper(event_type) IN ('EMAIL_REPLY', 'EMAIL_REPLIED', 'LEAD_REPLIED', 'UNTRACKED_REPLIES')
  AND event_at IS NOT NULL
GROUP BY ALL
ORDER BY campaign_id NULLS FIRST, hour;
