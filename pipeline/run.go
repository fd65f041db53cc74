package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/internal/lockfile"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// abortGrace bounds the rollback after a cancellation, so that SIGTERM
// exits within the 5 s that cron wrappers and systemd allow.
const abortGrace = 4 * time.Second

// Config is one run's configuration. Zero values mean the documented
// defaults where one exists.
type Config struct {
	DB       string
	Schema   fs.FS // sql/schema
	LockWait time.Duration
	Retain   int

	APIKey         string
	BaseURL        string
	HTTPClient     *http.Client // nil: a default client
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

	Logger   *slog.Logger
	Progress Progress       // optional
	Public   map[string]any // configuration recorded in etl_runs; no secrets
}

// Progress receives what a live display or heartbeat needs. Calls come
// from one goroutine.
type Progress interface {
	Planned(pages int)
	Page(rows int64, s extract.Stats)
}

// ErrPartial marks a run that succeeded with rejected records or failed
// data checks: the snapshot is visible, and the CLI exits 3.
var ErrPartial = errors.New("finished with rejected records or failed data checks")

// Run performs one run. On success the summary's snapshot is visible; on
// any error the warehouse is as it was, except that the run log and the
// request ledger record the attempt.
func Run(ctx context.Context, cfg Config) (*load.Summary, error) {
	started := time.Now()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lock, err := lockfile.Acquire(cfg.DB + ".lock")
	if err != nil {
		return nil, err
	}
	defer lock.Release()

	store, err := load.Open(ctx, cfg.DB, cfg.Schema, load.Options{LockWait: cfg.LockWait, Retain: cfg.Retain, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open warehouse: %w", err)
	}
	defer store.Close()

	lim := ratelimit.New(cfg.Windows,
		ratelimit.WithServerWindows(cfg.ServerWindows),
		ratelimit.WithWaitHook(10*time.Second, func(w ratelimit.WaitInfo) {
			log.Info("waiting on the rate limit", "reason", w.Reason, "resuming_at", w.Until.Local().Format(time.TimeOnly))
		}))
	// Quota memory: requests earlier runs made within the longest window
	// still count against it, so start where they left off.
	past, err := store.RecentAttempts(ctx, time.Now().Add(-longest(cfg.Windows)))
	if err != nil {
		return nil, fmt.Errorf("read request ledger: %w", err)
	}
	if len(past) > 0 {
		lim.Preload(past)
		log.Info("earlier runs' requests still count against the rate limit", "requests", len(past))
	}

	run, err := store.BeginRun(ctx, load.RunStart{
		SnapshotDate: started.UTC().Truncate(24 * time.Hour),
		StartedAt:    started,
		Config:       cfg.Public,
	})
	if err != nil {
		return nil, fmt.Errorf("begin run: %w", err)
	}
	log = log.With("run_id", run.ID())
	log.Info("run started", "db", cfg.DB, "limits", ratelimit.Format(cfg.Windows), "concurrency", cfg.Concurrency)

	rec := &attemptLog{}
	opts := []extract.Option{
		extract.WithBaseURL(cfg.BaseURL),
		extract.WithLimiter(lim),
		extract.WithLogger(log),
		extract.WithObserver(rec.add),
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
	if cfg.HTTPClient != nil {
		opts = append(opts, extract.WithHTTPClient(cfg.HTTPClient))
	}
	client, err := extract.NewClient(cfg.APIKey, opts...)
	if err != nil {
		return nil, err
	}

	j := &job{cfg: cfg, log: log, run: run, client: client, rec: rec, prog: cfg.Progress}
	if j.prog == nil {
		j.prog = nopProgress{}
	}
	err = j.extractAll(ctx)
	if ferr := j.flushAttempts(context.WithoutCancel(ctx)); ferr != nil && err == nil {
		err = ferr
	}
	counters := j.counters()
	if err != nil {
		status := "failed"
		if ctx.Err() != nil {
			status = "cancelled"
			err = fmt.Errorf("run cancelled: %w", context.Canceled)
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortGrace)
		defer cancel()
		if aerr := run.Abort(actx, status, err, counters); aerr != nil {
			log.Error("could not record the run's end", "err", aerr)
		}
		logSummary(log, run.ID(), status, counters, nil, time.Since(started))
		return nil, err
	}

	sum, err := run.Commit(ctx, counters)
	if err != nil {
		logSummary(log, run.ID(), "failed", counters, sum, time.Since(started))
		return sum, fmt.Errorf("commit snapshot: %w", err)
	}
	for _, c := range sum.Checks {
		if c.Severity != "ok" && c.Severity != "" {
			log.Warn("data check", "check", c.Name, "subject", c.Subject, "detail", c.Detail)
		}
	}
	logSummary(log, run.ID(), sum.Status, counters, sum, time.Since(started))
	if sum.Rejected > 0 || sum.Warnings > 0 {
		return sum, ErrPartial
	}
	return sum, nil
}

func longest(ws []ratelimit.Window) time.Duration {
	var d time.Duration
	for _, w := range ws {
		d = max(d, w.Len)
	}
	return d
}

type job struct {
	cfg    Config
	log    *slog.Logger
	run    *load.Run
	client *extract.Client
	rec    *attemptLog
	prog   Progress

	campaignIDs []int64
}

func (j *job) wants(s extract.Stream) bool {
	if j.cfg.Streams == nil {
		return true
	}
	for _, w := range j.cfg.Streams {
		if w == s {
			return true
		}
	}
	return false
}

// extractAll runs two phases: the account-level lists (the campaign list
// says which per-campaign requests to make), then the per-campaign streams.
func (j *job) extractAll(ctx context.Context) error {
	// The campaign list is always fetched: every per-campaign stream needs it.
	account := []extract.Item{{Stream: extract.StreamCampaigns}}
	for _, s := range []extract.Stream{extract.StreamClients, extract.StreamEmailAccounts} {
		if j.wants(s) {
			account = append(account, extract.Item{Stream: s})
		}
	}
	j.prog.Planned(len(account))
	if err := j.client.Crawl(ctx, account, j.cfg.Concurrency, j.emit); err != nil {
		return err
	}
	var perCampaign []extract.Stream
	for _, s := range extract.AllStreams {
		switch s {
		case extract.StreamCampaigns, extract.StreamClients, extract.StreamEmailAccounts:
		default:
			if j.wants(s) {
				perCampaign = append(perCampaign, s)
			}
		}
	}
	items := extract.Plan(j.campaignIDs, LookbackDays(time.Now(), j.cfg.Days), perCampaign)
	j.prog.Planned(len(items))
	j.log.Info("campaign list read", "campaigns", len(j.campaignIDs), "requests_planned", len(items))
	return j.client.Crawl(ctx, items, j.cfg.Concurrency, j.emit)
}

// emit is called by the crawler from one goroutine at a time: it owns the
// run's appenders.
func (j *job) emit(p extract.Page) error {
	b := transform.FromPage(p)
	for _, c := range b.Campaigns {
		j.campaignIDs = append(j.campaignIDs, c.CampaignID)
	}
	if p.Item.Stream == extract.StreamCampaigns && !j.wants(extract.StreamCampaigns) {
		b.Campaigns = nil // fetched only for its ids
	}
	for _, r := range b.Rejected {
		j.log.Warn("record rejected", "stream", r.Stream, "key", r.RecordKey, "field", r.Field, "reason", r.Reason)
	}
	ctx := context.Background() // the crawl's context governs cancellation; a started write finishes
	if err := j.run.Write(ctx, b); err != nil {
		return fmt.Errorf("stage %s page (campaign %d, offset %d): %w", p.Item.Stream, p.Item.CampaignID, p.Item.Offset, err)
	}
	if p.Next != nil {
		j.prog.Planned(1)
	}
	j.prog.Page(batchRows(b), j.client.Stats())
	return j.flushAttempts(ctx)
}

func (j *job) flushAttempts(ctx context.Context) error {
	if as := j.rec.take(); len(as) > 0 {
		if err := j.run.LogAttempts(ctx, as); err != nil {
			return fmt.Errorf("write request ledger: %w", err)
		}
	}
	return nil
}

func (j *job) counters() load.Counters {
	s := j.client.Stats()
	return load.Counters{Requests: s.Requests, Throttled: s.Throttled, Retries: s.Retries, Waited: s.Waited}
}

func batchRows(b transform.Batch) int64 {
	return int64(len(b.Campaigns) + len(b.CampaignAnalytics) + len(b.DailyStats) + len(b.Leads) +
		len(b.LeadEmailStats) + len(b.Sequences) + len(b.EmailAccounts) + len(b.Clients))
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

// attemptLog buffers the client's per-attempt reports (from any worker)
// until the emit goroutine writes them to the ledger.
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

type nopProgress struct{}

func (nopProgress) Planned(int)               {}
func (nopProgress) Page(int64, extract.Stats) {}

func logSummary(log *slog.Logger, runID, status string, c load.Counters, sum *load.Summary, took time.Duration) {
	attrs := []any{
		"run_id", runID, "status", status, "requests", c.Requests, "throttled", c.Throttled,
		"retries", c.Retries, "waited", c.Waited.Round(time.Second).String(), "duration", took.Round(time.Millisecond).String(),
	}
	if sum != nil {
		attrs = append(attrs, "rejected", sum.Rejected, "warnings", sum.Warnings, "rows", FormatRows(sum.Rows))
	}
	level := slog.LevelInfo
	if status != "succeeded" {
		level = slog.LevelError
	}
	log.Log(context.Background(), level, "run summary", attrs...)
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
