package fakeapi_test

import (
	"fmt"
	"math"
	"net/url"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
)

// TestNightChangesOnlyWhatItShould runs one night in virtual time and
// checks every lead and row against the account before it.
func TestNightChangesOnlyWhatItShould(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := fakeapi.Config{Campaigns: 16, LeadsPerCampaign: 150}
		s, twin := newServer(t, cfg), newServer(t, cfg)
		before := s.Truth()
		time.Sleep(24 * time.Hour)
		nc := fakeapi.NightChange{ChangedLeadFrac: 0.05, NewLeadsPerCampaign: 3, NewSendsFrac: 0.04, DeletedLeads: 7}
		rep := s.Night(nc)
		now := time.Now().UTC()
		require.Equal(t, now, rep.At)
		after := s.Truth()
		require.Equal(t, now, after.Now)

		require.Equal(t, after, func() fakeapi.Account { twin.Night(nc); return twin.Truth() }(), "Night is deterministic")

		// Deletions: as many as asked, only in campaigns that can change.
		require.Equal(t, 7, rep.DeletedLeads)
		require.Len(t, after.Deleted, 7)
		deleted := map[int64]bool{}
		deletedIn := map[int64]bool{}
		for _, d := range after.Deleted {
			deleted[d.CampaignLeadMapID] = true
			deletedIn[d.CampaignID] = true
			require.False(t, before.Campaign(d.CampaignID).Frozen())
			require.Equal(t, now, d.At)
		}

		var maxMapID int64
		changeable := 0
		for _, c := range before.Campaigns {
			for _, l := range c.Leads {
				maxMapID = max(maxMapID, l.CampaignLeadMapID)
			}
			if !c.Frozen() {
				changeable += len(c.Leads)
			}
		}
		require.Equal(t, int(math.Round(0.05*float64(changeable-7))), rep.ChangedLeads)

		touched, newRows, newLeads := 0, 0, 0
		for i := range before.Campaigns {
			b, a := &before.Campaigns[i], &after.Campaigns[i]
			if b.Frozen() {
				require.Equal(t, *b, *a, "campaign %d is %s and must not change", b.ID, b.Status)
				continue
			}
			bs, as := *b, *a
			bs.Leads, bs.Stats, as.Leads, as.Stats = nil, nil, nil, nil
			require.Equal(t, bs, as, "campaign settings do not change")

			old := map[int64]fakeapi.Lead{}
			for _, l := range b.Leads {
				old[l.CampaignLeadMapID] = l
			}
			added := 0
			for _, l := range a.Leads {
				o, existed := old[l.CampaignLeadMapID]
				switch {
				case !existed:
					added++
					require.Greater(t, l.CampaignLeadMapID, maxMapID, "new leads get new, higher ids")
					require.Equal(t, now, l.CreatedAt)
					require.Equal(t, "STARTED", l.Status)
				case l.LastEventAt.Equal(now):
					touched++
					require.Equal(t, o.CreatedAt, l.CreatedAt)
					require.Equal(t, o.Email, l.Email)
				default:
					require.Equal(t, o, l, "an untouched lead is unchanged")
				}
				delete(old, l.CampaignLeadMapID)
			}
			for id := range old {
				require.True(t, deleted[id], "lead %d vanished without being deleted", id)
			}
			if a.Status == "ACTIVE" {
				require.Equal(t, 3, added)
			} else {
				require.Zero(t, added, "only ACTIVE campaigns get new leads")
			}
			newLeads += added

			oldRows := map[string]fakeapi.StatRow{}
			for _, r := range a.Stats {
				oldRows[r.StatsID] = r
			}
			cut := now.Add(-24 * time.Hour)
			for _, r := range b.Stats {
				got, ok := oldRows[r.StatsID]
				if deleted[r.CampaignLeadMapID] {
					require.False(t, ok, "a deleted lead's rows go with it")
					continue
				}
				require.True(t, ok)
				if r.SentTime.Before(cut) {
					require.Equal(t, r, got, "rows older than the engagement window never change")
				}
				delete(oldRows, r.StatsID)
			}
			for _, r := range oldRows {
				require.Equal(t, now, r.SentTime, "a new row is sent now")
				newRows++
			}

			// Days before yesterday keep their daily analytics, unless a
			// lead was deleted there; lifetime counters only grow.
			if !deletedIn[b.ID] {
				for d := now.AddDate(0, 0, -60).Truncate(24 * time.Hour); d.Before(cut.Truncate(24 * time.Hour)); d = d.AddDate(0, 0, 1) {
					require.Equal(t, b.AnalyticsByDate(d, d), a.AnalyticsByDate(d, d), "day %s", d.Format(time.DateOnly))
				}
				ba, aa := b.Analytics(), a.Analytics()
				for _, p := range [][2]int64{{ba.SentCount, aa.SentCount}, {ba.UniqueSentCount, aa.UniqueSentCount},
					{ba.OpenCount, aa.OpenCount}, {ba.UniqueOpenCount, aa.UniqueOpenCount}, {ba.ClickCount, aa.ClickCount},
					{ba.ReplyCount, aa.ReplyCount}, {ba.BounceCount, aa.BounceCount}, {ba.UnsubscribedCount, aa.UnsubscribedCount}} {
					require.LessOrEqual(t, p[0], p[1], "cumulative counters never go down")
				}
			}
		}
		require.Equal(t, rep.NewSends, newRows)
		require.Positive(t, rep.NewSends)
		require.Equal(t, rep.NewLeads, newLeads)
		require.GreaterOrEqual(t, touched, max(rep.ChangedLeads, rep.NewSends))
		require.LessOrEqual(t, touched, rep.ChangedLeads+rep.NewSends)

		// What an incremental reader sees through the filters.
		since := url.QueryEscape(before.Now.Format(time.RFC3339Nano))
		gotEvents, gotCreated, gotRows := 0, 0, 0
		for _, c := range after.Campaigns {
			want := 0
			for _, l := range c.Leads {
				if l.LastEventAt.Equal(now) {
					want++
				}
			}
			p := getJSON[leadsPage](t, s, fmt.Sprintf("/campaigns/%d/leads?limit=100&event_time_gt=%s", c.ID, since))
			require.Equal(t, fmt.Sprint(want), p.TotalLeads)
			gotEvents += want
			p = getJSON[leadsPage](t, s, fmt.Sprintf("/campaigns/%d/leads?limit=100&created_at_gt=%s", c.ID, since))
			for _, e := range p.Data {
				require.Equal(t, now, parseWireTime(t, e.CreatedAt))
			}
			gotCreated += len(p.Data)
			gotRows += len(allStats(t, s, c.ID, "&sent_time_start_date="+url.QueryEscape(isoMilli(now)), 1000))
		}
		require.Equal(t, touched+rep.NewLeads, gotEvents) // creation is an event too
		require.Equal(t, rep.NewLeads, gotCreated)
		require.Equal(t, rep.NewSends, gotRows)
	})
}

// TestNightsAccumulate: several nights in a row keep the account
// consistent (analytics from rows, lead stats summing to the lead count)
// and the stamps move forward even when the clock does not.
func TestNightsAccumulate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t, fakeapi.Config{Campaigns: 8, LeadsPerCampaign: 100})
		var last time.Time
		for range 5 {
			rep := s.Night(fakeapi.NightChange{ChangedLeadFrac: 0.1, NewLeadsPerCampaign: 5, NewSendsFrac: 0.1, DeletedLeads: 2})
			require.True(t, rep.At.After(last), "stamps strictly increase without the clock moving")
			last = rep.At
		}
		for _, c := range s.Truth().Campaigns {
			ls := c.LeadStats()
			require.EqualValues(t, len(c.Leads), ls.Total)
			require.Equal(t, ls.Total, ls.NotStarted+ls.InProgress+ls.Paused+ls.Completed+ls.Stopped+ls.Blocked)
			a := getJSON[map[string]any](t, s, fmt.Sprintf("/campaigns/%d/analytics", c.ID))
			require.Equal(t, fmt.Sprint(len(c.Stats)), a["sent_count"])
			for i := 1; i < len(c.Stats); i++ {
				require.False(t, c.Stats[i].SentTime.Before(c.Stats[i-1].SentTime), "rows stay in paging order")
			}
		}
	})
}
