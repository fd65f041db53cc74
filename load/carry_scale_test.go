package load

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// An agency account of n campaigns, three in four COMPLETED, each with
// 30 leads, 10 statistics rows and one sequence, before and after one
// night. The night touches about 2% of the campaigns (agencyKind): a lead
// moves on, one is added and an email is opened (kindActive); a late
// reply lands on the last email (kindLateReply); a lead is deleted, which
// no filter shows (kindDeleted). Full snapshots are staged by SQL (a
// Write of 150,000 rows costs seconds under the race detector); the
// incremental night's pages are Go rows built to match, so any mismatch
// shows as a snapshot that differs from the full refresh.
const (
	kindNone = iota
	kindActive
	kindLateReply
	kindDeleted
)

func agencyKind(c int64) int {
	switch {
	case c%100 == 0:
		return kindActive
	case c%97 == 1:
		return kindLateReply
	case c%500 == 4:
		return kindDeleted
	}
	return kindNone
}

// agencyKindSQL is agencyKind of column c.
const agencyKindSQL = `CASE WHEN c % 100 = 0 THEN 1 WHEN c % 97 = 1 THEN 2 WHEN c % 500 = 4 THEN 3 ELSE 0 END`

var agencyUpdated = t0.Add(-48 * time.Hour)

func agencyStatus(c int64) string {
	if c%4 == 0 {
		return "ACTIVE"
	}
	return "COMPLETED"
}

func agencyLead(c int64, k int, night bool) transform.Lead {
	id := c*1_000_000 + int64(k)
	st := "INPROGRESS"
	if night && agencyKind(c) == kindActive && k == 1 {
		st = "COMPLETED"
	}
	return transform.Lead{CampaignLeadMapID: id, LeadID: 7_000_000_000 + id, CampaignID: c,
		Email: fmt.Sprintf("lead%d@example.com", id), Status: p(st)}
}

func agencyStat(c int64, i int, night bool) transform.LeadEmailStat {
	s := transform.LeadEmailStat{StatsID: fmt.Sprintf("s%d-%d", c, i), CampaignID: c,
		LeadEmail: fmt.Sprintf("lead%d@example.com", c*1_000_000+int64(i)), SequenceNumber: p[int64](1),
		SentTime: p(t0.Add(-time.Duration(i+1) * time.Hour))}
	switch {
	case night && agencyKind(c) == kindActive && i == 0:
		s.OpenCount, s.OpenTime = 1, p(t0.Add(-time.Minute))
	case night && agencyKind(c) == kindLateReply && i == 9:
		s.ReplyTime = p(t0.Add(-time.Minute))
	}
	return s
}

func agencyAnalytics(c int64, night bool) transform.CampaignAnalytics {
	a := transform.CampaignAnalytics{CampaignID: c, Name: p(fmt.Sprint("C", c)), Status: p(agencyStatus(c)),
		SentCount: 10, TotalCount: 10, LeadsTotal: 30, LeadsInProgress: 30}
	switch k := agencyKind(c); {
	case night && k == kindActive:
		a.LeadsTotal, a.LeadsInProgress, a.OpenCount = 31, 31, 1
	case night && k == kindLateReply:
		a.ReplyCount = 1
	case night && k == kindDeleted:
		a.LeadsTotal, a.LeadsInProgress = 29, 29
	}
	return a
}

// agencyLeads is every lead of campaign c (after the night if night).
func agencyLeads(c int64, night bool) []transform.Lead {
	var out []transform.Lead
	for k := range 31 {
		if k == 30 && !(night && agencyKind(c) == kindActive) || k == 0 && night && agencyKind(c) == kindDeleted {
			continue
		}
		out = append(out, agencyLead(c, k, night))
	}
	return out
}

// stageAgency stages the whole account (after the night if night) as run
// id's rows, batch 1, in one statement per table, as the Appenders would.
func stageAgency(t *testing.T, s *Store, id string, n int, night bool) {
	t.Helper()
	// Every statement names every parameter once, here.
	from := ` FROM (SELECT $1::VARCHAR AS p_run, $2::DATE AS p_snap, $3::TIMESTAMPTZ AS p_at, $6::TIMESTAMPTZ AS p_upd,
			$7::TIMESTAMPTZ AS p_t0, $8::TIMESTAMPTZ AS p_seen) p,
		(SELECT c, CASE WHEN $5 THEN ` + agencyKindSQL + ` ELSE 0 END AS kind FROM range(1, $4 + 1) r(c))`
	prefix := `p_run AS run_id, 1 AS batch, p_snap AS snapshot_date, p_at AS extracted_at, c AS campaign_id`
	for _, q := range []string{
		`INSERT INTO @s.campaigns_staged BY NAME SELECT ` + prefix + `, 'C' || c AS name,
			CASE WHEN c % 4 = 0 THEN 'ACTIVE' ELSE 'COMPLETED' END AS status, p_upd AS updated_at` + from,
		`INSERT INTO @s.campaign_analytics_staged BY NAME SELECT ` + prefix + `, 'C' || c AS name,
			CASE WHEN c % 4 = 0 THEN 'ACTIVE' ELSE 'COMPLETED' END AS status,
			10 AS sent_count, 0 AS unique_sent_count, (kind = 1)::INT AS open_count, 0 AS unique_open_count, 0 AS click_count,
			0 AS unique_click_count, (kind = 2)::INT AS reply_count, 0 AS bounce_count, 0 AS unsubscribed_count, 0 AS block_count,
			10 AS total_count, 0 AS drafted_count, 30 + (kind = 1)::INT - (kind = 3)::INT AS leads_total, 0 AS leads_not_started,
			30 + (kind = 1)::INT - (kind = 3)::INT AS leads_in_progress, 0 AS leads_completed, 0 AS leads_paused,
			0 AS leads_stopped, 0 AS leads_blocked, 0 AS leads_interested` + from,
		`INSERT INTO @s.sequences_staged BY NAME SELECT ` + prefix + `, 100000 + c AS sequence_id, 1 AS seq_number, 'Hi' AS subject` + from,
		`INSERT INTO @s.leads_staged BY NAME SELECT ` + prefix + `, c * 1000000 + k AS campaign_lead_map_id,
			7000000000 + c * 1000000 + k AS lead_id, 'lead' || (c * 1000000 + k) || '@example.com' AS email,
			CASE WHEN kind = 1 AND k = 1 THEN 'COMPLETED' ELSE 'INPROGRESS' END AS status, false AS is_unsubscribed
			` + from + `, range(0, 31) l(k) WHERE (k < 30 OR kind = 1) AND NOT (k = 0 AND kind = 3)`,
		`INSERT INTO @s.lead_email_stats_staged BY NAME SELECT ` + prefix + `, 's' || c || '-' || i AS stats_id,
			'lead' || (c * 1000000 + i) || '@example.com' AS lead_email, 1 AS sequence_number,
			p_t0 - to_hours(i + 1) AS sent_time,
			CASE WHEN kind = 1 AND i = 0 THEN p_seen END AS open_time,
			CASE WHEN kind = 2 AND i = 9 THEN p_seen END AS reply_time,
			(kind = 1 AND i = 0)::INT AS open_count, 0 AS click_count, false AS is_bounced, false AS is_unsubscribed
			` + from + `, range(0, 10) l(i)`,
	} {
		_, err := s.DB().ExecContext(t.Context(), s.sq(q), id, day(1), t0, n, night, agencyUpdated, t0, t0.Add(-time.Minute))
		require.NoError(t, err, q)
	}
}

// loadAgency publishes the whole account as one full run.
func loadAgency(t *testing.T, s *Store, snap time.Time, n int, night bool) *Run {
	t.Helper()
	r, err := s.BeginRun(t.Context(), RunStart{SnapshotDate: snap})
	require.NoError(t, err)
	stageAgency(t, s, r.ID(), n, night)
	sum, err := r.Commit(t.Context(), Counters{})
	require.NoError(t, err)
	require.Zero(t, sum.Warnings, "%+v", sum.Checks)
	require.Equal(t, int64(n), sum.Rows["campaigns"])
	return r
}

// TestCarryScalesWithTheAccount: two nights of an agency account of 1,000
// campaigns (more than three times the 300 where carrying once ran out of
// memory) at the default memory limit, on a released store as a run has
// it. The incremental night carries every campaign its signals
// call unchanged, all of it, and the sequences and unchanged leads and
// statistics of the touched ones (whose changed rows it stages),
// re-reads the campaigns whose leads no longer add up, and publishes
// exactly the snapshot a full refresh does. Carrying used to cost DuckDB
// memory per campaign and ran out of it at 300.
func TestCarryScalesWithTheAccount(t *testing.T) {
	for _, n := range []int{1000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) { testCarryScales(t, n) })
	}
}

func testCarryScales(t *testing.T, n int) {
	s, _ := openTest(t, Options{}) // the default memory limit
	ctx := t.Context()
	require.NoError(t, s.ReleaseWarehouse(ctx))
	prev := loadAgency(t, s, day(1), n, false)
	versions := func() map[string]int64 {
		out := map[string]int64{}
		for _, tb := range snapshotTables {
			out[tb] = count(t, s.DB(), s.sq(`SELECT count(*) FROM @w.`+tb+`_rows`))
		}
		return out
	}
	before := versions()

	r, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(2), Mode: ModeIncremental})
	require.NoError(t, err)
	set := func(stream string, mode CarryMode) CarrySet {
		return CarrySet{Stream: stream, FromRun: prev.ID(), Mode: mode}
	}
	sets := []CarrySet{set("campaign_analytics", CarryAll), set("sequences", CarryAll), set("leads", CarryAll),
		set("lead_email_stats", CarryAll), set("leads", CarryMerge), set("lead_email_stats", CarryMerge)}
	items := []extract.Item{{Stream: extract.StreamCampaigns}}
	var campaigns []transform.Campaign
	since := t0.Add(-25 * time.Hour)
	for c := int64(1); c <= int64(n); c++ {
		campaigns = append(campaigns, transform.Campaign{CampaignID: c, Name: fmt.Sprint("C", c), Status: agencyStatus(c), UpdatedAt: &agencyUpdated})
		sets[1].Campaigns = append(sets[1].Campaigns, c)
		if agencyKind(c) == kindNone {
			for _, i := range []int{0, 2, 3} {
				sets[i].Campaigns = append(sets[i].Campaigns, c)
			}
			continue
		}
		sets[4].Campaigns = append(sets[4].Campaigns, c)
		sets[5].Campaigns = append(sets[5].Campaigns, c)
		items = append(items, extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: c},
			extract.Item{Stream: extract.StreamLeads, CampaignID: c, Since: since},
			extract.Item{Stream: extract.StreamLeadEmailStats, CampaignID: c, Since: since})
	}
	start := time.Now()
	require.NoError(t, r.SetPlan(ctx, ModeIncremental, items, sets))
	t.Logf("%d campaigns: SetPlan of %d items and %d merged campaigns took %s", n, len(items), len(sets[4].Campaigns),
		time.Since(start).Round(time.Millisecond))

	// The filtered pages: changed and new rows only.
	pending, err := r.PendingItems(ctx)
	require.NoError(t, err)
	for _, w := range pending {
		var b transform.Batch
		switch c := w.Item.CampaignID; w.Item.Stream {
		case extract.StreamCampaigns:
			b.Campaigns = campaigns
		case extract.StreamCampaignAnalytics:
			b.CampaignAnalytics = []transform.CampaignAnalytics{agencyAnalytics(c, true)}
		case extract.StreamLeads:
			if agencyKind(c) == kindActive {
				b.Leads = []transform.Lead{agencyLead(c, 1, true), agencyLead(c, 30, true)}
			}
		case extract.StreamLeadEmailStats:
			switch agencyKind(c) {
			case kindActive:
				b.LeadEmailStats = []transform.LeadEmailStat{agencyStat(c, 0, true)}
			case kindLateReply:
				b.LeadEmailStats = []transform.LeadEmailStat{agencyStat(c, 9, true)}
			}
		}
		_, err := r.CompleteItem(ctx, w.Seq, b, nil)
		require.NoError(t, err)
	}

	// Deleted leads: the merged count exceeds leads_total.
	merged, err := r.Staged().MergedCounts(ctx, "leads")
	require.NoError(t, err)
	require.Len(t, merged, n)
	totals, err := r.Staged().LeadsTotals(ctx)
	require.NoError(t, err)
	merging, err := r.CarriedCampaigns(ctx, "leads", CarryMerge)
	require.NoError(t, err)
	require.Equal(t, sets[4].Campaigns, merging)
	var reread, want []int64
	for _, c := range merging {
		if merged[c] != totals[c] {
			reread = append(reread, c)
		}
		if agencyKind(c) == kindDeleted {
			want = append(want, c)
		}
	}
	require.Equal(t, want, reread)
	var again []extract.Item
	for _, c := range reread {
		again = append(again, extract.Item{Stream: extract.StreamLeads, CampaignID: c}, extract.Item{Stream: extract.StreamLeadEmailStats, CampaignID: c})
	}
	seqs, err := r.Refetch(ctx, reread, []string{"leads", "lead_email_stats"}, again)
	require.NoError(t, err)
	for i, seq := range seqs {
		c := again[i].CampaignID
		b := transform.Batch{Leads: agencyLeads(c, true), Totals: []transform.ReportedTotal{{Stream: "leads", CampaignID: c, Total: 29}}}
		if again[i].Stream == extract.StreamLeadEmailStats {
			b = transform.Batch{Totals: []transform.ReportedTotal{{Stream: "lead_email_stats", CampaignID: c, Total: 10}}}
			for i := range 10 {
				b.LeadEmailStats = append(b.LeadEmailStats, agencyStat(c, i, true))
			}
		}
		_, err := r.CompleteItem(ctx, seq, b, nil)
		require.NoError(t, err)
	}

	start = time.Now()
	sum, err := r.Commit(ctx, Counters{})
	require.NoError(t, err)
	t.Logf("%d campaigns: commit took %s (%d leads and %d statistics rows carried)", n, time.Since(start).Round(time.Millisecond),
		sum.Carried["leads"], sum.Carried["lead_email_stats"])
	assert.Zero(t, sum.Warnings, "%+v", sum.Checks)
	assert.Equal(t, int64(n), sum.Rows["campaign_analytics"])
	assert.Less(t, sum.Carried["leads"], sum.Rows["leads"])

	// Carried from the latest snapshot, the rows compared were the night's
	// only: the versions opened are those of the rows that changed.
	var active, late, touched int64
	for c := int64(1); c <= int64(n); c++ {
		switch agencyKind(c) {
		case kindActive:
			active++
		case kindLateReply:
			late++
		}
		if agencyKind(c) != kindNone {
			touched++
		}
	}
	after := versions()
	assert.Equal(t, map[string]int64{"campaigns": 0, "campaign_analytics": touched, "sequences": 0, "leads": 2 * active,
		"lead_email_stats": active + late}, map[string]int64{"campaigns": after["campaigns"] - before["campaigns"],
		"campaign_analytics": after["campaign_analytics"] - before["campaign_analytics"], "sequences": after["sequences"] - before["sequences"],
		"leads": after["leads"] - before["leads"], "lead_email_stats": after["lead_email_stats"] - before["lead_email_stats"]})

	// A full refresh of the same account state, published after it, holds
	// the same snapshot.
	full := loadAgency(t, s, day(3), n, true)
	assertSameSnapshot(t, s, full.ID(), r.ID())
	assert.Equal(t, after, versions(), "the full refresh changed no row")
}
