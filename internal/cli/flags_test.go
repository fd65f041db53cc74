package cli

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
)

var (
	dbGroup     = []string{"db", "lock-wait"}
	logGroup    = []string{"log-format", "log-level"}
	apiGroup    = []string{"tier", "limits", "headroom", "base-url", "api-key-file", "request-timeout", "retries", "retry-base", "retry-cap", "max-retry-after"}
	fetchGroup  = []string{"concurrency", "streams", "days", "full-refresh", "backfill-days", "resume-within"}
	runGroup    = []string{"commit-wait", "retain", "max-requests", "deadline", "dry-run"}
	outputGroup = []string{"export", "dashboard", "progress"}
)

func join(groups ...[]string) []string {
	var out []string
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

var flagRe = regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z0-9-]+)`)

// TestHelpListsExactlyTheFlagsEachCommandHonours: help CMD shows the
// flags the command uses, no others (webhooks register once offered
// --dashboard and --commit-wait); every name is the public one.
func TestHelpListsExactlyTheFlagsEachCommandHonours(t *testing.T) {
	t.Parallel()
	want := map[string][]string{
		"run":               join(dbGroup, logGroup, apiGroup, fetchGroup, runGroup, outputGroup),
		"plan":              join(dbGroup, logGroup, apiGroup, fetchGroup),
		"demo":              {"db", "dashboard", "export", "limits", "headroom", "concurrency", "streams", "days", "progress", "log-format", "log-level", "lock-wait", "campaigns", "leads", "seed"},
		"fake-api":          {"addr", "campaigns", "leads", "seed", "limits", "error-rate", "foreign-per-minute", "activity-every"},
		"report":            join(dbGroup, []string{"format", "campaign", "since", "until", "tz"}),
		"query":             join(dbGroup, []string{"format"}),
		"export":            join(dbGroup, logGroup, []string{"out", "all-snapshots"}),
		"dashboard":         join(dbGroup, []string{"out"}),
		"listen":            {"db", "log-format", "log-level", "addr", "webhook-secret-file", "merge-every"},
		"webhooks register": join([]string{"url", "events", "name", "campaign", "client"}, dbGroup, logGroup, apiGroup),
		"webhooks list":     join([]string{"campaign"}, dbGroup, logGroup, apiGroup),
		"webhooks delete":   join(dbGroup, logGroup, apiGroup),
	}
	for cmd, flags := range want {
		args := append(strings.Fields(cmd), "--help")
		r := runCLI(t, args)
		require.Equal(t, 0, r.code, "%s: %s", cmd, r.all())
		assert.Empty(t, r.stderr, cmd)
		require.True(t, strings.HasPrefix(r.stdout, "Usage: smartlead-etl "+cmd), r.stdout)
		var got []string
		for _, m := range flagRe.FindAllStringSubmatch(r.stdout, -1) {
			got = append(got, m[1])
		}
		assert.ElementsMatch(t, flags, got, "%s --help lists exactly the flags it honours", cmd)
		if !strings.HasPrefix(cmd, "webhooks") {
			h := runCLI(t, []string{"help", cmd})
			assert.Equal(t, r.stdout, h.stdout, "help %s is %s --help", cmd, cmd)
		}
	}
	r := runCLI(t, []string{"run", "--help"})
	assert.Contains(t, r.stdout, "each also read from SMARTLEAD_<FLAG>")
	assert.Contains(t, r.stdout, "etl_runs.requests counts the requests of all its invocations")
	r = runCLI(t, []string{"fake-api", "--help"})
	assert.Contains(t, r.stdout, "each also read from SMARTLEAD_FAKE_API_<FLAG>")
	r = runCLI(t, []string{"webhooks", "register", "--help"})
	assert.NotContains(t, r.stdout, "--dashboard")
	assert.NotContains(t, r.stdout, "--commit-wait")
}

// TestCommandsReadOnlyTheirOwnVariables: SMARTLEAD_LIMITS (run's) does not
// change fake-api's server limits and SMARTLEAD_ADDR (listen's) does not
// move it; fake-api has variables of its own. A variable of a flag a
// command does not take is not read (an invalid value changes nothing).
func TestCommandsReadOnlyTheirOwnVariables(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // fake-api serves until its context ends: at once here
	r := runCtx(ctx, []string{"fake-api"}, "SMARTLEAD_LIMITS=1/1s", "SMARTLEAD_ADDR=256.0.0.1:1",
		"SMARTLEAD_FAKE_API_ADDR=127.0.0.1:0", "SMARTLEAD_FAKE_API_CAMPAIGNS=3")
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stdout, "(limits 10/1s,60/1m,1000/1h)", "fake-api's own default, not SMARTLEAD_LIMITS")
	r = runCtx(ctx, []string{"fake-api"}, "SMARTLEAD_FAKE_API_ADDR=127.0.0.1:0", "SMARTLEAD_FAKE_API_LIMITS=7/1s")
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stdout, "(limits 7/1s)")

	// report takes no --streams or --retries: their variables, even
	// invalid, are not read; its own are.
	db := filepath.Join(t.TempDir(), "none.duckdb")
	r = runCLI(t, []string{"report"}, "SMARTLEAD_STREAMS=nosuch", "SMARTLEAD_RETRIES=many", "SMARTLEAD_LOG_FORMAT=bogus")
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stdout, "campaign_performance")
	r = runCLI(t, []string{"query", "SELECT 1"}, "SMARTLEAD_DB="+db)
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, oneLine(t, r), `SMARTLEAD_DB="`+db+`" (--db)`)

	// A flag a command once accepted without honouring it still parses,
	// with a warning, and is not listed.
	r = runCLI(t, []string{"report", "--log-format", "json"})
	require.Equal(t, 0, r.code, r.all())
	assert.Equal(t, "smartlead-etl: warning: --log-format has no effect on report; ignored\n", r.stderr)
}

// TestUnusableOutExitsTwoNamingTheFlag: an --out (or --export) that
// cannot be written is one line naming the flag, exit 2, before anything
// is created: no raw mkdir error, no temporary file's name. On a
// warehouse with no snapshot, an export creates no folder and a report
// says why it is empty.
func TestUnusableOutExitsTwoNamingTheFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, failing := startFake(t, fakeOpts{campaigns: 2, leads: 10, faults: fakeapi.Faults{ErrorRate: 1}})
	db := filepath.Join(dir, "w.duckdb")
	r := runCLI(t, runArgs(db, failing, "--retries", "0"), "SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 1, r.code, r.all()) // a warehouse with a failed run and no snapshot

	file := filepath.Join(dir, "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	for _, out := range []string{"/proc/nope", filepath.Join(file, "x"), filepath.Join(dir, "missing", "x")} {
		for _, cmd := range [][]string{{"export", "--db", db, "--out", out}, {"dashboard", "--db", db, "--out", out + ".html"}} {
			r := runCLI(t, cmd)
			require.Equal(t, 2, r.code, "%v: %s", cmd, r.all())
			line := oneLine(t, r)
			assert.Contains(t, line, `--out "`+cmd[4]+`": `, cmd)
			for _, raw := range []string{"mkdir", ".tmp", "tmp-", "no such file or directory"} {
				assert.NotContains(t, line, raw, cmd)
			}
		}
	}
	r = runCLI(t, []string{"export", "--db", db, "--out", file})
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, oneLine(t, r), "is a file, not a directory")
	r = runCLI(t, runArgs(db, failing, "--export", "/proc/nope"), "SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, oneLine(t, r), `--export "/proc/nope": /proc is on a pseudo file system`)
	page := filepath.Join(dir, "missing", "x.html")
	r = runCLI(t, runArgs(db, failing, "--dashboard", page), "SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, oneLine(t, r), `--dashboard "`+page+`": its directory `+filepath.Dir(page)+` does not exist`)

	// A report on it says why it is empty.
	r = runCLI(t, []string{"report", "campaign_performance", "--db", db})
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stdout, "(0 rows)")
	assert.Contains(t, r.stderr, "no snapshot has been loaded into this warehouse yet")
	assert.Contains(t, r.stderr, "smartlead-etl run")

	lake := filepath.Join(dir, "lake")
	r = runCLI(t, []string{"export", "--db", db, "--out", lake})
	require.Equal(t, 1, r.code, r.all())
	assert.Contains(t, oneLine(t, r), "no succeeded run yet")
	_, err := os.Stat(lake)
	require.ErrorIs(t, err, os.ErrNotExist, "an export of nothing left a folder")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		assert.False(t, strings.Contains(e.Name(), "tmp"), e.Name())
	}
}

// TestWording: a headroom out of range says so once; a bad value names
// the flag.
func TestWording(t *testing.T) {
	t.Parallel()
	r := runCLI(t, []string{"run", "--headroom", "1.5"}, "SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 2, r.code, r.all())
	line := oneLine(t, r)
	assert.Equal(t, "smartlead-etl: --headroom 1.5: must be greater than 0 and at most 1 (the share of each window to use)", line)
	assert.Equal(t, 1, strings.Count(line, "headroom"))
}

// TestJSONLogsGiveDurationsInOneForm: every duration in a JSON log is a
// string such as "5s" (a 429's pause too), never nanoseconds. In virtual
// time.
func TestJSONLogsGiveDurationsInOneForm(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		// The client is told the windows are ten times what the server
		// allows: the server answers 429 with Retry-After.
		fake, base := startFake(t, fakeOpts{campaigns: 2, leads: 10, limits: "2/1s,60/1m,1000/1h"})
		r := runCLI(t, []string{"run", "--db", filepath.Join(dir, "w.duckdb"), "--base-url", base, "--limits", "20/1s,600/1m,10000/1h",
			"--log-format", "json"}, "SMARTLEAD_API_KEY="+testKey)
		require.Equal(t, 0, r.code, r.all())
		require.Positive(t, fake.Stats().Throttled, "no 429:\n%s", r.stderr)
		pauses := 0
		for _, line := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
			if m := regexp.MustCompile(`"pause":("?)[^,}]*`).FindStringSubmatch(line); m != nil {
				pauses++
				assert.Equal(t, `"`, m[1], "a duration as a number: %s", line)
			}
			assert.NotRegexp(t, `"(waited|duration|took|pause|backoff|worker_waits|invocation|commit_window)":\d`, line)
		}
		require.Positive(t, pauses, "no pause was logged:\n%s", r.stderr)
	})
}

// TestResumeWithinZeroNeverResumes: --resume-within 0 means never, in the
// flag and in the configuration it becomes; the default continues.
func TestResumeWithinZeroNeverResumes(t *testing.T) {
	t.Parallel()
	_, base := startFake(t, fakeOpts{campaigns: 2, leads: 10})
	db := filepath.Join(t.TempDir(), "w.duckdb")
	key := "SMARTLEAD_API_KEY=" + testKey
	r := runCLI(t, runArgs(db, base, "--max-requests", "3"), key)
	require.Equal(t, 5, r.code, r.all())
	r = runCLI(t, runArgs(db, base, "--max-requests", "3"), key)
	require.Equal(t, 5, r.code, r.all())
	assert.Contains(t, r.stderr, "resuming an interrupted run", "the default continues")
	r = runCLI(t, runArgs(db, base, "--resume-within", "0"), key)
	require.Equal(t, 0, r.code, r.all())
	assert.NotContains(t, r.stderr, "resuming an interrupted run")
	conn := openDB(t, db)
	assert.EqualValues(t, 2, scalar[int64](t, conn, "SELECT count(*) FROM etl_runs"), "a new run, not the interrupted one")
	assert.EqualValues(t, 1, scalar[int64](t, conn, "SELECT count(*) FROM etl_runs WHERE status = 'succeeded' AND resumed = 0"))
}
