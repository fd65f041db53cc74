package extract_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
)

// TestSignalRequests: the account-wide items become the documented
// queries, and bad items are refused by name before costing a request.
func TestSignalRequests(t *testing.T) {
	t.Parallel()
	var got []*url.URL
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL)
		if strings.HasSuffix(r.URL.Path, "/overall-stats") {
			_, _ = io.WriteString(w, `{"ok": true, "data": {"campaign_wise_performance": []}}`)
			return
		}
		_, _ = io.WriteString(w, `{"data": [], "hasMore": false}`)
	})
	c, _ := newClient(t, h, nil)
	since := time.Date(2025, 3, 4, 5, 6, 7, 890_000_000, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		it    extract.Item
		path  string
		query url.Values
	}{
		{extract.Item{Stream: extract.StreamOverallStats, Day: "2025-01-01", EndDay: "2025-01-30"}, "/api/v1/analytics/campaign/overall-stats",
			url.Values{"start_date": {"2025-01-01"}, "end_date": {"2025-01-30"}, "offset": {"0"}, "limit": {"1000"}}},
		{extract.Item{Stream: extract.StreamOverallStats, Day: "2025-01-01", EndDay: "2025-01-01", Offset: 1000}, "/api/v1/analytics/campaign/overall-stats",
			url.Values{"start_date": {"2025-01-01"}, "end_date": {"2025-01-01"}, "offset": {"1000"}, "limit": {"1000"}}},
		{extract.Item{Stream: extract.StreamLeadActivities}, "/api/v1/campaigns/all-leads-activities", url.Values{"offset": {"0"}, "limit": {"1000"}}},
		{extract.Item{Stream: extract.StreamLeadActivities, Since: since, Until: since.Add(25 * time.Hour)}, "/api/v1/campaigns/all-leads-activities",
			url.Values{"offset": {"0"}, "limit": {"1000"}, "event_time_from": {"2025-03-04T04:06:07.890Z"}, "event_time_to": {"2025-03-05T05:06:07.890Z"}}},
	} {
		got = nil
		_, err := c.Fetch(t.Context(), tc.it)
		require.NoError(t, err, "%+v", tc.it)
		require.Len(t, got, 1)
		require.Equal(t, tc.path, got[0].Path)
		q := got[0].Query()
		q.Del("api_key")
		require.Equal(t, tc.query, q, "%+v", tc.it)
	}
	got = nil
	for _, tc := range []struct {
		it   extract.Item
		want string
	}{
		{extract.Item{Stream: extract.StreamOverallStats, EndDay: "2025-01-30"}, `day "": want YYYY-MM-DD`},
		{extract.Item{Stream: extract.StreamOverallStats, Day: "2025-01-30", EndDay: "2025-01-01"}, "end day 2025-01-01 is before day 2025-01-30"},
		{extract.Item{Stream: extract.StreamOverallStats, Day: "2025-01-30", EndDay: "30.1.2025"}, `end day "30.1.2025"`},
		{extract.Item{Stream: extract.StreamOverallStats, CampaignID: 7, Day: "2025-01-01", EndDay: "2025-01-01"}, "account-level stream"},
		{extract.Item{Stream: extract.StreamLeadActivities, Until: since}, "until needs since"},
		{extract.Item{Stream: extract.StreamLeadActivities, Since: since, Until: since.Add(-time.Second)}, "is before since"},
		{extract.Item{Stream: extract.StreamLeads, CampaignID: 4, EndDay: "2025-01-01"}, "end day"},
		{extract.Item{Stream: extract.StreamLeads, CampaignID: 4, Until: since}, "until given"},
	} {
		_, err := c.Fetch(t.Context(), tc.it)
		require.ErrorContains(t, err, tc.want)
	}
	require.Empty(t, got, "a bad item must not cost a request")
}

// TestSignalDecode: the nested overall-stats envelope, hasMore paging of
// the activities, and answers that do not decode (an HTML page, ok:
// false, a wrong shape) as DecodeErrors naming the field.
func TestSignalDecode(t *testing.T) {
	t.Parallel()
	ov := extract.Item{Stream: extract.StreamOverallStats, Day: "2025-01-01", EndDay: "2025-01-30"}
	act := extract.Item{Stream: extract.StreamLeadActivities}
	rows := func(n int, key string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`{%q: %d}`, key, 2_400_000_000+i)
		}
		return strings.Join(parts, ",")
	}
	for _, tc := range []struct {
		name    string
		it      extract.Item
		body    string
		records int
		next    int
		errText string
	}{
		{"overall rows", ov, `{"ok": true, "data": {"campaign_wise_performance": [{"id": 1}, {"id": "2"}]}}`, 2, -1, ""},
		{"overall full page", ov, `{"ok": true, "data": {"campaign_wise_performance": [` + rows(1000, "id") + `]}}`, 1000, 1000, ""},
		{"overall no rows", ov, `{"ok": true, "data": {"campaign_wise_performance": null}}`, 0, -1, ""},
		{"overall ok false", ov, `{"ok": false, "data": {}}`, 0, -1, `field "ok": the API answered ok: false`},
		{"overall data array", ov, `{"ok": true, "data": [{"id": 1}]}`, 0, -1, `field "data": want an object`},
		{"overall rows missing", ov, `{"ok": true, "data": {"rows": []}}`, 0, -1, `field "data.campaign_wise_performance": missing`},
		{"overall HTML", ov, `<!DOCTYPE html><html></html>`, 0, -1, `unexpected JSON value starting "<"`},
		{"activities hasMore on a short page", act, `{"data": [` + rows(3, "email_lead_map_id") + `], "hasMore": true}`, 3, 3, ""},
		{"activities no more on a full page", act, `{"data": [` + rows(1000, "email_lead_map_id") + `], "hasMore": false}`, 1000, -1, ""},
		{"activities hasMore on an empty page", act, `{"data": [], "hasMore": true}`, 0, -1, ""},
		{"activities without hasMore", act, `{"data": [` + rows(1000, "email_lead_map_id") + `]}`, 1000, 1000, ""},
		{"activities bad hasMore", act, `{"data": [], "hasMore": "yes"}`, 0, -1, `field "hasMore": "yes" is not a boolean`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, tc.body) })
			c, _ := newClient(t, h, nil)
			p, err := c.Fetch(t.Context(), tc.it)
			if tc.errText != "" {
				var de *extract.DecodeError
				require.ErrorAs(t, err, &de)
				require.ErrorContains(t, err, tc.errText)
				return
			}
			require.NoError(t, err)
			require.Len(t, p.Records, tc.records)
			if tc.next < 0 {
				require.Nil(t, p.Next)
			} else {
				require.NotNil(t, p.Next)
				require.Equal(t, tc.next, p.Next.Offset)
			}
		})
	}
}

// TestOverallStatsItems: ranges on a fixed grid, covering every day once,
// the same from one night to the next except the newest.
func TestOverallStatsItems(t *testing.T) {
	t.Parallel()
	first := time.Date(2025, 3, 17, 15, 0, 0, 0, time.UTC)
	last := time.Date(2026, 3, 14, 2, 0, 0, 0, time.UTC)
	items := extract.OverallStatsItems(first, last, 30)
	require.Len(t, items, 13)
	require.Equal(t, "2025-03-17", items[0].Day)
	require.Equal(t, "2026-03-14", items[len(items)-1].EndDay)
	day := first.Truncate(24 * time.Hour)
	for _, it := range items {
		require.Equal(t, extract.StreamOverallStats, it.Stream)
		require.Equal(t, day.Format(time.DateOnly), it.Day, "no gap, no overlap")
		end, err := time.Parse(time.DateOnly, it.EndDay)
		require.NoError(t, err)
		require.LessOrEqual(t, int(end.Sub(day)/(24*time.Hour))+1, 30)
		day = end.AddDate(0, 0, 1)
	}
	next := extract.OverallStatsItems(first, last.AddDate(0, 0, 1), 30)
	require.Equal(t, items[:len(items)-1], next[:len(items)-1], "tomorrow asks the same ranges")
	require.Equal(t, extract.OverallStatsItems(first, last, 0), items, "30 days by default")
}

// TestCrawlOverallStatsSplitsRefusedRanges: against the simulated API
// with a 7-day limit, 30-day ranges are refused once each and read again
// in ranges of the length the refusal names; summed, the rows give each
// campaign's lifetime sent and replied counts. A refusal that names no
// limit is tried in halves once, then returned.
func TestCrawlOverallStatsSplitsRefusedRanges(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 14, 2, 0, 0, 0, time.UTC)
	cfg := fakeapi.AgencyConfig(2, 60)
	cfg.APIKey, cfg.Now, cfg.OverallStatsMaxDays = testKey, now, 7
	fake := fakeapi.New(cfg)
	c, logs := newClient(t, nil, nil, extract.WithHTTPClient(&http.Client{Transport: fake.Transport()}), extract.WithBaseURL("http://localhost"+fakeapi.BasePath))
	acc := fake.Truth()
	items := extract.OverallStatsItems(acc.Campaigns[0].CreatedAt, now, 30)
	sums := map[int64][2]int64{}
	done, err := c.CrawlOverallStats(t.Context(), items, func(p extract.Page) error {
		for _, r := range p.Records {
			var row struct {
				ID      int64       `json:"id"`
				Sent    json.Number `json:"sent"`
				Replied json.Number `json:"replied"`
			}
			require.NoError(t, json.Unmarshal(r, &row))
			s, _ := row.Sent.Int64()
			re, _ := row.Replied.Int64()
			sum := sums[row.ID]
			sums[row.ID] = [2]int64{sum[0] + s, sum[1] + re}
		}
		return nil
	})
	require.NoError(t, err)
	for _, it := range done {
		s, _ := time.Parse(time.DateOnly, it.Day)
		e, _ := time.Parse(time.DateOnly, it.EndDay)
		require.LessOrEqual(t, e.Sub(s), 6*24*time.Hour)
	}
	for _, camp := range acc.Campaigns {
		a := camp.Analytics()
		require.Equal(t, [2]int64{a.SentCount, a.ReplyCount}, sums[camp.ID], "campaign %d", camp.ID)
	}
	refused := 0
	for _, it := range items {
		s, _ := time.Parse(time.DateOnly, it.Day)
		e, _ := time.Parse(time.DateOnly, it.EndDay)
		if e.Sub(s) > 6*24*time.Hour {
			refused++
		}
	}
	require.Greater(t, refused, 10)
	require.Equal(t, refused+len(done), fake.Stats().Paths[fakeapi.PathOverallStats], "one refusal per range over 7 days, then the 7-day ranges")
	require.Contains(t, logs.String(), "days=7 limit_named=true")

	fake.SetEndpointFault(fakeapi.PathOverallStats, fakeapi.FaultBadRequest)
	before := fake.Stats().Paths[fakeapi.PathOverallStats]
	_, err = c.CrawlOverallStats(t.Context(), items[:1], func(extract.Page) error { return nil })
	var ae *extract.APIError
	require.True(t, errors.As(err, &ae), "%v", err)
	require.Equal(t, http.StatusBadRequest, ae.Status)
	require.Equal(t, 2, fake.Stats().Paths[fakeapi.PathOverallStats]-before, "the range, then its first half")

	fake.SetEndpointFault(fakeapi.PathOverallStats, fakeapi.FaultNotFound)
	_, err = c.CrawlOverallStats(t.Context(), items[:1], func(extract.Page) error { return nil })
	require.ErrorIs(t, err, extract.ErrNotFound)

	fake.SetEndpointFault(fakeapi.PathOverallStats, fakeapi.FaultGarbage)
	_, err = c.CrawlOverallStats(t.Context(), items[:1], func(extract.Page) error { return nil })
	var de *extract.DecodeError
	require.ErrorAs(t, err, &de)
}
