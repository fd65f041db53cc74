package pipeline

import (
	"context"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/load/journal"
)

// TestFirstPlanPredictsTheFirstRun: on a warehouse that does not exist
// yet, plan sizes the first run from the campaign list and the
// overall-stats ranges since the oldest campaign (a few requests, not one
// per campaign), records those requests in the request journal only (it
// creates no warehouse, side file or lock), three plans in a row cost
// three times that and never wait for the rate limit, and the request
// count and finish time are within 10% of the run that follows (which
// counts the plans' requests against the hourly window).
func TestFirstPlanPredictsTheFirstRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		const campaigns = 30
		e := newEnv(t, dir, fakeapi.Config{Seed: 16, Campaigns: campaigns, LeadsPerCampaign: 100})
		var f *Forecast
		for i := range 3 {
			start := time.Now()
			var err error
			f, err = Plan(context.Background(), e.cfg)
			require.NoError(t, err)
			require.True(t, f.First)
			require.Less(t, time.Since(start), 5*time.Second, "plan %d waited for the minute window", i+1)
			require.Positive(t, f.SignalRequests)
			require.LessOrEqual(t, f.SignalRequests, 15, "a year of 30-day ranges")
			require.EqualValues(t, 1+f.SignalRequests, f.SpentPlanning, "the campaign list and the overall-stats ranges")
			require.EqualValues(t, (i+1)*(1+f.SignalRequests), e.fake.Stats().Requests)
			t.Logf("plan %d: %d requests", i+1, f.SpentPlanning)
		}
		require.Equal(t, 1, f.PerStream[extract.StreamCampaigns])
		require.Equal(t, campaigns, f.PerStream[extract.StreamCampaignAnalytics])

		_, err := os.Stat(e.cfg.DB)
		require.ErrorIs(t, err, os.ErrNotExist, "plan created the warehouse")
		_, err = os.Stat(load.StagingDir(e.cfg.DB))
		require.ErrorIs(t, err, os.ErrNotExist, "plan created the side file")
		st, err := journal.Read(journal.Path(e.cfg.DB))
		require.NoError(t, err)
		require.Len(t, st.Entries, 3*int(f.SpentPlanning), "the plans' requests are in the journal")
		for _, en := range st.Entries {
			require.True(t, strings.HasPrefix(en.RunID, "plan-"), en.RunID)
			require.False(t, en.Flushed)
		}

		start := time.Now()
		n, err := e.run(t, e.cfg)
		require.NoError(t, err)
		took := time.Since(start)
		t.Logf("first run: plan %d requests, finish in %s; run %d requests in %s", f.Requests, f.Duration(), n, took)
		require.InEpsilon(t, n, f.Requests, 0.10, "requests")
		require.InEpsilon(t, took.Seconds(), f.Duration().Seconds(), 0.10, "duration")
		require.Zero(t, e.fake.Stats().Throttled, "the run counted the plans' requests: no 429")
	})
}
