package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
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
func validate(fs *pflag.FlagSet, checks []flagCheck) error {
	for _, c := range checks {
		if fs.Lookup(c.flag) == nil {
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
func badFlag(fs *pflag.FlagSet, name string, err error) error {
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
func flagSource(fs *pflag.FlagSet, name string) string {
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

// checks of the flags every command shares. mustExist: the command reads
// an existing warehouse (report, query, export).
func (c *common) checks(mustExist bool) []flagCheck {
	return []flagCheck{
		{"db", func() error { return checkDBPath(c.db, mustExist) }},
		{"log-format", oneOf(c.logFormat, "auto", "text", "json")},
		{"log-level", oneOf(c.logLevel, "debug", "info", "warn", "error")},
		{"lock-wait", atLeast(c.lockWait, 0, "")},
	}
}

// keySource says where the API key was read from, for the start-up log
// line; never the key itself.
type keySource struct {
	from    string // "key file /etc/smartlead/key (--api-key-file)" or "SMARTLEAD_API_KEY"
	ignored string // a second source that was set and lost, or ""
}

// readKey reads the API key. The key file wins over SMARTLEAD_API_KEY
// when both are given: naming a file is the more deliberate act, and the
// variable is often left over in a shell profile.
func (c *runConfig) readKey(fs *pflag.FlagSet) error {
	envKey, envSet := os.LookupEnv("SMARTLEAD_API_KEY")
	if c.apiKeyFile != "" {
		b, err := os.ReadFile(c.apiKeyFile)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return badFlag(fs, "api-key-file", fmt.Errorf("cannot read the key file: %w", err))
		}
		c.apiKey = strings.TrimSpace(string(b))
		warnExposedKeyFile(c.apiKeyFile, os.Stderr)
		if c.apiKey == "" {
			return badFlag(fs, "api-key-file", fmt.Errorf("key file %s is empty; paste the key from SmartLead (Settings, API) into it", c.apiKeyFile))
		}
		c.key = keySource{from: fmt.Sprintf("key file %s (%s)", c.apiKeyFile, flagSource(fs, "api-key-file"))}
		if envSet {
			c.key.ignored = "SMARTLEAD_API_KEY"
		}
	} else {
		c.apiKey = strings.TrimSpace(envKey)
		switch {
		case !envSet:
			return usageErrorf("no API key: set SMARTLEAD_API_KEY or pass --api-key-file FILE (or set SMARTLEAD_API_KEY_FILE)")
		case c.apiKey == "":
			return usageErrorf("SMARTLEAD_API_KEY is set but empty: put the key in it, or unset it and pass --api-key-file FILE")
		}
		c.key = keySource{from: "SMARTLEAD_API_KEY"}
	}
	if strings.ContainsAny(c.apiKey, " \t\r\n") {
		if c.apiKeyFile != "" {
			return badFlag(fs, "api-key-file", errors.New("the key file holds more than one word; it must hold only the key"))
		}
		return usageErrorf("SMARTLEAD_API_KEY holds more than one word; it must hold only the key")
	}
	registerSecret(c.apiKey)
	return nil
}
