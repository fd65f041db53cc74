package pipeline

import (
	"context"
	"database/sql"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/internal/tmpfs"
	"github.com/smartlead-etl/smartlead-etl/load"
)

// viewState is what a reader of the warehouse sees: the latest run and
// every view's rows, as one string per view.
func viewState(t *testing.T, db string) map[string]string {
	t.Helper()
	conn, err := sql.Open("duckdb", db+"?access_mode=read_only")
	require.NoError(t, err)
	defer conn.Close()
	out := map[string]string{}
	var run string
	require.NoError(t, conn.QueryRow(`SELECT run_id FROM latest_run`).Scan(&run))
	out["latest_run"] = run
	for _, v := range append(snapshotTables, "campaign_daily_stats") {
		var s sql.NullString
		require.NoError(t, conn.QueryRow(`SELECT string_agg(t::VARCHAR, '|' ORDER BY t::VARCHAR) FROM `+v+` t`).Scan(&s), v)
		out[v] = s.String
	}
	return out
}

// fillAt is a transport that fills the disk at dir just before the
// server answers its at-th request: the disk fills up while a run works.
type fillAt struct {
	t      *testing.T
	next   http.RoundTripper
	dir    string
	at     int64
	n      atomic.Int64
	filler atomic.Value // string
}

func (f *fillAt) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.n.Add(1) == f.at {
		f.filler.Store(tmpfs.Fill(f.t, f.dir))
	}
	return f.next.RoundTrip(r)
}

// TestRunOnFullDisk: a full refresh on a real filesystem (a tmpfs holding
// the warehouse, its staging, journal and lock) that is full from the
// start, or fills up while the run fetches and stages, or just before it
// commits, fails with one line naming the file it could not write; the
// views show the previous snapshot unchanged, no lock file is left, and
// the next run succeeds once space is back.
func TestRunOnFullDisk(t *testing.T) {
	t.Parallel()
	dir := tmpfs.Mount(t, 64<<20)
	fake := fakeapi.New(fakeapi.Config{Seed: 3, APIKey: testKey, Campaigns: 3, LeadsPerCampaign: 30})
	db := filepath.Join(dir, "w.duckdb")
	cfg := testConfig(t, fake, db)
	_, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	requests := fake.Stats().Requests
	before := viewState(t, db)
	cfg.FullRefresh = true

	for _, at := range []int64{0, int64(requests) / 2, int64(requests)} {
		tr := &fillAt{t: t, next: fake.Transport(), dir: dir, at: at}
		if at == 0 {
			tr.filler.Store(tmpfs.Fill(t, dir))
		}
		c := cfg
		c.HTTPClient = &http.Client{Transport: tr}
		start := time.Now()
		_, err := Run(context.Background(), c)
		t.Logf("took %s", time.Since(start))
		require.Error(t, err, "full at request %d", at)
		require.ErrorIs(t, err, syscall.ENOSPC, "full at request %d: %v", at, err)
		msg := err.Error()
		t.Logf("full at request %d of %d: %s", at, requests, msg)
		assert.True(t, strings.HasPrefix(msg, "run: disk full: no space left on the device for "+dir+"/"), msg)
		assert.True(t, strings.HasSuffix(msg, "; the warehouse keeps its last snapshot"), msg)
		assert.NotContains(t, msg, "\n")
		assert.NoFileExists(t, db+".lock")
		require.NoError(t, os.Remove(tr.filler.Load().(string)))
		assert.Equal(t, before, viewState(t, db), "full at request %d: the views are unchanged", at)
	}
	sum, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	require.Equal(t, load.StatusSucceeded, sum.Status)
	after := viewState(t, db)
	assert.NotEqual(t, before["latest_run"], after["latest_run"])
}
