// Package load is the DuckDB warehouse's writer: it applies the schema
// migrations, stages the rows of a run and publishes them as one
// snapshot, keeps the api_requests ledger and the work queue, and runs the
// data checks. The read side (reports, queries, Parquet export) lives in
// the report and export packages, which read the views this package keeps.
//
// # Row versions
//
// Each snapshot table's rows are kept once per version in <table>_rows:
// valid_from and valid_to are etl_runs.commit_seq values, and a version
// belongs to snapshot s when valid_from <= s.commit_seq < valid_to (an open
// version has valid_to = max BIGINT). <table>_history joins the retained
// snapshots (view snapshots, which excludes what --retain removed, see
// snapshot_floor) to the versions: one row per key per succeeded snapshot,
// with run_id, snapshot_date, extracted_at and the columns, as before.
// <table> is the open versions with the latest run's run_id. A filter on
// snapshot_date or run_id applies to snapshots first, so one snapshot is
// one scan of the versions, never an expansion of all of them. lead_changes
// lists, per lead, the snapshots in which its status or lead_category_id
// changed (first appearance: old values NULL).
//
// extracted_at: a new version is opened only when a column other than
// extracted_at changed, so a row fetched again unchanged is not stored
// again and keeps the extracted_at of the first fetch that saw this data
// ("data as of"). Warehouses upgraded from copies (migration 003) keep
// every old row exactly, extracted_at included: there, versions split
// wherever extracted_at changed.
//
// # The side file
//
// Everything a run has not published lives in a DuckDB file of its own,
// <db>.staging/stage.duckdb (directory 0700, file 0600): staged rows per
// table (<table>_staged, tagged run_id and batch), the work queue
// (work_items), carries (run_carry), rejected records, reported totals,
// the run's ledger rows and, once prepared, the keys its snapshot closes
// and opens (<table>_diff). [Open] attaches it to the warehouse's
// instance as "stage". [Store.ReleaseWarehouse] moves the instance onto
// the side file and attaches the warehouse read-only, a lock readers
// share: from then on query, report, export, plan and duckdb -readonly
// open the warehouse at any moment but the commit window.
//
// The warehouse is written in short transactions only: BeginRun (the
// etl_runs row), Resume, and the end of a run. [Run.Commit] does its work
// before it needs the write lock: it flushes, copies carried rows into
// the staging, runs the data checks, and computes the difference to the
// latest snapshot (keys whose open version to close, keys to open a
// version for), saved with the summary as the run's prepared state. Then
// it attaches the warehouse writable, waiting up to Options.CommitWait
// (default 5 minutes, logging who holds it every 30 s), and one
// transaction closes and inserts versions, upserts campaign_daily_stats,
// moves reported totals, rejected records and the ledger in, records the
// checks, marks the run succeeded (the swap: every view moves at once),
// fails older interrupted runs and applies retention. Its cost is in
// proportion to what changed. If the wait runs out, Commit returns
// ErrCommitDeferred: the prepared snapshot stays in the side file and
// etl_runs says 'running' until the next [Open] publishes it, before
// anything else (the row then reads 'succeeded', finished_at the
// publishing time).
//
// Killing the process at any moment leaves the warehouse at the old
// snapshot or the new one: the publishing transaction is the only write
// that moves a view. A run killed after its snapshot was prepared is
// published by the next Open; one killed before is continued or failed by
// the next run, as below.
//
// # Work queue and resume
//
// A budget-aware run keeps its work in a persisted queue of page-sized
// items: [Run.SetPlan] records the plan (mode, items, carries) in one
// transaction, and [Run.CompleteItem] stages a page's rows under batch =
// the item's seq and commits them with its done-mark and the next page's
// item in one transaction of the staging connection (the Appenders flush
// into it): one commit per page, and a crash keeps all of a page or none. Write stages through the same Appenders and
// flushes every 50,000 rows or 5 s. Write batches and
// item seqs share one sequence per run. [Store.Resume] continues the
// newest interrupted run (incomplete, or left running by a dead process)
// that has a queue: it deletes the rows of items not done, so a page is
// fetched again but never held twice, and hands out only the pending
// items. A cancelled run is never resumed; its staging is deleted. When a
// run succeeds, every older run that did not is discarded.
//
// # Ledger
//
// [Run.LogAttempts] writes api_requests rows into the side file at once;
// they move to the warehouse's api_requests when the run ends, whatever
// its fate, or when the next writable Open finds them (a crash).
// [Store.RecentAttempts] reads both, so the limiter's quota memory sees a
// crashed run's requests too.
//
// # Carry-forward
//
// An incremental run stages only what changed and records, per stream,
// sets of campaigns whose rows of the previous snapshot to carry
// ([CarrySet]): all of them, or those whose key it did not stage. Commit
// copies them from the versions valid at that snapshot into the staging,
// so the checks see the complete snapshot; rows that did not change match
// their open version and add nothing to the warehouse. Carries are set
// operations: recorded with one statement per set (run_carry keeps a row
// per stream and campaign), copied by INSERT ... SELECT statements that
// join the set and anti-join the staged keys, in transactions of a
// bounded number of rows, so that neither statements nor DuckDB memory
// grow per campaign. When every carry comes from the latest snapshot,
// the carried rows are its open versions, and the difference compares
// only the rows the run fetched (with the open versions of the keys it
// did not carry): its cost follows the night's changes, not the account.
//
// # Concurrency
//
// A [Store] is safe for concurrent use. A [Run]'s staging methods must be
// called from one goroutine (it owns the Appenders); LogAttempts may be
// called from any goroutine. Only one run may be active per Store, and
// the CLI's lock file allows one run per warehouse.
//
// # Webhook events
//
// The webhook receiver (package webhook) appends deliveries to a spool
// beside the warehouse ([EventsDir]); [MergeEvents] moves what a
// transaction has not seen yet into email_events (an event id already
// present is skipped) and webhook_rejects, and records in webhook_spool
// how far each segment is merged, in the caller's transaction: the
// receiver merges through [Store.MergeEvents] when the warehouse is free,
// and [Run.Commit] merges in its own swap transaction, so events never
// wait for a run to end and a run never waits for the receiver.
//
// # etl_runs
//
// Rows per table are one column each (rows_campaigns, rows_leads, ...):
// the rows of the snapshot, carried ones included; commit_seq orders
// succeeded runs and is what the versions and views follow.
package load
