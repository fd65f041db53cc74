package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/load"
)

// Issue 6, "What must be shown", first bullet: one night of activity on a
// simulated account, then the incremental nightly run and a full refresh
// of the same data, each set against the fewest requests the API's
// endpoints allow (its floor) and the fewest hours the rate-limit windows
// allow (its theoretical minimum).

// nightScale sizes one nightly scenario.
type nightScale struct {
	Seed             int64
	Campaigns        int
	LeadsPerCampaign int
	Night            fakeapi.NightChange
}

// Route templates as the simulated server counts them (Stats.Paths), in
// the order the table prints them.
var nightRoutes = []struct{ path, name string }{
	{"/campaigns", "campaign list"},
	{"/client", "clients"},
	{"/email-accounts", "email accounts"},
	{"/campaigns/{id}/analytics", "analytics"},
	{"/campaigns/{id}/sequences", "sequences"},
	{"/campaigns/{id}/analytics-by-date", "daily stats"},
	{"/campaigns/{id}/leads", "leads"},
	{"/campaigns/{id}/statistics", "statistics"},
	{fakeapi.PathLeadActivities, "signal: activities"},
	{fakeapi.PathOverallStats, "signal: overall-stats"},
}

// signalPages are the account-wide signals' requests of a run.
func (c runCost) signalPages() int {
	return c.PerRoute[fakeapi.PathLeadActivities] + c.PerRoute[fakeapi.PathOverallStats]
}

// runCost is what one run spent, measured at the simulated server.
type runCost struct {
	Requests  int            // every request the server saw: admitted plus 429s
	Throttled int            // of those, 429s
	PerRoute  map[string]int // admitted, by route template
	Past      int            // ledger sends still inside the longest window at the start
	Took      time.Duration  // virtual time from Run's call to its return
	Min       time.Duration  // earliest the windows let Requests requests finish, after Past

	DeletionWarnings int // counter_drop warnings on campaigns that lost leads
}

func (c runCost) timeVsMin() float64 { return c.Took.Seconds() / c.Min.Seconds() }

// nightFloor is the fewest requests a run can make, by route, plus the
// full re-reads that deleted leads force on an incremental run.
type nightFloor struct {
	PerRoute     map[string]int
	Deletion     int // pages of the full leads and statistics re-reads
	DelCampaigns int // campaigns that lost leads
	Changeable   int // campaigns not COMPLETED or STOPPED
	ChangedLeads int // leads inside the planner's event-time window
	NewStats     int // statistics rows inside the planner's sent-time window
}

func (f nightFloor) total() int {
	n := 0
	for _, v := range f.PerRoute {
		n += v
	}
	return n
}

// withDeletions is the floor with the unavoidable re-reads added: a
// deletion shows only as merged leads not adding up to leads_total, which
// is known after the changed leads are fetched, so the re-read comes on
// top of the incremental pages of that campaign, never instead of them.
func (f nightFloor) withDeletions() int { return f.total() + f.Deletion }

// nightResult is one scenario's outcome.
type nightResult struct {
	Scale            nightScale
	Report           fakeapi.NightReport
	Campaigns        int
	Frozen           int
	Leads, Stats     int // in the account after the night
	First            runCost
	Full, Incr       runCost
	FullFl, IncrFl   nightFloor
	PrevStart        time.Time
	LeadsSince       time.Time
	StatsSince       time.Time
	FullDB, IncrDB   string
	IncrLeadRows     int64
	IncrStatRows     int64
	ComparedSnapshot bool
	Windows          []ratelimit.Window // the run's (scaled) windows
}

// runNightly plays the scenario; it must be called inside a synctest
// bubble. The account is built at 02:00 (virtual), fully loaded into the
// incremental warehouse, changed by one night at 01:00 the next day, and
// read at 02:00 by the incremental run; once the server's windows have
// emptied, a full refresh reads the same data into a fresh warehouse.
func runNightly(t *testing.T, dir string, sc nightScale) nightResult {
	t.Helper()
	raw, err := ratelimit.Preset("standard")
	require.NoError(t, err)
	scaled, err := ratelimit.Scale(raw, 0.8)
	require.NoError(t, err)

	time.Sleep(2 * time.Hour) // cron's usual 02:00
	fake := fakeapi.New(fakeapi.Config{Seed: sc.Seed, APIKey: testKey, Campaigns: sc.Campaigns,
		LeadsPerCampaign: sc.LeadsPerCampaign, Windows: raw})
	cfg := Config{
		DB: filepath.Join(dir, "incremental.duckdb"), Schema: os.DirFS("../sql/schema"), APIKey: testKey,
		BaseURL:    "http://localhost" + fakeapi.BasePath,
		HTTPClient: &http.Client{Transport: fake.Transport()},
		Windows:    scaled, ServerWindows: raw, Concurrency: 4, Days: 2,
		ResumeWithin: DefaultResumeWithin,
		// These nights delete leads from campaigns that still send, some
		// never sent to: only a probe of each such campaign sees that the
		// same night.
		ProbeLive: true,
	}
	res := nightResult{Scale: sc, IncrDB: cfg.DB, FullDB: filepath.Join(dir, "full.duckdb"), Windows: scaled}

	firstStart := time.Now()
	res.First = measureRun(t, fake, cfg, nil)

	time.Sleep(time.Until(firstStart.Add(23 * time.Hour)))
	res.Report = fake.Night(sc.Night)
	time.Sleep(time.Until(firstStart.Add(24 * time.Hour)))
	truth := fake.Truth()
	lost := lostLeads(&truth, res.Report.At)

	res.PrevStart = previousStart(t, cfg.DB)
	res.Incr = measureRun(t, fake, cfg, lost)

	// The full refresh waits until the incremental run's requests have
	// left every server window, so both start on an idle key.
	time.Sleep(longest(raw) + time.Minute)
	full := cfg
	full.DB, full.FullRefresh = res.FullDB, true
	res.Full = measureRun(t, fake, full, nil)

	res.Campaigns = len(truth.Campaigns)
	for i := range truth.Campaigns {
		if truth.Campaigns[i].Frozen() {
			res.Frozen++
		}
	}
	res.Leads, res.Stats = truth.LeadCount(), truth.StatCount()
	res.LeadsSince = res.PrevStart.Add(-DefaultOverlap)
	res.StatsSince = res.PrevStart.Add(-DefaultStatsLookback)
	res.FullFl = fullFloor(&truth, cfg.Days)
	res.IncrFl = incrementalFloor(&truth, lost, res.LeadsSince, res.StatsSince)
	compareSnapshots(t, &res)
	return res
}

// measureRun runs once and measures it at the server, with the ledger's
// recent sends as the starting state of the windows. lost names the
// campaigns that lost leads since the previous snapshot: their analytics
// counters legitimately drop, which the counter_drop check reports as a
// warning (so Run returns ErrPartial); any other warning, or a rejected
// record, fails the scenario.
func measureRun(t *testing.T, fake *fakeapi.Server, cfg Config, lost map[int64]bool) runCost {
	t.Helper()
	start := time.Now()
	past := ledgerPast(t, cfg.DB, start.Add(-longest(cfg.Windows)))
	before := fake.Stats()
	sum, err := Run(context.Background(), cfg)
	c := runCost{Took: time.Since(start), Past: len(past), PerRoute: map[string]int{}}
	if errors.Is(err, ErrPartial) {
		require.NotNil(t, sum)
		require.Zero(t, sum.Rejected, "rejected records")
		for _, ch := range sum.Checks {
			if ch.Severity == load.SeverityOK || ch.Severity == "" {
				continue
			}
			var id int64
			_, serr := fmt.Sscanf(ch.Subject, "campaign %d", &id)
			require.True(t, ch.Name == "counter_drop" && serr == nil && lost[id],
				"data check %s %s: %s (%s)", ch.Name, ch.Subject, ch.Detail, ch.Severity)
			c.DeletionWarnings++
		}
		err = nil
	}
	require.NoError(t, err)
	after := fake.Stats()
	c.Throttled = after.Throttled - before.Throttled
	c.Requests = after.Requests - before.Requests + c.Throttled
	for p, n := range after.Paths {
		if d := n - before.Paths[p]; d > 0 {
			c.PerRoute[p] = d
		}
	}
	c.Min = ratelimit.FinishTime(cfg.Windows, past, start, c.Requests).Sub(start)
	return c
}

// ledgerPast reads the send times a warehouse's ledger holds since since;
// none when the warehouse does not exist yet.
func ledgerPast(t *testing.T, db string, since time.Time) []time.Time {
	t.Helper()
	if _, err := os.Stat(db); os.IsNotExist(err) {
		return nil
	}
	st, err := load.OpenReadOnly(context.Background(), db, load.Options{})
	require.NoError(t, err)
	defer st.Close()
	past, err := st.RecentAttempts(context.Background(), since)
	require.NoError(t, err)
	return past
}

// previousStart is the start of the run whose snapshot the warehouse
// shows: what the planner's incremental windows are measured from.
func previousStart(t *testing.T, db string) time.Time {
	t.Helper()
	st, err := load.OpenReadOnly(context.Background(), db, load.Options{})
	require.NoError(t, err)
	defer st.Close()
	prev, err := st.LatestSucceeded(context.Background())
	require.NoError(t, err)
	require.NotNil(t, prev, "no snapshot before the night")
	return prev.StartedAt
}

// pages is how many requests a chain over n records takes with pages of
// size: a short page ends it, so an exact multiple needs an empty one.
func pages(n, size int) int { return n/size + 1 }

// lostLeads is the set of campaigns that lost leads in the night stamped
// at.
func lostLeads(acc *fakeapi.Account, at time.Time) map[int64]bool {
	lost := map[int64]bool{}
	for _, d := range acc.Deleted {
		if d.At.Equal(at) {
			lost[d.CampaignID] = true
		}
	}
	return lost
}

// accountFloor is the account-level lists, read in full by every run.
func accountFloor(acc *fakeapi.Account) map[string]int {
	return map[string]int{
		"/campaigns":      1,
		"/client":         1,
		"/email-accounts": pages(len(acc.EmailAccounts), 100),
	}
}

// fullFloor is every page of every stream of every campaign.
func fullFloor(acc *fakeapi.Account, days int) nightFloor {
	f := nightFloor{PerRoute: accountFloor(acc)}
	for i := range acc.Campaigns {
		c := &acc.Campaigns[i]
		f.PerRoute["/campaigns/{id}/analytics"]++
		f.PerRoute["/campaigns/{id}/sequences"]++
		f.PerRoute["/campaigns/{id}/analytics-by-date"] += days
		f.PerRoute["/campaigns/{id}/leads"] += pages(len(c.Leads), 100)
		f.PerRoute["/campaigns/{id}/statistics"] += pages(len(c.Stats), extract.DefaultStatsPageSize)
	}
	return f
}

// incrementalFloor is, for each campaign that can change, one request per
// stream that can change (analytics, the two days that can still move,
// the changed leads, the new statistics) plus one per further page of
// changed rows, counted with the planner's windows; campaigns that cannot
// change cost nothing. Deletion holds the full leads and statistics
// re-reads of the campaigns that lost leads.
func incrementalFloor(acc *fakeapi.Account, lost map[int64]bool, leadsSince, statsSince time.Time) nightFloor {
	f := nightFloor{PerRoute: accountFloor(acc)}
	for i := range acc.Campaigns {
		c := &acc.Campaigns[i]
		if c.Frozen() {
			continue
		}
		f.Changeable++
		changed, fresh := 0, 0
		for j := range c.Leads {
			if c.Leads[j].LastEventAt.After(leadsSince) { // event_time_gt
				changed++
			}
		}
		for j := range c.Stats {
			if !c.Stats[j].SentTime.Before(statsSince) { // sent_time_start_date, inclusive
				fresh++
			}
		}
		f.ChangedLeads += changed
		f.NewStats += fresh
		f.PerRoute["/campaigns/{id}/analytics"]++
		f.PerRoute["/campaigns/{id}/analytics-by-date"] += 2 // yesterday and today
		f.PerRoute["/campaigns/{id}/leads"] += pages(changed, 100)
		f.PerRoute["/campaigns/{id}/statistics"] += pages(fresh, extract.DefaultStatsPageSize)
		if lost[c.ID] {
			f.DelCampaigns++
			f.Deletion += pages(len(c.Leads), 100) + pages(len(c.Stats), extract.DefaultStatsPageSize)
		}
	}
	return f
}

// compareSnapshots checks that both runs hold the account as it is: the
// leads and statistics the truth has, row for row the same in both
// warehouses (EXCEPT ALL both ways, lineage columns excluded). A cheap
// incremental run with a wrong snapshot would make the benchmark a lie.
func compareSnapshots(t *testing.T, res *nightResult) {
	t.Helper()
	db, err := sql.Open("duckdb", res.IncrDB)
	require.NoError(t, err)
	defer db.Close()
	// ATTACH takes no parameters; the path is the test's own temp dir.
	_, err = db.Exec("ATTACH '" + strings.ReplaceAll(res.FullDB, "'", "''") + "' AS fullrefresh (READ_ONLY)")
	require.NoError(t, err)
	res.IncrLeadRows = count(t, db, "SELECT count(*) FROM main.leads")
	res.IncrStatRows = count(t, db, "SELECT count(*) FROM main.lead_email_stats")
	require.EqualValues(t, res.Leads, res.IncrLeadRows, "incremental snapshot's leads")
	require.EqualValues(t, res.Stats, res.IncrStatRows, "incremental snapshot's statistics rows")
	require.EqualValues(t, res.Leads, count(t, db, "SELECT count(*) FROM fullrefresh.leads"), "full refresh's leads")
	for _, tbl := range []string{"campaigns", "campaign_analytics", "leads", "lead_email_stats", "sequences"} {
		const side = "SELECT * EXCLUDE (run_id, snapshot_date, extracted_at) FROM %s.%s"
		for _, pair := range [][2]string{{"main", "fullrefresh"}, {"fullrefresh", "main"}} {
			q := "SELECT count(*) FROM (" + fmt.Sprintf(side, pair[0], tbl) + " EXCEPT ALL " + fmt.Sprintf(side, pair[1], tbl) + ")"
			n := count(t, db, q)
			require.Zero(t, n, "%s: %d rows in %s and not in %s", tbl, n, pair[0], pair[1])
		}
	}
	res.ComparedSnapshot = true
}

// printNightly writes the side-by-side table.
func printNightly(w io.Writer, r nightResult) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	n := r.Scale.Night
	p("\nNightly run vs full refresh: %d campaigns (%d COMPLETED or STOPPED), %d leads, %d statistics rows after the night\n",
		r.Campaigns, r.Frozen, r.Leads, r.Stats)
	p("night (ChangedLeadFrac %.2f, NewLeadsPerCampaign %d, NewSendsFrac %.2f, DeletedLeads %d): %d leads changed, %d new leads, %d new sends, %d deleted\n",
		n.ChangedLeadFrac, n.NewLeadsPerCampaign, n.NewSendsFrac, n.DeletedLeads,
		r.Report.ChangedLeads, r.Report.NewLeads, r.Report.NewSends, r.Report.DeletedLeads)
	p("incremental windows: leads with an event after %s (previous start - %s): %d; statistics sent from %s (previous start - %s): %d; %d campaigns can change\n",
		r.LeadsSince.Format("Jan 2 15:04"), DefaultOverlap, r.IncrFl.ChangedLeads,
		r.StatsSince.Format("Jan 2 15:04"), DefaultStatsLookback, r.IncrFl.NewStats, r.IncrFl.Changeable)
	p("standard tier at 80%% (%s), 4 workers; virtual time\n\n", ratelimit.Format(r.Windows))

	p("%-28s %9s %9s   %9s %9s\n", "requests", "full", "floor", "incr", "floor")
	for _, rt := range nightRoutes {
		p("%-28s %9d %9d   %9d %9d\n", rt.name, r.Full.PerRoute[rt.path], r.FullFl.PerRoute[rt.path], r.Incr.PerRoute[rt.path], r.IncrFl.PerRoute[rt.path])
	}
	p("%-28s %9s %9s   %9s %9d   (%d campaigns lost leads: full leads + statistics re-read; in the incr column's leads/statistics above)\n",
		"deleted-lead re-reads", "-", "-", "", r.IncrFl.Deletion, r.IncrFl.DelCampaigns)
	p("%-28s %9d %9d   %9d %9d\n", "total", r.Full.Requests, r.FullFl.total(), r.Incr.Requests, r.IncrFl.total())
	p("%-28s %9s %9d   %9s %9d\n", "floor incl. deletions", "", r.FullFl.withDeletions(), "", r.IncrFl.withDeletions())
	p("%-28s %9.3fx %8s   %9.3fx  (vs floor incl. deletions; %.3fx vs the bare floor)\n", "actual / floor",
		ratio(r.Full.Requests, r.FullFl.withDeletions()), "", ratio(r.Incr.Requests, r.IncrFl.withDeletions()), ratio(r.Incr.Requests, r.IncrFl.total()))
	p("%-28s %9d %9s   %9d\n", "429s", r.Full.Throttled, "", r.Incr.Throttled)
	p("%-28s %9d %9s   %9d   (counter_drop warnings on campaigns that lost leads)\n", "deletion warnings", r.Full.DeletionWarnings, "", r.Incr.DeletionWarnings)
	p("%-28s %9d %9s   %9d\n", "ledger sends in the window", r.Full.Past, "", r.Incr.Past)
	p("%-28s %9.3f %9s   %9.3f\n", "virtual hours", r.Full.Took.Hours(), "", r.Incr.Took.Hours())
	p("%-28s %9.3f %9s   %9.3f\n", "theoretical minimum hours", r.Full.Min.Hours(), "", r.Incr.Min.Hours())
	p("%-28s %9.4fx %8s   %9.4fx\n", "time / minimum", r.Full.timeVsMin(), "", r.Incr.timeVsMin())
	p("%-28s %9.3f  (requests), %.3f (hours)\n", "incremental / full", ratio(r.Incr.Requests, r.Full.Requests), r.Incr.Took.Hours()/r.Full.Took.Hours())
	p("%-28s %d requests in %.3f h (before the night, into the empty warehouse)\n", "first full run", r.First.Requests, r.First.Took.Hours())
	if r.ComparedSnapshot {
		p("%-28s identical (EXCEPT ALL both ways on campaigns, analytics, leads, statistics, sequences; %d leads, %d statistics rows)\n",
			"incr vs full snapshot", r.IncrLeadRows, r.IncrStatRows)
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	p("targets: incremental <= 1.05x (floor incl. deletions + signal pages): %s; every run <= 1.02x its minimum time: %s\n\n",
		verdict(ratio(r.Incr.Requests, r.IncrFl.withDeletions()+r.Incr.signalPages()) <= 1.05),
		verdict(r.Full.timeVsMin() <= 1.02 && r.Incr.timeVsMin() <= 1.02))
}

func ratio(a, b int) float64 { return float64(a) / float64(b) }

// BenchmarkNightly is the issue-6 benchmark: 200 campaigns (fakeapi's
// default mix: about a quarter COMPLETED or STOPPED), about 200,000 leads,
// one night changing 2% of them plus new leads, new sends and a few
// deletions. It prints the requests and virtual hours of the incremental
// run and of a full refresh beside their floors and theoretical minimum
// times. Run it with -benchtime 1x: one iteration takes minutes of CPU.
func BenchmarkNightly(b *testing.B) {
	sc := nightScale{Seed: 6, Campaigns: 200, LeadsPerCampaign: 1000, Night: fakeapi.NightChange{
		ChangedLeadFrac: 0.02, NewLeadsPerCampaign: 5, NewSendsFrac: 0.03, DeletedLeads: 5}}
	var res nightResult
	for b.Loop() {
		dir := b.TempDir()
		ok := testing.RunTests(func(string, string) (bool, error) { return true, nil }, []testing.InternalTest{{
			Name: "BenchmarkNightlyBubble",
			F: func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) { res = runNightly(t, dir, sc) })
			},
		}})
		if !ok {
			b.Fatal("nightly scenario failed")
		}
	}
	var sb strings.Builder
	printNightly(&sb, res)
	fmt.Print(sb.String())
	b.ReportMetric(ratio(res.Incr.Requests, res.IncrFl.withDeletions()), "incremental_vs_floor")
	b.ReportMetric(ratio(res.Full.Requests, res.FullFl.withDeletions()), "full_vs_floor")
	b.ReportMetric(res.Incr.timeVsMin(), "incr_time_vs_min")
	b.ReportMetric(res.Full.timeVsMin(), "full_time_vs_min")
	b.ReportMetric(ratio(res.Incr.Requests, res.Full.Requests), "incr_vs_full")
	b.ReportMetric(float64(res.Incr.Requests), "incr_requests")
	b.ReportMetric(float64(res.Full.Requests), "full_requests")
	b.ReportMetric(res.Incr.Took.Hours(), "incr_virtual_h")
	b.ReportMetric(res.Full.Took.Hours(), "full_virtual_h")
}

// TestNightlyFloorsSmall is BenchmarkNightly's property at a size plain
// go test affords: the incremental night (change signals, with every
// campaign that still sends probed, see Config.ProbeLive) costs no more
// per route than the per-campaign path's floor, and in all at most 1.05x
// that floor (deletion re-reads included) plus the signals' few pages;
// the full refresh makes exactly its floor plus the overall-stats ranges
// it remembers; no run sees a 429, and each finishes within 2% of its
// theoretical minimum time.
func TestNightlyFloorsSmall(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		res := runNightly(t, dir, nightScale{Seed: 16, Campaigns: 20, LeadsPerCampaign: 150, Night: fakeapi.NightChange{
			ChangedLeadFrac: 0.02, NewLeadsPerCampaign: 3, NewSendsFrac: 0.03, DeletedLeads: 3}})
		var sb strings.Builder
		printNightly(&sb, res)
		t.Log(sb.String())

		require.Positive(t, res.Frozen, "some campaigns cannot change")
		require.Positive(t, res.IncrFl.DelCampaigns, "a deletion forces a re-read")
		signals := res.Incr.signalPages()
		require.LessOrEqual(t, signals, 6, "one page of activities, a few overall-stats ranges")
		require.LessOrEqual(t, res.Full.PerRoute[fakeapi.PathOverallStats], 14, "a year of ranges")
		for _, rt := range nightRoutes {
			switch rt.path {
			case fakeapi.PathLeadActivities, fakeapi.PathOverallStats:
			case "/campaigns/{id}/leads", "/campaigns/{id}/statistics": // the deletion re-reads add to these
				require.Equal(t, res.FullFl.PerRoute[rt.path], res.Full.PerRoute[rt.path], "full refresh: %s", rt.name)
			default:
				require.Equal(t, res.FullFl.PerRoute[rt.path], res.Full.PerRoute[rt.path], "full refresh: %s", rt.name)
				// The verification sample reads campaigns that cannot
				// change too (analytics, today's daily stats).
				require.LessOrEqual(t, res.Incr.PerRoute[rt.path], res.IncrFl.PerRoute[rt.path]+sampleSize(res.Frozen), rt.name)
			}
		}
		require.LessOrEqual(t, res.Incr.Requests, (res.IncrFl.withDeletions()+signals)*105/100,
			"incremental %d requests, floor incl. deletions %d, signals %d", res.Incr.Requests, res.IncrFl.withDeletions(), signals)
		require.Less(t, res.Incr.Requests, res.Full.Requests)
		require.Zero(t, res.Incr.Throttled+res.Full.Throttled+res.First.Throttled, "no 429")
		for _, c := range []runCost{res.First, res.Incr, res.Full} {
			require.Positive(t, c.Min, "the run is long enough to be limited")
			require.LessOrEqual(t, c.timeVsMin(), 1.02, "took %s, minimum %s for %d requests", c.Took, c.Min, c.Requests)
		}
	})
}
