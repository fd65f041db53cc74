package load

import (
	"os"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// TestCampaignStates: one entry per campaign of the snapshot, with its
// status, settings time, row counts and analytics; a campaign with rows
// but no campaigns or analytics row has an empty status and LeadsTotal -1.
func TestCampaignStates(t *testing.T) {
	s, _ := openTest(t, Options{})
	v1 := cVersion1()
	b := v1.full()
	b.Leads = append(b.Leads, synthLeads(9, 0, 2)...) // a campaign not in the list
	b.CampaignAnalytics[1].Name, b.CampaignAnalytics[1].Status, b.CampaignAnalytics[1].Revenue = nil, nil, nil
	r, _ := loadRun(t, s, day(1), b)
	later, _ := loadRun(t, s, day(2), fullBatch(2))

	got, err := s.Held().CampaignStates(t.Context(), r.ID())
	require.NoError(t, err)
	require.Len(t, got, 4)
	upd := t0.Add(-48 * time.Hour)
	a1 := v1.analytics[1]
	assert.Equal(t, CampaignState{CampaignID: 1, Status: "COMPLETED", UpdatedAt: &upd, Leads: 5, Stats: 3, LeadsTotal: 5, Analytics: &a1}, got[1])
	a2 := b.CampaignAnalytics[1]
	assert.Equal(t, CampaignState{CampaignID: 2, Status: "ACTIVE", UpdatedAt: &upd, Leads: 5, Stats: 3, LeadsTotal: 5, Analytics: &a2}, got[2],
		"NULL analytics columns stay nil")
	assert.Equal(t, CampaignState{CampaignID: 9, Leads: 2, LeadsTotal: -1}, got[9])

	other, err := s.Held().CampaignStates(t.Context(), later.ID())
	require.NoError(t, err)
	assert.Equal(t, []int64{101, 102}, sortedKeys(other), "per run")
	none, err := s.Held().CampaignStates(t.Context(), "no-such-run")
	require.NoError(t, err)
	assert.Empty(t, none)
}

func sortedKeys[V any](m map[int64]V) []int64 {
	var out []int64
	for k := range m {
		out = append(out, k)
	}
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestDaysHeld: the committed campaign_daily_stats days per campaign,
// both ends of the range included, staged days of an unfinished run not.
func TestDaysHeld(t *testing.T) {
	s, _ := openTest(t, Options{})
	ds := func(c int64, d time.Time) transform.CampaignDailyStat {
		return transform.CampaignDailyStat{CampaignID: c, Day: d}
	}
	loadRun(t, s, day(1), transform.Batch{DailyStats: []transform.CampaignDailyStat{ds(1, day(-3)), ds(1, day(-2)), ds(1, day(0)), ds(2, day(-1))}})
	r, err := s.BeginRun(t.Context(), RunStart{SnapshotDate: day(2)})
	require.NoError(t, err)
	require.NoError(t, r.Write(t.Context(), transform.Batch{DailyStats: []transform.CampaignDailyStat{ds(3, day(-1))}}))
	require.NoError(t, r.flush(t.Context()))

	got, err := s.Held().Days(t.Context(), day(-2).Add(5*time.Hour), day(0).Add(23*time.Hour))
	require.NoError(t, err)
	assert.Equal(t, map[int64]map[string]bool{1: {"2026-11-25": true, "2026-11-27": true}, 2: {"2026-11-26": true}}, got)
	require.NoError(t, r.Abort(t.Context(), StatusFailed, nil, Counters{}))
}

// TestRequestCounts: a run's pages per endpoint and campaign, retries and
// 429s not counted, other runs' not either; TypicalLatency is the median.
func TestRequestCounts(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()
	lat, err := s.TypicalLatency(ctx)
	require.NoError(t, err)
	assert.Zero(t, lat, "no ledger yet")
	r1, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(1)})
	require.NoError(t, err)
	at := func(ep string, c int64, status int, d time.Duration) extract.Attempt {
		return extract.Attempt{At: t0, Endpoint: ep, CampaignID: c, Status: status, Duration: d, Attempt: 1, RateRemaining: -1}
	}
	require.NoError(t, r1.LogAttempts(ctx, []extract.Attempt{
		at("/campaigns/{id}/leads", 1, 200, 100*time.Millisecond), at("/campaigns/{id}/leads", 1, 429, time.Millisecond),
		at("/campaigns/{id}/leads", 1, 200, 300*time.Millisecond), at("/campaigns/{id}/leads", 2, 500, time.Second),
		at("/campaigns/{id}/leads", 2, 200, 200*time.Millisecond), at("/email-accounts/", 0, 200, 400*time.Millisecond),
	}))
	require.NoError(t, r1.Abort(ctx, StatusFailed, nil, Counters{}))
	r2, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(1)})
	require.NoError(t, err)
	require.NoError(t, r2.LogAttempts(ctx, []extract.Attempt{at("/campaigns/{id}/leads", 1, 200, 500*time.Millisecond)}))
	require.NoError(t, r2.Abort(ctx, StatusFailed, nil, Counters{}))

	got, err := s.RequestCounts(ctx, r1.ID())
	require.NoError(t, err)
	assert.Equal(t, map[string]map[int64]int64{"/campaigns/{id}/leads": {1: 2, 2: 1}, "/email-accounts/": {0: 1}}, got)
	lat, err = s.TypicalLatency(ctx)
	require.NoError(t, err)
	assert.Equal(t, 300*time.Millisecond, lat, "median of 100, 300, 200, 400, 500 ms; failures not counted")
}

// TestMigrationFromWarehouseV1: a warehouse created before the work queue
// existed upgrades in place: its runs read as full refreshes and nothing
// is resumed; new runs work.
func TestMigrationFromWarehouseV1(t *testing.T) {
	path := t.TempDir() + "/wh.duckdb"
	v1schema := fstest.MapFS{}
	b, err := os.ReadFile("../sql/schema/001_warehouse.sql")
	require.NoError(t, err)
	v1schema["001_warehouse.sql"] = &fstest.MapFile{Data: b}
	old, err := Open(t.Context(), path, v1schema, Options{})
	require.NoError(t, err)
	_, err = old.DB().ExecContext(t.Context(), `INSERT INTO etl_runs (run_id, status, snapshot_date, started_at, commit_seq)
		VALUES ('old-ok', 'succeeded', ?, ?, 1), ('old-stopped', 'incomplete', ?, ?, NULL)`, day(0), t0, day(1), t0.Add(time.Hour))
	require.NoError(t, err)
	_, err = old.DB().ExecContext(t.Context(), `INSERT INTO rejected_records VALUES ('old-ok', 'leads', 'k', 'f', 'r', NULL)`)
	require.NoError(t, err)
	require.NoError(t, old.Close())

	s := openAt(t, path, Options{})
	prev, err := s.latestSucceededMode(t.Context(), ModeFull)
	require.NoError(t, err)
	require.NotNil(t, prev)
	assert.Equal(t, "old-ok", prev.RunID)
	assert.Equal(t, 0, prev.Resumed)
	assert.Equal(t, []string{"batch=NULL|run_id=old-ok"}, dumpRows(t, s.DB(), "SELECT batch, run_id FROM rejected_records"))
	r, err := s.Resume(t.Context(), time.Time{})
	require.NoError(t, err)
	assert.Nil(t, r, "an incomplete run without a queue is not resumable")
	assert.Equal(t, string(StatusFailed), count2str(t, s, "SELECT status FROM etl_runs WHERE run_id = 'old-stopped'"))
	run, sum := loadRun(t, s, day(2), fullBatch(2))
	assert.Equal(t, StatusSucceeded, sum.Status)
	latest, err := s.LatestSucceeded(t.Context())
	require.NoError(t, err)
	assert.Equal(t, run.ID(), latest.RunID)
	assert.Equal(t, ModeFull, latest.Mode, "RunStart.Mode defaults to full")
	_, err = s.BeginRun(t.Context(), RunStart{SnapshotDate: day(3), Mode: "partial"})
	require.ErrorContains(t, err, `run mode "partial" is not "full" or "incremental"`)
}
