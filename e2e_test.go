package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/internal/lockfile"
)

// These tests run the real binary, built once by TestMain, against the
// simulated API on loopback: what cron would run. They are the few that
// need a process of their own: signals (SIGTERM, SIGKILL), the run lock
// and a reader in another process, the umask. Every other command test
// runs in-process, in internal/cli.

const testKey = "sk-test-SECRET-7f3a9c"

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "smartlead-etl-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "smartlead-etl")
	out, err := exec.Command("go", "build", "-race", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type fakeOpts struct {
	campaigns, leads int
	faults           fakeapi.Faults
}

func startFake(t *testing.T, o fakeOpts) (*fakeapi.Server, string) {
	t.Helper()
	if o.campaigns == 0 {
		o.campaigns = 3
	}
	if o.leads == 0 {
		o.leads = 120
	}
	windows, err := ratelimit.Parse("200/1s,6000/1m,100000/1h")
	require.NoError(t, err)
	fake := fakeapi.New(fakeapi.Config{Seed: 7, APIKey: testKey, Campaigns: o.campaigns, LeadsPerCampaign: o.leads, Windows: windows, Faults: o.faults})
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return fake, srv.URL + "/api/v1"
}

type result struct {
	code           int
	stdout, stderr string
}

func (r result) all() string { return r.stdout + r.stderr }

func command(t *testing.T, args []string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, args...)
	// A clean environment: the user's SMARTLEAD_* variables must not leak in.
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	return cmd
}

func runBinary(t *testing.T, args []string, env ...string) result {
	t.Helper()
	cmd := command(t, args, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{code, stdout.String(), stderr.String()}
}

func runArgs(db, base string, extra ...string) []string {
	return append([]string{"run", "--db", db, "--base-url", base, "--limits", "200/1s,6000/1m,100000/1h", "--log-format", "json"}, extra...)
}

func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", path+"?access_mode=read_only")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func scalar[T any](t *testing.T, db *sql.DB, q string, args ...any) T {
	t.Helper()
	var v T
	require.NoError(t, db.QueryRow(q, args...).Scan(&v), q)
	return v
}

// waitForLock waits until a run has written its PID into the lock file.
func waitForLock(t *testing.T, path string, pid int) {
	t.Helper()
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(path)
		return err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(pid)
	}, 30*time.Second, 20*time.Millisecond)
}

// TestSecondRunExitsFourWhileFirstRuns: the run lock keeps a second run
// out (exit 4, naming the holder's PID) but not plan.
func TestSecondRunExitsFourWhileFirstRuns(t *testing.T) {
	t.Parallel()
	fake, base := startFake(t, fakeOpts{campaigns: 6})
	// The first run's API answers nothing until plan is done, so the run
	// goes on (holding its lock) for as long as plan runs, however fast
	// or loaded the machine; plan asks the same account directly.
	gate := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(gate) }) }
	gated := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-gate
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(gated.Close)
	t.Cleanup(open) // before gated.Close: cleanups run last-in first-out
	db := filepath.Join(t.TempDir(), "w.duckdb")
	first := command(t, runArgs(db, gated.URL+"/api/v1", "--concurrency", "1"), "SMARTLEAD_API_KEY="+testKey)
	var out1 bytes.Buffer
	first.Stdout, first.Stderr = &out1, &out1
	require.NoError(t, first.Start())
	waitForLock(t, db+".lock", first.Process.Pid)

	second := runBinary(t, runArgs(db, base), "SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 4, second.code, second.all())
	assert.Contains(t, second.stderr, strconv.Itoa(first.Process.Pid))

	// plan needs no lock: it works while the (first) run goes on, and
	// writes only the request journal.
	plan := runBinary(t, []string{"plan", "--db", db, "--base-url", base, "--limits", "200/1s,6000/1m,100000/1h", "--log-format", "json"},
		"SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 0, plan.code, plan.all())
	assert.Contains(t, plan.stdout, "requests:")
	// ... and the first run still held its lock then: plan ran beside it.
	if l, err := lockfile.Acquire(lockfile.Path(db)); err == nil {
		_ = l.Release()
		t.Fatal("the first run had ended before plan did: nothing was shown")
	} else {
		require.ErrorIs(t, err, lockfile.ErrHeld)
	}

	open()
	require.NoError(t, first.Wait(), out1.String())
	conn := openDB(t, db)
	require.EqualValues(t, 1, scalar[int64](t, conn, "SELECT count(*) FROM etl_runs WHERE status = 'succeeded'"))
}

func TestSIGTERMCancelsAndKeepsPreviousSnapshot(t *testing.T) {
	t.Parallel()
	_, base := startFake(t, fakeOpts{})
	db := filepath.Join(t.TempDir(), "w.duckdb")
	r := runBinary(t, runArgs(db, base), "SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 0, r.code, r.all())
	conn := openDB(t, db)
	before := tableDigest(t, conn)
	conn.Close()

	slow, slowBase := startFake(t, fakeOpts{campaigns: 6, faults: fakeapi.Faults{SlowRate: 1, SlowDelay: 150 * time.Millisecond}})
	cmd := command(t, runArgs(db, slowBase, "--concurrency", "1"), "SMARTLEAD_API_KEY="+testKey)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	waitForLock(t, db+".lock", cmd.Process.Pid)
	// Stop it mid-run: once it has fetched lead pages (staged rows to roll
	// back), whatever the machine's speed.
	require.Eventually(t, func() bool { return slow.Stats().Paths["/campaigns/{id}/leads"] >= 2 },
		30*time.Second, 10*time.Millisecond, "the run never reached the leads")
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	require.True(t, ok, "want a non-zero exit, got %v\n%s", err, out.String())
	require.Equal(t, 130, ee.ExitCode(), out.String())

	conn = openDB(t, db)
	require.Equal(t, "cancelled", scalar[string](t, conn, "SELECT status FROM etl_runs ORDER BY started_at DESC LIMIT 1"))
	require.Equal(t, before, tableDigest(t, conn))
}

// tableDigest fingerprints every user-visible table and view.
func tableDigest(t *testing.T, db *sql.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, name := range []string{"campaigns", "campaign_analytics", "leads", "lead_email_stats", "sequences", "email_accounts", "clients", "campaign_daily_stats",
		"campaigns_history", "campaign_analytics_history", "leads_history", "lead_email_stats_history", "sequences_history", "email_accounts_history", "clients_history"} {
		out[name] = fmt.Sprint(scalar[int64](t, db, "SELECT count(*) FROM "+name)) + ":" +
			scalar[string](t, db, "SELECT coalesce(bit_xor(hash(t))::VARCHAR, '') FROM "+name+" t")
	}
	return out
}

// TestReaderAtCommit: a reader holding the warehouse through a run's commit
// does not fail the run: it waits --commit-wait, keeps the snapshot staged
// and exits 6; the next run publishes it before fetching anything.
func TestReaderAtCommit(t *testing.T) {
	t.Parallel()
	slow, base := startFake(t, fakeOpts{campaigns: 6, faults: fakeapi.Faults{SlowRate: 1, SlowDelay: 100 * time.Millisecond}})
	db := filepath.Join(t.TempDir(), "w.duckdb")
	cmd := command(t, runArgs(db, base, "--concurrency", "1", "--commit-wait", "1s"), "SMARTLEAD_API_KEY="+testKey)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	// Fetching leads, the run has registered and let go of the warehouse:
	// a reader opens it then and holds it through the commit.
	require.Eventually(t, func() bool { return slow.Stats().Paths["/campaigns/{id}/leads"] >= 1 },
		30*time.Second, 10*time.Millisecond, "the run never reached the leads")
	reader := openDB(t, db)
	var conn *sql.Conn
	require.Eventually(t, func() bool {
		c, err := reader.Conn(t.Context())
		if err != nil {
			return false
		}
		if err := c.PingContext(t.Context()); err != nil {
			c.Close()
			return false
		}
		conn = c
		return true
	}, 30*time.Second, 20*time.Millisecond)
	var before int64
	require.NoError(t, conn.QueryRowContext(t.Context(), `SELECT count(*) FROM etl_runs WHERE status = 'succeeded'`).Scan(&before))
	require.Zero(t, before, "reads work during the run")
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	require.True(t, ok, "want exit 6, got %v\n%s", err, out.String())
	require.Equal(t, 6, ee.ExitCode(), out.String())
	require.NoError(t, conn.Close())
	require.NoError(t, reader.Close())

	r := runBinary(t, runArgs(db, base), "SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 0, r.code, r.all())
	check := openDB(t, db)
	require.EqualValues(t, 2, scalar[int64](t, check, `SELECT count(*) FROM etl_runs WHERE status = 'succeeded'`),
		"the staged snapshot was published, then the new run's")
}

// A run continued after a budget stop and after a SIGKILL counts the
// requests of every invocation: etl_runs.requests equals the ledger.
func TestResumedRunCountsEveryInvocation(t *testing.T) {
	t.Parallel()
	slowFake, slow := startFake(t, fakeOpts{campaigns: 6, faults: fakeapi.Faults{SlowRate: 1, SlowDelay: 50 * time.Millisecond}})
	fake, base := startFake(t, fakeOpts{campaigns: 6})
	db := filepath.Join(t.TempDir(), "w.duckdb")
	key := "SMARTLEAD_API_KEY=" + testKey

	// --max-requests bounds each invocation: the second one, stopped at
	// the same budget, spends it again and gets further. Both are held
	// back by a small rate limit: the resumed run's waited is theirs.
	for i := range 2 {
		before := fake.Stats().Requests
		r := runBinary(t, runArgs(db, base, "--max-requests", "10", "--limits", "5/1s"), key)
		require.Equal(t, 5, r.code, r.all())
		spent := fake.Stats().Requests - before
		assert.LessOrEqual(t, spent, 10, "invocation %d", i+1)
		assert.GreaterOrEqual(t, spent, 9, "invocation %d spent its own budget", i+1)
	}

	cmd := command(t, runArgs(db, slow, "--concurrency", "1"), key)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	waitForLock(t, db+".lock", cmd.Process.Pid)
	require.Eventually(t, func() bool { return slowFake.Stats().Requests >= 3 }, 30*time.Second, 10*time.Millisecond,
		"the killed invocation made no request")
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	// The run is continued an hour after it began (as a run stopped at
	// its deadline is, the next night): the hour is no part of its time.
	rw, err := sql.Open("duckdb", db)
	require.NoError(t, err)
	_, err = rw.Exec("UPDATE etl_runs SET started_at = started_at - INTERVAL 1 HOUR")
	require.NoError(t, err)
	require.NoError(t, rw.Close())

	r := runBinary(t, runArgs(db, base), key)
	require.Equal(t, 0, r.code, r.all())
	var summary struct {
		Requests           int64
		Waited, Duration   string
		InvocationDuration string `json:"invocation"`
	}
	for _, line := range strings.Split(r.stderr, "\n") {
		if strings.Contains(line, `"msg":"run summary"`) {
			require.NoError(t, json.Unmarshal([]byte(line), &summary), line)
		}
	}
	require.NotEmpty(t, summary.Duration, r.stderr)

	conn := openDB(t, db)
	run := scalar[string](t, conn, "SELECT run_id FROM etl_runs WHERE status = 'succeeded'")
	require.EqualValues(t, 1, scalar[int64](t, conn, "SELECT count(*) FROM etl_runs"), "one run, four invocations")
	ledger := scalar[int64](t, conn, "SELECT count(*) FROM api_requests WHERE run_id = ?", run)
	requests := scalar[int64](t, conn, "SELECT requests FROM etl_runs WHERE run_id = ?", run)
	t.Logf("ledger %d, etl_runs.requests %d, summary %+v", ledger, requests, summary)
	assert.Equal(t, ledger, requests)
	assert.EqualValues(t, requests, summary.Requests, "the summary line counts every invocation too")
	assert.EqualValues(t, 3, scalar[int64](t, conn, "SELECT resumed FROM etl_runs"))

	// The summary's duration covers the invocations its counters do: the
	// time they ran, summed, as etl_runs.run_seconds has it; not the hour
	// between them. The killed invocation recorded neither its wait nor
	// its time.
	waited, err := time.ParseDuration(summary.Waited)
	require.NoError(t, err)
	took, err := time.ParseDuration(summary.Duration)
	require.NoError(t, err)
	this, err := time.ParseDuration(summary.InvocationDuration)
	require.NoError(t, err)
	require.GreaterOrEqual(t, waited, time.Second, "the earlier invocations' wait is in the summary")
	assert.LessOrEqual(t, waited, took)
	assert.Less(t, this, took, "the last invocation is a part of the run")
	assert.Less(t, took, time.Hour, "the hour between the invocations is no part of the run's time")
	ran := scalar[float64](t, conn, "SELECT run_seconds FROM etl_runs")
	assert.LessOrEqual(t, scalar[float64](t, conn, "SELECT wait_seconds FROM etl_runs"), ran)
	assert.Greater(t, ran, this.Seconds()-1, "run_seconds sums the invocations")
	assert.LessOrEqual(t, ran, took.Seconds(), "the summary also counts the commit")
	span := scalar[float64](t, conn, "SELECT epoch(finished_at - started_at) FROM etl_runs")
	assert.Greater(t, span, time.Hour.Seconds(), "etl_runs' span is the wall clock from the first start")
	// run_history's duration is the run's time as the summary gives it.
	rep := runBinary(t, []string{"report", "run_history", "--db", db, "--format", "json"})
	require.Zero(t, rep.code, rep.all())
	var hist []struct {
		Duration float64 `json:"duration_s"`
	}
	require.NoError(t, json.Unmarshal([]byte(rep.stdout), &hist), rep.stdout)
	require.Len(t, hist, 1)
	assert.InDelta(t, ran, hist[0].Duration, 0.051, "run_history's duration_s is run_seconds")
}

// listen runs in the foreground, logs JSON without a terminal, refuses a
// wrong secret, and on SIGTERM answers what it has, merges and exits 0.
func TestListenCommand(t *testing.T) {
	t.Parallel()
	const secret = "whsec-cli-test-91b2"
	db := filepath.Join(t.TempDir(), "w.duckdb")
	cmd := command(t, []string{"listen", "--addr", "127.0.0.1:0", "--db", db}, "SMARTLEAD_WEBHOOK_SECRET="+secret)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	require.True(t, sc.Scan(), stderr.String())
	line := sc.Text()
	require.Contains(t, line, "receiving SmartLead webhooks at http://")
	url := strings.Fields(strings.TrimPrefix(line, "receiving SmartLead webhooks at "))[0]
	base := strings.TrimSuffix(url, "/webhooks/smartlead")

	post := func(body string) int {
		resp, err := http.Post(url, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, 200, post(`{"event_type":"EMAIL_REPLY","event_timestamp":"2026-11-27T10:00:00Z","campaign_id":1,"secret_key":"`+secret+`"}`))
	assert.Equal(t, 401, post(`{"event_type":"EMAIL_REPLY","event_timestamp":"2026-11-27T10:00:00Z","campaign_id":2,"secret_key":"nope"}`))
	assert.Equal(t, 400, post(`{"secret_key":"`+secret+`", broken`))
	resp, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)

	start := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), stderr.String())
	// Idle keep-alive connections do not hold the stop for the 25 s
	// shutdown grace (loose bound: CI machines are slow).
	assert.Less(t, time.Since(start), 20*time.Second)
	logs := stderr.String()
	assert.Contains(t, logs, `"msg":"webhook receiver stopped"`)
	assert.Contains(t, logs, `"msg":"webhook: delivery refused"`)
	assert.NotContains(t, logs, secret)

	conn := openDB(t, db)
	assert.EqualValues(t, 1, scalar[int64](t, conn, `SELECT count(*) FROM email_events WHERE event_type = 'EMAIL_REPLY'`))
	assert.EqualValues(t, 1, scalar[int64](t, conn, `SELECT count(*) FROM webhook_rejects`))
	assert.Zero(t, scalar[int64](t, conn, `SELECT count(*) FROM webhook_rejects WHERE body_excerpt LIKE '%`+secret+`%'`))
}

// TestEverythingCreatedIsPrivate: under umask 022, every file and
// directory a demo run with an export creates (warehouse, WAL, lock file,
// Parquet files, manifest.json, the directories around them) has no group
// or other bits. An --api-key-file others can read gets a one-line
// warning with the fix. Not parallel: the umask is process-wide.
func TestEverythingCreatedIsPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	root := filepath.Join(t.TempDir(), "root")
	// --db must name an existing directory (a typo is a usage error);
	// the export directories below are the tool's to create.
	for _, d := range []string{"data", "run", "killed"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o700))
	}
	r := runBinary(t, []string{"demo", "--db", filepath.Join(root, "data", "demo.duckdb"), "--campaigns", "3", "--leads", "20",
		"--export", filepath.Join(root, "lake"), "--log-format", "json"})
	require.Equal(t, 0, r.code, r.all())

	_, base := startFake(t, fakeOpts{campaigns: 2, leads: 10})
	keyFile := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(keyFile, []byte(testKey+"\n"), 0o644))
	r = runBinary(t, runArgs(filepath.Join(root, "run", "w.duckdb"), base, "--api-key-file", keyFile, "--export", filepath.Join(root, "lake2")))
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stderr, "chmod 600 "+keyFile)
	assert.Equal(t, 1, strings.Count(r.stderr, "chmod 600"))

	// The lock file and WAL exist while a run runs (and after a crash).
	_, slow := startFake(t, fakeOpts{campaigns: 6, faults: fakeapi.Faults{SlowRate: 1, SlowDelay: 50 * time.Millisecond}})
	killed := filepath.Join(root, "killed", "w.duckdb")
	cmd := command(t, runArgs(killed, slow, "--concurrency", "1"), "SMARTLEAD_API_KEY="+testKey)
	require.NoError(t, cmd.Start())
	waitForLock(t, killed+".lock", cmd.Process.Pid)
	require.Eventually(t, func() bool { _, err := os.Stat(killed + ".wal"); return err == nil }, 30*time.Second, 20*time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()

	var files, dirs int
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		fi, err := d.Info()
		require.NoError(t, err)
		assert.Zero(t, fi.Mode().Perm()&0o077, "%s is %v", path, fi.Mode().Perm())
		if d.IsDir() {
			dirs++
		} else {
			files++
		}
		return nil
	}))
	require.Greater(t, files, 20)
	require.Greater(t, dirs, 10)
	_, err := os.Stat(filepath.Join(root, "lake", "manifest.json"))
	require.NoError(t, err)

	require.NoError(t, os.Chmod(keyFile, 0o600))
	r = runBinary(t, runArgs(filepath.Join(root, "run", "w.duckdb"), base, "--api-key-file", keyFile))
	require.Equal(t, 0, r.code, r.all())
	assert.NotContains(t, r.stderr, "chmod 600")
}

// lockedBuffer is a strings.Builder a child process writes to while the
// test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
