package load

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/transform"
)

// writeLeads writes n leads of campaign 101 in pages of 100, the first
// carrying the reported total.
func writeLeads(t *testing.T, r *Run, n int) {
	t.Helper()
	for off := 0; off < n; off += 100 {
		b := transform.Batch{Leads: synthLeads(101, off, min(100, n-off))}
		if off == 0 {
			b.Totals = []transform.ReportedTotal{{Stream: "leads", CampaignID: 101, Total: int64(n)}}
		}
		require.NoError(t, r.Write(t.Context(), b))
	}
}

// TestWriteStagesThroughTwoLanes: past flushEvery rows Write hands a lane
// to a flushing goroutine and appends to the other; every row arrives
// once, Flush makes them all durable before the commit, and each page's
// rows keep its batch number.
func TestWriteStagesThroughTwoLanes(t *testing.T) {
	s, _ := openTest(t, Options{})
	r, err := s.BeginRun(t.Context(), RunStart{SnapshotDate: day(1)})
	require.NoError(t, err)
	const n = 2*flushEvery + 150
	writeLeads(t, r, n)
	require.NotNil(t, r.lanes[1], "the second lane was used")
	require.NoError(t, r.Flush(t.Context()))
	assert.Equal(t, int64(n), count(t, s.DB(), `SELECT count(*) FROM leads_rows WHERE run_id = ?`, r.ID()),
		"every row is durable after Flush, before the commit")
	assert.Equal(t, int64((n+99)/100), count(t, s.DB(), `SELECT count(DISTINCT batch) FROM leads_rows WHERE run_id = ?`, r.ID()))
	assert.Equal(t, int64(1), count(t, s.DB(), `SELECT count(*) FROM (SELECT batch FROM leads_rows WHERE run_id = ?
		GROUP BY batch HAVING count(*) <> 100)`, r.ID()), "each page's rows carry one batch number: only the last page is short")
	sum, err := r.Commit(t.Context(), Counters{})
	require.NoError(t, err)
	assert.Equal(t, int64(n), sum.Rows["leads"])
	assert.Zero(t, sum.Warnings, "%+v", sum.Checks)
	assert.Equal(t, int64(n), count(t, s.DB(), `SELECT count(DISTINCT campaign_lead_map_id) FROM leads`))
}

// TestAbortWithFlushInFlight: a run aborted while a lane is being flushed
// waits for that flush, leaves the warehouse as it was and no goroutine
// behind (goleak checks the package).
func TestAbortWithFlushInFlight(t *testing.T) {
	s, _ := openTest(t, Options{})
	r, err := s.BeginRun(t.Context(), RunStart{SnapshotDate: day(1)})
	require.NoError(t, err)
	writeLeads(t, r, flushEvery+100)
	require.NotNil(t, r.flushing, "a flush is in flight")
	require.NoError(t, r.Abort(t.Context(), StatusFailed, errors.New("stop"), Counters{}))
	assert.Zero(t, count(t, s.DB(), `SELECT count(*) FROM leads`))
	r2, err := s.BeginRun(t.Context(), RunStart{SnapshotDate: day(2)})
	require.NoError(t, err)
	assert.Zero(t, count(t, s.DB(), `SELECT count(*) FROM leads_rows`), "the failed run's staged rows are discarded")
	writeLeads(t, r2, 300)
	_, err = r2.Commit(t.Context(), Counters{})
	require.NoError(t, err)
	assert.Equal(t, int64(300), count(t, s.DB(), `SELECT count(*) FROM leads`))
}
