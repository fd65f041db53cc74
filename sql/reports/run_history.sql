-- The last runs, newest first: status, duration, requests, 429s, limiter waits, rows, rejected records, warnings.
--
-- Parameters (bound by name, never spliced into the text):
--   $since  DATE  only runs whose snapshot_date is on or after this day; NULL = no bound.
--   $until  DATE  only runs whose snapshot_date is on or before this day; NULL = no bound.
-- Without $since and $until: the 30 most recent runs. With either: every run in range.
--
--   duration_s   how long the run's invocations ran, summed, in seconds, as its requests and
--                wait_s count them (a run stopped and continued later leaves out the time in
--                between, which finished_at - started_at holds); NULL while running
--   throttled    429 responses seen; wait_s: time spent waiting on the rate limiter
--   rows         rows loaded over every table
SELECT
    run_id,
    status,
    snapshot_date,
    started_at,
    finished_at,
    -- Without run_seconds (a run recorded before it existed, or one whose
    -- only invocation was killed and marked failed by the next run) the
    -- span is all there is.
    round(CASE WHEN finished_at IS NOT NULL
        THEN coalesce(run_seconds, epoch(finished_at) - epoch(started_at)) END, 1) AS duration_s,
    requests,
    throttled,
    retries,
    round(wait_seconds, 1)                                             AS wait_s,
    rows_campaigns + rows_campaign_analytics + rows_campaign_daily_stats + rows_leads
        + rows_lead_email_stats + rows_sequences + rows_email_accounts + rows_clients AS rows,
    rows_leads                                                         AS leads,
    rejected,
    warnings,
    error
FROM etl_runs
WHERE ($since::DATE IS NULL OR snapshot_date >= $since::DATE)
  AND ($until::DATE IS NULL OR snapshot_date <= $until::DATE)
QUALIFY $since::DATE IS NOT NULL OR $until::DATE IS NOT NULL
     OR row_number() OVER (ORDER BY started_at DESC, run_id DESC) <= 30
ORDER BY started_at DESC, run_id DESC;
