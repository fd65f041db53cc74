package load

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// Run statuses, as stored in etl_runs.status.
const (
	StatusRunning    = "running"
	StatusSucceeded  = "succeeded"
	StatusIncomplete = "incomplete"
	StatusFailed     = "failed"
	StatusCancelled  = "cancelled"
)

// flushEvery is how many staged rows Write lets the Appenders buffer before
// it flushes them. Each flush is a commit, so this bounds both the memory a
// load holds and what a crash can lose of a run's staged rows.
const flushEvery = 50_000

// A run stages through two lanes, each a connection with its own
// Appenders, double-buffered: when the lane Write appends to holds
// flushEvery rows, a goroutine flushes it (DuckDB's insert and commit, the
// larger part of a load's cost) while Write goes on appending to the
// other lane, so that the two run on two cores. Only one goroutine owns a
// lane at a time: Write's, or the flushing goroutine, which hands it back
// through the channel it reports on. At most one flush is in flight, so a
// load buffers at most 2*flushEvery rows.
type lane struct {
	conn    *sql.Conn
	apps    map[string]*duckdb.Appender
	pending int // rows appended since the lane's last flush
}

// flush flushes every Appender of the lane.
func (l *lane) flush(ctx context.Context) error {
	for name, a := range l.apps {
		if err := a.FlushWithCancel(ctx); err != nil {
			return fmt.Errorf("load: flush %s: %w", name, err)
		}
	}
	l.pending = 0
	return nil
}

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
	Mode string
}

// Run modes, as stored in etl_runs.mode.
const (
	ModeFull        = "full"
	ModeIncremental = "incremental"
)

func checkMode(m string) (string, error) {
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
}

// Check is one data check result: a row of data_checks.
type Check struct {
	Name     string // e.g. "unique_key", "counter_drop"
	Subject  string // what it is about, e.g. "leads campaign_lead_map_id=12"
	Detail   string
	Severity string // SeverityOK, SeverityWarning or SeverityError
}

// Check severities.
const (
	SeverityOK      = "ok"
	SeverityWarning = "warning"
	SeverityError   = "error" // fails the run
)

// Summary is the outcome of a committed run.
type Summary struct {
	RunID    string
	Status   string
	Rows     map[string]int64 // rows in the snapshot per table (view name), carried rows included
	Carried  map[string]int64 // of those, rows copied from the previous snapshot (see Run.SetCarry)
	Rejected int64            // records that could not be converted, kept in rejected_records
	Checks   []Check
	Warnings int // checks of severity warning; Warnings > 0 or Rejected > 0 means exit code 3
}

// Run is a run in progress. Write and Flush must be called from one
// goroutine; LogAttempts from any. Commit or Abort ends it.
type Run struct {
	s        *Store
	id       string
	snapshot time.Time
	started  time.Time
	resumed  bool
	planned  bool

	// conn and apps are the first lane's (see lanes), set by BeginRun and
	// Resume.
	conn  *sql.Conn
	apps  map[string]*duckdb.Appender
	lanes [2]*lane // see lane(); the second is opened at the first hand-off
	li    int      // the lane Write appends to
	// flushing is non-nil while the other lane is being flushed; the
	// flush's result arrives on it.
	flushing chan error
	vals     []driver.Value // reused row buffer
	// batch is the last number handed out to a Write or a queue item: the
	// two share one sequence so that a Write's rows are never mistaken for
	// a queue item's. cur is the batch being staged.
	batch, cur int64
	pending    int   // rows appended since the last Flush (some may be in flight)
	broken     error // a failed append: the run can only be aborted
	// resumable is set with broken when the staged rows are nonetheless
	// consistent for a later resume (a page staged but not marked done),
	// so that an incomplete Abort may keep them.
	resumable bool
	ended     bool
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
	if s.readOnly {
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

	var crashed []string
	err = inTx(ctx, s.db, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT run_id FROM etl_runs WHERE status = 'running' ORDER BY run_id`)
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
		if err := markDead(ctx, tx, s.opts.now(), id); err != nil {
			return err
		}
		if err := discardStaged(ctx, tx); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO etl_runs (run_id, status, snapshot_date, started_at, config, mode)
			VALUES (?, 'running', ?, ?, ?, ?)`, id, snap, started, config, mode)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load: begin run: %w", err)
	}
	for _, c := range crashed {
		s.log.Warn("run found still running: marked failed", "run_id", c, "by", id)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		s.finishOrphan(id, err)
		return nil, fmt.Errorf("load: begin run: %w", err)
	}
	r := &Run{s: s, id: id, snapshot: snap, started: started, conn: conn, apps: map[string]*duckdb.Appender{}}
	s.active = r
	s.log.Info("run started", "run_id", id, "snapshot_date", snap.Format(time.DateOnly))
	return r, nil
}

// finishOrphan marks a run whose setup failed as failed.
func (s *Store) finishOrphan(id string, cause error) {
	_, _ = s.db.ExecContext(context.Background(),
		`UPDATE etl_runs SET status = 'failed', finished_at = ?, error = ? WHERE run_id = ?`,
		s.opts.now(), redact(cause.Error()), id)
}

// markDead records the runs left 'running' by a process that died
// (found by run by): those with a work queue become incomplete, to be
// resumed, the others failed.
func markDead(ctx context.Context, tx *sql.Tx, at time.Time, by string) error {
	_, err := tx.ExecContext(ctx, `UPDATE etl_runs SET finished_at = $1,
		status = CASE WHEN run_id IN (SELECT run_id FROM work_items) THEN 'incomplete' ELSE 'failed' END,
		error = 'the process running it stopped before finishing (found by run ' || $2 || ')' ||
			CASE WHEN run_id IN (SELECT run_id FROM work_items) THEN '; its queue is kept for a resume' ELSE '' END
		WHERE status = 'running'`, at, by)
	return err
}

// discardStaged deletes the rows, queue and carries of every run that can
// no longer become visible: failed and cancelled ones (incomplete runs
// keep theirs for a later run to continue).
func discardStaged(ctx context.Context, tx *sql.Tx) error {
	for _, name := range runScopedTables() {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+name+` WHERE run_id IN
			(SELECT run_id FROM etl_runs WHERE status IN ('failed', 'cancelled'))`); err != nil {
			return err
		}
	}
	return nil
}

// runScopedTables lists the tables holding a run's staged work: its rows
// and, unlike physicalTables, its queue and carries.
func runScopedTables() []string {
	return append(physicalTables(), "work_items", "run_carry")
}

// physicalTables lists the tables holding rows per run.
func physicalTables() []string {
	names := make([]string, 0, len(tables)+1)
	for _, t := range tables {
		names = append(names, t.physical)
	}
	return append(names, "reported_totals_rows")
}

// ID returns the run's id, the run_id of every row it writes.
func (r *Run) ID() string { return r.id }

// Write stages one batch (typically one page) of rows. The rows become
// durable at the next flush (every flushEvery rows, Flush, Commit or an
// incomplete Abort), and visible only once Commit succeeds. Rejected
// records are written to rejected_records under the run's id. A row with
// invalid JSON in a JSON column is an error naming the table, key and
// column; after any error the run can only be aborted.
func (r *Run) Write(ctx context.Context, b transform.Batch) error {
	return r.WriteAt(ctx, b, r.s.opts.now())
}

// WriteAt is Write with the extracted_at time of the batch's rows (the
// time its page was fetched).
func (r *Run) WriteAt(ctx context.Context, b transform.Batch, extractedAt time.Time) error {
	if err := r.usable(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.batch++
	if err := r.stage(b, r.batch, extractedAt); err != nil {
		return err
	}
	if r.staging().pending >= flushEvery {
		return r.handOff(ctx)
	}
	return nil
}

// handOff starts flushing the lane Write appends to on a goroutine of its
// own and switches Write to the other lane, once that one's flush is over.
func (r *Run) handOff(ctx context.Context) error {
	if err := r.awaitFlush(); err != nil {
		return err
	}
	other := r.li ^ 1
	if r.lanes[other] == nil {
		conn, err := r.s.db.Conn(ctx)
		if err != nil {
			return r.fail(fmt.Errorf("load: second staging connection: %w", err))
		}
		r.lanes[other] = &lane{conn: conn, apps: map[string]*duckdb.Appender{}}
	}
	l, done := r.staging(), make(chan error, 1)
	// The flush is short (flushEvery rows) and every later call waits for
	// it: a Write's own deadline must not interrupt it.
	fctx := context.WithoutCancel(ctx)
	go func() { done <- l.flush(fctx) }()
	r.flushing, r.li = done, other
	return nil
}

// staging returns the lane Write appends to.
func (r *Run) staging() *lane {
	if r.lanes[0] == nil {
		r.lanes[0] = &lane{conn: r.conn, apps: r.apps}
	}
	return r.lanes[r.li]
}

// awaitFlush waits for the flush in flight, if any.
func (r *Run) awaitFlush() error {
	if r.flushing == nil {
		return nil
	}
	err := <-r.flushing
	r.flushing = nil
	if err != nil {
		return r.fail(err)
	}
	return nil
}

// stage appends b's rows to the Appenders under batch number batch.
func (r *Run) stage(b transform.Batch, batch int64, extractedAt time.Time) error {
	for _, t := range b.Totals {
		if totalTables[t.Stream] == nil {
			return r.fail(fmt.Errorf("load: reported total for campaign %d: unknown stream %q (want leads or lead_email_stats)", t.CampaignID, t.Stream))
		}
	}
	r.cur = batch
	err := errors.Join(
		appendRows(r, tCampaigns, b.Campaigns, extractedAt, fillCampaign),
		appendRows(r, tCampaignAnalytics, b.CampaignAnalytics, extractedAt, fillCampaignAnalytics),
		appendRows(r, tDailyStats, b.DailyStats, extractedAt, fillDailyStat),
		appendRows(r, tLeads, b.Leads, extractedAt, fillLead),
		appendRows(r, tLeadEmailStats, b.LeadEmailStats, extractedAt, fillLeadEmailStat),
		appendRows(r, tSequences, b.Sequences, extractedAt, fillSequence),
		appendRows(r, tEmailAccounts, b.EmailAccounts, extractedAt, fillEmailAccount),
		appendRows(r, tClients, b.Clients, extractedAt, fillClient),
		r.appendRejected(b.Rejected),
		r.appendTotals(b.Totals),
	)
	if err != nil {
		return r.fail(err)
	}
	return nil
}

// appendRows stages rows into t: the prefix, then fill's values.
func appendRows[T any](r *Run, t *table, rows []T, at time.Time, fill func([]driver.Value, *T)) error {
	if len(rows) == 0 || r.broken != nil {
		return nil
	}
	app, err := r.appender(t.physical)
	if err != nil {
		return err
	}
	v := r.row(prefix + len(t.cols))
	v[0], v[1], v[2], v[3] = r.id, r.cur, r.snapshot, at
	for i := range rows {
		fill(v[prefix:], &rows[i])
		if err := app.AppendRow(v...); err != nil {
			if bad := t.badJSON(v[prefix:]); bad != "" {
				return fmt.Errorf("load: %s %s: column %s: not valid JSON", t.name, t.keyOf(v[prefix:]), bad)
			}
			return fmt.Errorf("load: %s %s: %w", t.name, t.keyOf(v[prefix:]), err)
		}
	}
	r.pending += len(rows)
	r.staging().pending += len(rows)
	return nil
}

func (r *Run) appendRejected(rej []transform.Rejected) error {
	if len(rej) == 0 || r.broken != nil {
		return nil
	}
	app, err := r.appender("rejected_records")
	if err != nil {
		return err
	}
	v := r.row(7)
	for i := range rej {
		x := &rej[i]
		var raw driver.Value
		switch {
		case x.Raw == nil:
		case json.Valid(x.Raw):
			raw = json.RawMessage(x.Raw)
		default:
			// The record may be rejected for not being JSON at all: keep
			// its text as a JSON string rather than lose it.
			raw = string(x.Raw)
		}
		v[0], v[1], v[2], v[3], v[4], v[5], v[6] = r.id, x.Stream, x.RecordKey, x.Field, redact(x.Reason), raw, r.cur
		if err := app.AppendRow(v...); err != nil {
			return fmt.Errorf("load: rejected record %s %s: %w", x.Stream, x.RecordKey, err)
		}
	}
	r.pending += len(rej)
	r.staging().pending += len(rej)
	return nil
}

func (r *Run) appendTotals(ts []transform.ReportedTotal) error {
	if len(ts) == 0 || r.broken != nil {
		return nil
	}
	app, err := r.appender("reported_totals_rows")
	if err != nil {
		return err
	}
	v := r.row(6)
	for _, t := range ts {
		v[0], v[1], v[2], v[3], v[4], v[5] = r.id, r.cur, r.snapshot, t.Stream, t.CampaignID, t.Total
		if err := app.AppendRow(v...); err != nil {
			return fmt.Errorf("load: reported total %s campaign %d: %w", t.Stream, t.CampaignID, err)
		}
	}
	r.pending += len(ts)
	r.staging().pending += len(ts)
	return nil
}

func (r *Run) row(n int) []driver.Value {
	if cap(r.vals) < n {
		r.vals = make([]driver.Value, n)
	}
	return r.vals[:n]
}

// appender returns the current lane's Appender for table, creating it on
// first use.
func (r *Run) appender(table string) (*duckdb.Appender, error) {
	l := r.staging()
	if a := l.apps[table]; a != nil {
		return a, nil
	}
	var a *duckdb.Appender
	err := l.conn.Raw(func(dc any) error {
		var err error
		a, err = duckdb.NewAppenderFromConn(dc.(driver.Conn), "", table)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load: appender for %s: %w", table, err)
	}
	l.apps[table] = a
	return a, nil
}

// Flush makes every row written so far durable (each table's flush is a
// commit). Rows stay invisible until Commit.
func (r *Run) Flush(ctx context.Context) error {
	if err := r.usable(); err != nil {
		return err
	}
	if err := r.awaitFlush(); err != nil {
		return err
	}
	if err := r.staging().flush(ctx); err != nil {
		return r.fail(err)
	}
	r.pending = 0
	return nil
}

// closeAppenders closes every Appender: flushing their rows when keep is
// true, discarding the unflushed ones otherwise.
func (r *Run) closeAppenders(keep bool) error {
	var errs []error
	if err := r.awaitFlush(); err != nil {
		errs = append(errs, err)
	}
	r.staging()
	for _, l := range r.lanes {
		if l == nil {
			continue
		}
		for name, a := range l.apps {
			if !keep || r.broken != nil {
				if err := a.Clear(); err != nil {
					errs = append(errs, fmt.Errorf("load: discard %s rows: %w", name, err))
				}
			}
			if err := a.Close(); err != nil {
				errs = append(errs, fmt.Errorf("load: flush %s: %w", name, err))
			}
			delete(l.apps, name)
		}
		l.pending = 0
	}
	r.pending = 0
	return errors.Join(errs...)
}

// closeConns releases the run's staging connections.
func (r *Run) closeConns() {
	r.staging()
	for _, l := range r.lanes {
		if l != nil {
			_ = l.conn.Close()
		}
	}
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
	r.closeConns()
	r.s.mu.Lock()
	if r.s.active == r {
		r.s.active = nil
	}
	r.s.mu.Unlock()
}

// LogAttempts writes api_requests rows at once, durably; they are kept
// whatever becomes of the run, since they are the quota ledger. Safe to
// call from any goroutine, also after the run ended.
func (r *Run) LogAttempts(ctx context.Context, attempts []extract.Attempt) error {
	return r.s.LogAttempts(ctx, r.id, attempts)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func nullZero(v int64) driver.Value {
	if v == 0 {
		return nil
	}
	return v
}

func nullNeg(v int) driver.Value {
	if v < 0 {
		return nil
	}
	return int32(v)
}

func nullEmpty(s string) driver.Value {
	if s == "" {
		return nil
	}
	return s
}

// secretParam matches a credential in a URL or message; the extractor
// already redacts, this is the warehouse's own guard.
var secretParam = regexp.MustCompile(`(?i)((?:api[_-]?key|password|secret)["']?\s*[=:]\s*["']?)[^&\s"']+`)

func redact(s string) string { return secretParam.ReplaceAllString(s, "${1}REDACTED") }

// secretKey matches config keys that would hold a credential.
var secretKey = regexp.MustCompile(`(?i)api[_-]?key|password|secret`)

// configJSON renders a run's config as JSON and refuses one holding a key
// that names a credential.
func configJSON(c any) (any, error) {
	var raw []byte
	switch v := c.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		raw = v
	case []byte:
		raw = v
	case string:
		raw = []byte(v)
	default:
		var err error
		if raw, err = json.Marshal(v); err != nil {
			return nil, fmt.Errorf("load: run config: %w", err)
		}
	}
	var doc any
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("load: run config is not JSON: %w", err)
	}
	if k := findKey(doc, secretKey); k != "" {
		return nil, fmt.Errorf("load: run config key %q looks like a credential; secrets are never stored", k)
	}
	return string(raw), nil
}

func findKey(doc any, re *regexp.Regexp) string {
	switch v := doc.(type) {
	case map[string]any:
		for k, x := range v {
			if re.MatchString(k) {
				return k
			}
			if f := findKey(x, re); f != "" {
				return f
			}
		}
	case []any:
		for _, x := range v {
			if f := findKey(x, re); f != "" {
				return f
			}
		}
	}
	return ""
}

func dateOnly(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
