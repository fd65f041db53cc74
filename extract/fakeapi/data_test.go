package fakeapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
)

// TestLeadCountsVary: counts vary around the average, with empty
// campaigns and campaigns that need several pages.
func TestLeadCountsVary(t *testing.T) {
	s := newServer(t, fakeapi.Config{Campaigns: 40, LeadsPerCampaign: 100, Now: fixedNow})
	truth := s.Truth()
	empty, paged := 0, 0
	for _, c := range truth.Campaigns {
		if len(c.Leads) == 0 {
			empty++
		}
		if len(c.Leads) > 100 {
			paged++
		}
	}
	require.Positive(t, empty)
	require.Positive(t, paged)
	require.InDelta(t, 4000, truth.LeadCount(), 400, "the average holds")
}

// TestLeadsPagingCoversEveryLeadOnce pages every campaign at limit 100
// and stops on a short page, as the extractor does.
func TestLeadsPagingCoversEveryLeadOnce(t *testing.T) {
	s := newServer(t, fakeapi.Config{Campaigns: 12, LeadsPerCampaign: 140, Now: fixedNow})
	for _, c := range s.Truth().Campaigns {
		seen := map[int64]bool{}
		var order []int64
		for off := 0; ; off += 100 {
			p := getJSON[leadsPage](t, s, fmt.Sprintf("/campaigns/%d/leads?offset=%d&limit=100", c.ID, off))
			require.Equal(t, strconv.Itoa(len(c.Leads)), p.TotalLeads)
			require.Equal(t, off, p.Offset)
			for _, e := range p.Data {
				require.False(t, seen[e.CampaignLeadMapID], "lead %d twice", e.CampaignLeadMapID)
				seen[e.CampaignLeadMapID] = true
				order = append(order, e.CampaignLeadMapID)
			}
			if len(p.Data) < 100 {
				break
			}
		}
		require.Len(t, order, len(c.Leads))
		for i, l := range c.Leads {
			require.Equal(t, l.CampaignLeadMapID, order[i], "ordered by campaign_lead_map_id")
		}
	}
	// Default limit is 100.
	c := s.Truth().Campaigns[0]
	p := getJSON[leadsPage](t, s, fmt.Sprintf("/campaigns/%d/leads", c.ID))
	require.Equal(t, 100, p.Limit)
}

// TestStatisticsPagingIsStable: every row exactly once at any page size,
// in (sent_time, stats_id) order, and a limit above StatsMaxLimit is
// clamped and echoed.
func TestStatisticsPagingIsStable(t *testing.T) {
	s := newServer(t, fakeapi.Config{Campaigns: 6, LeadsPerCampaign: 200, StatsMaxLimit: 250, Now: fixedNow})
	for _, c := range s.Truth().Campaigns {
		p := getJSON[statsPage](t, s, fmt.Sprintf("/campaigns/%d/statistics?limit=5000", c.ID))
		require.Equal(t, min(250, len(c.Stats)), len(p.Data))
		require.Equal(t, 250, p.Limit, "the clamp is echoed")
		require.Equal(t, strconv.Itoa(len(c.Stats)), p.TotalStats)
		for _, limit := range []int{250, 77} {
			rows := allStats(t, s, c.ID, "", limit)
			require.Len(t, rows, len(c.Stats))
			for i, r := range rows {
				require.Equal(t, c.Stats[i].StatsID, r.StatsID)
				if i > 0 {
					a, b := parseWireTime(t, rows[i-1].SentTime), parseWireTime(t, r.SentTime)
					require.False(t, b.Before(a), "sent_time ascending")
					if a.Equal(b) {
						require.Less(t, rows[i-1].StatsID, r.StatsID)
					}
				}
			}
		}
	}
}

func TestLeadFilters(t *testing.T) {
	s := newServer(t, fakeapi.Config{Campaigns: 8, LeadsPerCampaign: 150, Now: fixedNow})
	cut := fixedNow.Add(-5 * 24 * time.Hour)
	checked := 0
	for _, c := range s.Truth().Campaigns {
		for _, f := range []struct {
			param string
			keep  func(l fakeapi.Lead) bool
		}{
			{"created_at_gt", func(l fakeapi.Lead) bool { return l.CreatedAt.After(cut) }},
			{"last_sent_time_gt", func(l fakeapi.Lead) bool { return l.LastSentAt.After(cut) }},
			{"event_time_gt", func(l fakeapi.Lead) bool { return l.LastEventAt.After(cut) }},
		} {
			var want []int64
			for _, l := range c.Leads {
				if f.keep(l) {
					want = append(want, l.CampaignLeadMapID)
				}
			}
			// Three spellings of the same instant.
			for _, v := range []string{isoMilli(cut), cut.Format("2006-01-02 15:04:05.000Z"), cut.Format("2006-01-02T15:04:05.000+00:00")} {
				var got []int64
				total := ""
				for off := 0; ; off += 100 {
					p := getJSON[leadsPage](t, s, fmt.Sprintf("/campaigns/%d/leads?offset=%d&%s=%s", c.ID, off, f.param, url.QueryEscape(v)))
					total = p.TotalLeads
					for _, e := range p.Data {
						got = append(got, e.CampaignLeadMapID)
					}
					if len(p.Data) < 100 {
						break
					}
				}
				require.Equal(t, want, got, "%s=%s", f.param, v)
				require.Equal(t, strconv.Itoa(len(want)), total)
				checked += len(got)
			}
		}
	}
	require.Positive(t, checked, "the filters matched something")

	// Strictly after: a lead's own time excludes it, a millisecond less
	// includes it.
	var c fakeapi.Campaign
	for _, x := range s.Truth().Campaigns {
		if len(x.Stats) > 0 {
			c = x
		}
	}
	l := c.Leads[0]
	for _, x := range c.Leads {
		if !x.LastSentAt.IsZero() {
			l = x
			break
		}
	}
	for param, at := range map[string]time.Time{"created_at_gt": l.CreatedAt, "last_sent_time_gt": l.LastSentAt, "event_time_gt": l.LastEventAt} {
		has := func(at time.Time) bool {
			found := false
			for off := 0; ; off += 100 {
				p := getJSON[leadsPage](t, s, fmt.Sprintf("/campaigns/%d/leads?offset=%d&%s=%s", c.ID, off, param, url.QueryEscape(at.Format(time.RFC3339Nano))))
				for _, e := range p.Data {
					found = found || e.CampaignLeadMapID == l.CampaignLeadMapID
				}
				if len(p.Data) < 100 {
					return found
				}
			}
		}
		require.False(t, has(at), "%s equal to the lead's time excludes it", param)
		require.True(t, has(at.Add(-time.Millisecond)), "%s just before the lead's time includes it", param)
	}
	// An unescaped "+00:00" arrives as a space and is still understood.
	r := get(t, s, fmt.Sprintf("/campaigns/%d/leads?event_time_gt=2026-01-01T00:00:00+00:00", c.ID))
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	r = get(t, s, fmt.Sprintf("/campaigns/%d/leads?event_time_gt=last-tuesday", c.ID))
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, string(r.body), "event_time_gt")
}

func TestStatisticsSentTimeFilters(t *testing.T) {
	s := newServer(t, fakeapi.Config{Campaigns: 6, LeadsPerCampaign: 150, Now: fixedNow})
	from := time.Date(2026, 2, 1, 10, 33, 2, 0, time.UTC)
	to := time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC)
	matched := 0
	for _, c := range s.Truth().Campaigns {
		var want []string
		var wantDays []string
		for _, r := range c.Stats {
			if !r.SentTime.Before(from) && !r.SentTime.After(to) {
				want = append(want, r.StatsID)
			}
			if !r.SentTime.Before(from) && r.SentTime.Before(to.AddDate(0, 0, 1)) {
				wantDays = append(wantDays, r.StatsID)
			}
		}
		for _, q := range []struct {
			query string
			want  []string
		}{
			{"&sent_time_start_date=" + url.QueryEscape("2026-02-01 10:33:02.000Z") + "&sent_time_end_date=" + url.QueryEscape("2026-02-20 00:00:00.000Z"), want},
			{"&sent_time_start_date=" + url.QueryEscape(from.Format(time.RFC3339)) + "&sent_time_end_date=" + url.QueryEscape(to.Format(time.RFC3339)), want},
			{"&sent_time_start_date=2026-02-01T10:33:02Z&sent_time_end_date=2026-02-20", wantDays}, // a bare end date covers the whole day
		} {
			rows := allStats(t, s, c.ID, q.query, 100)
			var got []string
			for _, r := range rows {
				got = append(got, r.StatsID)
			}
			require.Equal(t, q.want, got, q.query)
			matched += len(got)
		}
		p := getJSON[statsPage](t, s, fmt.Sprintf("/campaigns/%d/statistics?email_sequence_number=2&email_status=opened&limit=1000", c.ID))
		for _, r := range p.Data {
			require.Equal(t, 2, r.SequenceNumber)
			require.Positive(t, r.OpenCount)
		}
	}
	require.Positive(t, matched)
}

// TestAnalyticsMatchStatistics recomputes every counter from the rows a
// client can page through and compares with both analytics routes.
func TestAnalyticsMatchStatistics(t *testing.T) {
	s := newServer(t, fakeapi.Config{Campaigns: 10, LeadsPerCampaign: 120, Now: fixedNow})
	trackingOff := 0
	for _, c := range s.Truth().Campaigns {
		rows := allStats(t, s, c.ID, "", 1000)
		type flags struct{ opened, clicked, bounced bool }
		leads := map[string]*flags{}
		var sent, opens, clicks, replies, bounces, unsubs int64
		for _, r := range rows {
			f := leads[r.LeadEmail]
			if f == nil {
				f = &flags{}
				leads[r.LeadEmail] = f
			}
			sent++
			opens += int64(r.OpenCount)
			clicks += int64(r.ClickCount)
			f.opened = f.opened || r.OpenCount > 0
			f.clicked = f.clicked || r.ClickCount > 0
			f.bounced = f.bounced || r.IsBounced
			if r.ReplyTime != nil {
				replies++
			}
			if r.IsBounced {
				bounces++
			}
			if r.IsUnsubscribed {
				unsubs++
			}
		}
		var uOpen, uClick, blocked int64
		for _, f := range leads {
			if f.opened {
				uOpen++
			}
			if f.clicked {
				uClick++
			}
			if f.bounced {
				blocked++
			}
		}
		a := getJSON[map[string]any](t, s, fmt.Sprintf("/campaigns/%d/analytics", c.ID))
		n := func(k string) int64 {
			v, err := strconv.ParseInt(a[k].(string), 10, 64)
			require.NoError(t, err)
			return v
		}
		require.Equal(t, sent, n("sent_count"), c.ID)
		require.EqualValues(t, len(leads), n("unique_sent_count"))
		if c.OpenTracking() {
			require.Equal(t, opens, n("open_count"))
		} else {
			require.Zero(t, n("open_count"), "open tracking off reports 0 opens")
			trackingOff++
		}
		require.Equal(t, uOpen, n("unique_open_count"))
		require.Equal(t, clicks, n("click_count"))
		require.Equal(t, uClick, n("unique_click_count"))
		require.Equal(t, replies, n("reply_count"))
		require.Equal(t, bounces, n("bounce_count"))
		require.Equal(t, unsubs, n("unsubscribed_count"))
		require.Equal(t, blocked, n("block_count"))
		ls := a["campaign_lead_stats"].(map[string]any)
		require.EqualValues(t, blocked, mustInt(t, ls["blocked"]), "bounced leads are the blocked ones")
		lp := getJSON[leadsPage](t, s, fmt.Sprintf("/campaigns/%d/leads", c.ID))
		require.Equal(t, lp.TotalLeads, fmt.Sprint(mustInt(t, ls["total"])), "total = number of leads")

		// Additive counters of single days sum to the lifetime ones.
		var daySent, dayReplies, dayBounces int64
		if len(c.Stats) > 0 {
			first := c.Stats[0].SentTime.Truncate(24 * time.Hour)
			last := c.Stats[len(c.Stats)-1].SentTime.Truncate(24 * time.Hour)
			for d := first; !d.After(last); d = d.AddDate(0, 0, 31) {
				end := d.AddDate(0, 0, 30)
				b := getJSON[map[string]any](t, s, fmt.Sprintf("/campaigns/%d/analytics-by-date?start_date=%s&end_date=%s", c.ID, d.Format(time.DateOnly), end.Format(time.DateOnly)))
				require.Equal(t, d.Format(time.DateOnly), b["start_date"])
				require.Equal(t, end.Format(time.DateOnly), b["end_date"])
				daySent += mustStrInt(t, b["sent_count"])
				dayReplies += mustStrInt(t, b["reply_count"])
				dayBounces += mustStrInt(t, b["bounce_count"])
			}
		}
		require.Equal(t, sent, daySent)
		require.Equal(t, replies, dayReplies)
		require.Equal(t, bounces, dayBounces)
	}
	require.Positive(t, trackingOff, "some campaign has open tracking off")
}

func TestAnalyticsByDateRejectsBadRanges(t *testing.T) {
	s := newServer(t, fakeapi.Config{Campaigns: 2, LeadsPerCampaign: 50, Now: fixedNow})
	id := s.Truth().Campaigns[0].ID
	for _, q := range []string{
		"start_date=2026-01-01&end_date=2026-02-01", // 32 days
		"start_date=2026-01-01",
		"end_date=2026-01-01",
		"",
		"start_date=2026-01-01&end_date=2026-13-01",
		"start_date=01/01/2026&end_date=2026-01-02",
		"start_date=2026-01-05&end_date=2026-01-01",
	} {
		r := get(t, s, fmt.Sprintf("/campaigns/%d/analytics-by-date?%s", id, q))
		require.Equal(t, http.StatusBadRequest, r.status, q)
		m := map[string]any{}
		require.NoError(t, jsonUnmarshal(r.body, &m), q)
		require.NotEmpty(t, m["message"], q)
	}
	r := get(t, s, fmt.Sprintf("/campaigns/%d/analytics-by-date?start_date=2026-01-01&end_date=2026-01-31", id))
	require.Equal(t, http.StatusOK, r.status, "31 days are allowed")
	r = get(t, s, "/campaigns/1/analytics-by-date?start_date=2026-01-01&end_date=2026-01-01")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "{}", string(r.body))
}
