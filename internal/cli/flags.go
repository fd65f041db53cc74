package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
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
	commitWait    time.Duration
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

	apiKey string    // resolved, never printed
	key    keySource // where apiKey came from
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
	fs.StringVar(&c.apiKeyFile, "api-key-file", "", "file holding the API key; wins over SMARTLEAD_API_KEY when both are set")
	fs.DurationVar(&c.attemptTO, "request-timeout", extract.DefaultAttemptTimeout, "timeout of one HTTP attempt")
	fs.IntVar(&c.retries, "retries", extract.DefaultMaxRetries, "retries of a failed request (5xx, timeouts, dropped connections)")
	fs.DurationVar(&c.retryBase, "retry-base", extract.DefaultRetryBase, "first backoff step; doubles per retry, with full jitter")
	fs.DurationVar(&c.retryCap, "retry-cap", extract.DefaultRetryCap, "longest backoff step")
	fs.DurationVar(&c.maxRetryAfter, "max-retry-after", extract.DefaultMaxRetryAfter, "fail instead of waiting when the API asks to wait longer than this")
	fs.DurationVar(&c.commitWait, "commit-wait", load.DefaultCommitWait, "how long the commit waits for readers (query, report, the DuckDB CLI) to close the warehouse; then the snapshot stays staged, exit 6, and the next run publishes it first")
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
// its environment variable (unless the command reads none: noEnv). --help
// prints the command's help to stdout and returns errHelp.
func parseFlags(fs *pflag.FlagSet, args []string, stdout io.Writer) error {
	usage := fs.Usage
	fs.Usage = func() {} // pflag would print it to its output on -h; we do below
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	err := fs.Parse(args)
	fs.Usage = usage
	if err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return errHelp
		}
		return usageErrorf("%s (see smartlead-etl %s --help)", err, commandName(fs))
	}
	if noEnv(fs) {
		return nil
	}
	var envErr error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || envErr != nil {
			return
		}
		name := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = usageErrorf("%s=%q (--%s): %s", name, v, f.Name, err)
				return
			}
			_ = fs.SetAnnotation(f.Name, envAnnotation, []string{name})
		}
	})
	return envErr
}

// noEnvMarker, as a flag set's name suffix, marks a command that reads no
// SMARTLEAD_ variables (demo: it must never touch the real warehouse).
const noEnvMarker = " [no-env]"

func noEnv(fs *pflag.FlagSet) bool { return strings.HasSuffix(fs.Name(), noEnvMarker) }

func commandName(fs *pflag.FlagSet) string {
	name, _, _ := strings.Cut(fs.Name(), " ")
	return name
}

// newFlagSet makes a command's flag set; synopsis is "run [flags]".
func newFlagSet(synopsis, about string) *pflag.FlagSet {
	return newFlagSetEnv(synopsis, about, true)
}

func newFlagSetEnv(synopsis, about string, env bool) *pflag.FlagSet {
	name := synopsis
	if !env {
		name += noEnvMarker
	}
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.Usage = func() {
		src := fmt.Sprintf("Flags (each also read from %s<FLAG>, e.g. %sDB; a flag given on the command line wins):", envPrefix, envPrefix)
		if !env {
			src = "Flags (this command reads no " + envPrefix + " variables):"
		}
		fmt.Fprintf(fs.Output(), "Usage: smartlead-etl %s\n\n%s\n\n%s\n%s", synopsis, about, src, fs.FlagUsages())
	}
	return fs
}

// resolve checks the whole configuration and reads the API key, before
// anything is opened or written. Everything it rejects is a usage error
// (exit 2) naming the flag and, if the value came from there, its
// SMARTLEAD_ variable.
func (c *runConfig) resolve(fs *pflag.FlagSet, needKey bool) error {
	if err := validate(fs, c.checks()); err != nil {
		return err
	}
	if c.deadline != "" {
		t, err := parseDeadline(c.deadline, time.Now())
		if err != nil {
			return badFlag(fs, "deadline", err)
		}
		c.deadlineAt = t
	}
	if !needKey {
		return nil
	}
	return c.readKey(fs)
}

// checks lists every rule on run's flags; flags a command does not
// register are skipped (demo has fewer).
func (c *runConfig) checks() []flagCheck {
	cs := append(c.common.checks(false),
		// Rules on the URL's use (transport, credentials) belong to
		// extract; each is one more base-url entry here.
		flagCheck{"base-url", func() error { return checkURLShape(c.baseURL) }},
		// https except on loopback, no credentials; the message never
		// repeats userinfo or a query.
		flagCheck{"base-url", func() error { return extract.CheckBaseURL(c.baseURL) }},
		flagCheck{"limits", func() error {
			if c.limits == "" {
				return nil
			}
			_, err := ratelimit.Parse(c.limits)
			return err
		}},
		flagCheck{"tier", func() error {
			if c.limits != "" {
				return nil // --limits overrides it
			}
			_, err := ratelimit.Preset(c.tier)
			return err
		}},
		flagCheck{"headroom", func() error { _, _, err := c.windows(); return err }},
		flagCheck{"concurrency", between(c.concurrency, 1, 64)},
		flagCheck{"retries", atLeast(c.retries, 0, "")},
		flagCheck{"retry-base", atLeast(c.retryBase, time.Millisecond, "")},
		flagCheck{"retry-cap", atLeast(c.retryCap, c.retryBase, " (--retry-base)")},
		flagCheck{"days", between(c.days, 0, 31)},
		flagCheck{"streams", c.checkStreams},
		flagCheck{"request-timeout", atLeast(c.attemptTO, time.Second, "")},
		flagCheck{"max-retry-after", atLeast(c.maxRetryAfter, time.Second, "")},
		flagCheck{"retain", atLeast(c.retain, 0, " (0 keeps every snapshot)")},
		flagCheck{"commit-wait", atLeast(c.commitWait, time.Second, "")},
		flagCheck{"export", func() error { return checkExportDir(c.exportDir) }},
		flagCheck{"progress", oneOf(c.progress, "auto", "always", "never")},
		flagCheck{"max-requests", atLeast(c.maxRequests, 0, " (0 = no budget)")},
		flagCheck{"backfill-days", between(c.backfillDays, 0, 3660)},
		flagCheck{"resume-within", atLeast(c.resumeWithin, 0, " (0 = never resume)")},
	)
	return cs
}

func (c *runConfig) checkStreams() error {
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

// checkExportDir: the export directory may not exist yet (it is created),
// but it must not be a file, and its parent must exist.
func checkExportDir(dir string) error {
	if dir == "" {
		return nil
	}
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return errors.New("is a file, not a directory")
		}
		return nil
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if st, err := os.Stat(parent); err != nil || !st.IsDir() {
		return fmt.Errorf("its parent directory %s does not exist", parent)
	}
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
		return nil, nil, err
	}
	scaled, err = ratelimit.Scale(raw, c.headroom)
	if err != nil {
		return nil, nil, err
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
		return time.Time{}, errors.New("want HH:MM (local time) or an RFC 3339 time")
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
