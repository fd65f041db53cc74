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
	"github.com/smartlead-etl/smartlead-etl/load/journal"
)

// TestFirstPlanPredictsTheFirstRun: on a warehouse that does not exist
// yet, plan sizes the first run from the campaign list and one analytics
// request per campaign, records those requests in the request journal
// only (it creates no warehouse), and its request count and finish time
// are within 5% of the run that follows (which counts the plan's requests
// against the hourly window).
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

		_, err = os.Stat(e.cfg.DB)
		require.ErrorIs(t, err, os.ErrNotExist, "plan created the warehouse")
		st, err := journal.Read(journal.Path(e.cfg.DB))
		require.NoError(t, err)
		require.Len(t, st.Entries, 61, "the plan's requests are in the journal")
		for _, en := range st.Entries {
			require.True(t, strings.HasPrefix(en.RunID, "plan-"), en.RunID)
			require.False(t, en.Flushed)
		}

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
