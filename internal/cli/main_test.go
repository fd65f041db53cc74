package cli

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
)

func TestRunEndToEndTwoSnapshots(t *testing.T) {
	t.Parallel()
	fake, base := startFake(t, fakeOpts{})
	db := filepath.Join(t.TempDir(), "w.duckdb")

	r := runCLI(t, runArgs(db, base), "SMARTLEAD_API_KEY="+testKey)
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
	r = runCLI(t, runArgs(db, base), "SMARTLEAD_API_KEY="+testKey)
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
	t.Parallel()
	_, base := startFake(t, fakeOpts{})
	db := filepath.Join(t.TempDir(), "w.duckdb")
	r := runCLI(t, runArgs(db, base))
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, r.stderr, "SMARTLEAD_API_KEY")

	r = runCLI(t, runArgs(db, base), "SMARTLEAD_API_KEY=wrong-key-123456")
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, strings.ToLower(r.stderr), "401")
	assert.Contains(t, r.stderr, "the API rejected the key")
	assert.NotContains(t, r.all(), "wrong-key-123456")
	// A first run with a rejected key leaves nothing behind.
	entries, err := os.ReadDir(filepath.Dir(db))
	require.NoError(t, err)
	assert.Empty(t, entries, "no warehouse, journal, side file or lock")

	// On a warehouse that exists, the rejected request stays in the
	// ledger: it counts against the rate limit like any other.
	r = runCLI(t, runArgs(db, base), "SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 0, r.code, r.all())
	r = runCLI(t, runArgs(db, base), "SMARTLEAD_API_KEY=wrong-key-123456")
	require.Equal(t, 2, r.code, r.all())
	conn := openDB(t, db)
	assert.EqualValues(t, 1, scalar[int64](t, conn, "SELECT count(*) FROM api_requests WHERE status = 401"))
	assert.EqualValues(t, 1, scalar[int64](t, conn, "SELECT count(*) FROM etl_runs WHERE status = 'failed'"))
}

func TestEnvironmentConfiguresFlags(t *testing.T) {
	t.Parallel()
	_, base := startFake(t, fakeOpts{campaigns: 2, leads: 10})
	db := filepath.Join(t.TempDir(), "env.duckdb")
	keyFile := filepath.Join(t.TempDir(), "key")
	require.NoError(t, os.WriteFile(keyFile, []byte(testKey+"\n"), 0o600))
	r := runCLI(t, []string{"run", "--log-format", "json"},
		"SMARTLEAD_DB="+db, "SMARTLEAD_BASE_URL="+base, "SMARTLEAD_LIMITS=200/1s,6000/1m,100000/1h",
		"SMARTLEAD_API_KEY_FILE="+keyFile)
	require.Equal(t, 0, r.code, r.all())
	_, err := os.Stat(db)
	require.NoError(t, err)

	r = runCLI(t, []string{"run", "--concurrency", "0"}, "SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 2, r.code, r.all())
	r = runCLI(t, []string{"run"}, "SMARTLEAD_HEADROOM=lots", "SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, r.stderr, "SMARTLEAD_HEADROOM")
}

func TestAPIKeyNeverPrinted(t *testing.T) {
	t.Parallel()
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
			r := runCLI(t, []string{"run", "--db", db, "--base-url", base, "--log-format", format, "--log-level", "debug",
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

// TestDemoAndReports: the demo reads no SMARTLEAD_ variables and its help
// says so; its Next: lines name the program as invoked (pasteable); its
// second, incremental night costs less than the first and says so in
// the ledger's numbers (requireSecondNight); then
// the read commands on what it loaded: reports, query (CSV lines end in
// \n; a write is refused as such; DuckDB's SQL errors kept whole), export
// and the dashboard page.
func TestDemoAndReports(t *testing.T) {
	t.Parallel()
	r := runCLI(t, []string{"demo", "--help"})
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stdout, "reads no SMARTLEAD_ variables")
	assert.NotContains(t, r.stdout, "also read from")
	for _, meaningless := range []string{"--api-key-file", "--base-url", "--max-requests", "--tier"} {
		assert.NotContains(t, r.stdout, meaningless)
	}

	dir := t.TempDir()
	db := filepath.Join(dir, "demo.duckdb")
	elsewhere := filepath.Join(dir, "real.duckdb")
	a := app("SMARTLEAD_DB="+elsewhere, "SMARTLEAD_API_KEY=real-key-should-not-matter", "SMARTLEAD_CONCURRENCY=0")
	a.Name = "./smartlead-etl"
	var stdout, stderr lockedBuffer
	code := a.Run(t.Context(), []string{"demo", "--db", db, "--campaigns", "5", "--leads", "40", "--log-format", "json"}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	out := stdout.String()
	assert.Contains(t, out, "campaign_performance")
	_, err := os.Stat(elsewhere)
	require.ErrorIs(t, err, os.ErrNotExist, "the demo read SMARTLEAD_DB")
	assert.Contains(t, out, "Next: ./smartlead-etl report --db "+db)
	assert.Contains(t, out, "      ./smartlead-etl query --db "+db)
	page := filepath.Join(dir, "demo.html")
	assert.Contains(t, out, "Dashboard: "+page)
	requirePage(t, page, "demo.duckdb")
	requireSecondNight(t, out, db)

	r = runCLI(t, []string{"report", "--db", db})
	require.Equal(t, 0, r.code, r.all())
	for _, name := range []string{"campaign_performance", "daily_trend", "sequence_steps", "lead_status", "changes", "email_account_health", "run_history"} {
		assert.Contains(t, r.stdout, name)
	}
	r = runCLI(t, []string{"report", "campaign_performance", "--db", db})
	require.Equal(t, 0, r.code, r.all())
	assert.Empty(t, r.stderr)
	r = runCLI(t, []string{"query", "--db", db, "--format", "csv", "SELECT count(*) AS n FROM campaigns"})
	require.Equal(t, 0, r.code, r.all())
	require.Equal(t, "n\n5\n", r.stdout) // \n line ends, as the DuckDB CLI writes them
	r = runCLI(t, []string{"query", "--db", db, "DELETE FROM leads_rows"})
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, oneLine(t, r), "read-only")
	assert.Contains(t, r.stderr, "not a DELETE statement")
	assert.NotContains(t, r.stderr, "Binder")
	// DuckDB's message is kept whole, with its LINE 1 / caret lines.
	r = runCLI(t, []string{"query", "--db", db, "SELEC 1"})
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, r.stderr, `smartlead-etl: query: Parser Error: syntax error at or near "SELEC"`)
	assert.Contains(t, r.stderr, "LINE 1: SELEC 1")
	r = runCLI(t, []string{"query", "--db", db, "SELECT nosuch FROM campaigns"})
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, r.stderr, "Binder Error")
	r = runCLI(t, []string{"query", "--db", filepath.Join(dir, "nosuch.duckdb"), "SELECT 1"})
	require.Equal(t, 2, r.code, r.all())
	assert.Contains(t, oneLine(t, r), "--db")

	lake := filepath.Join(dir, "parquet")
	r = runCLI(t, []string{"export", "--db", db, "--out", lake})
	require.Equal(t, 0, r.code, r.all())
	_, err = os.Stat(filepath.Join(lake, "manifest.json"))
	require.NoError(t, err)
}
