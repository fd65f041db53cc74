-- The columns of email_events, if the webhook receiver has created it.
SELECT column_name, data_type
FROM information_schema.columns
WHERE table_name = 'email_events' AND table_schema = current_schema()
ORDER BY ordinal_position;
