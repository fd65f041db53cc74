-- Every succeeded run, oldest first: the snapshots lead_status_history counts.
SELECT run_id, snapshot_date, finished_at
FROM etl_runs
WHERE status = 'succeeded'
ORDER BY commit_seq;
