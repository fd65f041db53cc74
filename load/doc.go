// Package load is the DuckDB warehouse: it applies the schema migrations,
// stages the rows of a run and swaps them in as one snapshot, keeps the
// api_requests ledger, and runs the data checks.
//
// # Snapshots
//
// A run ([Store.BeginRun]) appends its rows into per-table staging tables
// (<table>_staging), tagged with its run_id, through DuckDB Appenders that
// commit every few tens of thousands of rows. Staged rows are durable but
// invisible: the user-facing views (campaigns, leads, ...) show only the
// rows of the latest succeeded run. [Run.Commit] runs the data checks and
// then, in one transaction, copies the staged rows into the <table>_history
// tables, upserts campaign_daily_stats, marks the run succeeded and clears
// its staging rows. Killing the process at any moment therefore leaves the
// history tables and views exactly as they were; the next [Store.BeginRun]
// marks the dead run failed and discards its staged rows.
//
// Staged rows carry the number of the [Run.Write] call that staged them
// (column batch) and [Run.Flush] makes every row written so far durable, so
// that a resumable run can later tell which pages it already holds.
//
// # Concurrency
//
// A [Store] is safe for concurrent use. A [Run]'s Write and Flush must be
// called from one goroutine (it owns the Appenders); LogAttempts may be
// called from any goroutine. Only one run may be active per Store, and
// DuckDB's file lock allows one writing process per database file.
//
// # etl_runs
//
// Rows per table are one column each (rows_campaigns, rows_leads, ...) so
// that run history reads with plain SQL; commit_seq orders succeeded runs
// and is what the views follow.
package load
