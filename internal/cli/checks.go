package cli

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/internal/privfile"
)

// Configuration is checked in full before anything is opened or written:
// a typo must exit 2 naming the flag, not register a run that then fails.
// Every check is one line in a table (see runConfig.checks), so a new rule
// for a flag is one more entry.

// envAnnotation marks a flag whose value parseFlags took from the
// environment; its value is the variable's name.
const envAnnotation = "smartlead-env"

// flagCheck validates one flag's value; the error says what is wrong with
// it, and badFlag adds which flag (and variable) it came from.
type flagCheck struct {
	flag  string
	check func() error
}

// validate runs the checks in order and returns the first failure as a
// usage error (exit 2).
func validate(fs *flagSet, checks []flagCheck) error {
	for _, c := range checks {
		if fs.Lookup(c.flag) == nil || fs.isIgnored(c.flag) {
			continue // a flag this command does not take
		}
		if err := c.check(); err != nil {
			return badFlag(fs, c.flag, err)
		}
	}
	return nil
}

// badFlag names the flag, its value and, when the value came from the
// environment, the variable: `--retain -1: ...` or
// `SMARTLEAD_RETAIN=-1 (--retain): ...`.
func badFlag(fs *flagSet, name string, err error) error {
	f := fs.Lookup(name)
	if f == nil {
		return usageErrorf("--%s: %s", name, err)
	}
	val := f.Value.String()
	if name == "base-url" {
		val = shownURL(val)
	}
	switch f.Value.Type() {
	case "string":
		val = fmt.Sprintf("%q", val)
	case "stringSlice":
		val = strings.Trim(val, "[]")
	}
	if env := f.Annotations[envAnnotation]; len(env) > 0 {
		return usageErrorf("%s=%s (--%s): %s", env[0], val, name, err)
	}
	return usageErrorf("--%s %s: %s", name, val, err)
}

// shownURL is a URL as an error may repeat it: without the user name,
// password, query and fragment, which can hold credentials.
func shownURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.ContainsAny(raw, "@?#") {
			return "(not shown)"
		}
		return raw
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// flagSource describes where a flag's value came from, for log lines.
func flagSource(fs *flagSet, name string) string {
	f := fs.Lookup(name)
	if f == nil {
		return "--" + name
	}
	if env := f.Annotations[envAnnotation]; len(env) > 0 {
		return env[0]
	}
	return "--" + name
}

func atLeast[T ~int | ~int64 | ~float64](v, lo T, what string) func() error {
	return func() error {
		if v < lo {
			return fmt.Errorf("must be at least %v%s", lo, what)
		}
		return nil
	}
}

func between[T ~int | ~int64](v, lo, hi T) func() error {
	return func() error {
		if v < lo || v > hi {
			return fmt.Errorf("must be between %v and %v", lo, hi)
		}
		return nil
	}
}

func oneOf(v string, allowed ...string) func() error {
	return func() error {
		for _, a := range allowed {
			if v == a {
				return nil
			}
		}
		return fmt.Errorf("want %s or %s", strings.Join(allowed[:len(allowed)-1], ", "), allowed[len(allowed)-1])
	}
}

// checkURLShape accepts an absolute http or https URL with a host. The
// transport rules (https except on loopback, no credentials in the URL)
// belong to extract, which is called beside this check.
func checkURLShape(raw string) error {
	if strings.TrimSpace(raw) == "" {
		return errors.New("is empty; want the API root, e.g. https://server.smartlead.ai/api/v1")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %w", errors.Unwrap(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		if u.Scheme == "" {
			return errors.New("has no scheme; want https://HOST/api/v1")
		}
		return fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("has no host")
	}
	return nil
}

// checkDBPath checks that the database file can be created (its directory
// exists) or, with mustExist, that it is there to be read.
func checkDBPath(path string, mustExist bool) error {
	if path == "" {
		return errors.New("is empty; want a file name such as smartlead.duckdb")
	}
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return errors.New("is a directory; want a file inside it, e.g. " + filepath.Join(path, "smartlead.duckdb"))
	case err == nil:
		return nil
	case !errors.Is(err, os.ErrNotExist):
		return err
	case mustExist:
		return errors.New("no such file (run `smartlead-etl run` or `smartlead-etl demo` first, or point --db at your warehouse)")
	}
	dir := filepath.Dir(path)
	dst, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("directory %s does not exist (create it first: mkdir -p %s)", dir, dir)
	}
	if err != nil {
		return err
	}
	if !dst.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	return nil
}

// checks of --db and --lock-wait. mustExist: the command reads an
// existing warehouse (report, query, export, dashboard).
func (c *dbFlags) checks(mustExist bool) []flagCheck {
	return []flagCheck{
		{"db", func() error { return checkDBPath(c.db, mustExist) }},
		{"lock-wait", atLeast(c.lockWait, 0, "")},
	}
}

func (c *logFlags) checks() []flagCheck {
	return []flagCheck{
		{"log-format", oneOf(c.logFormat, "auto", "text", "json")},
		{"log-level", oneOf(c.logLevel, "debug", "info", "warn", "error")},
	}
}

func (c *apiFlags) checks() []flagCheck {
	return []flagCheck{
		// Rules on the URL's use (transport, credentials) belong to
		// extract; each is one more base-url entry here.
		{"base-url", func() error { return checkURLShape(c.baseURL) }},
		// https except on loopback, no credentials; the message never
		// repeats userinfo or a query.
		{"base-url", func() error { return extract.CheckBaseURL(c.baseURL) }},
		{"limits", func() error {
			if c.limits == "" {
				return nil
			}
			_, err := ratelimit.Parse(c.limits)
			return err
		}},
		{"tier", func() error {
			if c.limits != "" {
				return nil // --limits overrides it
			}
			_, err := ratelimit.Preset(c.tier)
			return err
		}},
		{"headroom", func() error {
			if !(c.headroom > 0 && c.headroom <= 1) {
				return errors.New("must be greater than 0 and at most 1 (the share of each window to use)")
			}
			_, _, err := c.windows()
			return err
		}},
		{"retries", atLeast(c.retries, 0, "")},
		{"retry-base", atLeast(c.retryBase, time.Millisecond, "")},
		{"retry-cap", atLeast(c.retryCap, c.retryBase, " (--retry-base)")},
		{"request-timeout", atLeast(c.attemptTO, time.Second, "")},
		{"max-retry-after", atLeast(c.maxRetryAfter, time.Second, "")},
	}
}

func (c *fetchFlags) checks() []flagCheck {
	return []flagCheck{
		{"concurrency", between(c.concurrency, 1, 64)},
		{"days", between(c.days, 0, 31)},
		{"streams", c.checkStreams},
		{"backfill-days", between(c.backfillDays, 0, 3660)},
		{"resume-within", atLeast(c.resumeWithin, 0, " (0 = never resume)")},
	}
}

func (c *runFlags) checks() []flagCheck {
	return []flagCheck{
		{"retain", atLeast(c.retain, 0, " (0 keeps every snapshot)")},
		{"commit-wait", atLeast(c.commitWait, time.Second, "")},
		{"max-requests", atLeast(c.maxRequests, 0, " (0 = no budget)")},
	}
}

func (c *outputFlags) checks() []flagCheck {
	return []flagCheck{
		{"export", func() error { return checkOutDir(c.exportDir) }},
		{"dashboard", func() error { return checkOutFile(c.dashboard) }},
		{"progress", oneOf(c.progress, "auto", "always", "never")},
	}
}

// checks lists every rule on run's flags, in the order they are shown;
// validate skips the flags a command does not register.
func (c *runConfig) checks() []flagCheck {
	var cs []flagCheck
	for _, g := range [][]flagCheck{c.dbFlags.checks(false), c.logFlags.checks(), c.apiFlags.checks(),
		c.fetchFlags.checks(), c.runFlags.checks(), c.outputFlags.checks()} {
		cs = append(cs, g...)
	}
	return cs
}

// resolve checks the whole configuration and, with needKey, reads the
// API key, before anything is opened or written. Everything it rejects is
// a usage error (exit 2) naming the flag and, if the value came from
// there, its variable.
func (e *env) resolve(fs *flagSet, c *runConfig, needKey bool) error {
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
	return e.readKey(fs, &c.apiFlags)
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

// checkOutDir: an output directory may not exist yet (it is created),
// but it must not be a file, and its parent must be a directory this
// process can create entries in.
func checkOutDir(dir string) error {
	if dir == "" {
		return nil
	}
	if st, err := os.Stat(dir); err == nil {
		if !st.IsDir() {
			return errors.New("is a file, not a directory")
		}
		return writableDir(dir)
	}
	return checkParent(dir)
}

// checkOutFile: an output file is replaced whole, so it must not be a
// directory, and its directory must exist and take new files.
func checkOutFile(file string) error {
	if file == "" {
		return nil
	}
	if st, err := os.Stat(file); err == nil && st.IsDir() {
		return errors.New("is a directory; want a file name, e.g. " + filepath.Join(file, "dashboard.html"))
	}
	return checkParent(file)
}

// checkParent says why path cannot be created in its parent directory.
func checkParent(path string) error {
	parent := filepath.Dir(filepath.Clean(path))
	st, err := os.Stat(parent)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("its directory %s does not exist", parent)
	case errors.Is(err, unix.ENOTDIR), err == nil && !st.IsDir():
		return fmt.Errorf("%s is not a directory", parent)
	case err != nil:
		return fmt.Errorf("cannot use its directory %s: %w", parent, errors.Unwrap(err))
	}
	return writableDir(parent)
}

// writableDir: the process may create entries in dir. A pseudo file
// system (/proc, /sys) accepts the access check but refuses every new
// entry, so it is named as such.
func writableDir(dir string) error {
	var sfs unix.Statfs_t
	if unix.Statfs(dir, &sfs) == nil && (sfs.Type == unix.PROC_SUPER_MAGIC || sfs.Type == unix.SYSFS_MAGIC) {
		return fmt.Errorf("%s is on a pseudo file system that takes no files", dir)
	}
	if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
		return fmt.Errorf("%s is not writable: %w", dir, err)
	}
	return nil
}

// warnExposedKeyFile prints one line when the API key's file is readable
// by group or others: the key is the account.
func warnExposedKeyFile(path string, w io.Writer) {
	if exposed, mode, err := privfile.Exposed(path); err == nil && exposed {
		fmt.Fprintf(w, "smartlead-etl: warning: --api-key-file %s is readable by group or others (mode %04o); fix: chmod 600 %s\n", path, mode, path)
	}
}
