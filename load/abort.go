package load

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Abort ends the run without publishing it. status is StatusFailed,
// StatusCancelled or StatusIncomplete; cause (may be nil) is recorded as
// the run's error. Staged rows are discarded, except for an incomplete run,
// whose rows are flushed and kept in the side file for a later run to
// continue. The views are untouched. Abort works with an already cancelled
// ctx, since it is how a cancelled run gets recorded; when the warehouse
// cannot be written within ctx's deadline the run stays 'running' there,
// and the next run records it.
func (r *Run) Abort(ctx context.Context, status Status, cause error, c Counters) error {
	switch status {
	case StatusFailed, StatusCancelled, StatusIncomplete:
	default:
		return fmt.Errorf("load: abort %s: status %q is not failed, cancelled or incomplete", r.id, status)
	}
	if r.ended {
		return fmt.Errorf("load: run %s has already ended", r.id)
	}
	wait := abortWait(ctx, r.s.opts.commitWait())
	ctx = context.WithoutCancel(ctx)
	keep := status == StatusIncomplete
	if keep && r.broken != nil && !r.resumable {
		// A failed Write leaves rows it did not stage: a continuation
		// could not trust the run's rows, so it cannot be incomplete.
		status, keep = StatusFailed, false
		cause = errors.Join(cause, r.broken)
	}
	closeErr := r.closeAppenders(ctx, keep)
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
	defer r.end()
	sum := &Summary{}
	var err error
	if sum.Rows, err = s.stagedRows(ctx, r.id); err == nil {
		err = s.db.QueryRowContext(ctx, s.sq(`SELECT count(*) FROM @s.`+stRejected+` WHERE run_id = ?`), r.id).Scan(&sum.Rejected)
	}
	if err != nil {
		return fmt.Errorf("load: abort %s: %w", r.id, err)
	}
	done, err := s.writable(ctx, wait)
	if err == nil {
		err = inTx(ctx, s.db, func(tx *sql.Tx) error {
			if !keep {
				if _, err := tx.ExecContext(ctx, s.sq(`INSERT INTO @w.rejected_records SELECT * FROM @s.`+stRejected+` WHERE run_id = ?`), r.id); err != nil {
					return err
				}
			}
			if err := s.publishLedger(ctx, tx); err != nil {
				return err
			}
			return s.finishRun(ctx, tx, r.id, status, s.opts.now(), c, sum, msg)
		})
		done()
	}
	if err != nil {
		if !keep {
			// The warehouse still shows the run running: without its
			// staging it is marked failed by the next run, never resumed
			// or published.
			_ = inTx(ctx, s.db, func(tx *sql.Tx) error { return s.deleteStaged(ctx, tx, r.id) })
		}
		return fmt.Errorf("load: abort %s: %w", r.id, err)
	}
	s.cleanSide(ctx)
	s.log.Warn("run ended without a snapshot", "run_id", r.id, "status", status, "error", redact(msg))
	return nil
}

// stagedRows counts the run's staged rows per table (carried included).
func (s *Store) stagedRows(ctx context.Context, runID string) (map[string]int64, error) {
	var q strings.Builder
	for i, t := range tables {
		if i > 0 {
			q.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&q, "SELECT '%s', count(*) FROM @s.%s WHERE run_id = $1", t.name, t.staged)
	}
	rows, err := s.db.QueryContext(ctx, s.sq(q.String()), runID)
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

// AbortGrace is how long ending a stopped run may take: a stop (SIGTERM)
// must exit within the 5 s that cron wrappers and systemd allow before
// they kill, so the caller gives Abort this long (pipeline.Run does), and
// Abort itself, called once its context is done, waits at most
// abortLockWait of it for readers to let go of the warehouse, which
// leaves a second to record the run's end. A run whose end cannot be
// recorded in time stays 'running'; the next run records it.
const AbortGrace = 4 * time.Second

// abortLockWait is the part of AbortGrace spent waiting for the warehouse.
const abortLockWait = AbortGrace - time.Second

// abortWait is how long Abort waits for the warehouse: the commit wait,
// bounded by ctx's deadline, and by abortLockWait once ctx is done.
func abortWait(ctx context.Context, wait time.Duration) time.Duration {
	if ctx.Err() != nil {
		wait = min(wait, abortLockWait)
	}
	if d, ok := ctx.Deadline(); ok {
		wait = min(wait, max(time.Until(d), 0))
	}
	return wait
}
