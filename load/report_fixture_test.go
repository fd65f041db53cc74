package load

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// The report fixture: a small account loaded through the real load API as
// two snapshots (2026-11-26 and 2026-11-27), so that every report, and
// changes in particular, has something to show. Its numbers are chosen to
// exercise the rate rules:
//
//	campaign 101 "Q4 Outreach": open tracking on; latest analytics sent
//	  140, reached 120, unique opens 55, replies 11, bounces 5.
//	campaign 102 "Tracking off": track_settings DONT_EMAIL_OPEN and
//	  open_count 0 with unique opens 7: no open rate, replies over reached.
//	campaign 103 "Draft": all zero, so every rate is NULL.
type reportFixture struct {
	store  *Store
	path   string
	runs   [2]string // run ids of snapshot 1 and 2
	failed string    // run id of the failed third run
	clock  *fixedClock
}

// fixedClock is a clock the test sets: Now returns the same instant until
// the test moves it, so run timestamps do not depend on how many times the
// load code reads the clock.
type fixedClock struct{ t time.Time }

func (c *fixedClock) now() time.Time { return c.t }

var (
	rfSnap1 = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	rfSnap2 = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
)

func rp[T any](v T) *T { return &v }

func rfTime(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

// rfAnalytics builds a campaign_analytics row from the counters the
// reports use; the campaign_lead_stats split is leads_total in progress.
func rfAnalytics(id int64, name, status string, sent, reached, opens, uopens, clicks, uclicks, replies, bounces, unsubs, leads int64) transform.CampaignAnalytics {
	return transform.CampaignAnalytics{
		CampaignID: id, Name: rp(name), Status: rp(status), SequenceCount: rp[int64](2),
		SentCount: sent, UniqueSentCount: reached, OpenCount: opens, UniqueOpenCount: uopens,
		ClickCount: clicks, UniqueClickCount: uclicks, ReplyCount: replies, BounceCount: bounces,
		UnsubscribedCount: unsubs, TotalCount: sent, LeadsTotal: leads, LeadsInProgress: leads,
	}
}

func rfLead(mapID, campaign int64, email, status string, category *int64, unsub bool) transform.Lead {
	return transform.Lead{
		CampaignLeadMapID: mapID, LeadID: mapID + 90000, CampaignID: campaign, Email: email,
		FirstName: rp("First" + email[:1]), Status: rp(status), LeadCategoryID: category,
		CreatedAt: rfTime("2026-11-20T09:00:00Z"), IsUnsubscribed: unsub,
		CustomFields: transform.JSON(`{"job_title":"CEO"}`),
	}
}

func rfStat(id string, campaign int64, email string, step int64, sent, open, click, reply *time.Time, bounced bool) transform.LeadEmailStat {
	var opens int64
	if open != nil {
		opens = 1
	}
	var clicks int64
	if click != nil {
		clicks = 1
	}
	return transform.LeadEmailStat{
		StatsID: id, CampaignID: campaign, LeadEmail: email, SequenceNumber: rp(step),
		SentTime: sent, OpenTime: open, ClickTime: click, ReplyTime: reply,
		OpenCount: opens, ClickCount: clicks, IsBounced: bounced,
	}
}

func rfDaily(campaign int64, day string, sent, usent, opens, uopens, clicks, replies, bounces int64) transform.CampaignDailyStat {
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		panic(err)
	}
	return transform.CampaignDailyStat{
		CampaignID: campaign, Day: d, SentCount: sent, UniqueSentCount: usent, OpenCount: opens,
		UniqueOpenCount: uopens, ClickCount: clicks, UniqueClickCount: clicks, ReplyCount: replies, BounceCount: bounces,
	}
}

// rfBatch is snapshot n (1 or 2) of the fixture account.
func rfBatch(n int) transform.Batch {
	campaigns := []transform.Campaign{
		{CampaignID: 101, Name: "Q4 Outreach", Status: "ACTIVE", TrackSettings: transform.JSON(`[]`),
			CreatedAt: rfTime("2026-11-01T08:00:00Z"), ClientID: rp[int64](6)},
		{CampaignID: 102, Name: "Tracking off", Status: "ACTIVE", TrackSettings: transform.JSON(`["DONT_EMAIL_OPEN","DONT_LINK_CLICK"]`),
			CreatedAt: rfTime("2026-11-02T08:00:00Z")},
		{CampaignID: 103, Name: "Draft", Status: "DRAFTED", CreatedAt: rfTime("2026-11-03T08:00:00Z")},
	}
	sequences := []transform.Sequence{
		{SequenceID: 301, CampaignID: 101, SeqNumber: 1, Subject: rp("Quick question"), DelayInDays: rp[int64](0)},
		{SequenceID: 302, CampaignID: 101, SeqNumber: 2, Subject: rp(""), DelayInDays: rp[int64](3)},
		{SequenceID: 303, CampaignID: 102, SeqNumber: 1, Subject: rp("Hello"), DelayInDays: rp[int64](0)},
	}
	accounts := []transform.EmailAccount{
		{EmailAccountID: 401, FromEmail: "alice@sender.example", FromName: rp("Alice"), Type: rp("GMAIL"),
			MessagePerDay: rp[int64](50), DailySentCount: rp[int64](50), WarmupStatus: rp("ACTIVE"),
			WarmupReputation: rp(95.0), WarmupTotalSent: rp[int64](450), WarmupSpamCount: rp[int64](2),
			ClientID: rp[int64](6), CampaignCount: rp[int64](2), IsSMTPSuccess: rp(true), IsIMAPSuccess: rp(true)},
		{EmailAccountID: 402, FromEmail: "bob@sender.example", FromName: rp("Bob"), Type: rp("SMTP"),
			MessagePerDay: rp[int64](40), DailySentCount: rp(int64(5 * n)), WarmupStatus: rp("INACTIVE"),
			WarmupReputation: rp(78.5), WarmupTotalSent: rp[int64](120), WarmupSpamCount: rp[int64](9),
			CampaignCount: rp[int64](1), IsSMTPSuccess: rp(true), IsIMAPSuccess: rp(false)},
	}
	clients := []transform.Client{{ClientID: 6, Name: rp("Acme Agency"), Email: rp("ops@acme.example"),
		Permissions: transform.JSON(`{"permission":["reply_master_inbox"]}`)}}
	cat := rp[int64](3)
	sent1, sent2 := rfTime("2026-11-25T09:00:00Z"), rfTime("2026-11-26T09:00:00Z")
	open := rfTime("2026-11-25T10:00:00Z")
	if n == 1 {
		return transform.Batch{
			Campaigns: campaigns,
			CampaignAnalytics: []transform.CampaignAnalytics{
				rfAnalytics(101, "Q4 Outreach", "ACTIVE", 100, 90, 120, 40, 20, 10, 6, 4, 2, 4),
				rfAnalytics(102, "Tracking off", "ACTIVE", 30, 25, 0, 5, 0, 0, 2, 1, 0, 1),
				rfAnalytics(103, "Draft", "DRAFTED", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
			},
			DailyStats: []transform.CampaignDailyStat{
				rfDaily(101, "2026-11-25", 60, 50, 70, 25, 12, 3, 2),
				rfDaily(101, "2026-11-26", 40, 40, 50, 15, 8, 3, 2),
				rfDaily(102, "2026-11-25", 30, 25, 0, 5, 0, 2, 1),
			},
			Leads: []transform.Lead{
				rfLead(5001, 101, "ann@lead.example", "INPROGRESS", cat, false),
				rfLead(5002, 101, "ben@lead.example", "INPROGRESS", nil, false),
				rfLead(5003, 101, "cat@lead.example", "STARTED", nil, false),
				rfLead(5004, 101, "dan@lead.example", "PAUSED", nil, true),
				rfLead(6001, 102, "eve@lead.example", "INPROGRESS", nil, false),
			},
			LeadEmailStats: []transform.LeadEmailStat{
				rfStat("s-101-1-ann", 101, "ann@lead.example", 1, sent1, open, open, nil, false),
				rfStat("s-101-1-ben", 101, "ben@lead.example", 1, sent1, open, nil, nil, false),
				rfStat("s-101-1-cat", 101, "cat@lead.example", 1, sent1, nil, nil, nil, true),
				rfStat("s-101-1-dan", 101, "dan@lead.example", 1, sent1, open, nil, rfTime("2026-11-25T11:00:00Z"), false),
				rfStat("s-102-1-eve", 102, "eve@lead.example", 1, sent1, nil, nil, nil, false),
			},
			Sequences:     sequences,
			EmailAccounts: accounts,
			Clients:       clients,
		}
	}
	return transform.Batch{
		Campaigns: campaigns,
		CampaignAnalytics: []transform.CampaignAnalytics{
			rfAnalytics(101, "Q4 Outreach", "ACTIVE", 140, 120, 170, 55, 26, 14, 11, 5, 3, 4),
			rfAnalytics(102, "Tracking off", "ACTIVE", 45, 40, 0, 7, 0, 0, 3, 1, 1, 2),
			rfAnalytics(103, "Draft", "DRAFTED", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0),
		},
		DailyStats: []transform.CampaignDailyStat{
			// 2026-11-26 is fetched again with its final numbers.
			rfDaily(101, "2026-11-26", 45, 42, 55, 17, 9, 5, 2),
			rfDaily(101, "2026-11-27", 35, 30, 45, 13, 6, 3, 1),
			rfDaily(102, "2026-11-26", 15, 15, 0, 2, 0, 1, 0),
		},
		Leads: []transform.Lead{
			rfLead(5001, 101, "ann@lead.example", "INPROGRESS", cat, false),
			rfLead(5002, 101, "ben@lead.example", "COMPLETED", cat, false), // status change
			rfLead(5003, 101, "cat@lead.example", "STARTED", nil, false),
			rfLead(5005, 101, "fay@lead.example", "STARTED", nil, false), // new; 5004 gone
			rfLead(6001, 102, "eve@lead.example", "INPROGRESS", nil, false),
			rfLead(6002, 102, "gus@lead.example", "STARTED", nil, false), // new
		},
		LeadEmailStats: []transform.LeadEmailStat{
			rfStat("s-101-1-ann", 101, "ann@lead.example", 1, sent1, open, open, rfTime("2026-11-26T12:00:00Z"), false), // new reply
			rfStat("s-101-1-ben", 101, "ben@lead.example", 1, sent1, open, nil, nil, false),
			rfStat("s-101-1-cat", 101, "cat@lead.example", 1, sent1, nil, nil, nil, true),
			rfStat("s-101-2-ann", 101, "ann@lead.example", 2, sent2, nil, nil, nil, false),
			rfStat("s-101-2-ben", 101, "ben@lead.example", 2, sent2, rfTime("2026-11-26T10:00:00Z"), nil, rfTime("2026-11-26T13:00:00Z"), false), // new reply
			rfStat("s-101-1-fay", 101, "fay@lead.example", 1, sent2, nil, nil, nil, false),
			rfStat("s-102-1-eve", 102, "eve@lead.example", 1, sent1, nil, nil, rfTime("2026-11-26T08:00:00Z"), false), // new reply
			rfStat("s-102-1-gus", 102, "gus@lead.example", 1, sent2, nil, nil, nil, false),
		},
		Sequences:     sequences,
		EmailAccounts: accounts,
		Clients:       clients,
		Rejected: []transform.Rejected{{Stream: "leads", RecordKey: "campaign_lead_map_id=5099", Field: "lead.id",
			Reason: "not a number: \"abc\"", Raw: transform.JSON(`{"campaign_lead_map_id":5099,"lead":{"id":"abc"}}`)}},
	}
}

// newReportFixture loads both snapshots into a fresh warehouse under
// t.TempDir(). Snapshot 1 runs 02:00-02:03:20 UTC on 2026-11-26, snapshot
// 2 02:00-02:05:00 on 2026-11-27.
func newReportFixture(t *testing.T) *reportFixture {
	t.Helper()
	ctx := t.Context()
	f := &reportFixture{clock: &fixedClock{}, path: filepath.Join(t.TempDir(), "report.duckdb")}
	s, err := Open(ctx, f.path, os.DirFS("../sql/schema"), Options{Now: f.clock.now})
	require.NoError(t, err)
	f.store = s
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	for i, snap := range []time.Time{rfSnap1, rfSnap2} {
		start := snap.Add(2 * time.Hour)
		f.clock.t = start
		r, err := s.BeginRun(ctx, RunStart{SnapshotDate: snap, StartedAt: start, Config: map[string]any{"streams": "all"}})
		require.NoError(t, err)
		require.NoError(t, r.WriteAt(ctx, rfBatch(i+1), start.Add(time.Minute)))
		require.NoError(t, r.LogAttempts(ctx, []extract.Attempt{
			{At: start, Endpoint: "/campaigns/", Status: 200, Duration: 120 * time.Millisecond, Attempt: 1, RateRemaining: 59},
			{At: start.Add(time.Second), Endpoint: "/campaigns/{id}/leads", CampaignID: 101, Status: 429, Duration: 80 * time.Millisecond, Attempt: 1, RateRemaining: 0},
			{At: start.Add(3 * time.Second), Endpoint: "/campaigns/{id}/leads", CampaignID: 101, Status: 200, Duration: 95 * time.Millisecond, Attempt: 2, Waited: 2 * time.Second, RateRemaining: -1},
		}))
		f.clock.t = start.Add(time.Duration(200+100*i) * time.Second)
		_, err = r.Commit(ctx, Counters{Requests: int64(30 + 10*i), Throttled: 1, Retries: 1, Waited: time.Duration(2500+1000*i) * time.Millisecond})
		require.NoError(t, err)
		f.runs[i] = r.ID()
	}

	// A third run fails: it stays out of every view and of changes, but
	// run_history and the operational exports show it. Its error and
	// ledger carry the planted key, which load must redact.
	snap := rfSnap2.AddDate(0, 0, 1)
	start := snap.Add(2 * time.Hour)
	f.clock.t = start
	r, err := s.BeginRun(ctx, RunStart{SnapshotDate: snap, StartedAt: start})
	require.NoError(t, err)
	b := rfBatch(2)
	b.Rejected = nil
	require.NoError(t, r.WriteAt(ctx, b, start.Add(time.Minute)))
	require.NoError(t, r.LogAttempts(ctx, []extract.Attempt{
		{At: start, Endpoint: "/campaigns/?api_key=" + rfPlantedKey, Status: 500, Duration: time.Second, Attempt: 1,
			RateRemaining: -1, Err: "GET /campaigns/?api_key=" + rfPlantedKey + ": 500 Internal Server Error"},
	}))
	f.clock.t = start.Add(100 * time.Second)
	require.NoError(t, r.Abort(ctx, StatusFailed,
		errors.New("GET https://server.smartlead.ai/api/v1/campaigns/?api_key="+rfPlantedKey+": 500 Internal Server Error"),
		Counters{Requests: 1}))
	f.failed = r.ID()
	return f
}

// rfPlantedKey is an API key the fixture slips into error texts and URLs;
// it must never reach a report or an exported file.
const rfPlantedKey = "sl_PLANTED_0123456789abcdef"
