// Package load is the DuckDB warehouse's writer: it applies the schema
// migrations, stages the rows of a run and swaps them in as one snapshot,
// keeps the api_requests ledger and the work queue, and runs the data
// checks. The read side (reports, queries, Parquet export) lives in the
// report and export packages, which read the views this package keeps.
//
// # Snapshots
//
// Each snapshot table has a physical <table>_rows table holding the rows of
// every run, tagged with run_id, and two views: <table>_history (the rows
// of succeeded runs) and <table> (the rows of the latest succeeded run).
// A run ([Store.BeginRun]) appends its rows through DuckDB Appenders that
// commit every few tens of thousands of rows, so staged rows are durable
// but invisible: no view shows a run that has not succeeded. [Run.Commit]
// runs the data checks and then, in one small transaction, upserts
// campaign_daily_stats and flips the run's etl_runs row to succeeded, which
// is the swap: the snapshot appears in every view at once, and nothing is
// copied. Killing the process at any moment leaves every view exactly as it
// was; the next [Store.BeginRun] marks the dead run failed and deletes its
// rows. Failed and cancelled runs' rows are deleted; an incomplete run's
// rows stay for a later run to continue.
//
// Staged rows carry the number of the [Run.Write] call that staged them
// (column batch) and [Run.Flush] makes every row written so far durable, so
// that a resumable run can tell which pages it already holds.
//
// # Work queue and resume
//
// A budget-aware run keeps its work in a persisted queue of page-sized
// items (table work_items): [Run.SetPlan] records the plan (mode, items,
// carries) in one transaction, and [Run.CompleteItem] stages a page's rows
// under batch = the item's seq, flushes them, and only then marks the item
// done and enqueues the next page. Write batches and item seqs share one
// sequence per run. [Store.Resume] continues the newest interrupted run
// (incomplete, or left running by a dead process) that has a queue: it
// deletes the rows of items not done, so a page is fetched again but never
// held twice, and hands out only the pending items. A cancelled run (the
// user stopped it, e.g. SIGTERM) is never resumed: its rows and queue are
// deleted like a failed run's. When a run succeeds, every older run that
// did not is discarded, so abandoned runs do not accumulate.
//
// # Carry-forward
//
// An incremental run stages only what changed and records, per stream and
// campaign, which rows of the previous snapshot to carry ([Carry], table
// run_carry): all of them, or those whose key it did not stage. Commit
// copies them into the run with one INSERT ... SELECT per table, before
// the data checks, so each snapshot is complete on its own and the checks
// see all of it. Copies have batch 0 and keep the extracted_at of the
// page they came from; since every snapshot owns its rows, retention may
// delete any old run's rows.
//
// # Concurrency
//
// A [Store] is safe for concurrent use. A [Run]'s Write and Flush must be
// called from one goroutine (it owns the Appenders); LogAttempts may be
// called from any goroutine. Only one run may be active per Store, and
// DuckDB's file lock allows one writing process per database file.
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
// Rows per table are one column each (rows_campaigns, rows_leads, ...) so
// that run history reads with plain SQL; commit_seq orders succeeded runs
// and is what the views follow.
package load
