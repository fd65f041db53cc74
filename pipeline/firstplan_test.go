package pipeline

import (
	"context"
	"database/sql"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
)

// TestFirstPlanPredictsTheFirstRun: on a warehouse that does not exist
// yet, plan sizes the first run from the campaign list and one analytics
// request per campaign, records those requests in the ledger, and its
// request count and finish time are within 5% of the run that follows
// (which counts the plan's requests against the hourly window).
func TestFirstPlanPredictsTheFirstRun(t *testing.T) {
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, dir, fakeapi.Config{Seed: 16, Campaigns: 60, LeadsPerCampaign: 300})
		f, err := Plan(context.Background(), e.cfg)
		require.NoError(t, err)
		require.True(t, f.First)
		require.EqualValues(t, 61, f.SpentPlanning, "the campaign list and one analytics request per campaign")
		require.EqualValues(t, 61, e.fake.Stats().Requests)
		require.Equal(t, 1, f.PerStream[extract.StreamCampaigns])
		require.Equal(t, 60, f.PerStream[extract.StreamCampaignAnalytics])

		db, err := sql.Open("duckdb", e.cfg.DB+"?access_mode=read_only")
		require.NoError(t, err)
		var ledger int
		require.NoError(t, db.QueryRow(`SELECT count(*) FROM api_requests WHERE run_id LIKE 'plan-%'`).Scan(&ledger))
		require.NoError(t, db.Close())
		require.Equal(t, 61, ledger, "the plan's requests are in the ledger")

		start := time.Now()
		n, err := e.run(t, e.cfg)
		require.NoError(t, err)
		took := time.Since(start)
		t.Logf("first run: plan %d requests, finish in %s; run %d requests in %s", f.Requests, f.Duration(), n, took)
		require.InEpsilon(t, n, f.Requests, 0.05, "requests")
		require.InEpsilon(t, took.Seconds(), f.Duration().Seconds(), 0.05, "duration")
		require.Zero(t, e.fake.Stats().Throttled, "the run counted the plan's requests: no 429")
	})
}
