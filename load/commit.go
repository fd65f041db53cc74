package load

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Commit ends the run: it flushes the staged rows, copies the carried
// rows of the previous snapshot (see [Run.SetCarry]) so that the checks
// see the complete snapshot, runs the data checks and then, in one small
// transaction, upserts campaign_daily_stats, records the checks, marks
// the run succeeded, discards the rows and queues of every older run that
// did not succeed (an abandoned incomplete run can no longer become a
// newer snapshot than this one) and applies retention. The run's rows are
// already in place, so marking it succeeded is the swap: the new snapshot
// appears in every view at once.
//
// A run whose work queue still has pending items cannot commit: its
// snapshot would be incomplete (stop it with an incomplete Abort instead).
//
// A check of severity error (a duplicate key) fails the run instead: the
// views do not move, the checks are recorded, its rows are deleted, and
// the error matches ErrCheckFailed. Any other error also ends the run, as
// cancelled when ctx is done and failed otherwise (best effort: a run
// that cannot even be recorded is marked failed by the next BeginRun).
// After Commit returns, the run is over whatever happened.
func (r *Run) Commit(ctx context.Context, c Counters) (*Summary, error) {
	if err := r.usable(); err != nil {
		if !r.ended {
			r.abortAfter(ctx, err, c)
		}
		return nil, err
	}
	sum, err := r.commit(ctx, c)
	if err != nil && !r.ended {
		r.abortAfter(ctx, err, c)
	}
	return sum, err
}

// abortAfter ends a run whose commit failed.
func (r *Run) abortAfter(ctx context.Context, cause error, c Counters) {
	status := StatusFailed
	if ctx.Err() != nil {
		status = StatusCancelled
	}
	if err := r.Abort(ctx, status, cause, c); err != nil {
		r.s.log.Error("could not record the end of a run", "run_id", r.id, "error", err)
	}
}

func (r *Run) commit(ctx context.Context, c Counters) (*Summary, error) {
	if err := r.closeAppenders(true); err != nil {
		return nil, r.fail(err)
	}
	s := r.s
	sum := &Summary{RunID: r.id}
	var pending int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM work_items WHERE run_id = ? AND status = 'pending'`, r.id).Scan(&pending); err != nil {
		return nil, fmt.Errorf("load: commit %s: read work queue: %w", r.id, err)
	}
	if pending > 0 {
		return nil, fmt.Errorf("load: commit %s: %d work items are still pending; the snapshot would be incomplete", r.id, pending)
	}
	var err error
	if sum.Carried, err = r.applyCarry(ctx); err != nil {
		return nil, fmt.Errorf("load: commit %s: carry rows forward: %w", r.id, err)
	}
	if sum.Rows, err = stagedRows(ctx, s.db, r.id); err != nil {
		return nil, fmt.Errorf("load: commit %s: %w", r.id, err)
	}
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM rejected_records WHERE run_id = ?`, r.id).Scan(&sum.Rejected); err != nil {
		return nil, fmt.Errorf("load: commit %s: count rejected: %w", r.id, err)
	}
	if sum.Checks, err = runChecks(ctx, s.db, r.id); err != nil {
		return nil, fmt.Errorf("load: commit %s: data checks: %w", r.id, err)
	}
	var failed []string
	for _, ch := range sum.Checks {
		switch ch.Severity {
		case SeverityWarning:
			sum.Warnings++
		case SeverityError:
			failed = append(failed, ch.Subject+": "+ch.Detail)
		}
	}
	now := s.opts.now()
	if len(failed) > 0 {
		sum.Status = StatusFailed
		cause := fmt.Errorf("%w: %s", ErrCheckFailed, strings.Join(failed, "; "))
		err := inTx(ctx, s.db, func(tx *sql.Tx) error {
			if err := insertChecks(ctx, tx, r.id, sum.Checks); err != nil {
				return err
			}
			if err := finishRun(ctx, tx, r.id, StatusFailed, now, c, sum, cause.Error()); err != nil {
				return err
			}
			return deleteStaged(ctx, tx, r.id)
		})
		if err != nil {
			return nil, fmt.Errorf("load: fail run %s: %w", r.id, err)
		}
		r.end()
		s.log.Error("run failed a data check", "run_id", r.id, "error", cause)
		return sum, fmt.Errorf("load: run %s: %w", r.id, cause)
	}

	sum.Status = StatusSucceeded
	err = inTx(ctx, s.db, func(tx *sql.Tx) error {
		if err := upsertDailyStats(ctx, tx, r.id); err != nil {
			return err
		}
		if err := insertChecks(ctx, tx, r.id, sum.Checks); err != nil {
			return err
		}
		if err := finishRun(ctx, tx, r.id, StatusSucceeded, now, c, sum, ""); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM campaign_daily_stats_staging WHERE run_id = ?`, r.id); err != nil {
			return fmt.Errorf("clear campaign_daily_stats_staging: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM work_items WHERE run_id = ?`, r.id); err != nil {
			return fmt.Errorf("clear work_items: %w", err)
		}
		if err := discardOlder(ctx, tx, r.id, now); err != nil {
			return err
		}
		if _, err := MergeEvents(ctx, tx, EventsDir(s.path)); err != nil { // webhook events spooled by `listen`
			return fmt.Errorf("merge webhook events: %w", err)
		}
		return retain(ctx, tx, s.opts.Retain)
	})
	if err != nil {
		return nil, fmt.Errorf("load: commit %s: %w", r.id, err)
	}
	r.end()
	s.log.Info("run succeeded", "run_id", r.id, "rows", sum.Rows, "rejected", sum.Rejected, "warnings", sum.Warnings)
	return sum, nil
}

// Abort ends the run without publishing it. status is StatusFailed,
// StatusCancelled or StatusIncomplete; cause (may be nil) is recorded as
// the run's error. Staged rows are discarded, except for an incomplete run,
// whose rows are flushed and kept for a later run to continue. The views
// and history tables are untouched. Abort works with an already cancelled
// ctx, since it is how a cancelled run gets recorded.
func (r *Run) Abort(ctx context.Context, status string, cause error, c Counters) error {
	switch status {
	case StatusFailed, StatusCancelled, StatusIncomplete:
	default:
		return fmt.Errorf("load: abort %s: status %q is not failed, cancelled or incomplete", r.id, status)
	}
	if r.ended {
		return fmt.Errorf("load: run %s has already ended", r.id)
	}
	ctx = context.WithoutCancel(ctx)
	keep := status == StatusIncomplete
	if keep && r.broken != nil && !r.resumable {
		// A failed Write leaves rows it did not stage: a continuation
		// could not trust the run's rows, so it cannot be incomplete.
		status, keep = StatusFailed, false
		cause = errors.Join(cause, r.broken)
	}
	closeErr := r.closeAppenders(keep)
	if keep && closeErr != nil {
		// Rows that could not be flushed make the run's staging unusable
		// for a continuation: record it as failed instead.
		status, keep = StatusFailed, false
		cause = errors.Join(cause, closeErr)
	}
	msg := ""
	if cause != nil {
		msg = cause.Error()
	}
	s := r.s
	sum := &Summary{}
	var err error
	if sum.Rows, err = stagedRows(ctx, s.db, r.id); err == nil {
		err = s.db.QueryRowContext(ctx, `SELECT count(*) FROM rejected_records WHERE run_id = ?`, r.id).Scan(&sum.Rejected)
	}
	if err == nil {
		err = inTx(ctx, s.db, func(tx *sql.Tx) error {
			if err := finishRun(ctx, tx, r.id, status, s.opts.now(), c, sum, msg); err != nil {
				return err
			}
			if keep {
				return nil
			}
			return deleteStaged(ctx, tx, r.id)
		})
	}
	r.end()
	if err != nil {
		return fmt.Errorf("load: abort %s: %w", r.id, err)
	}
	s.log.Warn("run ended without a snapshot", "run_id", r.id, "status", status, "error", redact(msg))
	return nil
}

// stagedRows counts the run's staged rows per table.
func stagedRows(ctx context.Context, db *sql.DB, runID string) (map[string]int64, error) {
	var q strings.Builder
	for i, t := range tables {
		if i > 0 {
			q.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&q, "SELECT '%s', count(*) FROM %s WHERE run_id = $1", t.name, t.physical)
	}
	rows, err := db.QueryContext(ctx, q.String(), runID)
	if err != nil {
		return nil, fmt.Errorf("count staged rows: %w", err)
	}
	defer rows.Close()
	m := make(map[string]int64, len(tables))
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return nil, err
		}
		m[name] = n
	}
	return m, rows.Err()
}

func finishRun(ctx context.Context, tx *sql.Tx, id, status string, at time.Time, c Counters, sum *Summary, msg string) error {
	var set strings.Builder
	args := []any{status, at, c.Requests, c.Throttled, c.Retries, c.Waited.Seconds(), sum.Rejected, sum.Warnings, nullEmpty(redact(msg))}
	for _, t := range tables {
		fmt.Fprintf(&set, ", rows_%s = ?", t.name)
		args = append(args, sum.Rows[t.name])
	}
	seq := "NULL"
	if status == StatusSucceeded {
		seq = "(SELECT coalesce(max(commit_seq), 0) + 1 FROM etl_runs)"
	}
	args = append(args, id)
	res, err := tx.ExecContext(ctx, `UPDATE etl_runs SET status = ?, finished_at = ?, requests = ?, throttled = ?,
		retries = ?, wait_seconds = ?, rejected = ?, warnings = ?, error = ?`+set.String()+`, commit_seq = `+seq+`
		WHERE run_id = ? AND status = 'running'`, args...)
	if err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		// Another process (after this one lost its lock) marked it failed.
		return fmt.Errorf("record run: run %s is no longer running", id)
	}
	return nil
}

// deleteStaged deletes the rows, queue and carries of a run that will
// never be visible.
func deleteStaged(ctx context.Context, tx *sql.Tx, id string) error {
	for _, name := range runScopedTables() {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+name+` WHERE run_id = ?`, id); err != nil {
			return fmt.Errorf("clear %s: %w", name, err)
		}
	}
	return nil
}

// upsertDailyStats writes the run's days into campaign_daily_stats: a day
// fetched again replaces the earlier numbers.
func upsertDailyStats(ctx context.Context, tx *sql.Tx, id string) error {
	set := make([]string, 0, len(tDailyStats.cols))
	for _, c := range tDailyStats.cols[2:] {
		set = append(set, c+" = excluded."+c)
	}
	set = append(set, "run_id = excluded.run_id", "extracted_at = excluded.extracted_at")
	if _, err := tx.ExecContext(ctx, `INSERT INTO campaign_daily_stats BY NAME
		SELECT * EXCLUDE (batch, snapshot_date) FROM campaign_daily_stats_staging WHERE run_id = ?
		ON CONFLICT (campaign_id, day) DO UPDATE SET `+strings.Join(set, ", "), id); err != nil {
		return fmt.Errorf("upsert campaign_daily_stats: %w", err)
	}
	return nil
}

func insertChecks(ctx context.Context, tx *sql.Tx, id string, checks []Check) error {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO data_checks (run_id, "check", subject, detail, severity) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("record checks: %w", err)
	}
	defer stmt.Close()
	for _, c := range checks {
		if _, err := stmt.ExecContext(ctx, id, c.Name, c.Subject, c.Detail, c.Severity); err != nil {
			return fmt.Errorf("record checks: %w", err)
		}
	}
	return nil
}

// discardOlder, run as run id succeeds, marks every run started before it
// that is still incomplete (or running: a dead process) as failed and
// deletes the rows, queue and carries of all of them that did not
// succeed. Resuming one of them would publish a snapshot older than id's.
func discardOlder(ctx context.Context, tx *sql.Tx, id string, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE etl_runs SET status = 'failed', finished_at = coalesce(finished_at, $2),
		error = coalesce(error || '; ', '') || 'abandoned: run ' || $1 || ', started later, succeeded'
		WHERE status IN ('incomplete', 'running') AND run_id <> $1
		AND started_at < (SELECT started_at FROM etl_runs WHERE run_id = $1)`, id, at); err != nil {
		return fmt.Errorf("discard older runs: %w", err)
	}
	return discardStaged(ctx, tx)
}

// retain deletes the rows of succeeded runs older than the last n; the
// latest succeeded run is always among those kept. n <= 0 keeps all.
// Rows of incomplete runs are not snapshots and are left alone. Every
// snapshot holds its own copy of the rows carried into it, so deleting an
// old run's rows never takes rows from a newer snapshot.
func retain(ctx context.Context, tx *sql.Tx, n int) error {
	if n <= 0 {
		return nil
	}
	for _, name := range append(physicalTables(), "run_carry") {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+name+` WHERE run_id IN (
			SELECT run_id FROM etl_runs WHERE status = 'succeeded' ORDER BY commit_seq DESC OFFSET ?)`, n); err != nil {
			return fmt.Errorf("retention on %s: %w", name, err)
		}
	}
	return nil
}
