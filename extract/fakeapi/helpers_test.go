package fakeapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
)

const testKey = "sl-test-key-9c41e7"

// fixedNow makes data independent of the wall clock.
var fixedNow = time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)

func newServer(t testing.TB, cfg fakeapi.Config) *fakeapi.Server {
	t.Helper()
	cfg.APIKey = testKey
	if cfg.Seed == 0 {
		cfg.Seed = 42
	}
	return fakeapi.New(cfg)
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// call sends one request through the in-process transport. path is under
// the base path and may carry a query; the key is added unless noKey.
func call(t testing.TB, s *fakeapi.Server, method, path string, noKey bool) response {
	t.Helper()
	u, err := url.Parse("http://fake.invalid" + fakeapi.BasePath + path)
	require.NoError(t, err)
	if !noKey {
		q := u.Query()
		q.Set("api_key", testKey)
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u.String(), nil)
	require.NoError(t, err)
	resp, err := s.Transport().RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NotContains(t, string(body), testKey, "a response body contains the API key")
	return response{resp.StatusCode, resp.Header, body}
}

func get(t testing.TB, s *fakeapi.Server, path string) response {
	t.Helper()
	return call(t, s, http.MethodGet, path, false)
}

// getJSON requires a 200 and decodes with json.Number so ids above 2^53
// and the string/number distinction survive.
func getJSON[T any](t testing.TB, s *fakeapi.Server, path string) T {
	t.Helper()
	r := get(t, s, path)
	require.Equal(t, http.StatusOK, r.status, "%s: %s", path, r.body)
	var v T
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&v), "%s: %s", path, r.body)
	return v
}

type obj = map[string]any

// leadsPage and statsPage decode the paged envelopes into typed fields
// where the tests need them.
type leadsPage struct {
	TotalLeads string `json:"total_leads"`
	Offset     int    `json:"offset"`
	Limit      int    `json:"limit"`
	Data       []struct {
		CampaignLeadMapID int64  `json:"campaign_lead_map_id"`
		LeadCategoryID    *int64 `json:"lead_category_id"`
		Status            string `json:"status"`
		CreatedAt         string `json:"created_at"`
		Lead              struct {
			ID    int64  `json:"id"`
			Email string `json:"email"`
		} `json:"lead"`
	} `json:"data"`
}

type statRow struct {
	StatsID        string  `json:"stats_id"`
	LeadEmail      string  `json:"lead_email"`
	SequenceNumber int     `json:"sequence_number"`
	SentTime       string  `json:"sent_time"`
	OpenTime       *string `json:"open_time"`
	ClickTime      *string `json:"click_time"`
	ReplyTime      *string `json:"reply_time"`
	OpenCount      int     `json:"open_count"`
	ClickCount     int     `json:"click_count"`
	IsUnsubscribed bool    `json:"is_unsubscribed"`
	IsBounced      bool    `json:"is_bounced"`
}

type statsPage struct {
	TotalStats string    `json:"total_stats"`
	Data       []statRow `json:"data"`
	Offset     int       `json:"offset"`
	Limit      int       `json:"limit"`
}

// allStats pages through a campaign's statistics with the given query.
func allStats(t testing.TB, s *fakeapi.Server, id int64, query string, limit int) []statRow {
	t.Helper()
	var out []statRow
	for off := 0; ; off += limit {
		p := getJSON[statsPage](t, s, fmt.Sprintf("/campaigns/%d/statistics?offset=%d&limit=%d%s", id, off, limit, query))
		out = append(out, p.Data...)
		if len(p.Data) < limit {
			return out
		}
	}
}

func parseWireTime(t testing.TB, v string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, v)
	require.NoError(t, err, v)
	return ts.UTC()
}

func isoMilli(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func mustInt(t testing.TB, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	require.True(t, ok, "%#v is a JSON number", v)
	i, err := n.Int64()
	require.NoError(t, err)
	return i
}

func mustStrInt(t testing.TB, v any) int64 {
	t.Helper()
	s, ok := v.(string)
	require.True(t, ok, "%#v is a JSON string", v)
	i, err := strconv.ParseInt(s, 10, 64)
	require.NoError(t, err)
	return i
}
