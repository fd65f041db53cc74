package pipeline

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/load"
)

const testKey = "sk-pipeline-test-1234"

func testConfig(t *testing.T, fake *fakeapi.Server, db string) Config {
	t.Helper()
	raw, err := ratelimit.Parse("1000/1s,60000/1m,1000000/1h")
	require.NoError(t, err)
	scaled, err := ratelimit.Scale(raw, 0.8)
	require.NoError(t, err)
	return Config{
		DB: db, Schema: os.DirFS("../sql/schema"), APIKey: testKey,
		BaseURL:    "http://localhost" + fakeapi.BasePath,
		HTTPClient: &http.Client{Transport: fake.Transport()},
		Windows:    scaled, ServerWindows: raw, Concurrency: 4, Days: 2,
		ResumeWithin: DefaultResumeWithin,
	}
}

func count(t *testing.T, db *sql.DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	require.NoError(t, db.QueryRow(q, args...).Scan(&n), q)
	return n
}

func TestRunLoadsTheWholeAccount(t *testing.T) {
	t.Parallel()
	fake := fakeapi.New(fakeapi.Config{Seed: 3, APIKey: testKey, Campaigns: 5, LeadsPerCampaign: 150})
	dbPath := filepath.Join(t.TempDir(), "w.duckdb")
	sum, err := Run(context.Background(), testConfig(t, fake, dbPath))
	require.NoError(t, err)
	require.Equal(t, load.StatusSucceeded, sum.Status)

	truth := fake.Truth()
	db, err := sql.Open("duckdb", dbPath)
	require.NoError(t, err)
	defer db.Close()
	require.EqualValues(t, len(truth.Campaigns), count(t, db, "SELECT count(*) FROM campaigns"))
	require.EqualValues(t, truth.LeadCount(), count(t, db, "SELECT count(*) FROM leads"))
	require.EqualValues(t, truth.StatCount(), count(t, db, "SELECT count(*) FROM lead_email_stats"))
	require.EqualValues(t, len(truth.EmailAccounts), count(t, db, "SELECT count(*) FROM email_accounts"))
	require.EqualValues(t, len(truth.Clients), count(t, db, "SELECT count(*) FROM clients"))
	require.EqualValues(t, 2*len(truth.Campaigns), count(t, db, "SELECT count(*) FROM campaign_daily_stats"))
	require.EqualValues(t, fake.Stats().Requests, count(t, db, "SELECT count(*) FROM api_requests"))
}

func TestWaitLoggerSaysOnceWhyAndUntilWhen(t *testing.T) {
	var buf bytes.Buffer
	hook := waitLogger(slog.New(slog.NewTextHandler(&buf, nil)))
	at := time.Date(2026, 11, 27, 2, 47, 10, 0, time.Local)
	for i := range 4 { // four workers meet the same full window
		hook(ratelimit.WaitInfo{Until: at.Add(time.Duration(i) * 1250 * time.Millisecond), Reason: "1h window full (800/1h)"})
	}
	hook(ratelimit.WaitInfo{Until: at.Add(time.Hour), Reason: "1h window full (800/1h)"})
	out := buf.String()
	require.Equal(t, 2, strings.Count(out, "waiting on the rate limit"), out)
	require.Contains(t, out, `reason="1h window full (800/1h)" resuming_at=02:47:10`)
	require.Contains(t, out, "resuming_at=03:47:10")
}
