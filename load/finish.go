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

// finishRun records the end of run id in etl_runs, with the mode and plan
// the side file kept for it.
func (s *Store) finishRun(ctx context.Context, tx *sql.Tx, id string, status Status, at time.Time, c Counters, sum *Summary, msg string) error {
	var set strings.Builder
	args := []any{status, at, c.Requests, c.Throttled, c.Retries, c.Waited.Seconds(), c.Elapsed.Seconds(), sum.Rejected, sum.Warnings, nullEmpty(redact(msg))}
	for _, t := range tables {
		fmt.Fprintf(&set, ", rows_%s = ?", t.name)
		args = append(args, sum.Rows[t.name])
	}
	seq := "NULL"
	if status == StatusSucceeded {
		seq = "(SELECT coalesce(max(commit_seq), 0) + 1 FROM @w.etl_runs)"
	}
	args = append(args, id, id, id)
	res, err := tx.ExecContext(ctx, s.sq(`UPDATE @w.etl_runs SET status = ?, finished_at = ?, requests = ?, throttled = ?,
		retries = ?, wait_seconds = ?, run_seconds = ?, rejected = ?, warnings = ?, error = ?`+set.String()+`, commit_seq = `+seq+`,
		mode = coalesce((SELECT mode FROM @s.stage_runs WHERE run_id = ?), mode),
		planned = coalesce((SELECT planned FROM @s.stage_runs WHERE run_id = ?), planned)
		WHERE run_id = ? AND status = 'running'`), args...)
	if err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		// Another process (after this one lost its lock) marked it failed.
		return fmt.Errorf("record run: run %s is no longer running", id)
	}
	return nil
}

// upsertDailyStats writes the run's days into campaign_daily_stats: a day
// fetched again replaces the earlier numbers.
func (s *Store) upsertDailyStats(ctx context.Context, tx *sql.Tx, id string) error {
	set := make([]string, 0, len(tDailyStats.cols))
	for _, c := range tDailyStats.cols[2:] {
		set = append(set, c+" = excluded."+c)
	}
	set = append(set, "run_id = excluded.run_id", "extracted_at = excluded.extracted_at")
	if _, err := tx.ExecContext(ctx, s.sq(`INSERT INTO @w.campaign_daily_stats BY NAME
		SELECT * EXCLUDE (batch, snapshot_date) FROM @s.`+tDailyStats.staged+` WHERE run_id = ?
		ON CONFLICT (campaign_id, day) DO UPDATE SET `+strings.Join(set, ", ")), id); err != nil {
		return fmt.Errorf("upsert campaign_daily_stats: %w", err)
	}
	return nil
}

func insertChecks(ctx context.Context, tx *sql.Tx, s *Store, id string, checks []Check) error {
	stmt, err := tx.PrepareContext(ctx, s.sq(`INSERT INTO @w.data_checks (run_id, "check", subject, detail, severity) VALUES (?, ?, ?, ?, ?)`))
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
// that is still incomplete (or running: a dead process) as failed.
// Resuming one of them would publish a snapshot older than id's; their
// staging is deleted from the side file after the commit.
func (s *Store) discardOlder(ctx context.Context, tx *sql.Tx, id string, at time.Time) error {
	if _, err := tx.ExecContext(ctx, s.sq(`UPDATE @w.etl_runs SET status = 'failed', finished_at = coalesce(finished_at, $2),
		error = coalesce(error || '; ', '') || 'abandoned: run ' || $1 || ', started later, succeeded'
		WHERE status IN ('incomplete', 'running') AND run_id <> $1
		AND started_at < (SELECT started_at FROM @w.etl_runs WHERE run_id = $1)`), id, at); err != nil {
		return fmt.Errorf("discard older runs: %w", err)
	}
	return nil
}

// retain keeps the last n snapshots (n <= 0 keeps all; the latest is
// always kept): it raises snapshot_floor to the oldest of them, deletes
// the versions no snapshot from there on holds (valid_to at or below the
// floor) and the older snapshots' reported totals.
func (s *Store) retain(ctx context.Context, tx *sql.Tx, n int) error {
	if n <= 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, s.sq(`UPDATE @w.snapshot_floor SET commit_seq = greatest(commit_seq,
		(SELECT coalesce(min(commit_seq), 0) FROM (SELECT commit_seq FROM @w.etl_runs WHERE status = 'succeeded'
			ORDER BY commit_seq DESC LIMIT ?)))`), n); err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	floor := `(SELECT max(commit_seq) FROM @w.snapshot_floor)`
	for _, t := range versioned() {
		if _, err := tx.ExecContext(ctx, s.sq(`DELETE FROM @w.`+t.physical+` WHERE valid_to <= `+floor)); err != nil {
			return fmt.Errorf("retention on %s: %w", t.name, err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.sq(`DELETE FROM @w.reported_totals_rows WHERE run_id IN (
		SELECT run_id FROM @w.etl_runs WHERE status = 'succeeded' AND commit_seq < `+floor+`)`)); err != nil {
		return fmt.Errorf("retention on reported_totals_rows: %w", err)
	}
	return nil
}

// settle, as a writable store opens, finishes what an earlier process
// left in the side file: it publishes a snapshot that was prepared but
// not published (a reader held the warehouse, or the process died at
// that moment) before anything else, moves leftover ledger rows into the
// warehouse, and deletes the staging of runs that can no longer continue.
func (s *Store) settle(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, s.sq(`SELECT sr.run_id, sr.prepared::VARCHAR, coalesce(e.status, '')
		FROM @s.stage_runs sr LEFT JOIN @w.etl_runs e USING (run_id) WHERE sr.state = 'ready' ORDER BY sr.run_id`))
	if err != nil {
		return fmt.Errorf("load: read the side file: %w", err)
	}
	type ready struct {
		id, doc string
		status  Status
	}
	var rs []ready
	for rows.Next() {
		var x ready
		if err := rows.Scan(&x.id, &x.doc, &x.status); err != nil {
			rows.Close()
			return fmt.Errorf("load: read the side file: %w", err)
		}
		rs = append(rs, x)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("load: read the side file: %w", err)
	}
	for _, x := range rs {
		if x.status != StatusRunning {
			continue // published already (or given up): discardStaged clears it
		}
		var p prepared
		err := json.Unmarshal([]byte(x.doc), &p)
		if err == nil {
			start := time.Now()
			if err = s.publish(ctx, x.id, &p); err == nil {
				s.log.Info("published the snapshot an earlier run staged", "run_id", x.id,
					"commit_window", time.Since(start).Round(time.Millisecond).String())
				continue
			}
		}
		s.log.Error("could not publish the snapshot an earlier run staged; it is discarded", "run_id", x.id, "error", err)
		if ferr := inTx(ctx, s.db, func(tx *sql.Tx) error {
			return s.finishRun(ctx, tx, x.id, StatusFailed, s.opts.now(), p.Counters, &Summary{Rows: map[string]int64{}},
				"its staged snapshot could not be published: "+err.Error())
		}); ferr != nil {
			return fmt.Errorf("load: settle run %s: %w", x.id, errors.Join(err, ferr))
		}
	}
	if err := inTx(ctx, s.db, func(tx *sql.Tx) error { return s.publishLedger(ctx, tx) }); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	s.cleanSide(ctx)
	return nil
}
