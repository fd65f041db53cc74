package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// End-to-end tests of the built binary for a new user's first hour: the
// exit codes and lines of configuration mistakes, help, honest numbers,
// and the first-run plan.

// A configuration mistake exits 2 with one line naming the flag (and the
// variable it came from), before anything is opened: no warehouse, no
// lock file, and on an existing warehouse no run row.
func TestConfigurationErrorsExitTwoBeforeAnythingIsWritten(t *testing.T) {
	t.Parallel()
	_, base := startFake(t, fakeOpts{campaigns: 2, leads: 10})
	dir := t.TempDir()
	db := filepath.Join(dir, "w.duckdb")
	key := "SMARTLEAD_API_KEY=" + testKey
	cases := []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--base-url", "ftp://example.com/api/v1"}, nil, `--base-url "ftp://example.com/api/v1": scheme "ftp" is not http or https`},
		{[]string{"--base-url", "file:///etc/passwd"}, nil, `--base-url "file:///etc/passwd": scheme "file"`},
		{[]string{"--base-url", "server.smartlead.ai/api/v1"}, nil, `--base-url "server.smartlead.ai/api/v1": has no scheme`},
		{[]string{"--base-url", ""}, nil, `--base-url "": is empty`},
		{nil, []string{"SMARTLEAD_BASE_URL=ftp://example.com"}, `SMARTLEAD_BASE_URL="ftp://example.com" (--base-url): scheme "ftp"`},
		{[]string{"--retain", "-1"}, nil, "--retain -1: must be at least 0"},
		{nil, []string{"SMARTLEAD_RETAIN=-1"}, "SMARTLEAD_RETAIN=-1 (--retain): must be at least 0"},
		{[]string{"--request-timeout", "0s"}, nil, "--request-timeout 0s: must be at least 1s"},
		{[]string{"--deadline", "25:00"}, nil, `--deadline "25:00": want HH:MM`},
		{[]string{"--export", filepath.Join(dir, "no", "such")}, nil, "--export"},
	}
	check := func(t *testing.T, db string, args, env []string, want string) {
		t.Helper()
		all := []string{"run", "--db", db, "--log-format", "json"}
		if !strings.Contains(strings.Join(env, " "), "SMARTLEAD_BASE_URL=") {
			all = append(all, "--base-url", base)
		}
		all = append(all, args...)
		r := runCLI(t, all, append(env, key)...)
		require.Equal(t, 2, r.code, r.all())
		assert.Contains(t, oneLine(t, r), want)
		assert.Empty(t, r.stdout)
	}
	for _, c := range cases {
		check(t, db, c.args, c.env, c.want)
		_, err := os.Stat(db)
		require.ErrorIs(t, err, os.ErrNotExist, "%v: the warehouse was created", c.args)
		_, err = os.Stat(db + ".lock")
		require.ErrorIs(t, err, os.ErrNotExist, "%v: the lock file was created", c.args)
	}

	// A --db in a missing directory names the flag, not a lock file.
	missing := filepath.Join(dir, "nodir", "w.duckdb")
	check(t, missing, nil, nil, `--db "`+missing+`": directory `+filepath.Join(dir, "nodir")+` does not exist`)
	check(t, missing, nil, []string{"SMARTLEAD_DB=" + missing}, `--db "`+missing+`"`)
	r := runCLI(t, []string{"run", "--base-url", base}, key, "SMARTLEAD_DB="+missing)
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, oneLine(t, r), `SMARTLEAD_DB="`+missing+`" (--db)`)

	// On an existing warehouse: six typos leave six... nothing.
	r = runCLI(t, runArgs(db, base), key)
	require.Equal(t, 0, r.code, r.all())
	for _, c := range cases {
		check(t, db, c.args, c.env, c.want)
	}
	conn := openDB(t, db)
	require.EqualValues(t, 1, scalar[int64](t, conn, "SELECT count(*) FROM etl_runs"))
	require.EqualValues(t, 0, scalar[int64](t, conn, "SELECT count(*) FROM etl_runs WHERE status <> 'succeeded'"))
}

// The key: an empty key file is named as such, whichever way the file was
// given, even when SMARTLEAD_API_KEY is set too; with both set the file
// wins and the log says so.
func TestAPIKeySourceIsNamed(t *testing.T) {
	t.Parallel()
	_, base := startFake(t, fakeOpts{campaigns: 2, leads: 10})
	dir := t.TempDir()
	db := filepath.Join(dir, "w.duckdb")
	empty := filepath.Join(dir, "empty.key")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))

	r := runCLI(t, runArgs(db, base, "--api-key-file", empty), "SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 2, r.code, r.all())
	line := oneLine(t, r)
	assert.Contains(t, line, `--api-key-file "`+empty+`"`)
	assert.Contains(t, line, "key file "+empty+" is empty")
	assert.NotContains(t, line, "no API key")

	r = runCLI(t, runArgs(db, base), "SMARTLEAD_API_KEY_FILE="+empty)
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, oneLine(t, r), `SMARTLEAD_API_KEY_FILE="`+empty+`" (--api-key-file): key file `+empty+" is empty")

	r = runCLI(t, runArgs(db, base, "--api-key-file", filepath.Join(dir, "nosuch")))
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, oneLine(t, r), "cannot read the key file: no such file or directory")

	r = runCLI(t, runArgs(db, base), "SMARTLEAD_API_KEY=")
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, oneLine(t, r), "SMARTLEAD_API_KEY is set but empty")
	_, err := os.Stat(db)
	require.ErrorIs(t, err, os.ErrNotExist)

	// Both set: the file wins (the variable holds a wrong key here), and
	// the start-up log says which source was used.
	good := filepath.Join(dir, "good.key")
	require.NoError(t, os.WriteFile(good, []byte(testKey+"\n"), 0o600))
	r = runCLI(t, runArgs(db, base, "--api-key-file", good), "SMARTLEAD_API_KEY=wrong-key-123456")
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stderr, "SMARTLEAD_API_KEY is also set and ignored: the key file wins")
	assert.NotContains(t, r.all(), testKey)

	r = runCLI(t, []string{"run", "--help"})
	assert.Contains(t, r.stdout, "wins over SMARTLEAD_API_KEY")
}

// help CMD and CMD --help print that command's help on stdout and exit 0;
// an unknown command is one line with the nearest command, exit 2.
func TestHelpAndUnknownCommands(t *testing.T) {
	t.Parallel()
	helpRun := runCLI(t, []string{"help", "run"})
	require.Equal(t, 0, helpRun.code, helpRun.all())
	assert.Empty(t, helpRun.stderr)
	assert.True(t, strings.HasPrefix(helpRun.stdout, "Usage: smartlead-etl run"), helpRun.stdout)
	assert.Contains(t, helpRun.stdout, "--max-requests")

	runHelp := runCLI(t, []string{"run", "--help"})
	require.Equal(t, 0, runHelp.code, runHelp.all())
	assert.Empty(t, runHelp.stderr)
	assert.Equal(t, helpRun.stdout, runHelp.stdout)

	for _, cmd := range []string{"plan", "demo", "fake-api", "report", "query", "export", "version"} {
		a := runCLI(t, []string{"help", cmd})
		b := runCLI(t, []string{cmd, "-h"})
		require.Equal(t, 0, a.code, a.all())
		require.Equal(t, 0, b.code, b.all())
		assert.Empty(t, a.stderr+b.stderr)
		assert.Equal(t, a.stdout, b.stdout)
		assert.Contains(t, a.stdout, "Usage: smartlead-etl "+cmd)
	}

	r := runCLI(t, []string{"help"})
	require.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "smartlead-etl run")

	for cmd, want := range map[string]string{"rn": "run", "plna": "plan", "reprot": "report", "exprt": "export", "qeury": "query"} {
		r := runCLI(t, []string{cmd})
		require.Equal(t, 2, r.code, r.all())
		assert.Empty(t, r.stdout)
		assert.Contains(t, oneLine(t, r), "(did you mean "+want+"?)")
	}
	r = runCLI(t, []string{"help", "nosuch"})
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, oneLine(t, r), `unknown command "nosuch"`)

	r = runCLI(t, []string{"run", "--nosuch"})
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, oneLine(t, r), "unknown flag: --nosuch (see smartlead-etl run --help)")
}

var durRe = regexp.MustCompile(`^(\d+h)?(\d+m)?(\d+(\.\d+)?s)?$`)

func parseLogDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	require.Regexp(t, durRe, s)
	d, err := time.ParseDuration(s)
	require.NoError(t, err)
	return d
}

// waited is the wall-clock time the rate limit held the run back, so it
// never exceeds the run; the per-worker sum is worker_waits. Text logs
// print rows as in the summary, the progress bar ends at 100% above the
// summary line (it is not drawn again below it), and no log line is
// glued onto it. In virtual time: the run waits seconds on the limiter.
func TestWaitedIsWallClockAndTextLogsAreReadable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		testWaitedIsWallClock(t, dir)
	})
}

func testWaitedIsWallClock(t *testing.T, dir string) {
	_, base := startFake(t, fakeOpts{campaigns: 2, leads: 10})
	db := filepath.Join(dir, "w.duckdb")
	r := runCLI(t, []string{"run", "--db", db, "--base-url", base, "--limits", "4/1s", "--concurrency", "4",
		"--log-format", "text", "--progress", "always"}, "SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 0, r.code, r.all())

	summary := ""
	var screen []string
	for _, raw := range strings.Split(r.stderr, "\n") {
		parts := strings.Split(raw, eraseLine)
		shown := parts[len(parts)-1]
		if shown != "" {
			screen = append(screen, shown)
		}
		if strings.Contains(shown, `msg="run summary"`) {
			summary = shown
		}
	}
	for _, line := range screen {
		if strings.Contains(line, "level=") {
			assert.NotContains(t, line, "pages,", "a log line glued onto the bar: %q", line)
		}
		assert.NotContains(t, line, "map[", line)
	}
	require.NotEmpty(t, summary, r.stderr)
	assert.Contains(t, summary, `rows="campaign_analytics=2 `)
	require.GreaterOrEqual(t, len(screen), 2)
	assert.Equal(t, summary, screen[len(screen)-1], "nothing is drawn after the summary line")
	assert.Contains(t, screen[len(screen)-2], "100%", "the bar ends at 100%, above the summary")
	assert.NotContains(t, r.stderr[strings.Index(r.stderr, `msg="run summary"`):], "pages,", "the bar is not drawn again after the summary")

	field := func(name string) string {
		m := regexp.MustCompile(` ` + name + `=(\S+)`).FindStringSubmatch(summary)
		require.NotNil(t, m, "%s in %s", name, summary)
		return m[1]
	}
	waited := parseLogDuration(t, field("waited"))
	workers := parseLogDuration(t, field("worker_waits"))
	took := parseLogDuration(t, field("duration"))
	t.Logf("waited %s, worker_waits %s, duration %s", waited, workers, took)
	assert.Greater(t, waited, time.Second, "4/s held this run back")
	assert.LessOrEqual(t, waited, took)
	assert.Greater(t, workers, waited, "four workers waiting at once sum to more than the wall clock")

	conn := openDB(t, db)
	ws := scalar[float64](t, conn, "SELECT wait_seconds FROM etl_runs")
	runSecs := scalar[float64](t, conn, "SELECT epoch(finished_at - started_at) FROM etl_runs")
	assert.Greater(t, ws, 1.0)
	assert.LessOrEqual(t, ws, runSecs)
}

var planRequestsRe = regexp.MustCompile(`(?m)^requests:\s+(\d+) \(the last hour already spent (\d+); this plan spent (\d+)\)`)

// On a simulated 40-campaign account, the first-run plan is within 10%
// of the requests the first run then makes, says what it spent (the
// campaign list and the overall-stats ranges since the oldest campaign: a
// few requests, not one per campaign), and journals those requests, which
// the run then writes to the ledger.
func TestFirstRunPlanWithinTenPercent(t *testing.T) {
	t.Parallel()
	_, base := startFake(t, fakeOpts{campaigns: 40, leads: 60})
	db := filepath.Join(t.TempDir(), "w.duckdb")
	key := "SMARTLEAD_API_KEY=" + testKey
	r := runCLI(t, []string{"plan", "--db", db, "--base-url", base, "--limits", "200/1s,6000/1m,100000/1h", "--log-format", "json"}, key)
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stdout, "first run")
	m := planRequestsRe.FindStringSubmatch(r.stdout)
	require.NotNil(t, m, r.stdout)
	planned, _ := strconv.Atoi(m[1])
	spent, _ := strconv.Atoi(m[3])
	ranges := regexp.MustCompile(`sized from (\d+) overall-stats ranges`).FindStringSubmatch(r.stdout)
	require.NotNil(t, ranges, r.stdout)
	cells, _ := strconv.Atoi(ranges[1])
	require.Equal(t, 1+cells, spent, "the campaign list and the ranges: %s", r.stdout)
	require.Less(t, spent, 20, "a few requests, not one per campaign: %s", r.stdout)

	_, err := os.Stat(db)
	require.ErrorIs(t, err, os.ErrNotExist, "plan writes only the request journal")

	r = runCLI(t, runArgs(db, base), key)
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stderr, "earlier runs' requests still count against the rate limit", "the run read the plan's requests")
	conn := openDB(t, db)
	require.EqualValues(t, spent, scalar[int64](t, conn, "SELECT count(*) FROM api_requests WHERE run_id LIKE 'plan-%'"),
		"the run moved the plan's requests from the journal to the ledger")
	actual := scalar[int64](t, conn, "SELECT requests FROM etl_runs WHERE status = 'succeeded'")
	t.Logf("first-run plan %d requests (spent %d planning); the run made %d", planned, spent, actual)
	require.InEpsilon(t, actual, planned, 0.10)

	// The run's own plan line, once its analytics have sized the
	// campaigns, says what plan said.
	sized := regexp.MustCompile(`"msg":"plan sized from the campaigns' analytics".*"requests_estimated":(\d+)`).FindStringSubmatch(r.stderr)
	require.NotNil(t, sized, r.stderr)
	assert.Equal(t, strconv.Itoa(planned), sized[1], "the run's plan line agrees with plan")
}
