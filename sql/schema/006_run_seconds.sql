-- How long a run's invocations ran, summed, as its requests and
-- wait_seconds are: a run stopped at --max-requests or --deadline (or
-- killed) and continued later does not count the time in between, which
-- finished_at - started_at does. An invocation killed before it could
-- record its end adds no time (nor wait), though its requests count
-- (the journal keeps them).
ALTER TABLE etl_runs ADD COLUMN run_seconds DOUBLE;
