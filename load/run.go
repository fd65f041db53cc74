package load

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Status is a run's state, as stored in etl_runs.status (whose CHECK
// constraint lists the same values: TestStatusesMatchSchema).
type Status string

// Run statuses.
const (
	StatusRunning    Status = "running"
	StatusSucceeded  Status = "succeeded"
	StatusIncomplete Status = "incomplete"
	StatusFailed     Status = "failed"
	StatusCancelled  Status = "cancelled"
)

// ErrCheckFailed is matched by the error Commit returns when a data check
// of severity "error" (a duplicate key) failed the run.
var ErrCheckFailed = errors.New("data check failed")

// ErrRunActive is returned by BeginRun while another run of the same Store
// has not been committed or aborted.
var ErrRunActive = errors.New("a run is already in progress on this store")

// RunStart describes a run being started.
type RunStart struct {
	SnapshotDate time.Time // the day the snapshot describes; only the date is kept
	StartedAt    time.Time // zero means now
	// Config is the run's settings, stored in etl_runs.config as JSON: a
	// JSON-able value, or a string/[]byte/json.RawMessage holding JSON.
	// Keys naming a password, secret or API key are refused.
	Config any
	// Mode is ModeFull (the default when empty) or ModeIncremental, kept
	// in etl_runs.mode; SetPlan may change it once the run knows.
	Mode Mode
}

// Mode is how a run fetches, as stored in etl_runs.mode.
type Mode string

// Run modes.
const (
	ModeFull        Mode = "full"        // everything, ignoring the previous snapshot
	ModeIncremental Mode = "incremental" // what changed, carrying the rest forward
)

func checkMode(m Mode) (Mode, error) {
	switch m {
	case "":
		return ModeFull, nil
	case ModeFull, ModeIncremental:
		return m, nil
	}
	return "", fmt.Errorf("load: run mode %q is not %q or %q", m, ModeFull, ModeIncremental)
}

// Counters are a run's request statistics, kept in its etl_runs row.
type Counters struct {
	Requests, Throttled, Retries int64
	Waited                       time.Duration // time spent waiting on the rate limiter
	// Elapsed is how long the run's invocations ran, summed
	// (etl_runs.run_seconds): not the time between them.
	Elapsed time.Duration
}

// Check is one data check result: a row of data_checks.
type Check struct {
	Name     string // e.g. "unique_key", "counter_drop"
	Subject  string // what it is about, e.g. "leads campaign_lead_map_id=12"
	Detail   string
	Severity Severity
}

// Severity is how much a check's finding matters, as stored in
// data_checks.severity.
type Severity string

// Check severities.
const (
	SeverityOK Severity = "ok"
	// SeverityInfo records what the run did instead of trusting a change
	// signal (a fallback that completed): the snapshot is exact, so it
	// is not counted as a warning.
	SeverityInfo    Severity = "info"
	SeverityWarning Severity = "warning"
	SeverityError   Severity = "error" // fails the run
)

// Summary is the outcome of a committed run.
type Summary struct {
	RunID    string
	Status   Status
	Rows     map[string]int64 // rows in the snapshot per table (view name), carried rows included
	Carried  map[string]int64 // of those, rows copied from the previous snapshot (see Run.SetCarry)
	Rejected int64            // records that could not be converted, kept in rejected_records
	Checks   []Check
	Warnings int // checks of severity warning (info is not counted); Warnings > 0 or Rejected > 0 means exit code 3
	// CommitWindow is how long the commit held the warehouse's write lock
	// (real time, from the lock to its release).
	CommitWindow time.Duration `json:"-"`
}

// Partial reports whether the published snapshot wants a look: records
// were rejected (see rejected_records) or a check warned (data_checks).
func (s *Summary) Partial() bool { return s.Rejected > 0 || s.Warnings > 0 }

// Run is a run in progress. Its staging methods (Write, CompleteItem,
// Enqueue, ...) must be called from one goroutine, which owns the
// Appenders; LogAttempts from any. Commit or Abort ends it.
type Run struct {
	s        *Store
	id       string
	snapshot time.Time
	started  time.Time
	resumed  bool
	planned  bool

	conn *sql.Conn // the staging connection, opened at the first row
	apps map[string]*duckdb.Appender
	vals []driver.Value // reused row buffer
	// batch is the last number handed out to a Write or a queue item: the
	// two share one sequence so that a Write's rows are never mistaken for
	// a queue item's. cur is the batch being staged.
	batch, cur int64
	pending    int // rows appended since the last flush
	flushedAt  time.Time
	// completed is the page handed over and not yet committed (see
	// CompleteItem).
	completed []completion
	broken    error // a failed append: the run can only be aborted
	// resumable is set with broken when the staged rows are nonetheless
	// consistent for a later resume (a page staged but not marked done),
	// so that an incomplete Abort may keep them.
	resumable bool
	ended     bool
}

func (s *Store) newRun(id string, snap, started time.Time, batch int64) *Run {
	return &Run{s: s, id: id, snapshot: snap, started: started, batch: batch, apps: map[string]*duckdb.Appender{},
		flushedAt: s.opts.now()}
}

// BeginRun starts a new run: it marks runs left 'running' by a process
// that died as failed and discards their staged rows (and those of failed
// or cancelled runs), then records the new run as running. A dead run
// that has a work queue is resumable: it becomes 'incomplete' instead,
// its rows and queue kept, so that calling BeginRun (for a full refresh,
// say) never destroys work a later [Store.Resume] could continue; the
// next run to succeed discards it (see [Run.Commit]). An incomplete run's
// rows are kept likewise.
func (s *Store) BeginRun(ctx context.Context, rs RunStart) (*Run, error) {
	if s.readOnly || !s.hasStage() {
		return nil, errors.New("load: BeginRun on a read-only store")
	}
	if rs.SnapshotDate.IsZero() {
		return nil, errors.New("load: BeginRun: SnapshotDate is required")
	}
	config, err := configJSON(rs.Config)
	if err != nil {
		return nil, err
	}
	mode, err := checkMode(rs.Mode)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active != nil {
		return nil, fmt.Errorf("load: BeginRun: %w (%s)", ErrRunActive, s.active.id)
	}
	started := rs.StartedAt
	if started.IsZero() {
		started = s.opts.now()
	}
	id := fmt.Sprintf("%s-%04x", started.UTC().Format("20060102T150405Z"), rand.Uint32N(1<<16))
	snap := dateOnly(rs.SnapshotDate)

	done, err := s.writable(ctx, s.opts.lockWait())
	if err != nil {
		return nil, fmt.Errorf("load: begin run: %w", err)
	}
	var crashed []string
	err = inTx(ctx, s.db, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.sq(`SELECT run_id FROM @w.etl_runs WHERE status = 'running' ORDER BY run_id`))
		if err != nil {
			return err
		}
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				rows.Close()
				return err
			}
			crashed = append(crashed, c)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := s.markDead(ctx, tx, s.opts.now(), id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.sq(`INSERT INTO @w.etl_runs (run_id, status, snapshot_date, started_at, config, mode)
			VALUES (?, 'running', ?, ?, ?, ?)`), id, snap, started, config, mode)
		return err
	})
	done()
	if err != nil {
		return nil, fmt.Errorf("load: begin run: %w", err)
	}
	// The side file second: a crash in between leaves a running run with
	// no queue, which the next run marks failed.
	err = inTx(ctx, s.db, func(tx *sql.Tx) error {
		if err := s.discardStaged(ctx, tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.sq(`INSERT INTO @s.stage_runs (run_id, state, mode) VALUES (?, 'staging', ?)`), id, mode)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load: begin run: %w", err)
	}
	for _, c := range crashed {
		s.log.Warn("run found still running: marked failed", "run_id", c, "by", id)
	}
	r := s.newRun(id, snap, started, 0)
	s.active = r
	s.log.Info("run started", "run_id", id, "snapshot_date", snap.Format(time.DateOnly))
	return r, nil
}

// markDead records the runs left 'running' by a process that died (found
// by run by): those with a work queue in the side file become incomplete,
// to be resumed, the others failed.
func (s *Store) markDead(ctx context.Context, tx *sql.Tx, at time.Time, by string) error {
	_, err := tx.ExecContext(ctx, s.sq(`UPDATE @w.etl_runs SET finished_at = $1,
		status = CASE WHEN run_id IN (SELECT run_id FROM @s.work_items) THEN 'incomplete' ELSE 'failed' END,
		error = 'the process running it stopped before finishing (found by run ' || $2 || ')' ||
			CASE WHEN run_id IN (SELECT run_id FROM @s.work_items) THEN '; its queue is kept for a resume' ELSE '' END
		WHERE status = 'running'`), at, by)
	return err
}

// discardStaged deletes from the side file what belongs to runs that can
// no longer become visible: failed, cancelled and succeeded ones, and
// those the warehouse does not know. Incomplete and running runs keep
// theirs; so does a run whose snapshot waits to be published.
func (s *Store) discardStaged(ctx context.Context, tx *sql.Tx) error {
	for _, name := range stagedTables() {
		if _, err := tx.ExecContext(ctx, s.sq(`DELETE FROM @s.`+name+` WHERE run_id NOT IN
			(SELECT run_id FROM @w.etl_runs WHERE status IN ('incomplete', 'running'))`)); err != nil {
			return err
		}
	}
	return nil
}

// stagedTables lists the side file's tables holding a run's staging (its
// ledger rows excepted: they leave for the warehouse, whatever the run's
// fate).
func stagedTables() []string {
	names := append([]string{"stage_runs", "work_items", "run_carry", stTotals, stRejected}, signalTables...)
	for _, t := range tables {
		names = append(names, t.staged)
		if !t.upsert {
			names = append(names, t.diff)
		}
	}
	return names
}

func (r *Run) usable() error {
	switch {
	case r.ended:
		return fmt.Errorf("load: run %s has already ended", r.id)
	case r.broken != nil:
		return fmt.Errorf("load: run %s cannot continue after an earlier error: %w", r.id, r.broken)
	}
	return nil
}

func (r *Run) fail(err error) error {
	if r.broken == nil {
		r.broken = err
	}
	return err
}

// end releases the run's connection and lets the store start another run.
func (r *Run) end() {
	r.ended = true
	r.closeConn()
	r.s.mu.Lock()
	if r.s.active == r {
		r.s.active = nil
	}
	r.s.mu.Unlock()
}

func dateOnly(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
