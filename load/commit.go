package load

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrCommitDeferred is matched by the error Commit returns when another
// process held the warehouse for longer than Options.CommitWait: the run's
// snapshot is complete, checked and kept in the side file, its etl_runs
// row stays 'running', and the next Open publishes it before anything
// else (the row then reads 'succeeded', finished_at the publishing time).
var ErrCommitDeferred = errors.New("the warehouse was held by another process; the staged snapshot is kept and the next run publishes it first")

// testHookInCommit, when set by a test, runs inside the commit's
// warehouse transaction, after the versions changed and before it
// commits: where a crash test kills the process.
var testHookInCommit func()

// prepared is what a run's commit computed before it needed the
// warehouse's write lock, kept in the side file (stage_runs.prepared) so
// that a later process can publish it.
type prepared struct {
	Summary  *Summary
	Counters Counters
}

// Commit ends the run. First, with the warehouse at most read-locked: it
// flushes the staged rows, copies the carried rows of the previous
// snapshot into the staging (see [Run.SetCarry]) so that the checks see
// the complete snapshot, runs the data checks, and works out which
// versions the snapshot closes and opens. Then, holding the warehouse's
// write lock only for it, one transaction closes and inserts those
// versions, upserts campaign_daily_stats, moves the run's reported totals,
// rejected records and the request ledger in, records the checks, marks
// the run succeeded, discards every older run that did not succeed and
// applies retention: the new snapshot appears in every view at once.
//
// A run whose work queue still has pending items cannot commit: its
// snapshot would be incomplete (stop it with an incomplete Abort instead).
//
// A check of severity error (a duplicate key) fails the run instead: the
// views do not move, the checks are recorded, and the error matches
// ErrCheckFailed. When readers hold the warehouse past Options.CommitWait
// the error matches ErrCommitDeferred (see there). Any other error also
// ends the run, as cancelled when ctx is done and failed otherwise (best
// effort: a run that cannot even be recorded is marked failed by the next
// BeginRun). After Commit returns, the run is over whatever happened.
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
	began := r.s.elapsedClock()
	if err := r.closeAppenders(ctx, true); err != nil {
		return nil, r.fail(err)
	}
	s := r.s
	var pending int64
	if err := s.db.QueryRowContext(ctx, s.sq(`SELECT count(*) FROM @s.work_items WHERE run_id = ? AND status = 'pending'`), r.id).Scan(&pending); err != nil {
		return nil, fmt.Errorf("load: commit %s: read work queue: %w", r.id, err)
	}
	if pending > 0 {
		return nil, fmt.Errorf("load: commit %s: %d work items are still pending; the snapshot would be incomplete", r.id, pending)
	}
	sum, failed, err := r.prepare(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("load: commit %s: %w", r.id, err)
	}
	// The run's time includes its commit (carrying and comparing: seconds
	// on a large account), as the summary line's duration does; only the
	// wait for the warehouse and the publishing transaction are left out.
	c.Elapsed += r.s.elapsedClock() - began
	if len(failed) > 0 {
		return r.failChecks(ctx, c, sum, failed)
	}
	done, err := s.writable(ctx, s.opts.commitWait())
	if err != nil {
		if errors.Is(err, ErrLocked) {
			r.end()
			s.log.Warn("the snapshot is staged but not published: another process held the warehouse", "run_id", r.id, "error", err)
			return sum, fmt.Errorf("load: commit %s: %w: %w", r.id, ErrCommitDeferred, err)
		}
		return nil, fmt.Errorf("load: commit %s: %w", r.id, err)
	}
	start := wallNow()
	err = s.publish(ctx, r.id, &prepared{Summary: sum, Counters: c})
	done()
	sum.CommitWindow = wallNow() - start
	if err != nil {
		return nil, fmt.Errorf("load: commit %s: %w", r.id, err)
	}
	r.end()
	s.log.Info("run succeeded", "run_id", r.id, "rows", sum.Rows, "rejected", sum.Rejected, "warnings", sum.Warnings,
		"commit_window", sum.CommitWindow.Round(time.Millisecond).String())
	return sum, nil
}

// elapsedClock reads the clock a run's time is measured with: the
// monotonic one, or Options.Now when a test set it (its time stands
// still unless the test moves it).
func (s *Store) elapsedClock() time.Duration {
	if s.opts.Now != nil {
		return time.Duration(s.opts.Now().UnixNano())
	}
	return wallNow()
}

// prepare completes the run's staging for publishing: carries, counts,
// checks and, when no check failed, the difference to the latest snapshot,
// saved with the summary as the run's prepared state.
func (r *Run) prepare(ctx context.Context, c Counters) (*Summary, []string, error) {
	s := r.s
	sum := &Summary{RunID: r.id}
	var err error
	if sum.Carried, err = r.applyCarry(ctx); err != nil {
		return nil, nil, fmt.Errorf("carry rows forward: %w", err)
	}
	if sum.Rows, err = s.stagedRows(ctx, r.id); err != nil {
		return nil, nil, err
	}
	if err := s.db.QueryRowContext(ctx, s.sq(`SELECT count(*) FROM @s.`+stRejected+` WHERE run_id = ?`), r.id).Scan(&sum.Rejected); err != nil {
		return nil, nil, fmt.Errorf("count rejected: %w", err)
	}
	if sum.Checks, err = runChecks(ctx, s, r.id); err != nil {
		return nil, nil, fmt.Errorf("data checks: %w", err)
	}
	own, err := s.stagedChecks(ctx, r.id)
	if err != nil {
		return nil, nil, err
	}
	sum.Checks = append(sum.Checks, own...)
	var failed []string
	for _, ch := range sum.Checks {
		switch ch.Severity {
		case SeverityWarning:
			sum.Warnings++
		case SeverityError:
			failed = append(failed, ch.Subject+": "+ch.Detail)
		}
	}
	if len(failed) > 0 {
		return sum, failed, nil
	}
	sum.Status = StatusSucceeded
	doc, err := json.Marshal(prepared{Summary: sum, Counters: c})
	if err != nil {
		return nil, nil, err
	}
	// Carried rows copied from an older snapshot than the latest may differ
	// from the open versions: then the whole snapshot is compared.
	var carriedLatest bool
	if err := s.db.QueryRowContext(ctx, s.sq(`SELECT count(*) = 0 FROM @s.run_carry c JOIN @w.etl_runs e ON e.run_id = c.from_run
		WHERE c.run_id = ? AND e.commit_seq IS DISTINCT FROM (SELECT max(commit_seq) FROM @w.etl_runs)`), r.id).Scan(&carriedLatest); err != nil {
		return nil, nil, fmt.Errorf("compare with the latest snapshot: %w", err)
	}
	err = inTx(ctx, s.db, func(tx *sql.Tx) error {
		for _, t := range versioned() {
			if err := s.diff(ctx, tx, t, r.id, carriedLatest && carryTables[t.name] != nil); err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
		}
		_, err := tx.ExecContext(ctx, s.sq(`UPDATE @s.stage_runs SET state = 'ready', prepared = ?,
			prepared_seq = (SELECT coalesce(max(commit_seq), 0) FROM @w.etl_runs) WHERE run_id = ?`), string(doc), r.id)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("compare with the latest snapshot: %w", err)
	}
	return sum, nil, nil
}

// diff records, in the side file, the keys whose open version the run's
// snapshot closes (gone or changed) and those it opens a version for (new
// or changed), comparing every column but extracted_at: an unchanged row
// fetched again keeps its version.
//
// When every row of t the run carried was copied from the latest
// snapshot (carriedLatest), the carried rows are its open versions
// unchanged, so only the rows the run fetched are compared: the open
// versions of keys it did not carry against what it fetched, and what it
// fetched against the open versions of the same keys. The hash tables
// then hold the night's rows, not the account's.
func (s *Store) diff(ctx context.Context, tx *sql.Tx, t *table, id string, carriedLatest bool) error {
	cols, k := strings.Join(t.cols, ", "), t.key[0]
	openSide := `SELECT ` + cols + ` FROM @w.` + t.physical + ` WHERE valid_to = ` + openTo
	staged := `SELECT ` + cols + ` FROM @s.` + t.staged + ` WHERE run_id = $1`
	oldSide, newSide := openSide, staged
	if carriedLatest {
		fetched := `SELECT ` + k + ` FROM @s.` + t.staged + ` WHERE run_id = $1 AND batch <> ` + carriedBatch
		carried := `SELECT ` + k + ` FROM @s.` + t.staged + ` WHERE run_id = $1 AND batch = ` + carriedBatch
		oldSide = `SELECT ` + cols + ` FROM (SELECT o.* FROM @w.` + t.physical + ` o ANTI JOIN (` + carried + `) c ON c.` + k + ` = o.` + k + `
			WHERE o.valid_to = ` + openTo + `)`
		newSide = staged + ` AND batch <> ` + carriedBatch
		openSide = `SELECT ` + cols + ` FROM (SELECT o.* FROM @w.` + t.physical + ` o SEMI JOIN (` + fetched + `) f ON f.` + k + ` = o.` + k + `
			WHERE o.valid_to = ` + openTo + `)`
	}
	for _, q := range []string{
		`DELETE FROM @s.` + t.diff + ` WHERE run_id = $1`,
		`INSERT INTO @s.` + t.diff + ` SELECT $1, 'close', ` + k + ` FROM (` + oldSide + ` EXCEPT ` + newSide + `)`,
		`INSERT INTO @s.` + t.diff + ` SELECT $1, 'open', ` + k + ` FROM (` + newSide + ` EXCEPT ` + openSide + `)`,
	} {
		if _, err := tx.ExecContext(ctx, s.sq(q), id); err != nil {
			return err
		}
	}
	return nil
}

// failChecks records a run that failed a data check.
func (r *Run) failChecks(ctx context.Context, c Counters, sum *Summary, failed []string) (*Summary, error) {
	s := r.s
	sum.Status = StatusFailed
	cause := fmt.Errorf("%w: %s", ErrCheckFailed, strings.Join(failed, "; "))
	done, err := s.writable(ctx, s.opts.commitWait())
	if err != nil {
		return nil, fmt.Errorf("load: fail run %s: %w", r.id, err)
	}
	err = inTx(ctx, s.db, func(tx *sql.Tx) error {
		if err := insertChecks(ctx, tx, s, r.id, sum.Checks); err != nil {
			return err
		}
		if err := s.moveRunRows(ctx, tx, r.id); err != nil {
			return err
		}
		return s.finishRun(ctx, tx, r.id, StatusFailed, s.opts.now(), c, sum, cause.Error())
	})
	done()
	if err != nil {
		return nil, fmt.Errorf("load: fail run %s: %w", r.id, err)
	}
	s.cleanSide(ctx)
	r.end()
	s.log.Error("run failed a data check", "run_id", r.id, "error", cause)
	return sum, fmt.Errorf("load: run %s: %w", r.id, cause)
}

// publish makes run id's prepared snapshot the latest, in one warehouse
// transaction, which must be writable; then it clears the run from the
// side file.
func (s *Store) publish(ctx context.Context, id string, p *prepared) error {
	now := s.opts.now()
	err := inTx(ctx, s.db, func(tx *sql.Tx) error {
		var moved bool
		if err := tx.QueryRowContext(ctx, s.sq(`SELECT coalesce(max(commit_seq), 0) <> (SELECT prepared_seq FROM @s.stage_runs WHERE run_id = ?)
			FROM @w.etl_runs`), id).Scan(&moved); err != nil {
			return err
		}
		if moved {
			return errors.New("the warehouse took another snapshot since this one was prepared")
		}
		var seq int64
		if err := tx.QueryRowContext(ctx, s.sq(`SELECT coalesce(max(commit_seq), 0) + 1 FROM @w.etl_runs`)).Scan(&seq); err != nil {
			return err
		}
		for _, t := range versioned() {
			if err := s.applyDiff(ctx, tx, t, id, seq); err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
		}
		if err := s.upsertDailyStats(ctx, tx, id); err != nil {
			return err
		}
		if testHookInCommit != nil {
			testHookInCommit()
		}
		if err := insertChecks(ctx, tx, s, id, p.Summary.Checks); err != nil {
			return err
		}
		if err := s.publishOverallStats(ctx, tx, id); err != nil {
			return err
		}
		if err := s.moveRunRows(ctx, tx, id); err != nil {
			return err
		}
		if err := s.finishRun(ctx, tx, id, StatusSucceeded, now, p.Counters, p.Summary, ""); err != nil {
			return err
		}
		if err := s.discardOlder(ctx, tx, id, now); err != nil {
			return err
		}
		// Webhook events spooled by `listen` land with the snapshot.
		if _, err := mergeEvents(ctx, tx, EventsDir(s.path), now, s.sq); err != nil {
			return fmt.Errorf("merge webhook events: %w", err)
		}
		return s.retain(ctx, tx, s.opts.Retain)
	})
	if err != nil {
		return err
	}
	s.cleanSide(ctx)
	return nil
}

// applyDiff closes the versions run id's snapshot (commit_seq seq) no
// longer holds and opens the new ones, with the extracted_at of the page
// that brought them.
func (s *Store) applyDiff(ctx context.Context, tx *sql.Tx, t *table, id string, seq int64) error {
	k := t.key[0]
	// Close first: a changed key has both, and its new version is open.
	if _, err := tx.ExecContext(ctx, s.sq(`UPDATE @w.`+t.physical+` SET valid_to = $2 WHERE valid_to = `+openTo+`
		AND `+k+` IN (SELECT `+k+` FROM @s.`+t.diff+` WHERE run_id = $1 AND kind = 'close')`), id, seq); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, s.sq(`INSERT INTO @w.`+t.physical+` SELECT $2, `+openTo+`, extracted_at, `+strings.Join(t.cols, ", ")+`
		FROM @s.`+t.staged+` WHERE run_id = $1
		AND `+k+` IN (SELECT `+k+` FROM @s.`+t.diff+` WHERE run_id = $1 AND kind = 'open')
		ORDER BY `+k), id, seq)
	return err
}

// moveRunRows copies run id's reported totals and rejected records, and
// every ledger row, from the side file into the warehouse.
func (s *Store) moveRunRows(ctx context.Context, tx *sql.Tx, id string) error {
	for _, q := range []string{
		`INSERT INTO @w.reported_totals_rows SELECT * FROM @s.` + stTotals + ` WHERE run_id = ?`,
		`INSERT INTO @w.rejected_records SELECT * FROM @s.` + stRejected + ` WHERE run_id = ?`,
	} {
		if _, err := tx.ExecContext(ctx, s.sq(q), id); err != nil {
			return fmt.Errorf("move the run's rows into the warehouse: %w", err)
		}
	}
	return s.publishLedger(ctx, tx)
}

// cleanSide deletes from the side file what the warehouse now holds or no
// longer needs. Best effort: what it leaves is cleared by the next run.
func (s *Store) cleanSide(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	err := errors.Join(s.dropPublishedLedger(ctx),
		inTx(ctx, s.db, func(tx *sql.Tx) error { return s.discardStaged(ctx, tx) }))
	if err != nil {
		s.log.Warn("could not clear the side file; the next run does", "error", err)
	}
}
