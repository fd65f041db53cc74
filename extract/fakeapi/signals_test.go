package fakeapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
)

type overallPage struct {
	OK   bool `json:"ok"`
	Data struct {
		Rows []map[string]any `json:"campaign_wise_performance"`
	} `json:"data"`
}

// num reads a count the endpoint sends as a number or a numeric string.
func num(t testing.TB, v any) int64 {
	t.Helper()
	switch x := v.(type) {
	case json.Number:
		return mustInt(t, x)
	case string:
		return mustStrInt(t, x)
	}
	t.Fatalf("%#v is neither a number nor a numeric string", v)
	return 0
}

// overall reads every row of one range, paging at limit.
func overall(t testing.TB, s *fakeapi.Server, start, end time.Time, limit int, extra string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for off := 0; ; off += limit {
		p := getJSON[overallPage](t, s, fmt.Sprintf("/analytics/campaign/overall-stats?start_date=%s&end_date=%s&offset=%d&limit=%d%s",
			start.Format(time.DateOnly), end.Format(time.DateOnly), off, limit, extra))
		require.True(t, p.OK)
		out = append(out, p.Data.Rows...)
		if len(p.Data.Rows) < limit {
			return out
		}
	}
}

// TestOverallStatsAddUpToAnalytics: summed over 30-day ranges covering
// the account's life, each campaign's sent, replied and bounced equal its
// lifetime analytics, and each range's unique opens equal analytics by
// date over that range: the same send-date axis. Paging covers every
// campaign once.
func TestOverallStatsAddUpToAnalytics(t *testing.T) {
	cfg := fakeapi.AgencyConfig(4, 120)
	cfg.Now = fixedNow
	s := newServer(t, cfg)
	acc := s.Truth()
	sums := map[int64][3]int64{}
	today := fixedNow.Truncate(24 * time.Hour)
	strs, nums := 0, 0
	for end := today; !end.Before(acc.Campaigns[0].CreatedAt.Truncate(24 * time.Hour)); end = end.AddDate(0, 0, -30) {
		start := end.AddDate(0, 0, -29)
		rows := overall(t, s, start, end, 7, "")
		require.Equal(t, rows, overall(t, s, start, end, 1000, ""), "page size does not change the rows")
		full := getJSON[overallPage](t, s, fmt.Sprintf("/analytics/campaign/overall-stats?start_date=%s&end_date=%s&full_data=true",
			start.Format(time.DateOnly), end.Format(time.DateOnly)))
		require.Equal(t, rows, full.Data.Rows)
		seen := map[int64]bool{}
		for _, r := range rows {
			id := mustInt(t, r["id"])
			require.False(t, seen[id], "campaign %d twice", id)
			seen[id] = true
			c := acc.Campaign(id)
			require.NotNil(t, c)
			require.Equal(t, c.Name, r["campaign_name"])
			if _, ok := r["sent"].(string); ok {
				strs++
			} else {
				nums++
			}
			sum := sums[id]
			sum[0] += num(t, r["sent"])
			sum[1] += num(t, r["replied"])
			sum[2] += num(t, r["bounced"])
			sums[id] = sum
			a := c.AnalyticsByDate(start, end)
			require.Equal(t, a.UniqueOpenCount, num(t, r["unique_open_count"]), "campaign %d", id)
			require.Equal(t, a.UniqueSentCount, num(t, r["unique_lead_count"]), "campaign %d", id)
			require.True(t, strings.HasSuffix(r["open_rate"].(string), "%"))
			require.True(t, strings.HasSuffix(r["reply_rate"].(string), "%"))
		}
	}
	require.Positive(t, strs, "some counts arrive as strings")
	require.Positive(t, nums)
	for _, c := range acc.Campaigns {
		a := c.Analytics()
		require.Equal(t, [3]int64{a.SentCount, a.ReplyCount, a.BounceCount}, sums[c.ID], "campaign %d (%s)", c.ID, c.Status)
	}

	// Filters.
	c := acc.Campaigns[len(acc.Campaigns)-3]
	rows := overall(t, s, today.AddDate(0, 0, -29), today, 100, fmt.Sprintf("&campaign_ids=%d,%d", c.ID, acc.Campaigns[0].ID))
	require.Len(t, rows, 1, "the old campaign sent nothing in the last 30 days")
	require.Equal(t, c.ID, mustInt(t, rows[0]["id"]))
	if c.ClientID != 0 {
		for _, r := range overall(t, s, today.AddDate(0, 0, -29), today, 100, fmt.Sprintf("&client_ids=%d", c.ClientID)) {
			require.Equal(t, c.ClientID, acc.Campaign(mustInt(t, r["id"])).ClientID)
		}
	}
}

// TestOverallStatsRefusals: the dates are required, a range longer than
// the configured maximum is a 400 naming the limit, and so are a limit
// above 1000 and a timezone the simulation does not model.
func TestOverallStatsRefusals(t *testing.T) {
	s := newServer(t, fakeapi.Config{Campaigns: 3, Now: fixedNow, OverallStatsMaxDays: 7})
	for _, tc := range []struct{ query, want string }{
		{"", "start_date is required"},
		{"start_date=2026-03-01", "end_date is required"},
		{"start_date=2026-03-01&end_date=2026-03-08", "date range is 8 days; the maximum is 7 days"},
		{"start_date=2026-03-08&end_date=2026-03-01", "before start_date"},
		{"start_date=2026-03-01&end_date=2026-03-07&limit=1001", "limit must be less than or equal to 1000"},
		{"start_date=2026-03-01&end_date=2026-03-07&timezone=Europe/Berlin", "only UTC"},
		{"start_date=03/01/2026&end_date=2026-03-07", "YYYY-MM-DD"},
	} {
		r := get(t, s, "/analytics/campaign/overall-stats?"+tc.query)
		require.Equal(t, http.StatusBadRequest, r.status, tc.query)
		require.Contains(t, string(r.body), tc.want, tc.query)
	}
	r := get(t, s, "/analytics/campaign/overall-stats?start_date=2026-03-01&end_date=2026-03-07")
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, 8, s.Stats().Paths[fakeapi.PathOverallStats], "refusals count against the windows too")
}

type activitiesPage struct {
	Data []struct {
		LeadID         any    `json:"lead_id"`
		EmailLeadMapID int64  `json:"email_lead_map_id"`
		CampaignID     int64  `json:"campaign_id"`
		Status         string `json:"status"`
		CurrentSeqNum  int    `json:"current_seq_num"`
		Activities     []struct {
			StatsID        string `json:"stats_id"`
			SentTime       string `json:"sent_time"`
			EmailSeqNumber string `json:"email_seq_number"`
			OpenCount      int    `json:"open_count"`
			ClickCount     int    `json:"click_count"`
			ReplyDetails   *struct {
				ReplyTime string `json:"reply_time"`
			} `json:"reply_details"`
		} `json:"activities"`
	} `json:"data"`
	HasMore bool `json:"hasMore"`
}

// TestLeadActivities: after a realistic night, the activities of the
// night's window name exactly the leads the per-campaign leads filter
// event_time_gt finds, across campaigns, each with its emails and their
// engagement as the statistics route shows them; paging by hasMore
// covers them once.
func TestLeadActivities(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t, fakeapi.AgencyConfig(8, 300))
		before := s.Truth()
		time.Sleep(24 * time.Hour)
		rep := s.RealisticNight(fakeapi.AgencyNight)
		acc := s.Truth()
		from := url.QueryEscape(before.Now.Add(time.Millisecond).Format(time.RFC3339Nano))
		to := url.QueryEscape(rep.At.Format(time.RFC3339Nano))

		type key struct{ c, l int64 }
		got := map[key]bool{}
		strIDs := 0
		for off, limit := 0, 50; ; off += limit {
			p := getJSON[activitiesPage](t, s, fmt.Sprintf("/campaigns/all-leads-activities?event_time_from=%s&event_time_to=%s&offset=%d&limit=%d", from, to, off, limit))
			for _, e := range p.Data {
				k := key{e.CampaignID, e.EmailLeadMapID}
				require.False(t, got[k], "lead %d twice", e.EmailLeadMapID)
				got[k] = true
				require.Greater(t, e.EmailLeadMapID, int64(1<<31), "ids above 2^31")
				if _, ok := e.LeadID.(string); ok {
					strIDs++
				}
				c := acc.Campaign(e.CampaignID)
				var rows []fakeapi.StatRow
				for _, r := range c.Stats {
					if r.CampaignLeadMapID == e.EmailLeadMapID {
						rows = append(rows, r)
					}
				}
				require.Len(t, e.Activities, len(rows))
				require.Equal(t, len(rows), e.CurrentSeqNum)
				for i, a := range e.Activities {
					require.Equal(t, rows[i].StatsID, a.StatsID)
					require.Equal(t, rows[i].OpenCount, a.OpenCount)
					require.Equal(t, rows[i].ClickCount, a.ClickCount)
					require.Equal(t, !rows[i].ReplyTime.IsZero(), a.ReplyDetails != nil)
					require.Equal(t, strconv.Itoa(rows[i].SequenceNumber), a.EmailSeqNumber)
				}
			}
			require.Equal(t, len(p.Data) == limit && p.HasMore, p.HasMore)
			if !p.HasMore {
				break
			}
		}
		require.Len(t, got, rep.ChangedLeads)
		require.Positive(t, strIDs, "some lead ids arrive as strings")
		for _, c := range acc.Campaigns {
			for _, l := range c.Leads {
				require.Equal(t, l.LastEventAt.After(before.Now), got[key{c.ID, l.CampaignLeadMapID}], "lead %d", l.CampaignLeadMapID)
			}
		}

		for _, tc := range []struct{ query, want string }{
			{"limit=1001", "limit must be less than or equal to 1000"},
			{"event_time_to=2026-03-01", "event_time_to requires event_time_from"},
			{"event_time_from=yesterday", "cannot parse"},
		} {
			r := get(t, s, "/campaigns/all-leads-activities?"+tc.query)
			require.Equal(t, http.StatusBadRequest, r.status, tc.query)
			require.Contains(t, string(r.body), tc.want)
		}
		// A bare date as event_time_to covers that whole day.
		day := rep.At.Add(-time.Hour).Format(time.DateOnly)
		p := getJSON[activitiesPage](t, s, "/campaigns/all-leads-activities?limit=1000&event_time_from="+day+"&event_time_to="+day)
		require.NotEmpty(t, p.Data)
	})
}

// TestEndpointFaults: each account-wide route in turn answers 404, 400,
// 422, an HTML page, or numbers that disagree with the per-campaign
// routes; each such answer is admitted and counted; healing restores it.
func TestEndpointFaults(t *testing.T) {
	s := newServer(t, fakeapi.Config{Campaigns: 12, LeadsPerCampaign: 40, Now: fixedNow})
	acc := s.Truth()
	start, end := fixedNow.AddDate(0, 0, -29), fixedNow
	overallQ := fmt.Sprintf("/analytics/campaign/overall-stats?start_date=%s&end_date=%s&limit=1000", start.Format(time.DateOnly), end.Format(time.DateOnly))
	activityQ := "/campaigns/all-leads-activities?limit=1000&event_time_from=" + url.QueryEscape(fixedNow.AddDate(0, 0, -10).Format(time.RFC3339))
	for _, ep := range []struct{ tmpl, path string }{{fakeapi.PathOverallStats, overallQ}, {fakeapi.PathLeadActivities, activityQ}} {
		good := get(t, s, ep.path)
		require.Equal(t, http.StatusOK, good.status)
		for _, f := range []struct {
			fault  fakeapi.EndpointFault
			status int
		}{{fakeapi.FaultNotFound, 404}, {fakeapi.FaultBadRequest, 400}, {fakeapi.FaultUnprocessable, 422}, {fakeapi.FaultGarbage, 200}} {
			s.SetEndpointFault(ep.tmpl, f.fault)
			r := get(t, s, ep.path)
			require.Equal(t, f.status, r.status, "%s fault %d", ep.tmpl, f.fault)
			var v any
			if f.fault == fakeapi.FaultGarbage {
				require.Error(t, jsonUnmarshal(r.body, &v), "garbage does not decode")
			}
		}
		s.SetEndpointFault(ep.tmpl, fakeapi.FaultDisagree)
		bad := get(t, s, ep.path)
		require.Equal(t, http.StatusOK, bad.status)
		require.NotEqual(t, string(good.body), string(bad.body), "%s: numbers disagree", ep.tmpl)
		s.SetEndpointFault(ep.tmpl, fakeapi.FaultNone)
		require.Equal(t, string(good.body), string(get(t, s, ep.path).body), "healed")
		require.Equal(t, 7, s.Stats().Paths[ep.tmpl], "every faulty answer was admitted and counted")
	}

	// Disagreeing overall-stats over-count sent against the analytics.
	s.SetEndpointFault(fakeapi.PathOverallStats, fakeapi.FaultDisagree)
	off := 0
	for _, r := range getJSON[overallPage](t, s, overallQ).Data.Rows {
		c := acc.Campaign(mustInt(t, r["id"]))
		if num(t, r["sent"]) != c.AnalyticsByDate(start, end).SentCount {
			off++
		}
	}
	require.Positive(t, off)
}
