package pipeline

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// env is a simulated account and the configuration of runs against it, at
// the standard tier (80%), in virtual time when used inside a bubble.
type env struct {
	fake *fakeapi.Server
	cfg  Config
	dir  string
}

func newEnv(t *testing.T, dir string, fc fakeapi.Config) *env {
	t.Helper()
	raw, err := ratelimit.Preset("standard")
	require.NoError(t, err)
	return newEnvLimits(t, dir, fc, raw)
}

// smallHour is the standard tier's windows with the hour's limit cut to a
// fifth (the second's and the minute's as they are): a test about the
// hourly window fills it with ~200 requests, not ~1,000 (each costs a
// page's staging, most of such a test's time).
func smallHour(t *testing.T) []ratelimit.Window {
	t.Helper()
	raw, err := ratelimit.Parse("10/1s,60/1m,200/1h")
	require.NoError(t, err)
	return raw
}

// newEnvLimits is newEnv with the server's documented limits raw (the
// runs use 80% of them).
func newEnvLimits(t *testing.T, dir string, fc fakeapi.Config, raw []ratelimit.Window) *env {
	t.Helper()
	scaled, err := ratelimit.Scale(raw, 0.8)
	require.NoError(t, err)
	fc.APIKey, fc.Windows = testKey, raw
	fake := fakeapi.New(fc)
	return &env{fake: fake, dir: dir, cfg: Config{
		DB: filepath.Join(dir, "w.duckdb"), Schema: os.DirFS("../sql/schema"), APIKey: testKey,
		BaseURL: "http://localhost" + fakeapi.BasePath, HTTPClient: &http.Client{Transport: fake.Transport()},
		Windows: scaled, ServerWindows: raw, Concurrency: 4, Days: 2,
		ResumeWithin: DefaultResumeWithin,
	}}
}

// with returns the env's configuration for another database file.
func (e *env) with(db string, mod func(*Config)) Config {
	c := e.cfg
	c.DB = filepath.Join(e.dir, db)
	if mod != nil {
		mod(&c)
	}
	return c
}

// run runs once and returns the requests the simulated server saw.
func (e *env) run(t *testing.T, cfg Config) (int, error) {
	t.Helper()
	before := e.fake.Stats().Requests
	_, err := Run(context.Background(), cfg)
	return e.fake.Stats().Requests - before, err
}

// snapshotTables are compared between warehouses; their lineage columns
// (which run, when) legitimately differ.
var snapshotTables = []string{"campaigns", "campaign_analytics", "leads", "lead_email_stats", "sequences", "email_accounts", "clients"}

// requireSameSnapshot compares the latest snapshots of two warehouses row
// for row (EXCEPT ALL both ways), and daily stats over the given days.
func requireSameSnapshot(t *testing.T, a, b string, days []string) {
	t.Helper()
	db, err := sql.Open("duckdb", a)
	require.NoError(t, err)
	defer db.Close()
	// ATTACH takes no parameters; b is a test temp path, quoted.
	_, err = db.Exec("ATTACH '" + strings.ReplaceAll(b, "'", "''") + "' AS other (READ_ONLY)")
	require.NoError(t, err)
	for _, tbl := range snapshotTables {
		for _, q := range []string{
			"SELECT count(*) FROM (SELECT * EXCLUDE (run_id, snapshot_date, extracted_at) FROM main.%[1]s EXCEPT ALL SELECT * EXCLUDE (run_id, snapshot_date, extracted_at) FROM other.%[1]s)",
			"SELECT count(*) FROM (SELECT * EXCLUDE (run_id, snapshot_date, extracted_at) FROM other.%[1]s EXCEPT ALL SELECT * EXCLUDE (run_id, snapshot_date, extracted_at) FROM main.%[1]s)",
		} {
			require.Zero(t, count(t, db, fmt.Sprintf(q, tbl)), "%s differs: %s", tbl, q)
		}
		require.Equal(t, count(t, db, "SELECT count(*) FROM main."+tbl), count(t, db, "SELECT count(*) FROM other."+tbl), tbl)
		require.Positive(t, count(t, db, "SELECT count(*) FROM main."+tbl), tbl)
	}
	cols := "campaign_id, day, sent_count, unique_sent_count, open_count, unique_open_count, click_count, unique_click_count, reply_count, bounce_count, unsubscribed_count"
	for _, d := range days {
		q := fmt.Sprintf("SELECT count(*) FROM (SELECT %[1]s FROM main.campaign_daily_stats WHERE day = ?::DATE EXCEPT ALL SELECT %[1]s FROM other.campaign_daily_stats WHERE day = ?::DATE)", cols)
		require.Zero(t, count(t, db, q, d, d), "daily stats of %s differ", d)
	}
}

func TestBuildPlanIncremental(t *testing.T) {
	now := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	prevStart := now.Add(-24 * time.Hour)
	upd := now.Add(-100 * time.Hour)
	changed := now.Add(-2 * time.Hour)
	camp := func(id int64, status string, updated time.Time) transform.Campaign {
		return transform.Campaign{CampaignID: id, Status: status, UpdatedAt: &updated}
	}
	state := func(id int64, status string, updated time.Time, leads, stats int64) load.CampaignState {
		return load.CampaignState{CampaignID: id, Status: status, UpdatedAt: &updated, Leads: leads, Stats: stats,
			LeadsTotal: leads, Analytics: &transform.CampaignAnalytics{CampaignID: id}}
	}
	states := func(ss ...load.CampaignState) map[int64]load.CampaignState {
		m := map[int64]load.CampaignState{}
		for _, s := range ss {
			m[s.CampaignID] = s
		}
		return m
	}
	in := PlanInput{
		Now: now, Days: 2,
		Campaigns: []transform.Campaign{
			camp(1, "ACTIVE", upd),     // active: incremental
			camp(2, "COMPLETED", upd),  // final and unchanged: carried whole
			camp(3, "COMPLETED", upd),  // became final since: fetched
			camp(4, "ACTIVE", changed), // settings changed: sequences re-read
			camp(5, "ACTIVE", upd),     // new: full
		},
		Prev: &load.RunInfo{RunID: "r1", StartedAt: prevStart, Mode: load.ModeFull},
		States: states(
			state(1, "ACTIVE", upd, 250, 900),
			state(2, "COMPLETED", upd, 100, 300),
			state(3, "ACTIVE", upd, 100, 300),
			state(4, "ACTIVE", upd, 10, 20),
		),
		DaysHeld: map[int64]map[string]bool{1: {"2026-11-24": true, "2026-11-26": true}},
	}
	p := BuildPlan(in)
	require.Equal(t, load.ModeIncremental, p.Mode)
	require.Equal(t, 1, p.Frozen)
	got := map[string]int{}
	for _, it := range p.Items {
		key := fmt.Sprintf("%s/%d", it.Stream, it.CampaignID)
		if !it.Since.IsZero() {
			key += "+since"
		}
		got[key]++
		require.NotEqual(t, int64(2), it.CampaignID, "a frozen campaign costs no request")
	}
	require.Equal(t, map[string]int{
		"clients/0": 1, "email_accounts/0": 1,
		"campaign_analytics/1": 1, "campaign_daily_stats/1": 2, "lead_email_stats/1+since": 1, "leads/1+since": 1,
		"campaign_analytics/3": 1, "campaign_daily_stats/3": 2, "lead_email_stats/3+since": 1, "leads/3+since": 1,
		"campaign_analytics/4": 1, "sequences/4": 1, "campaign_daily_stats/4": 2, "lead_email_stats/4+since": 1, "leads/4+since": 1,
		"campaign_analytics/5": 1, "sequences/5": 1, "campaign_daily_stats/5": 2, "lead_email_stats/5": 1, "leads/5": 1,
	}, got)
	// Priority: analytics first, leads last.
	require.Equal(t, "campaign_analytics", string(p.Items[0].Stream))
	require.Equal(t, "leads", string(p.Items[len(p.Items)-1].Stream))
	for _, it := range p.Items {
		switch {
		case it.Stream == "leads" && !it.Since.IsZero():
			require.Equal(t, prevStart.Add(-DefaultOverlap), it.Since)
		case it.Stream == "lead_email_stats" && !it.Since.IsZero():
			require.Equal(t, prevStart.Add(-DefaultStatsLookback), it.Since)
		}
	}
	carried := map[string]string{}
	sets := map[string]bool{}
	for _, c := range p.Carries {
		require.Equal(t, "r1", c.FromRun)
		k := c.Stream + "/" + string(c.Mode)
		require.False(t, sets[k], "one set per stream and mode")
		sets[k] = true
		for _, id := range c.Campaigns {
			carried[fmt.Sprintf("%s/%d", c.Stream, id)] = string(c.Mode)
		}
	}
	require.Equal(t, 12, p.Carried())
	require.Equal(t, map[string]string{
		"campaign_analytics/2": "all", "sequences/2": "all", "leads/2": "all", "lead_email_stats/2": "all",
		"sequences/1": "all", "leads/1": "merge", "lead_email_stats/1": "merge",
		"sequences/3": "all", "leads/3": "merge", "lead_email_stats/3": "merge",
		"leads/4": "merge", "lead_email_stats/4": "merge",
	}, carried)

	in.FullRefresh = true
	full := BuildPlan(in)
	require.Equal(t, load.ModeFull, full.Mode)
	require.Empty(t, full.Carries)
	require.Zero(t, full.Frozen)
	// Leads pages: 250 -> 3, 100 -> 2 (a full last page needs an empty one
	// after it), 100 -> 2, 10 -> 1, unknown -> 1.
	require.Equal(t, 9, full.Estimate["leads"])

	in.FullRefresh, in.BackfillDays = false, 5
	back := BuildPlan(in)
	days := 0
	for _, it := range back.Items {
		if it.Stream == "campaign_daily_stats" && it.CampaignID == 1 {
			days++
		}
	}
	require.Equal(t, 4, days, "five days back, one of them already held and not recent")
}

// TestIncrementalEqualsFullRefresh: after a night of activity (changed,
// new and deleted leads, new sends), the incremental run's snapshot equals
// a full refresh taken at the same moment, for far fewer requests.
func TestIncrementalEqualsFullRefresh(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, dir, fakeapi.Config{Seed: 11, Campaigns: 12, LeadsPerCampaign: 220})
		first, err := e.run(t, e.cfg)
		if err != nil {
			dumpChecks(t, e.cfg.DB)
		}
		require.NoError(t, err)

		time.Sleep(22 * time.Hour)
		rep := e.fake.Night(fakeapi.NightChange{ChangedLeadFrac: 0.02, NewLeadsPerCampaign: 3, NewSendsFrac: 0.03, DeletedLeads: 3})
		require.Positive(t, rep.DeletedLeads)
		time.Sleep(2 * time.Hour)

		// Deleted leads take their sends with them, so some lifetime counters
		// drop: the run succeeds, flagged (exit 3), and says why.
		incr, err := e.run(t, e.cfg)
		require.ErrorIs(t, err, ErrPartial)
		full, err := e.run(t, e.with("full.duckdb", func(c *Config) { c.FullRefresh = true }))
		if err != nil {
			dumpChecks(t, filepath.Join(dir, "full.duckdb"))
		}
		require.NoError(t, err)
		t.Logf("requests: first %d, incremental %d, full refresh %d", first, incr, full)
		require.Less(t, float64(incr), 0.6*float64(full), "an incremental night costs a fraction of a full refresh")

		requireSameSnapshot(t, e.cfg.DB, filepath.Join(dir, "full.duckdb"), LookbackDays(time.Now(), 2))
		db, err := sql.Open("duckdb", e.cfg.DB)
		require.NoError(t, err)
		defer db.Close()
		require.EqualValues(t, 1, count(t, db, "SELECT count(*) FROM etl_runs WHERE mode = 'incremental' AND status = 'succeeded'"))
		require.Zero(t, count(t, db, `SELECT count(*) FROM data_checks WHERE severity <> 'ok' AND "check" <> 'counter_drop'`))
		require.Positive(t, count(t, db, `SELECT count(*) FROM data_checks WHERE "check" = 'counter_drop' AND detail LIKE '%deleted leads take their counts with them%'`),
			"a drop that follows deleted leads says so")
	})
}

// TestBudgetStopsCleanlyAndNextRunContinues: a run with a request budget
// stops with status incomplete and the views unchanged; the next run
// continues where it stopped (no page fetched twice) and ends with the
// snapshot an uninterrupted run makes.
func TestBudgetStopsCleanlyAndNextRunContinues(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, dir, fakeapi.Config{Seed: 12, Campaigns: 10, LeadsPerCampaign: 100})
		whole, err := e.run(t, e.with("whole.duckdb", nil))
		require.NoError(t, err)

		stopped, err := e.run(t, e.with("w.duckdb", func(c *Config) { c.MaxRequests = 25 }))
		require.ErrorIs(t, err, ErrIncomplete)
		require.LessOrEqual(t, stopped, 25)
		db, err := sql.Open("duckdb", e.cfg.DB)
		require.NoError(t, err)
		require.Equal(t, "incomplete", scalarString(t, db, "SELECT status FROM etl_runs"))
		require.Zero(t, count(t, db, "SELECT count(*) FROM leads"), "an incomplete run shows nothing")
		require.NoError(t, db.Close())

		rest, err := e.run(t, e.cfg)
		require.NoError(t, err)
		t.Logf("requests: uninterrupted %d; stopped %d, continued %d", whole, stopped, rest)
		require.Equal(t, whole, stopped+rest, "the continuation spends no request twice")
		requireSameSnapshot(t, e.cfg.DB, filepath.Join(dir, "whole.duckdb"), LookbackDays(time.Now(), 2))
	})
}

// TestDeadlineStopsBeforeTheHourlyWindow: a run that needs more requests
// than the hourly window allows (160: 80% of smallHour's 200/h; the standard
// tier's 800 of 1,000 is the same case, five times the requests) cannot
// finish within the hour; with a deadline it stops before the wait
// instead of overrunning it.
func TestDeadlineStopsBeforeTheHourlyWindow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		e := newEnvLimits(t, dir, fakeapi.Config{Seed: 13, Campaigns: 40, LeadsPerCampaign: 20}, smallHour(t))
		hour := e.cfg.Windows[len(e.cfg.Windows)-1]
		require.Equal(t, time.Hour, hour.Len)
		deadline := time.Now().Add(40 * time.Minute)
		n, err := e.run(t, e.with("w.duckdb", func(c *Config) { c.Deadline = deadline }))
		t.Logf("%d requests, stopped %s before the deadline", n, deadline.Sub(time.Now()))
		require.ErrorIs(t, err, ErrIncomplete)
		require.False(t, time.Now().After(deadline.Add(time.Minute)), "stopped at %s, deadline %s", time.Now(), deadline)
		require.Greater(t, n, int(hour.Max)*7/8, "it used the time it had")
		require.LessOrEqual(t, n, int(hour.Max))
	})
}

// TestTwoRunsTenMinutesApartSeeNo429: the second run knows from the
// ledger what the first spent in the last hour and does not start at full
// speed into a 429 (smallHour's windows: the hour is what the two runs
// exceed together).
func TestTwoRunsTenMinutesApartSeeNo429(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		raw := smallHour(t)
		e := newEnvLimits(t, dir, fakeapi.Config{Seed: 14, Campaigns: 20, LeadsPerCampaign: 20}, raw)
		first, err := e.run(t, e.cfg)
		require.NoError(t, err)
		time.Sleep(10 * time.Minute)
		second, err := e.run(t, e.with("w.duckdb", func(c *Config) { c.FullRefresh = true }))
		require.NoError(t, err)
		t.Logf("requests %d + %d (the server allows %s)", first, second, ratelimit.Format(raw))
		require.Greater(t, first+second, int(raw[len(raw)-1].Max), "together they exceed the key's hourly limit")
		require.Zero(t, e.fake.Stats().Throttled, "no 429")
		for _, w := range e.cfg.Windows {
			require.LessOrEqual(t, fakeapi.MaxInWindow(e.fake.AdmittedOurs(), w.Len), w.Max, "window %s", w)
		}
	})
}

// TestPlanPredictsTheRun: plan's request count and finish time are within
// 5% of the run that follows, and plan itself spends the campaign list and
// the account-wide signals' few pages (which the run reads again).
func TestPlanPredictsTheRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, dir, fakeapi.Config{Seed: 15, Campaigns: 30, LeadsPerCampaign: 100})
		_, err := e.run(t, e.cfg)
		require.NoError(t, err)
		for night := range 2 {
			time.Sleep(23 * time.Hour)
			e.fake.Night(fakeapi.NightChange{ChangedLeadFrac: 0.02, NewLeadsPerCampaign: 2, NewSendsFrac: 0.02})
			time.Sleep(time.Hour)
			before := e.fake.Stats().Requests
			f, err := Plan(context.Background(), e.cfg)
			require.NoError(t, err)
			spent := e.fake.Stats().Requests - before
			require.Equal(t, 1+f.SignalRequests, spent)
			require.LessOrEqual(t, f.SignalRequests, 6, "one page of activities, a few overall-stats ranges")

			start := time.Now()
			n, err := e.run(t, e.cfg)
			require.NoError(t, err)
			took := time.Since(start)
			t.Logf("night %d: plan %d requests in %s; run %d requests in %s", night, f.Requests, f.Duration(), n, took)
			require.InEpsilon(t, n, f.Requests, 0.05, "requests")
			require.InEpsilon(t, took.Seconds(), f.Duration().Seconds(), 0.05, "duration")
		}
	})
}

func scalarString(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	var s string
	require.NoError(t, db.QueryRow(q).Scan(&s))
	return s
}

func dumpChecks(t *testing.T, path string) {
	db, err := sql.Open("duckdb", path)
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.Query("SELECT \"check\", subject, detail FROM data_checks WHERE severity <> 'ok' UNION ALL SELECT stream, record_key, field || ': ' || reason FROM rejected_records")
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var a, b, c string
		require.NoError(t, rows.Scan(&a, &b, &c))
		t.Logf("%s | %s | %s", a, b, c)
	}
}
