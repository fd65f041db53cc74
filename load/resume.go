package load

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// resumeCandidate is the run Resume would continue.
type resumeCandidate struct {
	id       string
	started  time.Time
	snapshot time.Time
	planned  bool
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// findResumable returns the newest run that is interrupted ('incomplete',
// or 'running' left by a dead process), has a work queue in the side file,
// started at or after notBefore and after the snapshot the views show; nil
// when none.
func (s *Store) findResumable(ctx context.Context, q querier, notBefore time.Time) (*resumeCandidate, error) {
	if !s.hasStage() {
		return nil, nil
	}
	var c resumeCandidate
	err := q.QueryRowContext(ctx, s.sq(`SELECT run_id, started_at, snapshot_date,
			coalesce((SELECT planned FROM @s.stage_runs sr WHERE sr.run_id = r.run_id), false)
		FROM @w.etl_runs r
		WHERE status IN ('incomplete', 'running') AND started_at >= ?
		AND EXISTS (SELECT 1 FROM @s.work_items w WHERE w.run_id = r.run_id)
		AND started_at > coalesce((SELECT max(started_at) FROM @w.etl_runs WHERE status = 'succeeded'), '-infinity'::TIMESTAMPTZ)
		ORDER BY started_at DESC, run_id DESC LIMIT 1`), notBefore).Scan(&c.id, &c.started, &c.snapshot, &c.planned)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Resume continues an interrupted run instead of starting a new one, and
// returns nil (and no error) when there is none to continue. A run is
// resumable when it is 'incomplete' (stopped by a budget or deadline) or
// 'running' (its process died: the CLI's lock file guarantees that no live
// process writes it), has a work queue, started at or after notBefore, and
// started after the snapshot the views show. The newest such run is
// resumed: its status goes back to running, the rows staged by its items
// not done are deleted (see [Run.CompleteItem]) and everything else is
// kept: done items, their rows, carries, mode and start time. A run that
// died before its plan was recorded (not Planned) restarts from a clean
// slate: its queue, carries and rows are all deleted, keeping only its id.
//
// Every other interrupted run, the ones older than notBefore included, is
// marked failed and its rows, queue and carries are deleted, as BeginRun
// does for dead runs. A cancelled run (SIGTERM: the user asked it to stop)
// is never resumed; its rows were deleted when it stopped.
//
// So Resume then, when it returns nil, BeginRun is coherent: Resume has
// already cleaned up what cannot be resumed, and BeginRun finds nothing
// left to discard.
func (s *Store) Resume(ctx context.Context, notBefore time.Time) (*Run, error) {
	if s.readOnly || !s.hasStage() {
		return nil, errors.New("load: Resume on a read-only store")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active != nil {
		return nil, fmt.Errorf("load: Resume: %w (%s)", ErrRunActive, s.active.id)
	}
	done, err := s.writable(ctx, s.opts.lockWait())
	if err != nil {
		return nil, fmt.Errorf("load: resume: %w", err)
	}
	var cand *resumeCandidate
	now := s.opts.now()
	err = inTx(ctx, s.db, func(tx *sql.Tx) error {
		var err error
		if cand, err = s.findResumable(ctx, tx, notBefore); err != nil {
			return err
		}
		candID := ""
		if cand != nil {
			candID = cand.id
		}
		if _, err := tx.ExecContext(ctx, s.sq(`UPDATE @w.etl_runs SET status = 'failed', finished_at = coalesce(finished_at, $1),
			error = CASE WHEN status = 'running' THEN 'the process running it stopped before finishing; ' ELSE coalesce(error || '; ', '') END ||
				CASE WHEN started_at < $2 THEN 'too old to resume (started before ' || $4 || ')'
				WHEN $3 <> '' THEN 'run ' || $3 || ' was resumed instead'
				ELSE 'not resumable' END
			WHERE status IN ('incomplete', 'running') AND run_id <> $3`),
			now, notBefore, candID, notBefore.UTC().Format(time.RFC3339)); err != nil {
			return fmt.Errorf("discard interrupted runs: %w", err)
		}
		if cand == nil {
			return nil
		}
		_, err = tx.ExecContext(ctx, s.sq(`UPDATE @w.etl_runs SET status = 'running', finished_at = NULL, error = NULL,
			resumed = coalesce(resumed, 0) + 1 WHERE run_id = ?`), cand.id)
		return err
	})
	done()
	if err != nil {
		return nil, fmt.Errorf("load: resume: %w", err)
	}
	// The side file second: a crash in between leaves the candidate
	// running with its queue, which the next run resumes again.
	var last int64
	err = inTx(ctx, s.db, func(tx *sql.Tx) error {
		if err := s.discardStaged(ctx, tx); err != nil {
			return err
		}
		if cand == nil {
			return nil
		}
		if !cand.planned {
			if err := s.deleteStaged(ctx, tx, cand.id); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, s.sq(`INSERT INTO @s.stage_runs (run_id, state, mode) VALUES (?, 'staging', 'full')`), cand.id)
			return err
		}
		if err := s.dropUnfinished(ctx, tx, cand.id); err != nil {
			return err
		}
		var err error
		last, err = s.lastBatch(ctx, tx, cand.id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load: resume: %w", err)
	}
	if cand == nil {
		return nil, nil
	}
	r := s.newRun(cand.id, cand.snapshot, cand.started, last)
	r.resumed, r.planned = true, cand.planned
	s.active = r
	s.log.Info("run resumed", "run_id", r.id, "started_at", r.started, "planned", r.planned)
	return r, nil
}

// dropUnfinished deletes what run id staged for items that are not done
// (their pages are fetched again), rows carried and the difference
// computed by an interrupted commit (the next commit does both again).
func (s *Store) dropUnfinished(ctx context.Context, tx *sql.Tx, id string) error {
	names := []string{stTotals, stRejected}
	for _, t := range tables {
		names = append(names, t.staged)
	}
	for _, name := range names {
		if _, err := tx.ExecContext(ctx, s.sq(`DELETE FROM @s.`+name+` WHERE run_id = $1 AND (batch = `+carriedBatch+` OR batch IN
			(SELECT seq FROM @s.work_items WHERE run_id = $1 AND status = 'pending'))`), id); err != nil {
			return fmt.Errorf("delete unfinished pages from %s: %w", name, err)
		}
	}
	for _, t := range versioned() {
		if _, err := tx.ExecContext(ctx, s.sq(`DELETE FROM @s.`+t.diff+` WHERE run_id = ?`), id); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, s.sq(`UPDATE @s.stage_runs SET state = 'staging', prepared = NULL, prepared_seq = NULL WHERE run_id = ?`), id)
	return err
}

// lastBatch is the highest batch number run id used, for its queue and
// its Writes to continue from.
func (s *Store) lastBatch(ctx context.Context, q querier, id string) (int64, error) {
	parts := []string{`SELECT max(seq) AS b FROM @s.work_items WHERE run_id = $1`}
	for _, name := range []string{stTotals, stRejected} {
		parts = append(parts, `SELECT max(batch) FROM @s.`+name+` WHERE run_id = $1`)
	}
	for _, t := range tables {
		parts = append(parts, `SELECT max(batch) FROM @s.`+t.staged+` WHERE run_id = $1`)
	}
	var last int64
	err := q.QueryRowContext(ctx, s.sq(`SELECT coalesce(max(b), 0) FROM (`+strings.Join(parts, " UNION ALL ")+`)`), id).Scan(&last)
	return last, err
}

// deleteStaged deletes from the side file everything run id staged.
func (s *Store) deleteStaged(ctx context.Context, tx *sql.Tx, id string) error {
	for _, name := range stagedTables() {
		if _, err := tx.ExecContext(ctx, s.sq(`DELETE FROM @s.`+name+` WHERE run_id = ?`), id); err != nil {
			return fmt.Errorf("clear %s: %w", name, err)
		}
	}
	return nil
}

// ResumablePending is the number of pending work items of the run Resume
// (with the same notBefore) would continue: the requests left to make. It
// is 0 when there is no such run or its plan was not recorded (it would
// start over). A read-only store reads the side file when no run holds it
// (a run in progress does: then 0).
func (s *Store) ResumablePending(ctx context.Context, notBefore time.Time) (int64, error) {
	s.peekSideFile(ctx)
	c, err := s.findResumable(ctx, s.db, notBefore)
	if err != nil || c == nil || !c.planned {
		if err != nil {
			err = fmt.Errorf("load: find a resumable run: %w", err)
		}
		return 0, err
	}
	var n int64
	if err := s.db.QueryRowContext(ctx, s.sq(`SELECT count(*) FROM @s.work_items WHERE run_id = ? AND status = 'pending'`), c.id).Scan(&n); err != nil {
		return 0, fmt.Errorf("load: read work queue of %s: %w", c.id, err)
	}
	return n, nil
}
