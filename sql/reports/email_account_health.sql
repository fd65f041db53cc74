-- Per sending account: today's volume against its daily limit, warmup status, reputation and spam rate, connection state (latest snapshot).
--
-- Parameters: none.
--
--   daily_usage_pct  daily_sent_count / message_per_day, percent, two decimals
--   at_limit         the account has sent its daily limit
--   warmup_reputation SmartLead's warmup reputation in percent ("95%" and 95 both load as 95)
--   warmup_spam_pct  warmup emails landing in spam / warmup emails sent, percent
--   connection_ok    SMTP and IMAP both succeed (NULL when the API did not say)
-- Sorted worst reputation first (accounts without one first), then by id.
SELECT
    email_account_id,
    from_email,
    type,
    client_id,
    campaign_count,
    daily_sent_count,
    message_per_day,
    round(100 * daily_sent_count / nullif(message_per_day, 0), 2)  AS daily_usage_pct,
    daily_sent_count >= message_per_day                            AS at_limit,
    warmup_status,
    warmup_reputation,
    warmup_total_sent,
    warmup_spam_count,
    round(100 * warmup_spam_count / nullif(warmup_total_sent, 0), 2) AS warmup_spam_pct,
    is_smtp_success AND is_imap_success                           AS connection_ok
FROM email_accounts
ORDER BY warmup_reputation NULLS FIRST, email_account_id;
