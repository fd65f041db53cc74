package pipeline

import (
	"database/sql"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
)

// smallNight is a realistic night dense enough that a 40-campaign account
// has late activity, active campaigns sending, and a settings change.
var smallNight = fakeapi.RealisticNight{LateFrac: 0.25, ActiveFrac: 1, SettingsFrac: 0.05,
	LateEvents: 3, ActiveEvents: 3, SendFrac: 1, NewLeads: 1}

// nightAndCompare lets a realistic night happen, runs the incremental
// night with cfg and a full refresh of the same state into full, and
// requires the two snapshots to be equal. It returns the incremental
// run's id.
func nightAndCompare(t *testing.T, e *env, full string, before func()) string {
	t.Helper()
	time.Sleep(23 * time.Hour)
	e.fake.RealisticNight(smallNight)
	time.Sleep(time.Hour)
	if before != nil {
		before()
	}
	incr, err := e.run(t, e.cfg)
	if err != nil {
		dumpChecks(t, e.cfg.DB)
	}
	require.NoError(t, err, "the incremental night (a completed fallback is not a warning)")
	for _, ep := range []string{fakeapi.PathLeadActivities, fakeapi.PathOverallStats} {
		e.fake.SetEndpointFault(ep, fakeapi.FaultNone)
	}
	n, err := e.run(t, e.with(full, func(c *Config) { c.FullRefresh = true }))
	require.NoError(t, err)
	t.Logf("requests: incremental night %d, full refresh %d", incr, n)
	requireSameSnapshot(t, e.cfg.DB, filepath.Join(e.dir, full), LookbackDays(time.Now(), 2))
	db, err := sql.Open("duckdb", e.cfg.DB)
	require.NoError(t, err)
	defer db.Close()
	return scalarString(t, db, "SELECT run_id FROM latest_run")
}

// signalChecks returns the change_signals rows of a run: subject -> detail
// and severity.
func signalChecks(t *testing.T, path, runID string) map[string][2]string {
	t.Helper()
	db, err := sql.Open("duckdb", path)
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.Query(`SELECT subject, detail, severity FROM data_checks WHERE run_id = ? AND "check" = 'change_signals'`, runID)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string][2]string{}
	for rows.Next() {
		var s, d, sev string
		require.NoError(t, rows.Scan(&s, &d, &sev))
		out[s] = [2]string{d, sev}
	}
	require.NoError(t, rows.Err())
	return out
}

// TestSignalFallbacks: each account-wide endpoint in turn answers 404,
// garbage, or numbers that disagree with the per-campaign endpoints (the
// two endpoints fail on the same nights, in three pairings). The night
// falls back to the per-campaign path for what the endpoint would have
// vouched for, its snapshot still equals a full refresh, data_checks says
// why (severity info: the fallback completed, exit 0), and the next
// night, healed, trusts the endpoints again.
func TestSignalFallbacks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		time.Sleep(2 * time.Hour)
		e := newEnv(t, dir, fakeapi.AgencyConfig(19, 20))
		_, err := e.run(t, e.cfg)
		require.NoError(t, err)
		type fault struct {
			f   fakeapi.EndpointFault
			why string
		}
		notFound := fault{fakeapi.FaultNotFound, "answered 404"}
		garbage := fault{fakeapi.FaultGarbage, "does not decode"}
		for _, tc := range []struct{ activities, overall, activitiesWhy, overallWhy fault }{
			{activities: notFound, overall: garbage},
			{activities: garbage, overall: fault{fakeapi.FaultDisagree, "whose analytics did not"}},
			{activities: fault{fakeapi.FaultDisagree, "show more activity than their statistics rows"}, overall: notFound},
		} {
			run := nightAndCompare(t, e, "full.duckdb", func() {
				e.fake.SetEndpointFault(fakeapi.PathLeadActivities, tc.activities.f)
				e.fake.SetEndpointFault(fakeapi.PathOverallStats, tc.overall.f)
			})
			checks := signalChecks(t, e.cfg.DB, run)
			for ep, want := range map[string]fault{fakeapi.PathLeadActivities: tc.activities, fakeapi.PathOverallStats: tc.overall} {
				require.Contains(t, checks, ep, "fault %v on %s: data_checks names the endpoint (%v)", want.f, ep, checks)
				require.Contains(t, checks[ep][0], want.why)
				require.Contains(t, checks[ep][0], "fell back to the per-campaign path")
				require.Equal(t, "info", checks[ep][1])
			}
		}
		run := nightAndCompare(t, e, "full.duckdb", nil)
		require.Empty(t, signalChecks(t, e.cfg.DB, run), "healed: the signals are trusted again")
	})
}
