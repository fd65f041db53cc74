package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/load/journal"
)

// shiftJournal moves every wall-clock time the journal at path recorded
// by d, as if the process that wrote it had a clock d ahead of the one
// the next process reads (the clock was stepped back by d in between; d <
// 0: stepped forward), and makes its requests those of a process no
// longer running. The boot-time readings stay, as a step leaves them.
func shiftJournal(t *testing.T, path string, d time.Duration) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var out bytes.Buffer
	for line := range bytes.Lines(b) {
		var rec map[string]any
		require.NoError(t, json.Unmarshal(line, &rec))
		for _, k := range []string{"at", "since"} {
			if v, ok := rec[k].(float64); ok {
				rec[k] = int64(v) + int64(d)
			}
		}
		delete(rec, "p")
		nb, err := json.Marshal(rec)
		require.NoError(t, err)
		out.Write(append(nb, '\n'))
	}
	require.NoError(t, os.WriteFile(path, out.Bytes(), 0o600))
}

// TestClockStepsBetweenRuns: a previous process spent most of the key's
// hour on requests, and ten minutes later a run needs as many again; in
// between the clock was stepped by an hour, so the previous process's
// journal was written an hour "in the future" (stepped back since) or an
// hour "in the past" (stepped forward). The server keeps its own time and
// enforces its windows. The run must neither stall (wait an extra hour
// for windows it wrongly thinks full) nor exceed a window at the server
// (forget requests the server still counts): it takes as long as with no
// step, about 49 minutes, with no 429. After a reboot the boot-time clock
// is gone and only the wall-clock times are left: a journal from the
// future then costs at most the ten minutes between the two, never the
// hour.
//
// Not parallel (as most tests here are): it swaps the process-wide boot
// clock that the journal of every run in the process reads.
func TestClockStepsBetweenRuns(t *testing.T) {
	for _, c := range []struct {
		name     string
		step     time.Duration
		reboot   bool
		min, max time.Duration // how long the run may take
	}{
		{"journal an hour in the future", time.Hour, false, 45 * time.Minute, 50 * time.Minute},
		{"journal an hour in the past", -time.Hour, false, 45 * time.Minute, 50 * time.Minute},
		{"journal an hour in the future, after a reboot", time.Hour, true, 45 * time.Minute, 60 * time.Minute},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			synctest.Test(t, func(t *testing.T) {
				epoch, boot := time.Now(), "boot-1"
				defer journal.SetBootClock(func() (string, int64) { return boot, int64(time.Since(epoch) + time.Hour) })()
				raw, err := ratelimit.Parse("10/1s,60/1m,200/1h")
				require.NoError(t, err)
				scaled, err := ratelimit.Scale(raw, 0.8)
				require.NoError(t, err)
				fake := fakeapi.New(fakeapi.Config{Seed: 15, APIKey: testKey, Windows: raw, Campaigns: 20, LeadsPerCampaign: 2})
				cfg := Config{DB: filepath.Join(dir, "w.duckdb"), Schema: os.DirFS("../sql/schema"), APIKey: testKey,
					BaseURL: "http://localhost" + fakeapi.BasePath, HTTPClient: &http.Client{Transport: fake.Transport()},
					Windows: scaled, ServerWindows: raw, Concurrency: 4, Days: 2}

				// The previous process: 123 requests through the limiter
				// and the journal, as plan or a killed run leaves them.
				jr, err := journal.Open(journal.Path(cfg.DB))
				require.NoError(t, err)
				client, err := newClient(cfg, ratelimit.New(scaled), slog.New(slog.DiscardHandler), nil, nil, extract.WithJournal(jr))
				require.NoError(t, err)
				acc := fake.Truth()
				items := make([]extract.Item, 123)
				for i := range items {
					items[i] = extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: acc.Campaigns[i%len(acc.Campaigns)].ID}
				}
				require.NoError(t, client.Crawl(t.Context(), items, 4, func(extract.Page) error { return nil }))
				require.NoError(t, jr.Close())
				first := fake.Stats().Requests

				shiftJournal(t, journal.Path(cfg.DB), c.step)
				if c.reboot {
					boot = "boot-2"
				}
				time.Sleep(10 * time.Minute)
				start := time.Now()
				_, err = Run(context.Background(), cfg)
				require.NoError(t, err)
				took := time.Since(start)
				second := fake.Stats().Requests - first
				t.Logf("requests %d + %d (the server allows %s); the run took %s", first, second, ratelimit.Format(raw), took)
				require.Greater(t, first+second, raw[2].Max, "together they exceed the hourly limit")
				assert.Zero(t, fake.Stats().Throttled, "no 429: no window exceeded at the server")
				for _, w := range scaled {
					assert.LessOrEqual(t, fakeapi.MaxInWindow(fake.AdmittedOurs(), w.Len), w.Max, "window %s", w)
				}
				assert.GreaterOrEqual(t, took, c.min, "it waited for the requests the server still counts")
				assert.LessOrEqual(t, took, c.max, "no stall")
			})
		})
	}
}
