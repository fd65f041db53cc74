package dashboard_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/internal/fixture"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// awkwardNames are campaign names a page must show as text, never run.
var awkwardNames = []string{
	"<script>alert(1)</script>",
	`Quotes "double" and 'single' & <b>bold</b>`,
	"🚀 Launch 🎯 naïve café",
	"Line one\nLine two\r\nLine three",
	"</script><script>window.__pwned=1</script>",
	`<img src=x onerror="window.__pwned=1">`,
	"",
}

// shape sizes a synthetic warehouse for the page's awkward cases.
type shape struct {
	Campaigns int
	Snapshots int
	DailyDays int  // days of daily stats per snapshot; 0 = none
	Awkward   bool // the first campaigns get awkwardNames
	Leads     int  // leads per campaign
}

var day0 = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

func p[T any](v T) *T { return &v }

// buildWarehouse loads sh through the real load API: Snapshots succeeded
// runs one day apart, counters growing so that no data check warns.
func buildWarehouse(t testing.TB, sh shape) (*load.Store, string) {
	t.Helper()
	ctx := t.Context()
	clock := &fixture.Clock{}
	path := filepath.Join(t.TempDir(), "synthetic.duckdb")
	s, err := load.Open(ctx, path, fixture.SchemaFS(), load.Options{Now: clock.Now})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	for k := range sh.Snapshots {
		snap := day0.AddDate(0, 0, k)
		start := snap.Add(2 * time.Hour)
		clock.T = start
		r, err := s.BeginRun(ctx, load.RunStart{SnapshotDate: snap, StartedAt: start})
		require.NoError(t, err)
		clock.T = start.Add(time.Minute) // the rows' extracted_at
		require.NoError(t, r.Write(ctx, synthBatch(sh, k, snap)))
		require.NoError(t, r.LogAttempts(ctx, []extract.Attempt{
			{At: start, Endpoint: "/campaigns/", Status: 200, Duration: 100 * time.Millisecond, Attempt: 1, RateRemaining: -1},
		}))
		clock.T = start.Add(time.Duration(60+30*k) * time.Second)
		_, err = r.Commit(ctx, load.Counters{Requests: int64(100 + 20*k), Throttled: int64(k % 3), Retries: int64(k % 3)})
		require.NoError(t, err)
	}
	return s, path
}

func emptyWarehouse(t testing.TB) *load.Store {
	s, _ := buildWarehouse(t, shape{})
	return s
}

func synthBatch(sh shape, k int, snap time.Time) transform.Batch {
	var b transform.Batch
	b.Clients = []transform.Client{
		{ClientID: 1, Name: p(`Acme "Agency" <i>`)},
		{ClientID: 2, Name: p("Globex 🌐")},
	}
	statuses := []string{"STARTED", "INPROGRESS", "COMPLETED", "PAUSED", "STOPPED"}
	for i := range sh.Campaigns {
		id := int64(1000 + i)
		name := fmt.Sprintf("Campaign %03d", i)
		if sh.Awkward && i < len(awkwardNames) {
			name = awkwardNames[i]
		}
		var client *int64
		if i%3 != 2 {
			client = p(int64(1 + i%3))
		}
		track := transform.JSON(`[]`)
		if i%5 == 4 {
			track = transform.JSON(`["DONT_EMAIL_OPEN"]`)
		}
		b.Campaigns = append(b.Campaigns, transform.Campaign{CampaignID: id, Name: name, Status: "ACTIVE",
			ClientID: client, TrackSettings: track, CreatedAt: p(day0.AddDate(0, 0, -30))})
		grow := int64(k + 1)
		sent := int64(20+i%40) * grow
		reached := sent * 8 / 10
		uopens := reached / 2
		opens := uopens * 2
		if i%5 == 4 {
			opens = 0
		}
		b.CampaignAnalytics = append(b.CampaignAnalytics, transform.CampaignAnalytics{
			CampaignID: id, Name: p(name), Status: p("ACTIVE"), ClientID: client, SequenceCount: p[int64](3),
			SentCount: sent, UniqueSentCount: reached, OpenCount: opens, UniqueOpenCount: uopens,
			ClickCount: uopens / 3, UniqueClickCount: uopens / 4, ReplyCount: reached / 10 * grow / grow,
			BounceCount: sent / 25, UnsubscribedCount: sent / 50, TotalCount: sent,
			LeadsTotal: int64(sh.Leads), LeadsInProgress: int64(sh.Leads),
		})
		for step := int64(1); step <= 3; step++ {
			subj := fmt.Sprintf("Step %d for %s", step, name)
			if step > 1 {
				subj = ""
			}
			b.Sequences = append(b.Sequences, transform.Sequence{SequenceID: id*10 + step, CampaignID: id, SeqNumber: step,
				Subject: p(subj), DelayInDays: p(step * 2)})
		}
		for l := range sh.Leads {
			mapID := id*1000 + int64(l)
			email := fmt.Sprintf("lead%d@example.com", mapID)
			b.Leads = append(b.Leads, transform.Lead{CampaignLeadMapID: mapID, LeadID: mapID + 5_000_000, CampaignID: id,
				Email: email, Status: p(statuses[(l+k)%len(statuses)]), CreatedAt: p(day0)})
			for step := int64(1); step <= int64(1+l%3); step++ {
				sentAt := snap.Add(-time.Duration(step) * 20 * time.Hour)
				st := transform.LeadEmailStat{StatsID: fmt.Sprintf("s-%d-%d", mapID, step), CampaignID: id,
					LeadEmail: email, SequenceNumber: p(step), SentTime: &sentAt, IsBounced: l%11 == 10}
				if (l+int(step))%2 == 0 {
					st.OpenTime, st.OpenCount = p(sentAt.Add(time.Hour)), 1
				}
				if (l+int(step))%4 == 0 {
					st.ReplyTime = p(sentAt.Add(3 * time.Hour))
				}
				b.LeadEmailStats = append(b.LeadEmailStats, st)
			}
		}
		for d := range sh.DailyDays {
			day := snap.AddDate(0, 0, -d)
			n := int64(10 + (i+d)%15)
			uo := n / 3
			o := uo * 2
			if i%5 == 4 {
				o = 0
			}
			b.DailyStats = append(b.DailyStats, transform.CampaignDailyStat{CampaignID: id, Day: day,
				SentCount: n, UniqueSentCount: n, OpenCount: o, UniqueOpenCount: uo, ClickCount: uo / 2,
				UniqueClickCount: uo / 2, ReplyCount: n / 8, BounceCount: int64((i + d) % 3)})
		}
	}
	for a := range 8 {
		var client *int64
		if a%2 == 0 {
			client = p(int64(1 + a%4/2))
		}
		limit := int64(40 + 10*(a%3))
		b.EmailAccounts = append(b.EmailAccounts, transform.EmailAccount{EmailAccountID: int64(500 + a),
			FromEmail: fmt.Sprintf("sender%d@mail%d.example", a, a%3), Type: p("SMTP"), MessagePerDay: p(limit),
			DailySentCount: p(min(limit, int64(5+a*7))), WarmupStatus: p("ACTIVE"), WarmupReputation: p(float64(70 + 4*a)),
			WarmupTotalSent: p[int64](300), WarmupSpamCount: p(int64(a)), ClientID: client,
			IsSMTPSuccess: p(true), IsIMAPSuccess: p(a != 3)})
	}
	return b
}
