package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/internal/privfile"
	"github.com/smartlead-etl/smartlead-etl/load"
)

// envPrefix: every flag can also be set as SMARTLEAD_<FLAG_NAME>; flags win.
const envPrefix = "SMARTLEAD_"

// common holds the flags every command shares.
type common struct {
	db        string
	logFormat string
	logLevel  string
	lockWait  time.Duration
}

func (c *common) register(fs *pflag.FlagSet) {
	fs.StringVar(&c.db, "db", "smartlead.duckdb", "DuckDB database file")
	fs.StringVar(&c.logFormat, "log-format", "auto", "log format: auto (text on a terminal, JSON otherwise), text or json")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.DurationVar(&c.lockWait, "lock-wait", load.DefaultLockWait, "how long to wait for another process's DuckDB file lock")
}

// runConfig is everything `run` (and `plan`, `demo`) needs.
type runConfig struct {
	common
	tier          string
	limits        string
	headroom      float64
	concurrency   int
	baseURL       string
	streams       []string
	days          int
	apiKeyFile    string
	attemptTO     time.Duration
	retries       int
	retryBase     time.Duration
	retryCap      time.Duration
	maxRetryAfter time.Duration
	retain        int
	exportDir     string
	dashboard     string
	progress      string
	maxRequests   int
	deadline      string
	dryRun        bool
	fullRefresh   bool
	backfillDays  int
	resumeWithin  time.Duration
	deadlineAt    time.Time // resolved from deadline

	apiKey string // resolved, never printed
}

func (c *runConfig) register(fs *pflag.FlagSet) {
	c.common.register(fs)
	fs.StringVar(&c.tier, "tier", "standard", "SmartLead plan tier: standard (10/s, 60/min, 1000/h) or pro (20/s, 120/min, 3000/h)")
	fs.StringVar(&c.limits, "limits", "", "explicit rate-limit windows, e.g. 10/1s,60/1m,1000/1h (overrides --tier)")
	fs.Float64Var(&c.headroom, "headroom", extract.DefaultHeadroom, "share of every window the client may use (the vendor advises 0.8)")
	fs.IntVar(&c.concurrency, "concurrency", extract.DefaultWorkers, "parallel requests (all share one rate limiter)")
	fs.StringVar(&c.baseURL, "base-url", extract.DefaultBaseURL, "SmartLead API base URL")
	fs.StringSliceVar(&c.streams, "streams", streamNames(extract.AllStreams), "streams to fetch (comma-separated)")
	fs.IntVar(&c.days, "days", 2, "daily-stats lookback in days, ending today (2 = yesterday and today)")
	fs.StringVar(&c.apiKeyFile, "api-key-file", "", "file holding the API key (else SMARTLEAD_API_KEY)")
	fs.DurationVar(&c.attemptTO, "request-timeout", extract.DefaultAttemptTimeout, "timeout of one HTTP attempt")
	fs.IntVar(&c.retries, "retries", extract.DefaultMaxRetries, "retries of a failed request (5xx, timeouts, dropped connections)")
	fs.DurationVar(&c.retryBase, "retry-base", extract.DefaultRetryBase, "first backoff step; doubles per retry, with full jitter")
	fs.DurationVar(&c.retryCap, "retry-cap", extract.DefaultRetryCap, "longest backoff step")
	fs.DurationVar(&c.maxRetryAfter, "max-retry-after", extract.DefaultMaxRetryAfter, "fail instead of waiting when the API asks to wait longer than this")
	fs.IntVar(&c.retain, "retain", 0, "keep the last N snapshots of each history table (0 = keep all)")
	fs.StringVar(&c.exportDir, "export", "", "after a successful run, export Parquet files to this directory")
	fs.StringVar(&c.dashboard, "dashboard", "", "after a successful run, write the HTML dashboard to this file")
	fs.StringVar(&c.progress, "progress", "auto", "progress display: auto (on a terminal), always or never")
	fs.BoolVar(&c.fullRefresh, "full-refresh", false, "fetch everything, ignoring what the last snapshot holds (weekly in the documented cron)")
	fs.IntVar(&c.maxRequests, "max-requests", 0, "stop cleanly before spending more requests; the next run continues (0 = no budget)")
	fs.StringVar(&c.deadline, "deadline", "", "stop cleanly before this local time (HH:MM, the next such time) or RFC 3339 instant; the next run continues")
	fs.IntVar(&c.backfillDays, "backfill-days", 0, "fill missing daily stats this many days back (once; later runs keep them)")
	fs.DurationVar(&c.resumeWithin, "resume-within", 24*time.Hour, "continue an interrupted run started this recently instead of starting over (0 = never)")
	fs.BoolVar(&c.dryRun, "dry-run", false, "print the plan (requests per stream, earliest finish) and stop; same as `plan`")
}

// parseFlags parses args, then fills every flag the user did not give from
// its environment variable. --help returns errHelp after printing usage.
func parseFlags(fs *pflag.FlagSet, args []string, stderr io.Writer) error {
	fs.SetOutput(stderr)
	fs.SortFlags = false
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return errHelp
		}
		return usageErrorf("%s", err)
	}
	var envErr error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || envErr != nil {
			return
		}
		name := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = usageErrorf("%s=%q: %s", name, v, err)
			}
		}
	})
	return envErr
}

func newFlagSet(name, synopsis string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: smartlead-etl %s\n\n%s\n\nFlags (each also read from %s<FLAG>, e.g. %sDB):\n%s",
			name, synopsis, envPrefix, envPrefix, fs.FlagUsages())
	}
	return fs
}

// resolve checks the configuration and reads the API key. Everything it
// rejects is a usage error (exit 2).
func (c *runConfig) resolve(needKey bool) error {
	if c.concurrency < 1 || c.concurrency > 64 {
		return usageErrorf("--concurrency %d: must be between 1 and 64", c.concurrency)
	}
	if c.retries < 0 || c.retryBase <= 0 || c.retryCap < c.retryBase {
		return usageErrorf("--retries must be >= 0 and 0 < --retry-base <= --retry-cap")
	}
	if c.days < 0 || c.days > 31 {
		return usageErrorf("--days %d: must be between 0 and 31", c.days)
	}
	if _, _, err := c.windows(); err != nil {
		return err
	}
	for _, s := range c.streams {
		if !knownStream(s) {
			return usageErrorf("--streams: unknown stream %q (known: %s)", s, strings.Join(streamNames(extract.AllStreams), ","))
		}
	}
	if c.maxRequests < 0 {
		return usageErrorf("--max-requests %d: must be >= 0", c.maxRequests)
	}
	if c.backfillDays < 0 || c.backfillDays > 3660 {
		return usageErrorf("--backfill-days %d: must be between 0 and 3660", c.backfillDays)
	}
	if c.deadline != "" {
		t, err := parseDeadline(c.deadline, time.Now())
		if err != nil {
			return err
		}
		c.deadlineAt = t
	}
	if err := extract.CheckBaseURL(c.baseURL); err != nil {
		// Before anything opens or connects; the message never repeats
		// userinfo or a query.
		return usageErrorf("--base-url: %s", err)
	}
	switch c.progress {
	case "auto", "always", "never":
	default:
		return usageErrorf("--progress %q: want auto, always or never", c.progress)
	}
	if !needKey {
		return nil
	}
	if c.apiKeyFile != "" {
		b, err := os.ReadFile(c.apiKeyFile)
		if err != nil {
			return usageErrorf("--api-key-file: %s", err)
		}
		c.apiKey = strings.TrimSpace(string(b))
		warnExposedKeyFile(c.apiKeyFile, os.Stderr)
	} else {
		c.apiKey = strings.TrimSpace(os.Getenv("SMARTLEAD_API_KEY"))
	}
	if c.apiKey == "" {
		return usageErrorf("no API key: set SMARTLEAD_API_KEY or pass --api-key-file FILE")
	}
	registerSecret(c.apiKey)
	return nil
}

// windows returns the documented (unscaled) windows and the client's
// scaled ones.
func (c *runConfig) windows() (raw, scaled []ratelimit.Window, err error) {
	if c.limits != "" {
		raw, err = ratelimit.Parse(c.limits)
	} else {
		raw, err = ratelimit.Preset(c.tier)
	}
	if err != nil {
		return nil, nil, usageErrorf("rate limits: %s", err)
	}
	scaled, err = ratelimit.Scale(raw, c.headroom)
	if err != nil {
		return nil, nil, usageErrorf("--headroom: %s", err)
	}
	return raw, scaled, nil
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

// parseDeadline reads "06:00" as the next 06:00 local time, or an RFC 3339
// instant.
func parseDeadline(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	hm, err := time.ParseInLocation("15:04", v, now.Location())
	if err != nil {
		return time.Time{}, usageErrorf("--deadline %q: want HH:MM (local time) or an RFC 3339 time", v)
	}
	t := time.Date(now.Year(), now.Month(), now.Day(), hm.Hour(), hm.Minute(), 0, 0, now.Location())
	if !t.After(now) {
		t = t.AddDate(0, 0, 1)
	}
	return t, nil
}

// warnExposedKeyFile prints one line when the API key's file is readable
// by group or others: the key is the account.
func warnExposedKeyFile(path string, w io.Writer) {
	if exposed, mode, err := privfile.Exposed(path); err == nil && exposed {
		fmt.Fprintf(w, "smartlead-etl: warning: --api-key-file %s is readable by group or others (mode %04o); fix: chmod 600 %s\n", path, mode, path)
	}
}
