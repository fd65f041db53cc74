package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/load/journal"
)

// Session is one process's access to the SmartLead API: the one rate
// limiter every request goes through (scaled windows, the server's own
// windows, a log line before a long wait), its quota memory (the requests
// earlier processes made inside the longest window, from the request
// journal and the ledger), the client, and the flush that moves the
// attempts it made from the journal to the ledger. run, plan, the
// first-run plan and the webhook commands all build theirs here.
type Session struct {
	Client  *extract.Client
	Limiter *ratelimit.Limiter
	// Spent counts the requests of earlier processes that still count
	// against the longest window (the limiter is preloaded with them).
	Spent int

	journal *journal.Journal
	label   string
	rec     attemptLog
}

// SessionOptions says what a Session may write and who admits requests.
type SessionOptions struct {
	// Store is the warehouse whose ledger the quota memory reads; nil when
	// there is none yet (the journal alone then). The session does not
	// keep it: it is used only while NewSession runs.
	Store *load.Store
	// Recover: Store is open for writing, so requests of dead processes
	// missing from its ledger are written to it and the journal is
	// compacted. Without it the session writes nothing but its own
	// journal lines, and the next run that recovers moves them to the
	// ledger (plan: it must not write the warehouse or wait for a run).
	Recover bool
	// Label names the session's requests when they are made outside a
	// run ("plan", "webhooks"): their ledger rows carry run ids such as
	// plan-20261207T101500Z-1a2b, also when recovered after a crash.
	Label string
	// Admit is asked before every request (a run's budget and deadline).
	Admit func(extract.Item) bool
	// Logger receives the session's lines (nil: none).
	Logger *slog.Logger
}

// NewSession builds the session for cfg. Close it when done.
func NewSession(ctx context.Context, cfg Config, o SessionOptions) (*Session, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	from := time.Now().Add(-longest(cfg.Windows))
	jr, past, err := quotaMemory(ctx, o.Store, o.Recover && o.Store != nil, cfg.DB, from, log)
	if err != nil {
		return nil, err
	}
	s := &Session{journal: jr, Spent: len(past)}
	if o.Label != "" {
		s.label = fmt.Sprintf("%s-%s-%04x", o.Label, time.Now().UTC().Format("20060102T150405Z"), rand.Uint32N(1<<16))
		jr.SetRun(s.label)
	}
	s.Limiter = ratelimit.New(cfg.Windows,
		ratelimit.WithServerWindows(cfg.ServerWindows),
		ratelimit.WithWaitHook(10*time.Second, waitLogger(log)))
	if len(past) > 0 {
		s.Limiter.Preload(past)
		log.Info("earlier runs' requests still count against the rate limit", "requests", len(past))
	}
	s.Client, err = newClient(cfg, s.Limiter, log, s.rec.add, o.Admit, extract.WithJournal(jr))
	if err != nil {
		_ = jr.Close()
		return nil, err
	}
	return s, nil
}

// SetRun tags the requests the journal records from now on with a run.
func (s *Session) SetRun(runID string) { s.journal.SetRun(runID) }

// FlushRun writes the attempts made since the last flush to run's ledger
// and marks them as written in the journal.
func (s *Session) FlushRun(ctx context.Context, run *load.Run) error {
	return s.flush(func(as []extract.Attempt) error { return run.LogAttempts(ctx, as) })
}

// Flush writes the attempts of a session outside a run to the ledger of
// store (open for writing), under the session's label, and marks them as
// written in the journal.
func (s *Session) Flush(ctx context.Context, store *load.Store) error {
	return s.flush(func(as []extract.Attempt) error { return store.LogAttempts(ctx, s.label, as) })
}

func (s *Session) flush(write func([]extract.Attempt) error) error {
	as := s.rec.take()
	if len(as) == 0 {
		return nil
	}
	if err := write(as); err != nil {
		s.rec.putBack(as) // a later flush tries again; the journal has them meanwhile
		return fmt.Errorf("write request ledger: %w", err)
	}
	return s.journal.Flushed(journalIDs(as))
}

// Close closes the journal. Attempts not flushed stay in it, and the next
// process that recovers writes them to the ledger.
func (s *Session) Close() error { return s.journal.Close() }

// quotaMemory opens the warehouse's request journal and returns the send
// time of every request made since from, by any process: the journal's
// (which holds even those of a process killed mid-request) and, before
// the journal's start, the ledger's of store (when there is one). With
// recover, requests of dead processes missing from the ledger are written
// to it first, so that it stays complete, and the journal is compacted to
// the window.
func quotaMemory(ctx context.Context, store *load.Store, recover bool, db string, from time.Time, log *slog.Logger) (*journal.Journal, []time.Time, error) {
	path := journal.Path(db)
	jr, err := journal.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := journal.ReadSince(path, from)
	if err == nil && recover {
		st, err = recoverOrphans(ctx, store, jr, st, log)
	}
	var past []time.Time
	if err == nil {
		past, err = sentSince(ctx, store, st, from)
	}
	if err == nil && recover {
		err = jr.Compact(from)
	}
	if err != nil {
		_ = jr.Close()
		return nil, nil, err
	}
	return jr, past, nil
}

// recoverOrphans writes the requests of dead processes that are missing
// from the ledger to it, and marks them in the journal.
func recoverOrphans(ctx context.Context, store *load.Store, jr *journal.Journal, st *journal.State, log *slog.Logger) (*journal.State, error) {
	orphans := st.Orphans()
	if len(orphans) == 0 {
		return st, nil
	}
	if err := store.LogOrphans(ctx, orphans); err != nil {
		return nil, fmt.Errorf("write orphaned requests to the ledger: %w", err)
	}
	ids := make([]string, len(orphans))
	unanswered := 0
	for i, e := range orphans {
		ids[i] = e.ID
		if !e.Answered {
			unanswered++
		}
	}
	if err := jr.Flushed(ids); err != nil {
		return nil, err
	}
	log.Warn("a process stopped before recording its requests; they are in the ledger now and count against the rate limit",
		"requests", len(orphans), "unanswered", unanswered)
	return st, nil
}

// sentSince merges the journal's requests since from with the ledger's
// from before the journal's start (from then on the journal has them all,
// and a request in both is counted once).
func sentSince(ctx context.Context, store *load.Store, st *journal.State, from time.Time) ([]time.Time, error) {
	var past []time.Time
	if store != nil {
		ledger, err := store.RecentAttempts(ctx, from)
		if err != nil {
			return nil, fmt.Errorf("read request ledger: %w", err)
		}
		for _, t := range ledger {
			if t.Before(st.Since) {
				past = append(past, t)
			}
		}
	}
	past = append(past, st.SentSince(from)...)
	// A time from the future (the clock was stepped back since, and the
	// journal had no boot-time reading to date it) is moved back as the
	// limiter's Preload does, so that plan predicts what run will do.
	past = ratelimit.PastSends(past, time.Now())
	slices.SortFunc(past, func(a, b time.Time) int { return a.Compare(b) })
	return past, nil
}

func newClient(cfg Config, lim *ratelimit.Limiter, log *slog.Logger, observe func(extract.Attempt), admit func(extract.Item) bool, more ...extract.Option) (*extract.Client, error) {
	opts := []extract.Option{
		extract.WithBaseURL(cfg.BaseURL),
		extract.WithLimiter(lim),
		extract.WithLogger(log),
		extract.WithObserver(observe),
	}
	if admit != nil {
		opts = append(opts, extract.WithAdmit(admit))
	}
	if cfg.AttemptTimeout > 0 {
		opts = append(opts, extract.WithAttemptTimeout(cfg.AttemptTimeout))
	}
	if cfg.MaxRetryAfter > 0 {
		opts = append(opts, extract.WithMaxRetryAfter(cfg.MaxRetryAfter))
	}
	if cfg.RetryBase > 0 {
		opts = append(opts, extract.WithRetry(cfg.Retries, cfg.RetryBase, cfg.RetryCap))
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = extract.NewHTTPClient(cfg.Concurrency)
	}
	opts = append(opts, extract.WithHTTPClient(hc))
	return extract.NewClient(cfg.APIKey, append(opts, more...)...)
}

// waitLogger says before a long wait why and until when. Every worker
// meets the same full window, so one line stands for the waits that end
// within a minute of it.
func waitLogger(log *slog.Logger) func(ratelimit.WaitInfo) {
	var mu sync.Mutex
	var last time.Time
	return func(w ratelimit.WaitInfo) {
		mu.Lock()
		defer mu.Unlock()
		if !last.IsZero() && w.Until.Sub(last).Abs() < time.Minute {
			return
		}
		last = w.Until
		log.Info("waiting on the rate limit", "reason", w.Reason, "resuming_at", w.Until.Local().Format(time.TimeOnly))
	}
}

func longest(ws []ratelimit.Window) time.Duration {
	var d time.Duration
	for _, w := range ws {
		d = max(d, w.Len)
	}
	return d
}

// attemptLog buffers the client's per-attempt reports (from any worker)
// until a flush writes them to the ledger.
type attemptLog struct {
	mu  sync.Mutex
	buf []extract.Attempt
}

func (a *attemptLog) add(at extract.Attempt) {
	a.mu.Lock()
	a.buf = append(a.buf, at)
	a.mu.Unlock()
}

func (a *attemptLog) take() []extract.Attempt {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := a.buf
	a.buf = nil
	return out
}

// putBack returns attempts a flush could not write, ahead of newer ones.
func (a *attemptLog) putBack(as []extract.Attempt) {
	a.mu.Lock()
	a.buf = append(as, a.buf...)
	a.mu.Unlock()
}

// journalIDs lists the journal ids of attempts just written to the ledger.
func journalIDs(as []extract.Attempt) []string {
	ids := make([]string, 0, len(as))
	for _, a := range as {
		if a.JournalID != "" {
			ids = append(ids, a.JournalID)
		}
	}
	return ids
}
