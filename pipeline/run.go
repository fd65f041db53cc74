package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/internal/diskfull"
	"github.com/smartlead-etl/smartlead-etl/internal/lockfile"
	"github.com/smartlead-etl/smartlead-etl/internal/privfile"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/load/journal"
)

// Config is one run's configuration. Zero values mean the documented
// defaults where one exists.
type Config struct {
	DB       string
	Schema   fs.FS // sql/schema
	LockWait time.Duration
	Retain   int
	// CommitWait is how long the commit waits for readers to close the
	// warehouse (0: load.DefaultCommitWait).
	CommitWait time.Duration

	APIKey         string
	BaseURL        string
	HTTPClient     *http.Client // nil: extract.NewHTTPClient(Concurrency)
	Windows        []ratelimit.Window
	ServerWindows  []ratelimit.Window // the documented, unscaled windows
	Concurrency    int
	Streams        []extract.Stream // nil: all
	Days           int              // daily-stats lookback ending today
	Retries        int
	RetryBase      time.Duration
	RetryCap       time.Duration
	AttemptTimeout time.Duration
	MaxRetryAfter  time.Duration

	// Budget-aware runs (all optional).
	FullRefresh   bool          // ignore the previous snapshot: fetch everything
	MaxRequests   int           // stop cleanly (status incomplete) before spending more
	Deadline      time.Time     // stop cleanly before a request would be sent after it
	BackfillDays  int           // fill daily stats this many days back, once
	ResumeWithin  time.Duration // continue an interrupted run started this recently (0: never, as --resume-within 0; the CLI's default is DefaultResumeWithin)
	Overlap       time.Duration // safety overlap of incremental filters (0: DefaultOverlap)
	StatsLookback time.Duration // statistics re-read behind the previous run (0: DefaultStatsLookback)
	// ProbeLive probes, on an incremental night, every campaign that can
	// still change on its own (not COMPLETED or STOPPED) and that no
	// signal flagged, with one analytics request: the only way to see,
	// the same night, a lead deleted before it was ever sent to (no
	// account-wide signal shows it; the verification sample and a full
	// refresh do, later).
	ProbeLive bool

	Logger   *slog.Logger
	Progress Progress       // optional
	Public   map[string]any // configuration recorded in etl_runs; no secrets
}

// DefaultResumeWithin is how old an interrupted run may be and still be
// continued rather than started over, unless configured otherwise (the
// default of --resume-within).
const DefaultResumeWithin = 24 * time.Hour

// resumeFrom is the earliest start of an interrupted run that the next
// run continues; false: it starts over (ResumeWithin 0, or a full
// refresh).
func (c Config) resumeFrom(now time.Time) (time.Time, bool) {
	if c.ResumeWithin <= 0 || c.FullRefresh {
		return time.Time{}, false
	}
	return now.Add(-c.ResumeWithin), true
}

// ErrIncomplete marks a run that stopped at its request budget or
// deadline: its pages are kept and the next run continues it.
var ErrIncomplete = errors.New("stopped at the request budget or deadline; the next run continues")

// Progress receives what a live display or heartbeat needs. Calls never
// overlap (pages are emitted one at a time), but they come from the
// crawler's worker goroutines as well as the run's own, so an
// implementation must not rely on a goroutine of its own (and needs a lock
// if it also reads its state from, say, a ticker).
type Progress interface {
	Planned(pages int)
	Page(rows int64, s extract.Stats)
}

// ErrPartial marks a run that succeeded with rejected records or data
// checks that warned (load.Summary.Partial): the snapshot is visible, but
// wants a look.
var ErrPartial = errors.New("finished with rejected records or failed data checks")

// Run performs one run. On success the summary's snapshot is visible; on
// any error the warehouse is as it was, except that the run log and the
// request ledger record the attempt. A first run whose key the API
// rejects leaves nothing behind: no warehouse, journal or side file.
func Run(ctx context.Context, cfg Config) (_ *load.Summary, rerr error) {
	// A full disk, wherever it struck (lock, journal, staging, commit), is
	// one line naming the file.
	defer func() { rerr = diskfull.Wrap("run", cfg.DB, "the warehouse keeps its last snapshot", rerr) }()
	started := time.Now()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// The lock lives beside the warehouse, so its directory comes first
	// (private, like the warehouse load.Open creates in it).
	if err := privfile.MkdirAll(filepath.Dir(cfg.DB)); err != nil {
		return nil, fmt.Errorf("create directory for %s: %w", cfg.DB, err)
	}
	lock, err := lockfile.Acquire(lockfile.Path(cfg.DB))
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	_, statErr := os.Stat(cfg.DB)
	fresh := errors.Is(statErr, os.ErrNotExist)
	sum, err := runLocked(ctx, cfg, log, started)
	if fresh && errors.Is(err, extract.ErrUnauthorized) {
		// Still under the lock: nobody else has opened these files.
		forgetWarehouse(cfg.DB, log)
	}
	return sum, err
}

// forgetWarehouse removes what a first run created (a rejected key
// spends one request, on an account this tool has no warehouse for).
func forgetWarehouse(db string, log *slog.Logger) {
	for _, p := range []string{db, db + ".wal", journal.Path(db), load.StagingDir(db)} {
		if err := os.RemoveAll(p); err != nil {
			log.Error("could not remove what the rejected first run created", "path", p, "err", err)
		}
	}
}

func runLocked(ctx context.Context, cfg Config, log *slog.Logger, started time.Time) (*load.Summary, error) {
	// Open publishes first a snapshot an earlier run staged but could not
	// publish (a reader held the warehouse), before anything is fetched.
	store, err := load.Open(ctx, cfg.DB, cfg.Schema, load.Options{LockWait: cfg.LockWait, Retain: cfg.Retain, Logger: log,
		CommitWait: cfg.CommitWait})
	if err != nil {
		return nil, fmt.Errorf("open warehouse: %w", err)
	}
	defer store.Close()

	// The job admits each request (budget, deadline); it needs the
	// session's limiter, so the session asks it through j.
	var j *job
	sess, err := NewSession(ctx, cfg, SessionOptions{Store: store, Recover: true, Logger: log,
		Admit: func(it extract.Item) bool { return j.admit(it) }})
	if err != nil {
		return nil, err
	}
	defer sess.Close()

	run, err := startRun(ctx, store, cfg, started)
	if err != nil {
		return nil, err
	}
	log = log.With("run_id", run.ID())
	sess.SetRun(run.ID())
	// From here until the commit the warehouse is only read-locked, which
	// readers share: query, report, export and plan work during the run.
	if err := store.ReleaseWarehouse(ctx); err != nil {
		_ = run.Abort(ctx, load.StatusFailed, err, load.Counters{})
		return nil, fmt.Errorf("release warehouse: %w", err)
	}
	if run.Resumed() {
		log.Info("resuming an interrupted run", "started_at", run.StartedAt().Format(time.RFC3339))
	} else {
		log.Info("extracting", "db", cfg.DB, "limits", ratelimit.Format(cfg.Windows), "concurrency", cfg.Concurrency)
	}

	prior, err := run.PriorCounters(ctx)
	if err != nil {
		return nil, err
	}
	latency, err := store.TypicalLatency(ctx)
	if err != nil {
		return nil, err
	}
	track := NewTracker(sess.Limiter, latency)
	if p, ok := cfg.Progress.(Tracked); ok {
		p.Track(track)
	}
	j = &job{cfg: cfg, log: log, store: store, run: run, prog: cfg.Progress, sess: sess, lim: sess.Limiter,
		client: sess.Client, seqOf: map[string]int64{}, prior: prior, track: track, warned: map[string]bool{}}
	if j.prog == nil {
		j.prog = nopProgress{}
	}

	err = j.extract(ctx)
	if ferr := j.flushAttempts(context.WithoutCancel(ctx)); ferr != nil && err == nil {
		err = ferr
	}
	counters := j.counters()
	// The invocations' time, this one's until now (see load.Counters).
	counters.Elapsed = prior.Elapsed + time.Since(started)
	if err == nil && j.stopped.Load() {
		err = ErrIncomplete
	}
	if err != nil {
		status := load.StatusFailed
		switch {
		case errors.Is(err, ErrIncomplete):
			status = load.StatusIncomplete
		case ctx.Err() != nil:
			status = load.StatusCancelled
			err = fmt.Errorf("run cancelled: %w", context.Canceled)
		}
		// Bounded, so that a stop exits in time (see load.AbortGrace).
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), load.AbortGrace)
		defer cancel()
		if aerr := run.Abort(actx, status, err, counters); aerr != nil {
			log.Error("could not record the run's end", "err", aerr)
		}
		if status == load.StatusIncomplete {
			pending, done, _ := run.QueueStats(actx)
			log.Warn("run incomplete", "reason", j.stopReason(), "pages_done", done, "pages_left", pending)
		}
		j.summary(status, counters, nil, started)
		return nil, err
	}

	sum, err := run.Commit(ctx, counters)
	if errors.Is(err, load.ErrCommitDeferred) {
		j.summary(statusStaged, counters, sum, started)
		return sum, fmt.Errorf("commit snapshot: %w", err)
	}
	if err != nil {
		j.summary(load.StatusFailed, counters, sum, started)
		return sum, fmt.Errorf("commit snapshot: %w", err)
	}
	for _, c := range sum.Checks {
		if c.Severity != load.SeverityOK && c.Severity != "" {
			log.Warn("data check", "check", c.Name, "subject", c.Subject, "detail", c.Detail)
		}
	}
	track.Finish()
	j.summary(sum.Status, counters, sum, started)
	if sum.Partial() {
		return sum, ErrPartial
	}
	return sum, nil
}

// startRun continues an interrupted run when one is recent enough, else
// begins a new one.
func startRun(ctx context.Context, store *load.Store, cfg Config, now time.Time) (*load.Run, error) {
	if from, ok := cfg.resumeFrom(now); ok {
		run, err := store.Resume(ctx, from)
		if err != nil {
			return nil, fmt.Errorf("resume run: %w", err)
		}
		if run != nil {
			return run, nil
		}
	}
	mode := load.ModeIncremental
	if cfg.FullRefresh {
		mode = load.ModeFull
	}
	run, err := store.BeginRun(ctx, load.RunStart{
		SnapshotDate: now.UTC().Truncate(24 * time.Hour),
		StartedAt:    now,
		Config:       cfg.Public,
		Mode:         mode,
	})
	if err != nil {
		return nil, fmt.Errorf("begin run: %w", err)
	}
	return run, nil
}

// LookbackDays lists the n days ending today (UTC), oldest first.
func LookbackDays(now time.Time, n int) []string {
	today := now.UTC().Truncate(24 * time.Hour)
	out := make([]string, 0, n)
	for i := n - 1; i >= 0; i-- {
		out = append(out, today.AddDate(0, 0, -i).Format(time.DateOnly))
	}
	return out
}

type nopProgress struct{}

func (nopProgress) Planned(int)               {}
func (nopProgress) Page(int64, extract.Stats) {}

// Ended is implemented by a Progress that draws on a terminal: the run
// calls it just before its summary line, so that the display ends above
// that line instead of being drawn again below it. succeeded: the
// snapshot is visible.
type Ended interface {
	Ended(succeeded bool)
}

// statusStaged is the summary line's status for a snapshot that waits to
// be published (ErrCommitDeferred); etl_runs has no such status.
const statusStaged load.Status = "staged"

// summary writes the run's one summary line. status is the run's
// load.Status, or statusStaged. Its
// counters and its duration cover the same invocations of the run:
// duration sums the time they ran (not the hours between a stop and a
// resume), so waited, the wall-clock time the rate limit held requests
// back in them, never exceeds it; invocation is this process's share. worker_waits sums each worker's waits (limiter
// and retry backoff) in this invocation, so it exceeds the wall clock
// when several workers wait at once.
func (j *job) summary(status load.Status, c load.Counters, sum *load.Summary, invoked time.Time) {
	if e, ok := j.prog.(Ended); ok {
		e.Ended(status == load.StatusSucceeded)
	}
	now := time.Now()
	attrs := []any{
		"status", string(status), "requests", c.Requests, "throttled", c.Throttled,
		"retries", c.Retries, "waited", c.Waited.Round(time.Second).String(),
		"worker_waits", j.client.Stats().Waited.Round(time.Second).String(),
		"duration", (j.prior.Elapsed + now.Sub(invoked)).Round(time.Millisecond).String(),
	}
	if j.run.Resumed() {
		attrs = append(attrs, "invocation", now.Sub(invoked).Round(time.Millisecond).String())
	}
	if sum != nil {
		attrs = append(attrs, "rejected", sum.Rejected, "warnings", sum.Warnings, "rows", FormatRows(sum.Rows))
	}
	level := slog.LevelInfo
	if status != load.StatusSucceeded {
		level = slog.LevelError
	}
	j.log.Log(context.Background(), level, "run summary", attrs...)
}

// FormatRows renders per-table row counts as "table=n ..." sorted by name.
func FormatRows(m map[string]int64) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}
