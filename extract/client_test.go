package extract_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
)

func TestNewClientValidates(t *testing.T) {
	t.Parallel()
	_, err := extract.NewClient("")
	require.ErrorContains(t, err, "empty API key")
	_, err = extract.NewClient("  ")
	require.Error(t, err)

	for _, u := range []string{"server.smartlead.ai/api/v1", "ftp://x/api", "http://x/api?api_key=1", "://"} {
		_, err := extract.NewClient(testKey, extract.WithBaseURL(u))
		require.Error(t, err, u)
		assertNoKey(t, err)
	}
	for _, o := range []extract.Option{
		extract.WithAttemptTimeout(0), extract.WithRetry(-1, time.Second, time.Second),
		extract.WithRetry(1, 2*time.Second, time.Second), extract.WithMaxRetryAfter(0),
		extract.WithStatsPageSize(0), extract.WithHTTPClient(nil), extract.WithLimiter(nil),
		extract.WithLogger(nil), extract.WithRand(nil),
	} {
		_, err := extract.NewClient(testKey, o)
		require.Error(t, err)
	}

	c, err := extract.NewClient(testKey)
	require.NoError(t, err)
	require.Equal(t, extract.DefaultBaseURL, c.BaseURL())
	require.NotNil(t, c.Limiter())
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		require.NotContains(t, fmt.Sprintf(f, c), testKey, "printing the client with "+f)
	}
}

// TestRequests checks each stream's path and query, the key as a query
// parameter, and that bad items fail before any request naming the field.
func TestRequests(t *testing.T) {
	t.Parallel()
	var got []*url.URL
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL)
		assert.Equal(t, http.MethodGet, r.Method)
		assert.Equal(t, testKey, r.URL.Query().Get("api_key"))
		switch {
		case strings.HasSuffix(r.URL.Path, "/analytics"), strings.HasSuffix(r.URL.Path, "/analytics-by-date"):
			_, _ = io.WriteString(w, `{"id": 1}`)
		case strings.HasSuffix(r.URL.Path, "/leads"), strings.HasSuffix(r.URL.Path, "/statistics"):
			_, _ = io.WriteString(w, `{"data": []}`)
		default:
			_, _ = io.WriteString(w, `[]`)
		}
	})
	c, _ := newClient(t, h, nil)
	since := time.Date(2025, 3, 4, 5, 6, 7, 890_000_000, time.FixedZone("CET", 3600))
	cases := []struct {
		it    extract.Item
		path  string
		query url.Values
	}{
		{extract.Item{Stream: extract.StreamCampaigns}, "/api/v1/campaigns/", url.Values{}},
		{extract.Item{Stream: extract.StreamClients}, "/api/v1/client/", url.Values{}},
		{extract.Item{Stream: extract.StreamEmailAccounts, Offset: 200}, "/api/v1/email-accounts/", url.Values{"offset": {"200"}, "limit": {"100"}}},
		{extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: 3_000_000_001}, "/api/v1/campaigns/3000000001/analytics", url.Values{}},
		{extract.Item{Stream: extract.StreamCampaignDailyStats, CampaignID: 9, Day: "2025-02-28"}, "/api/v1/campaigns/9/analytics-by-date",
			url.Values{"start_date": {"2025-02-28"}, "end_date": {"2025-02-28"}}},
		{extract.Item{Stream: extract.StreamLeads, CampaignID: 9}, "/api/v1/campaigns/9/leads", url.Values{"offset": {"0"}, "limit": {"100"}}},
		{extract.Item{Stream: extract.StreamLeads, CampaignID: 9, Offset: 300, Since: since}, "/api/v1/campaigns/9/leads",
			url.Values{"offset": {"300"}, "limit": {"100"}, "event_time_gt": {"2025-03-04T04:06:07.890Z"}}},
		{extract.Item{Stream: extract.StreamLeadEmailStats, CampaignID: 9}, "/api/v1/campaigns/9/statistics", url.Values{"offset": {"0"}, "limit": {"1000"}}},
		{extract.Item{Stream: extract.StreamLeadEmailStats, CampaignID: 9, Since: since}, "/api/v1/campaigns/9/statistics",
			url.Values{"offset": {"0"}, "limit": {"1000"}, "sent_time_start_date": {"2025-03-04 04:06:07.890Z"}}},
		{extract.Item{Stream: extract.StreamSequences, CampaignID: 9}, "/api/v1/campaigns/9/sequences", url.Values{}},
	}
	for _, tc := range cases {
		got = nil
		_, err := c.Fetch(t.Context(), tc.it)
		require.NoError(t, err, "%+v", tc.it)
		require.Len(t, got, 1)
		require.Equal(t, tc.path, got[0].Path, "%+v", tc.it)
		q := got[0].Query()
		q.Del("api_key")
		require.Equal(t, tc.query, q, "%+v", tc.it)
	}

	bad := []struct {
		it   extract.Item
		want string
	}{
		{extract.Item{Stream: "nope"}, `unknown stream "nope"`},
		{extract.Item{Stream: extract.StreamLeads}, "campaign_id 0 must be positive"},
		{extract.Item{Stream: extract.StreamCampaigns, CampaignID: 4}, "campaign_id 4 given for an account-level stream"},
		{extract.Item{Stream: extract.StreamCampaignDailyStats, CampaignID: 4, Day: "2025-2-1"}, `day "2025-2-1": want YYYY-MM-DD`},
		{extract.Item{Stream: extract.StreamCampaignDailyStats, CampaignID: 4}, `day "": want YYYY-MM-DD`},
		{extract.Item{Stream: extract.StreamLeads, CampaignID: 4, Offset: -1}, "offset -1"},
		{extract.Item{Stream: extract.StreamSequences, CampaignID: 4, Offset: 100}, "offset 100"},
		{extract.Item{Stream: extract.StreamLeads, CampaignID: 4, Day: "2025-01-01"}, `day "2025-01-01" given`},
	}
	got = nil
	for _, tc := range bad {
		_, err := c.Fetch(t.Context(), tc.it)
		require.ErrorContains(t, err, tc.want)
	}
	require.Empty(t, got, "a bad item must not cost a request")
}

// TestDecode feeds each stream the shapes the real API is known to send.
func TestDecode(t *testing.T) {
	t.Parallel()
	records := func(n, from int, key string) string {
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf(`{%q: %d, "x": "%d"}`, key, from+i, from+i)
		}
		return strings.Join(parts, ",")
	}
	cases := []struct {
		name    string
		it      extract.Item
		body    string
		records int
		total   int64
		next    int // offset of Next; -1 for none
		empty   bool
		errText string
	}{
		{name: "analytics object", it: extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: 1},
			body: `{"id": 1, "sent_count": "359", "campaign_lead_stats": {"total": 124}, "brand_new_field": [1]}`, records: 1, total: -1, next: -1},
		{name: "analytics {}", it: extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: 1}, body: ` {} `, total: -1, next: -1, empty: true},
		{name: "analytics empty body", it: extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: 1}, body: "", total: -1, next: -1, empty: true},
		{name: "daily null", it: extract.Item{Stream: extract.StreamCampaignDailyStats, CampaignID: 1, Day: "2025-01-02"}, body: "null", total: -1, next: -1, empty: true},
		{name: "leads total as string, full page", it: extract.Item{Stream: extract.StreamLeads, CampaignID: 1, Offset: 100},
			body: `{"total_leads": "342", "offset": 100, "limit": 100, "data": [` + records(100, 100, "campaign_lead_map_id") + `]}`, records: 100, total: 342, next: 200},
		{name: "leads total as number, short page", it: extract.Item{Stream: extract.StreamLeads, CampaignID: 1, Offset: 300},
			body: `{"total_leads": 342, "offset": 300, "limit": 100, "data": [` + records(42, 300, "campaign_lead_map_id") + `]}`, records: 42, total: 342, next: -1},
		{name: "leads total absent, data null", it: extract.Item{Stream: extract.StreamLeads, CampaignID: 1},
			body: `{"offset": 0, "limit": 100, "data": null}`, total: -1, next: -1},
		{name: "leads total empty string", it: extract.Item{Stream: extract.StreamLeads, CampaignID: 1},
			body: `{"total_leads": "", "data": []}`, total: -1, next: -1},
		{name: "leads {} for an unknown campaign", it: extract.Item{Stream: extract.StreamLeads, CampaignID: 1}, body: `{}`, total: -1, next: -1, empty: true},
		{name: "statistics honour the echoed limit", it: extract.Item{Stream: extract.StreamLeadEmailStats, CampaignID: 1},
			body: `{"total_stats": "1200", "offset": 0, "limit": 500, "data": [` + records(500, 0, "stats_id") + `]}`, records: 500, total: 1200, next: 500},
		{name: "statistics echoed limit as string", it: extract.Item{Stream: extract.StreamLeadEmailStats, CampaignID: 1, Offset: 500},
			body: `{"total_stats": "1200", "offset": "500", "limit": "500", "data": [` + records(499, 500, "stats_id") + `]}`, records: 499, total: 1200, next: -1},
		{name: "statistics without echo use the requested limit", it: extract.Item{Stream: extract.StreamLeadEmailStats, CampaignID: 1},
			body: `{"data": [` + records(500, 0, "stats_id") + `]}`, records: 500, total: -1, next: -1},
		{name: "email accounts full page", it: extract.Item{Stream: extract.StreamEmailAccounts},
			body: `[` + records(100, 0, "id") + `]`, records: 100, total: -1, next: 100},
		{name: "campaigns bare array", it: extract.Item{Stream: extract.StreamCampaigns},
			body: `[` + records(250, 0, "id") + `]`, records: 250, total: -1, next: -1},
		{name: "sequences enveloped anyway", it: extract.Item{Stream: extract.StreamSequences, CampaignID: 1},
			body: `{"data": [{"id": 1}, {"id": 2}]}`, records: 2, total: -1, next: -1},
		{name: "broken JSON", it: extract.Item{Stream: extract.StreamLeads, CampaignID: 7, Offset: 200},
			body: `{"data": [{"campaign_lead_map_id": 1}`, errText: "GET /campaigns/{id}/leads (campaign 7, offset 200): bad response"},
		{name: "total not a number", it: extract.Item{Stream: extract.StreamLeads, CampaignID: 7},
			body: `{"total_leads": "lots", "data": []}`, errText: `field "total_leads": "lots" is not an integer`},
		{name: "data not an array", it: extract.Item{Stream: extract.StreamLeadEmailStats, CampaignID: 7},
			body: `{"data": {"a": 1}}`, errText: `field "data": want an array`},
		{name: "envelope without data", it: extract.Item{Stream: extract.StreamLeads, CampaignID: 7},
			body: `{"message": "Invalid campaign"}`, errText: `field "data": missing`},
		{name: "a string body", it: extract.Item{Stream: extract.StreamCampaigns},
			body: `"success"`, errText: "unexpected JSON value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, tc.body) })
			c, logs := newClient(t, h, nil)
			p, err := c.Fetch(t.Context(), tc.it)
			if tc.errText != "" {
				require.ErrorContains(t, err, tc.errText)
				var de *extract.DecodeError
				require.ErrorAs(t, err, &de)
				return
			}
			require.NoError(t, err)
			require.Len(t, p.Records, tc.records)
			require.Equal(t, tc.total, p.Total)
			require.Equal(t, tc.it, p.Item)
			require.False(t, p.Fetched.IsZero())
			for _, r := range p.Records {
				require.True(t, json.Valid(r))
			}
			if tc.next < 0 {
				require.Nil(t, p.Next)
			} else {
				require.NotNil(t, p.Next)
				want := tc.it
				want.Offset = tc.next
				require.Equal(t, want, *p.Next)
			}
			if tc.empty {
				require.EqualValues(t, 1, c.Stats().Empty)
				require.Contains(t, logs.String(), "level=WARN")
				require.Contains(t, logs.String(), "empty response")
			}
			if tc.records == 1 {
				require.JSONEq(t, tc.body, string(p.Records[0]))
			}
		})
	}
}

// TestEmailAccountSecretsStripped: every key containing "password", at any
// depth, is gone before a record leaves the package; the rest is intact
// byte for byte, in order.
func TestEmailAccountSecretsStripped(t *testing.T) {
	t.Parallel()
	body := `[{"id": 1, "from_email": "a@b.c", "password": "c2VjcmV0MQ==", "smtp_port": 587,
	  "imap_password": "hunter2", "warmup_details": {"warmup_reputation": "95%", "SMTP_Password": "deep1",
	  "list": [{"app_password": "deep2", "ok": true}]}, "signature": "<b>password reset</b>", "big": 12345678901234567890}]`
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, body) })
	c, _ := newClient(t, h, nil)
	p, err := c.Fetch(t.Context(), extract.Item{Stream: extract.StreamEmailAccounts})
	require.NoError(t, err)
	require.Len(t, p.Records, 1)
	got := string(p.Records[0])
	for _, secret := range []string{"c2VjcmV0MQ==", "hunter2", "deep1", "deep2", `password"`, `Password"`} {
		require.NotContains(t, got, secret)
	}
	require.Equal(t, `{"id":1,"from_email":"a@b.c","smtp_port":587,"warmup_details":{"warmup_reputation":"95%","list":[{"ok":true}]},`+
		`"signature":"<b>password reset</b>","big":12345678901234567890}`, got)
}

// TestDedupeOffsetDrift: a lead inserted while we page shifts the next
// page by one; the repeated record is dropped once, counted and logged,
// and every lead is yielded exactly once.
func TestDedupeOffsetDrift(t *testing.T) {
	t.Parallel()
	page := func(from, n int) string {
		parts := make([]string, n)
		for i := range parts {
			id := from + i
			key := strconv.Itoa(id)
			if id%2 == 0 {
				key = strconv.Quote(key) // the same id as a string on some rows
			}
			parts[i] = fmt.Sprintf(`{"campaign_lead_map_id": %s, "lead": {"id": %d}}`, key, 3_000_000_000+id)
		}
		return `{"total_leads": "231", "limit": 100, "data": [` + strings.Join(parts, ",") + `]}`
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("offset") {
		case "0":
			_, _ = io.WriteString(w, page(1, 100))
		case "100": // one lead inserted before offset 100: lead 100 comes again
			_, _ = io.WriteString(w, page(100, 100))
		case "200":
			_, _ = io.WriteString(w, page(200, 32))
		default:
			t.Errorf("unexpected offset %s", r.URL.Query().Get("offset"))
		}
	})
	c, logs := newClient(t, h, nil)
	seen := map[string]int{}
	var offsets []int
	for p, err := range c.Pages(t.Context(), extract.Item{Stream: extract.StreamLeads, CampaignID: 5}) {
		require.NoError(t, err)
		offsets = append(offsets, p.Item.Offset)
		for _, r := range p.Records {
			var k struct {
				ID json.Number `json:"campaign_lead_map_id"`
			}
			require.NoError(t, json.Unmarshal(r, &k))
			seen[k.ID.String()]++
		}
	}
	require.Equal(t, []int{0, 100, 200}, offsets)
	require.Len(t, seen, 231)
	for id, n := range seen {
		require.Equal(t, 1, n, "lead %s", id)
	}
	s := c.Stats()
	require.EqualValues(t, 1, s.Duplicates)
	require.EqualValues(t, 1, s.Streams[extract.StreamLeads].Duplicates)
	require.EqualValues(t, 231, s.Records)
	require.EqualValues(t, 3, s.Pages)
	require.EqualValues(t, 3, s.Requests)
	require.Contains(t, logs.String(), "dropped duplicate record")
	require.Contains(t, logs.String(), "campaign_lead_map_id=100")
}

func TestPagesStopsWhenConsumerStops(t *testing.T) {
	t.Parallel()
	var n int
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		var parts []string
		for i := range 100 {
			parts = append(parts, fmt.Sprintf(`{"id": %d}`, n*1000+i))
		}
		_, _ = io.WriteString(w, "["+strings.Join(parts, ",")+"]")
	})
	c, _ := newClient(t, h, nil)
	pages := 0
	for _, err := range c.Pages(t.Context(), extract.Item{Stream: extract.StreamEmailAccounts}) {
		require.NoError(t, err)
		pages++
		if pages == 2 {
			break
		}
	}
	require.Equal(t, 2, n, "no page is fetched ahead of the consumer")
}

func TestPlan(t *testing.T) {
	t.Parallel()
	items := extract.Plan([]int64{11, 22}, []string{"2025-01-01", "2025-01-02"}, nil)
	var got []string
	for _, it := range items {
		got = append(got, fmt.Sprintf("%s/%d/%s", it.Stream, it.CampaignID, it.Day))
		require.Zero(t, it.Offset)
		require.True(t, it.Since.IsZero())
	}
	require.Equal(t, []string{
		"campaigns/0/", "clients/0/", "email_accounts/0/",
		"campaign_analytics/11/", "campaign_analytics/22/",
		"sequences/11/", "sequences/22/",
		"campaign_daily_stats/11/2025-01-01", "campaign_daily_stats/11/2025-01-02",
		"campaign_daily_stats/22/2025-01-01", "campaign_daily_stats/22/2025-01-02",
		"lead_email_stats/11/", "lead_email_stats/22/",
		"leads/11/", "leads/22/",
	}, got)

	only := extract.Plan([]int64{11}, []string{"2025-01-01"}, []extract.Stream{extract.StreamLeads, extract.StreamCampaignAnalytics})
	require.Equal(t, []extract.Item{
		{Stream: extract.StreamCampaignAnalytics, CampaignID: 11},
		{Stream: extract.StreamLeads, CampaignID: 11},
	}, only)
}
