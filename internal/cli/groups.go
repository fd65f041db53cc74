package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/pipeline"
)

// The flags come in small groups; a command registers the groups it
// honours, and each group checks its own values (see validate.go).

// dbFlags name the warehouse and how long to wait for its file lock.
type dbFlags struct {
	db       string
	lockWait time.Duration
}

func (c *dbFlags) register(fs *flagSet) {
	c.registerPath(fs)
	fs.DurationVar(&c.lockWait, "lock-wait", load.DefaultLockWait, "how long to wait for another process's DuckDB file lock")
}

// registerPath registers --db alone (listen opens the warehouse only
// when it is free, so it never waits for its lock).
func (c *dbFlags) registerPath(fs *flagSet) {
	fs.StringVar(&c.db, "db", "smartlead.duckdb", "DuckDB database file")
}

// logFlags shape the log of a command that logs.
type logFlags struct {
	logFormat string
	logLevel  string
}

func (c *logFlags) register(fs *flagSet) {
	fs.StringVar(&c.logFormat, "log-format", "auto", "log format: auto (text on a terminal, JSON otherwise), text or json")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
}

// apiFlags say how to reach the API and how fast: everything an API
// session needs (run, plan, webhooks).
type apiFlags struct {
	tier          string
	limits        string
	headroom      float64
	baseURL       string
	apiKeyFile    string
	attemptTO     time.Duration
	retries       int
	retryBase     time.Duration
	retryCap      time.Duration
	maxRetryAfter time.Duration

	apiKey string    // resolved, never printed
	key    keySource // where apiKey came from
}

func (c *apiFlags) register(fs *flagSet) {
	fs.StringVar(&c.tier, "tier", ratelimit.DefaultTier, "SmartLead plan tier: "+ratelimit.DescribeTiers())
	fs.StringVar(&c.limits, "limits", "", "explicit rate-limit windows, e.g. "+ratelimit.Format(ratelimit.MustPreset(ratelimit.DefaultTier))+" (overrides --tier)")
	fs.Float64Var(&c.headroom, "headroom", extract.DefaultHeadroom, "share of every window the client may use (the vendor advises 0.8)")
	fs.StringVar(&c.baseURL, "base-url", extract.DefaultBaseURL, "SmartLead API base URL")
	fs.StringVar(&c.apiKeyFile, "api-key-file", "", "file holding the API key; wins over "+apiKeyEnv+" when both are set")
	fs.DurationVar(&c.attemptTO, "request-timeout", extract.DefaultAttemptTimeout, "timeout of one HTTP attempt")
	fs.IntVar(&c.retries, "retries", extract.DefaultMaxRetries, "retries of a failed request (5xx, timeouts, dropped connections)")
	fs.DurationVar(&c.retryBase, "retry-base", extract.DefaultRetryBase, "first backoff step; doubles per retry, with full jitter")
	fs.DurationVar(&c.retryCap, "retry-cap", extract.DefaultRetryCap, "longest backoff step")
	fs.DurationVar(&c.maxRetryAfter, "max-retry-after", extract.DefaultMaxRetryAfter, "fail instead of waiting when the API asks to wait longer than this")
}

// windows returns the documented (unscaled) windows and the client's
// scaled ones.
func (c *apiFlags) windows() (raw, scaled []ratelimit.Window, err error) {
	if c.limits != "" {
		raw, err = ratelimit.Parse(c.limits)
	} else {
		raw, err = ratelimit.Preset(c.tier)
	}
	if err != nil {
		return nil, nil, err
	}
	scaled, err = ratelimit.Scale(raw, c.headroom)
	if err != nil {
		return nil, nil, err
	}
	return raw, scaled, nil
}

// fetchFlags say what a run fetches and how wide (run, plan).
type fetchFlags struct {
	concurrency  int
	streams      []string
	days         int
	fullRefresh  bool
	backfillDays int
	resumeWithin time.Duration
}

func (c *fetchFlags) register(fs *flagSet) {
	fs.IntVar(&c.concurrency, "concurrency", extract.DefaultWorkers, "parallel requests (all share one rate limiter)")
	fs.StringSliceVar(&c.streams, "streams", streamNames(extract.AllStreams), "streams to fetch (comma-separated)")
	fs.IntVar(&c.days, "days", 2, "daily-stats lookback in days, ending today (2 = yesterday and today)")
	fs.BoolVar(&c.fullRefresh, "full-refresh", false, "fetch everything, ignoring what the last snapshot holds (weekly in the documented cron)")
	fs.IntVar(&c.backfillDays, "backfill-days", 0, "fill missing daily stats this many days back (once; later runs keep them)")
	fs.DurationVar(&c.resumeWithin, "resume-within", pipeline.DefaultResumeWithin, "continue an interrupted run started this recently instead of starting over (0 = never)")
}

// runFlags bound one invocation of run and what it keeps.
type runFlags struct {
	retain      int
	commitWait  time.Duration
	maxRequests int
	deadline    string
	dryRun      bool
	deadlineAt  time.Time // resolved from deadline
}

func (c *runFlags) register(fs *flagSet) {
	fs.DurationVar(&c.commitWait, "commit-wait", load.DefaultCommitWait, "how long the commit waits for readers (query, report, the DuckDB CLI) to close the warehouse; then the snapshot stays staged, exit 6, and the next run publishes it first")
	fs.IntVar(&c.retain, "retain", 0, "keep the last N snapshots of each history table (0 = keep all)")
	fs.IntVar(&c.maxRequests, "max-requests", 0, "stop cleanly before this invocation spends more requests; the next run continues with a fresh budget (0 = no budget)")
	fs.StringVar(&c.deadline, "deadline", "", "stop cleanly before this local time (HH:MM, the next such time) or RFC 3339 instant; the next run continues")
	fs.BoolVar(&c.dryRun, "dry-run", false, "print the plan (requests per stream, earliest finish) and stop; same as `plan`")
}

// outputFlags say what a successful run writes besides the warehouse and
// what it shows while it runs (run, demo).
type outputFlags struct {
	exportDir string
	dashboard string
	progress  string
}

func (c *outputFlags) register(fs *flagSet) {
	fs.StringVar(&c.exportDir, "export", "", "after a successful run, export Parquet files to this directory")
	fs.StringVar(&c.dashboard, "dashboard", "", "after a successful run, write the HTML dashboard to this file")
	fs.StringVar(&c.progress, "progress", "auto", "progress display: auto (on a terminal), always or never")
}

// runConfig is every group run uses; plan, demo and webhooks register
// the groups they honour and leave the rest at their zero values.
type runConfig struct {
	dbFlags
	logFlags
	apiFlags
	fetchFlags
	runFlags
	outputFlags
}

// registerRun registers every flag of run.
func (c *runConfig) registerRun(fs *flagSet) {
	c.dbFlags.register(fs)
	c.logFlags.register(fs)
	c.apiFlags.register(fs)
	c.fetchFlags.register(fs)
	c.runFlags.register(fs)
	c.outputFlags.register(fs)
}

// runFlagSet is run's flags on a set of their own, for the commands that
// pick some (demo) or accept others without honouring them.
func runFlagSet(c *runConfig) *pflag.FlagSet {
	fs := newFlags("run", "", "", "")
	c.registerRun(fs)
	return fs.FlagSet
}

func streamNames(ss []extract.Stream) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}

func knownStream(name string) bool {
	for _, s := range extract.AllStreams {
		if string(s) == name {
			return true
		}
	}
	return false
}

func (c *fetchFlags) checkStreams() error {
	if len(c.streams) == 0 {
		return fmt.Errorf("no stream given (known: %s)", strings.Join(streamNames(extract.AllStreams), ","))
	}
	for _, s := range c.streams {
		if !knownStream(s) {
			return fmt.Errorf("unknown stream %q (known: %s)", s, strings.Join(streamNames(extract.AllStreams), ","))
		}
	}
	return nil
}
