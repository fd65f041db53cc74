package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
)

// These tests run the real binary, built once by TestMain, against the
// simulated API on loopback: what cron would run.

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
		o.campaigns = 6
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

func TestRunEndToEndTwoSnapshots(t *testing.T) {
	fake, base := startFake(t, fakeOpts{})
	db := filepath.Join(t.TempDir(), "w.duckdb")

	r := runBinary(t, runArgs(db, base), "SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stderr, `"msg":"run summary"`)

	truth := fake.Truth()
	conn := openDB(t, db)
	require.EqualValues(t, len(truth.Campaigns), scalar[int64](t, conn, "SELECT count(*) FROM campaigns"))
	require.EqualValues(t, truth.LeadCount(), scalar[int64](t, conn, "SELECT count(*) FROM leads"))
	require.EqualValues(t, truth.LeadCount(), scalar[int64](t, conn, "SELECT count(DISTINCT campaign_lead_map_id) FROM leads"))
	first := scalar[string](t, conn, "SELECT run_id FROM etl_runs WHERE status = 'succeeded'")
	require.NotEmpty(t, scalar[int64](t, conn, "SELECT count(*) FROM api_requests WHERE run_id = ?", first))
	conn.Close()

	// A second run adds a second snapshot and the views move to it.
	r = runBinary(t, runArgs(db, base), "SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 0, r.code, r.all())
	conn = openDB(t, db)
	require.EqualValues(t, 2, scalar[int64](t, conn, "SELECT count(*) FROM etl_runs WHERE status = 'succeeded'"))
	second := scalar[string](t, conn, "SELECT run_id FROM etl_runs WHERE status = 'succeeded' ORDER BY finished_at DESC LIMIT 1")
	require.NotEqual(t, first, second)
	require.EqualValues(t, 1, scalar[int64](t, conn, "SELECT count(DISTINCT run_id) FROM leads"))
	require.Equal(t, second, scalar[string](t, conn, "SELECT any_value(run_id) FROM leads"))
	require.EqualValues(t, 2*truth.LeadCount(), scalar[int64](t, conn, "SELECT count(*) FROM leads_history"))
}

func TestMissingAndRejectedKeyAreConfigurationErrors(t *testing.T) {
	_, base := startFake(t, fakeOpts{})
	db := filepath.Join(t.TempDir(), "w.duckdb")
	r := runBinary(t, runArgs(db, base))
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, r.stderr, "SMARTLEAD_API_KEY")

	r = runBinary(t, runArgs(db, base), "SMARTLEAD_API_KEY=wrong-key-123456")
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, strings.ToLower(r.stderr), "401")
	assert.Contains(t, r.stderr, "the API rejected the key")
	assert.NotContains(t, r.all(), "wrong-key-123456")
}

func TestEnvironmentConfiguresFlags(t *testing.T) {
	_, base := startFake(t, fakeOpts{campaigns: 2, leads: 10})
	db := filepath.Join(t.TempDir(), "env.duckdb")
	keyFile := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(keyFile, []byte(testKey+"\n"), 0o600))
	r := runBinary(t, []string{"run", "--log-format", "json"},
		"SMARTLEAD_DB="+db, "SMARTLEAD_BASE_URL="+base, "SMARTLEAD_LIMITS=200/1s,6000/1m,100000/1h",
		"SMARTLEAD_API_KEY_FILE="+keyFile)
	require.Equal(t, 0, r.code, r.all())
	_, err := os.Stat(db)
	require.NoError(t, err)

	r = runBinary(t, []string{"run", "--concurrency", "0"}, "SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 2, r.code, r.all())
	r = runBinary(t, []string{"run"}, "SMARTLEAD_HEADROOM=lots", "SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, r.stderr, "SMARTLEAD_HEADROOM")
}

// waitForLock waits until a run has written its PID into the lock file.
func waitForLock(t *testing.T, path string, pid int) {
	t.Helper()
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(path)
		return err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(pid)
	}, 30*time.Second, 20*time.Millisecond)
}

func TestSecondRunExitsFourWhileFirstRuns(t *testing.T) {
	_, base := startFake(t, fakeOpts{faults: fakeapi.Faults{SlowRate: 1, SlowDelay: 100 * time.Millisecond}})
	db := filepath.Join(t.TempDir(), "w.duckdb")
	first := command(t, runArgs(db, base, "--concurrency", "1"), "SMARTLEAD_API_KEY="+testKey)
	var out1 bytes.Buffer
	first.Stdout, first.Stderr = &out1, &out1
	require.NoError(t, first.Start())
	waitForLock(t, db+".lock", first.Process.Pid)

	second := runBinary(t, runArgs(db, base), "SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 4, second.code, second.all())
	assert.Contains(t, second.stderr, strconv.Itoa(first.Process.Pid))

	require.NoError(t, first.Wait(), out1.String())
	conn := openDB(t, db)
	require.EqualValues(t, 1, scalar[int64](t, conn, "SELECT count(*) FROM etl_runs WHERE status = 'succeeded'"))
}

func TestSIGTERMCancelsAndKeepsPreviousSnapshot(t *testing.T) {
	_, base := startFake(t, fakeOpts{})
	db := filepath.Join(t.TempDir(), "w.duckdb")
	r := runBinary(t, runArgs(db, base), "SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 0, r.code, r.all())
	conn := openDB(t, db)
	before := tableDigest(t, conn)
	conn.Close()

	slow, slowBase := startFake(t, fakeOpts{faults: fakeapi.Faults{SlowRate: 1, SlowDelay: 150 * time.Millisecond}})
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

func TestAPIKeyNeverPrinted(t *testing.T) {
	_, failing := startFake(t, fakeOpts{campaigns: 2, leads: 10, faults: fakeapi.Faults{ErrorRate: 1}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "http://" + ln.Addr().String() + "/api/v1"
	require.NoError(t, ln.Close())
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest) // a server that echoes the query string back
		fmt.Fprintf(w, `{"message":"bad request %s"}`, r.URL.RawQuery)
	}))
	t.Cleanup(echo.Close)

	for _, base := range []string{failing, refused, echo.URL + "/api/v1"} {
		for _, format := range []string{"json", "text"} {
			db := filepath.Join(t.TempDir(), "w.duckdb")
			r := runBinary(t, []string{"run", "--db", db, "--base-url", base, "--log-format", format, "--log-level", "debug",
				"--progress", "always", "--retries", "1", "--retry-base", "10ms"}, "SMARTLEAD_API_KEY="+testKey)
			require.Equal(t, 1, r.code, r.all())
			require.NotContains(t, r.all(), testKey, "base %s format %s", base, format)
			require.NotEmpty(t, r.stderr)
			conn := openDB(t, db)
			for _, q := range []string{"SELECT coalesce(string_agg(error, ''), '') FROM etl_runs", "SELECT coalesce(string_agg(coalesce(error,'') || endpoint, ''), '') FROM api_requests"} {
				require.NotContains(t, scalar[string](t, conn, q), testKey)
			}
			conn.Close()
		}
	}
}

func TestDemoAndReports(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "demo.duckdb")
	r := runBinary(t, []string{"demo", "--db", db, "--campaigns", "5", "--leads", "40", "--log-format", "json"})
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stdout, "campaign_performance")

	r = runBinary(t, []string{"report", "--db", db})
	require.Equal(t, 0, r.code, r.all())
	for _, name := range []string{"campaign_performance", "daily_trend", "sequence_steps", "lead_status", "changes", "email_account_health", "run_history"} {
		assert.Contains(t, r.stdout, name)
	}
	r = runBinary(t, []string{"query", "--db", db, "--format", "csv", "SELECT count(*) AS n FROM campaigns"})
	require.Equal(t, 0, r.code, r.all())
	require.Equal(t, "n\r\n5\r\n", r.stdout) // RFC 4180 line ends
	r = runBinary(t, []string{"query", "--db", db, "DELETE FROM leads_rows"})
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, r.stderr, "read-only")

	out := filepath.Join(dir, "parquet")
	r = runBinary(t, []string{"export", "--db", db, "--out", out})
	require.Equal(t, 0, r.code, r.all())
	_, err := os.Stat(filepath.Join(out, "manifest.json"))
	require.NoError(t, err)
}

// TestReaderAtCommit: a reader holding the warehouse through a run's commit
// does not fail the run: it waits --commit-wait, keeps the snapshot staged
// and exits 6; the next run publishes it before fetching anything.
func TestReaderAtCommit(t *testing.T) {
	slow, base := startFake(t, fakeOpts{faults: fakeapi.Faults{SlowRate: 1, SlowDelay: 100 * time.Millisecond}})
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
