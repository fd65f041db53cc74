package load

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// cAccount is an account's data at one moment, per campaign.
type cAccount struct {
	campaigns []transform.Campaign
	analytics map[int64]transform.CampaignAnalytics
	sequences map[int64][]transform.Sequence
	leads     map[int64][]transform.Lead
	stats     map[int64][]transform.LeadEmailStat
}

// cStats returns n statistics rows of a campaign.
func cStats(c int64, n int) []transform.LeadEmailStat {
	out := make([]transform.LeadEmailStat, n)
	for i := range out {
		sent := t0.Add(-time.Duration(i+1) * time.Hour)
		out[i] = transform.LeadEmailStat{StatsID: fmt.Sprintf("s%d-%d", c, i), CampaignID: c,
			LeadEmail: fmt.Sprintf("lead%d@example.com", c*1_000_000+int64(i)), SequenceNumber: p[int64](1), SentTime: &sent}
	}
	return out
}

// cVersion1 is the account at the previous snapshot: campaign 1 is
// COMPLETED (nothing moves), 2 and 3 are active.
func cVersion1() cAccount {
	upd := t0.Add(-48 * time.Hour)
	a := cAccount{analytics: map[int64]transform.CampaignAnalytics{}, sequences: map[int64][]transform.Sequence{},
		leads: map[int64][]transform.Lead{}, stats: map[int64][]transform.LeadEmailStat{}}
	for c, st := range map[int64]string{1: "COMPLETED", 2: "ACTIVE", 3: "ACTIVE"} {
		a.campaigns = append(a.campaigns, transform.Campaign{CampaignID: c, Name: fmt.Sprint("C", c), Status: st, UpdatedAt: &upd})
		a.sequences[c] = []transform.Sequence{{SequenceID: 100 + c, CampaignID: c, SeqNumber: 1, Subject: p("Hi"),
			SequenceVariants: transform.JSON(`[{"id":1}]`)}}
	}
	slices.SortFunc(a.campaigns, func(x, y transform.Campaign) int { return int(x.CampaignID - y.CampaignID) })
	a.leads[1], a.leads[2], a.leads[3] = synthLeads(1, 0, 5), synthLeads(2, 0, 5), synthLeads(3, 0, 4)
	a.stats[1], a.stats[2], a.stats[3] = cStats(1, 3), cStats(2, 3), cStats(3, 2)
	for _, c := range a.campaigns {
		id := c.CampaignID
		a.analytics[id] = transform.CampaignAnalytics{CampaignID: id, Name: p(c.Name), Status: p(c.Status), SequenceCount: p[int64](1),
			SentCount: int64(len(a.stats[id])), TotalCount: int64(len(a.stats[id])), LeadsTotal: int64(len(a.leads[id])),
			LeadsInProgress: int64(len(a.leads[id])), Revenue: p(1.5)}
	}
	return a
}

// cVersion2 is the account a night later: in campaign 2 a lead changed,
// two leads were added, an email was opened and one more sent; in
// campaign 3 a lead was deleted (no filter shows that).
func cVersion2() cAccount {
	a := cVersion1()
	leads := slices.Clone(a.leads[2])
	leads[1].Status = p("COMPLETED")
	a.leads[2] = append(leads, synthLeads(2, 5, 2)...)
	stats := slices.Clone(a.stats[2])
	stats[2].OpenCount, stats[2].OpenTime = 1, p(t0.Add(-time.Minute))
	a.stats[2] = append(stats, cStats(2, 4)[3])
	a.leads[3] = a.leads[3][:3]
	an := a.analytics[2]
	an.SentCount, an.TotalCount, an.OpenCount, an.LeadsTotal, an.LeadsInProgress = 4, 4, 1, 7, 7
	a.analytics[2] = an
	an = a.analytics[3]
	an.LeadsTotal, an.LeadsInProgress = 3, 3
	a.analytics[3] = an
	return a
}

// full returns the account as one full-refresh batch, with the totals the
// API reports on full pages.
func (a cAccount) full() transform.Batch {
	b := transform.Batch{Campaigns: a.campaigns}
	for _, c := range a.campaigns {
		x := a.campaign(c.CampaignID)
		b.CampaignAnalytics = append(b.CampaignAnalytics, x.CampaignAnalytics...)
		b.Sequences = append(b.Sequences, x.Sequences...)
		b.Leads = append(b.Leads, x.Leads...)
		b.LeadEmailStats = append(b.LeadEmailStats, x.LeadEmailStats...)
		b.Totals = append(b.Totals, x.Totals...)
	}
	return b
}

// campaign returns one campaign's rows, as full pages would.
func (a cAccount) campaign(id int64) transform.Batch {
	return transform.Batch{
		CampaignAnalytics: []transform.CampaignAnalytics{a.analytics[id]}, Sequences: a.sequences[id],
		Leads: a.leads[id], LeadEmailStats: a.stats[id],
		Totals: []transform.ReportedTotal{{Stream: "leads", CampaignID: id, Total: int64(len(a.leads[id]))},
			{Stream: "lead_email_stats", CampaignID: id, Total: int64(len(a.stats[id]))}},
	}
}

// snapshotTables are the tables an incremental run must reproduce.
var snapshotTables = []string{"campaigns", "campaign_analytics", "sequences", "leads", "lead_email_stats"}

// assertSameSnapshot: runs a and b hold the same rows in every snapshot
// table (EXCEPT ALL both ways), lineage columns aside.
func assertSameSnapshot(t *testing.T, s *Store, a, b string) {
	t.Helper()
	for _, tb := range snapshotTables {
		// @w.: the store may be released (the side file is its default).
		q := `SELECT * EXCLUDE (run_id, snapshot_date, extracted_at) FROM @w.` + tb + `_history WHERE run_id = `
		diff := count(t, s.DB(), s.sq(`SELECT count(*) FROM ((`+q+`$1 EXCEPT ALL `+q+`$2) UNION ALL (`+q+`$2 EXCEPT ALL `+q+`$1))`), a, b)
		assert.Zero(t, diff, "%s: rows in one snapshot but not the other", tb)
		assert.NotZero(t, count(t, s.DB(), s.sq(`SELECT count(*) FROM @w.`+tb+`_history WHERE run_id = ?`), a), tb)
	}
}

// TestCarryMatchesFullRefresh: an incremental run (changed rows only,
// unchanged ones carried with CarryAll and CarryMerge, a campaign with a
// deleted lead re-read in full after MergedCounts disagrees with its
// analytics) publishes exactly the snapshot a full refresh of the same
// data does, and its data checks, which see the carried rows, pass.
func TestCarryMatchesFullRefresh(t *testing.T) {
	t.Run("dropCarries+discardStaged+Enqueue", func(t *testing.T) { testCarryMatchesFullRefresh(t, false) })
	t.Run("Refetch", func(t *testing.T) { testCarryMatchesFullRefresh(t, true) })
	t.Run("chunks of two rows", func(t *testing.T) {
		defer func(n int64) { carryChunkRows = n }(carryChunkRows)
		carryChunkRows = 2 // campaigns larger than a chunk, chunks of several campaigns
		testCarryMatchesFullRefresh(t, true)
	})
}

func testCarryMatchesFullRefresh(t *testing.T, refetch bool) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()
	v1, v2 := cVersion1(), cVersion2()
	prev, sum := loadRun(t, s, day(1), v1.full())
	require.Zero(t, sum.Warnings, "%+v", sum.Checks)
	full, sum := loadRun(t, s, day(2), v2.full())
	require.Zero(t, sum.Warnings, "%+v", sum.Checks)

	r, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(2), Mode: ModeIncremental})
	require.NoError(t, err)
	since := t0.Add(-time.Hour)
	carries := []CarrySet{
		{Stream: "campaign_analytics", FromRun: prev.ID(), Mode: CarryAll, Campaigns: []int64{1}},
		{Stream: "sequences", FromRun: prev.ID(), Mode: CarryAll, Campaigns: []int64{1, 2, 3}},
		{Stream: "leads", FromRun: prev.ID(), Mode: CarryAll, Campaigns: []int64{1}},
		{Stream: "leads", FromRun: prev.ID(), Mode: CarryMerge, Campaigns: []int64{3, 2}},
		{Stream: "lead_email_stats", FromRun: prev.ID(), Mode: CarryAll, Campaigns: []int64{1}},
		{Stream: "lead_email_stats", FromRun: prev.ID(), Mode: CarryMerge, Campaigns: []int64{2, 3}},
	}
	items := []extract.Item{{Stream: extract.StreamCampaigns}}
	for _, c := range []int64{2, 3} {
		items = append(items, extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: c},
			extract.Item{Stream: extract.StreamLeads, CampaignID: c, Since: since},
			extract.Item{Stream: extract.StreamLeadEmailStats, CampaignID: c, Since: since})
	}
	require.NoError(t, r.SetPlan(ctx, ModeIncremental, items, carries))
	// What the filtered pages return: only what changed, and no totals.
	pages := map[string]transform.Batch{
		"campaigns|0":          {Campaigns: v2.campaigns},
		"campaign_analytics|2": {CampaignAnalytics: []transform.CampaignAnalytics{v2.analytics[2]}},
		"campaign_analytics|3": {CampaignAnalytics: []transform.CampaignAnalytics{v2.analytics[3]}},
		"leads|2":              {Leads: []transform.Lead{v2.leads[2][1], v2.leads[2][5], v2.leads[2][6]}},
		"leads|3":              {Leads: v2.leads[3][:1]}, // in the overlap: unchanged, fetched again
		"lead_email_stats|2":   {LeadEmailStats: v2.stats[2][2:]},
		"lead_email_stats|3":   {},
	}
	pending, err := r.PendingItems(ctx)
	require.NoError(t, err)
	for _, w := range pending {
		b, ok := pages[fmt.Sprintf("%s|%d", w.Item.Stream, w.Item.CampaignID)]
		require.True(t, ok, "%+v", w.Item)
		_, err := r.CompleteItem(ctx, w.Seq, b, nil)
		require.NoError(t, err)
	}

	merged, err := r.Staged().MergedCounts(ctx, "leads")
	require.NoError(t, err)
	assert.Equal(t, map[int64]int64{1: 5, 2: 7, 3: 4}, merged, "campaign 3 still holds its deleted lead")
	mergedStats, err := r.Staged().MergedCounts(ctx, "lead_email_stats")
	require.NoError(t, err)
	assert.Equal(t, map[int64]int64{1: 3, 2: 4, 3: 2}, mergedStats)
	totals, err := r.Staged().LeadsTotals(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[int64]int64{2: 7, 3: 3}, totals)
	mc, err := r.CarriedCampaigns(ctx, "leads", CarryMerge)
	require.NoError(t, err)
	assert.Equal(t, []int64{2, 3}, mc)
	all, err := r.CarriedCampaigns(ctx, "leads", "")
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 2, 3}, all)

	// Campaign 3 does not add up: re-read its leads and statistics in full.
	reread := []extract.Item{{Stream: extract.StreamLeads, CampaignID: 3}, {Stream: extract.StreamLeadEmailStats, CampaignID: 3}}
	var seq []int64
	if refetch {
		seq, err = r.Refetch(ctx, []int64{3}, []string{"leads", "lead_email_stats"}, reread)
		require.NoError(t, err)
	} else {
		for _, st := range []string{"leads", "lead_email_stats"} {
			require.NoError(t, r.dropCarries(ctx, st, []int64{3}))
			require.NoError(t, r.discardStaged(ctx, st, []int64{3}))
		}
		seq, err = r.Enqueue(ctx, reread)
		require.NoError(t, err)
	}
	mc, err = r.CarriedCampaigns(ctx, "leads", CarryMerge)
	require.NoError(t, err)
	assert.Equal(t, []int64{2}, mc, "campaign 3 is no longer merged")
	assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage.leads_staged WHERE run_id = ? AND campaign_id = 3", r.ID()))
	c3 := v2.campaign(3)
	_, err = r.CompleteItem(ctx, seq[0], transform.Batch{Leads: c3.Leads, Totals: c3.Totals[:1]}, nil)
	require.NoError(t, err)
	_, err = r.CompleteItem(ctx, seq[1], transform.Batch{LeadEmailStats: c3.LeadEmailStats, Totals: c3.Totals[1:]}, nil)
	require.NoError(t, err)
	merged, err = r.Staged().MergedCounts(ctx, "leads")
	require.NoError(t, err)
	assert.Equal(t, map[int64]int64{1: 5, 2: 7, 3: 3}, merged)

	sum, err = r.Commit(ctx, Counters{})
	require.NoError(t, err)
	assert.Zero(t, sum.Warnings, "%+v", sum.Checks)
	assert.Equal(t, map[string]int64{"campaign_analytics": 1, "sequences": 3, "leads": 5 + 4, "lead_email_stats": 3 + 2}, sum.Carried)
	assert.Equal(t, int64(5+7+3), sum.Rows["leads"], "rows counts the whole snapshot")
	assertSameSnapshot(t, s, full.ID(), r.ID())
	assert.Equal(t, r.ID(), count2str(t, s, "SELECT run_id FROM latest_run"))
	assert.Equal(t, int64(15), count(t, s.DB(), "SELECT count(*) FROM leads"))
	// The checks ran on the complete snapshot: analytics_leads_total
	// compared every campaign's leads, carried ones included.
	checks, err := s.checks(ctx, r.ID())
	require.NoError(t, err)
	assert.Contains(t, checks, Check{Name: "analytics_leads_total", Subject: "campaign_analytics",
		Detail: "leads_total matches the leads loaded for every campaign whose leads were fetched", Severity: SeverityOK})
	runs, err := s.runs(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, ModeIncremental, runs[0].Mode)
	inc, err := s.latestSucceededMode(ctx, ModeFull)
	require.NoError(t, err)
	assert.Equal(t, full.ID(), inc.RunID, "the last full refresh")
}

// TestCarryErrors: bad carries are refused naming the carry and field; a
// carry that duplicates staged rows fails the run's unique_key check;
// carrying from a run that is not a snapshot is refused.
func TestCarryErrors(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()
	v1 := cVersion1()
	prev, _ := loadRun(t, s, day(1), v1.full())
	r, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(2), Mode: ModeIncremental})
	require.NoError(t, err)
	ok := CarrySet{Stream: "leads", FromRun: prev.ID(), Mode: CarryMerge, Campaigns: []int64{2}}
	for _, c := range []struct {
		c    CarrySet
		want string
	}{
		{CarrySet{Stream: "clients", FromRun: prev.ID(), Mode: CarryAll, Campaigns: []int64{2}}, `carry set 1 (clients, all from run ` + prev.ID() + `): field Stream: unknown stream "clients"`},
		{CarrySet{Stream: "leads", FromRun: prev.ID(), Mode: CarryAll, Campaigns: []int64{2, 0}}, "carry set 1 (leads, all from run " + prev.ID() + "): field Campaigns: campaign 0: must be positive"},
		{CarrySet{Stream: "leads", FromRun: prev.ID(), Mode: "some"}, `field Mode: "some" is not "all" or "merge"`},
		{CarrySet{Stream: "leads", Mode: CarryAll}, "field FromRun: required"},
		{CarrySet{Stream: "leads", FromRun: r.ID(), Mode: CarryAll}, "field FromRun: a run cannot carry its own rows"},
		{CarrySet{Stream: "leads", FromRun: "nope", Mode: CarryAll, Campaigns: []int64{2}}, "carry from run nope: no such run"},
	} {
		require.ErrorContains(t, r.setCarries(ctx, []CarrySet{ok, c.c}), c.want)
	}
	assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage.run_carry"), "a refused setCarries records nothing")

	// Upsert: the later carry of a stream and campaign wins, within a call
	// and across calls; a set with no campaigns is nothing.
	require.NoError(t, r.setCarries(ctx, []CarrySet{
		{Stream: "leads", FromRun: prev.ID(), Mode: CarryMerge, Campaigns: []int64{2, 3, 2}},
		{Stream: "leads", FromRun: prev.ID(), Mode: CarryAll, Campaigns: []int64{2}},
		{Stream: "sequences", FromRun: prev.ID(), Mode: CarryAll},
	}))
	require.NoError(t, r.setCarries(ctx, []CarrySet{{Stream: "sequences", FromRun: prev.ID(), Mode: CarryAll, Campaigns: []int64{3, 2}},
		{Stream: "leads", FromRun: prev.ID(), Mode: CarryAll, Campaigns: []int64{3}}}))
	cs, err := r.carries(ctx)
	require.NoError(t, err)
	assert.Equal(t, []CarrySet{{"leads", prev.ID(), CarryAll, []int64{2, 3}}, {"sequences", prev.ID(), CarryAll, []int64{2, 3}}}, cs)
	require.NoError(t, r.dropCarries(ctx, "sequences", []int64{2, 99}), "dropping no carry is fine")
	require.NoError(t, r.dropCarries(ctx, "leads", []int64{3}))
	require.NoError(t, r.dropCarries(ctx, "leads", nil))
	require.ErrorContains(t, r.dropCarries(ctx, "clients", []int64{2}), `unknown stream "clients"`)
	require.ErrorContains(t, r.dropCarries(ctx, "leads", []int64{-1}), `campaign -1: must be positive`)
	cs, err = r.carries(ctx)
	require.NoError(t, err)
	assert.Equal(t, []CarrySet{{"leads", prev.ID(), CarryAll, []int64{2}}, {"sequences", prev.ID(), CarryAll, []int64{3}}}, cs)
	require.NoError(t, r.dropCarries(ctx, "sequences", []int64{3}))

	// discardStaged removes the campaigns' staged rows of one stream and
	// the totals reported for them, nothing else.
	require.NoError(t, r.Write(ctx, v1.campaign(3)))
	require.NoError(t, r.discardStaged(ctx, "leads", []int64{3}))
	assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage.leads_staged WHERE run_id = ?", r.ID()))
	assert.Equal(t, []string{"stream=lead_email_stats"}, dumpRows(t, s.DB(), "SELECT stream FROM stage.reported_totals_staged WHERE run_id = ?", r.ID()))
	assert.Equal(t, int64(2), count(t, s.DB(), "SELECT count(*) FROM stage.lead_email_stats_staged WHERE run_id = ?", r.ID()))
	require.ErrorContains(t, r.discardStaged(ctx, "clients", []int64{3}), `stream "clients" is not one of a campaign's`)

	// CarryAll of campaign 2's leads while leads of it are staged: the
	// snapshot would hold them twice, which the unique_key check refuses.
	require.NoError(t, r.Write(ctx, transform.Batch{Leads: v1.leads[2][:1]}))
	_, err = r.Commit(ctx, Counters{})
	require.ErrorIs(t, err, ErrCheckFailed)
	require.ErrorContains(t, err, "leads campaign_lead_map_id=2000000: 2 rows share this key")
	assert.Equal(t, prev.ID(), count2str(t, s, "SELECT run_id FROM latest_run"))
	assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage.run_carry"), "a failed run's carries are deleted")

	// A carry from a run that stopped being a snapshot is refused at commit.
	r2, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(2), Mode: ModeIncremental})
	require.NoError(t, err)
	require.NoError(t, r2.setCarries(ctx, []CarrySet{ok}))
	_, err = s.DB().ExecContext(ctx, "UPDATE etl_runs SET status = 'failed' WHERE run_id = ?", prev.ID())
	require.NoError(t, err)
	_, err = r2.Commit(ctx, Counters{})
	require.ErrorContains(t, err, "run "+prev.ID()+", which rows are carried from, is not a succeeded run")
}

// TestCarryRetention: each snapshot owns its carried copies, so retention
// deleting the snapshot they came from leaves the newer ones complete.
func TestCarryRetention(t *testing.T) {
	s, _ := openTest(t, Options{Retain: 1})
	ctx := t.Context()
	v1 := cVersion1()
	prev, _ := loadRun(t, s, day(1), v1.full())
	from := prev.ID()
	for n := 2; n <= 3; n++ {
		r, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(n), Mode: ModeIncremental})
		require.NoError(t, err)
		var cs []CarrySet
		for _, st := range []string{"campaign_analytics", "sequences", "leads", "lead_email_stats"} {
			set := CarrySet{Stream: st, FromRun: from, Mode: CarryAll}
			for _, c := range v1.campaigns {
				set.Campaigns = append(set.Campaigns, c.CampaignID)
			}
			cs = append(cs, set)
		}
		require.NoError(t, r.SetPlan(ctx, ModeIncremental, nil, cs))
		require.NoError(t, r.Write(ctx, transform.Batch{Campaigns: v1.campaigns}))
		sum, err := r.Commit(ctx, Counters{})
		require.NoError(t, err)
		require.Zero(t, sum.Warnings, "%+v", sum.Checks)
		assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage.leads_staged WHERE run_id = ?", from), "retention deleted the snapshot carried from")
		assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage.run_carry WHERE run_id = ?", from))
		assertSameSnapshot(t, s, r.ID(), r.ID())
		assert.Equal(t, int64(5+5+4), count(t, s.DB(), "SELECT count(*) FROM leads"))
		assert.Equal(t, int64(3+3+2), count(t, s.DB(), "SELECT count(*) FROM lead_email_stats"))
		assert.Equal(t, int64(3), count(t, s.DB(), "SELECT count(*) FROM campaign_analytics"))
		from = r.ID()
	}
}
