package fakeapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
)

func TestCampaignListShape(t *testing.T) {
	s := newServer(t, fakeapi.Config{Campaigns: 20, LeadsPerCampaign: 20, Now: fixedNow})
	list := getJSON[[]obj](t, s, "/campaigns/")
	require.Len(t, list, 20)
	require.Equal(t, list, getJSON[[]obj](t, s, "/campaigns"), "with and without the trailing slash")

	statuses := map[string]int{}
	userIDKinds := map[string]bool{}
	clientKinds := map[string]bool{}
	var prev int64 = 1 << 62
	for _, c := range list {
		id, err := c["id"].(json.Number).Int64()
		require.NoError(t, err)
		require.Less(t, id, prev, "ordered by id descending")
		require.Greater(t, id, int64(2_700_000))
		prev = id
		statuses[c["status"].(string)]++
		userIDKinds[fmt.Sprintf("%T", c["user_id"])] = true
		clientKinds[fmt.Sprintf("%T", c["client_id"])] = true
		require.IsType(t, []any{}, c["track_settings"])
		require.IsType(t, obj{}, c["scheduler_cron_value"])
		require.Contains(t, c, "parent_campaign_id")
		require.Nil(t, c["parent_campaign_id"])
		require.NotContains(t, c, "tags", "tags only with include_tags=true")
		require.Contains(t, c, "is_pinned", "an undocumented extra field")
	}
	for st := range statuses {
		require.Contains(t, []string{"DRAFTED", "ACTIVE", "PAUSED", "STOPPED", "COMPLETED"}, st)
	}
	require.Equal(t, 5, statuses["COMPLETED"]+statuses["STOPPED"], "a quarter completed or stopped: %v", statuses)
	require.Equal(t, map[string]bool{"string": true, "json.Number": true}, userIDKinds, "user_id both ways")
	require.Equal(t, map[string]bool{"<nil>": true, "json.Number": true}, clientKinds, "client_id null or an id")

	tagged := getJSON[[]obj](t, s, "/campaigns/?include_tags=true")
	for _, c := range tagged {
		require.IsType(t, []any{}, c["tags"])
	}

	// The client_id filter keeps only that client's campaigns.
	truth := s.Truth()
	cl := truth.Clients[0].ID
	want := 0
	for _, c := range truth.Campaigns {
		if c.ClientID == cl {
			want++
		}
	}
	require.Len(t, getJSON[[]obj](t, s, fmt.Sprintf("/campaigns/?client_id=%d", cl)), want)
}

func TestCampaignByIDAndUnknownIDs(t *testing.T) {
	s := newServer(t, fakeapi.Config{Campaigns: 4, LeadsPerCampaign: 5, Now: fixedNow})
	truth := s.Truth()
	c := truth.Campaigns[1]
	one := getJSON[obj](t, s, fmt.Sprintf("/campaigns/%d", c.ID))
	require.Equal(t, json.Number(fmt.Sprint(c.ID)), one["id"])
	require.Equal(t, c.Name, one["name"])

	bodies := map[string]int{}
	for id := 1; id <= 30; id++ {
		r := get(t, s, fmt.Sprintf("/campaigns/%d", id))
		require.Equal(t, http.StatusOK, r.status, "unknown ids answer 200")
		bodies[string(r.body)]++
		a := get(t, s, fmt.Sprintf("/campaigns/%d/analytics", id))
		require.Equal(t, http.StatusOK, a.status)
		require.Equal(t, "{}", string(a.body))
	}
	require.Len(t, bodies, 2, "both {} and a zero-byte body: %v", bodies)
	require.Contains(t, bodies, "{}")
	require.Contains(t, bodies, "")

	r := get(t, s, "/campaigns/abc")
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, string(r.body), "campaign_id")
}

func TestAnalyticsShape(t *testing.T) {
	s := newServer(t, fakeapi.Config{Campaigns: 8, LeadsPerCampaign: 60, Now: fixedNow})
	for _, c := range s.Truth().Campaigns {
		a := getJSON[obj](t, s, fmt.Sprintf("/campaigns/%d/analytics", c.ID))
		for _, k := range []string{"sent_count", "unique_sent_count", "open_count", "unique_open_count", "click_count",
			"unique_click_count", "reply_count", "block_count", "total_count", "drafted_count", "bounce_count", "unsubscribed_count"} {
			v, ok := a[k].(string)
			require.True(t, ok, "%s is a string: %#v", k, a[k])
			require.Regexp(t, `^\d+$`, v)
		}
		ls := a["campaign_lead_stats"].(obj)
		var sum int64
		for _, k := range []string{"notStarted", "inprogress", "paused", "completed", "stopped", "blocked"} {
			n, err := ls[k].(json.Number).Int64()
			require.NoError(t, err, "%s is an int", k)
			sum += n
		}
		total, err := ls["total"].(json.Number).Int64()
		require.NoError(t, err)
		require.Equal(t, total, sum, "the six states sum to total")
		require.EqualValues(t, len(c.Leads), total)
		_, err = ls["interested"].(json.Number).Int64()
		require.NoError(t, err)
	}
}

func TestLeadsShapeAndQuirks(t *testing.T) {
	s := newServer(t, fakeapi.Config{Campaigns: 6, LeadsPerCampaign: 150, Now: fixedNow})
	var micro, milli, nullPhone, emptyWebsite, nullWebsite, withCategory, nullCategory int
	milliRe := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	microRe := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$`)
	for _, c := range s.Truth().Campaigns {
		p := getJSON[obj](t, s, fmt.Sprintf("/campaigns/%d/leads?limit=100", c.ID))
		require.IsType(t, "", p["total_leads"], "total_leads is a string")
		require.Equal(t, json.Number("100"), p["limit"])
		require.Equal(t, json.Number("0"), p["offset"])
		for _, e := range p["data"].([]any) {
			e := e.(obj)
			mapID, err := e["campaign_lead_map_id"].(json.Number).Int64()
			require.NoError(t, err)
			require.Greater(t, mapID, int64(1)<<31)
			lead := e["lead"].(obj)
			leadID, err := lead["id"].(json.Number).Int64()
			require.NoError(t, err)
			require.Greater(t, leadID, int64(1)<<31)
			ts := e["created_at"].(string)
			switch {
			case milliRe.MatchString(ts):
				milli++
			case microRe.MatchString(ts):
				micro++
			default:
				t.Fatalf("created_at %q has neither format", ts)
			}
			if lead["phone_number"] == nil {
				nullPhone++
			}
			switch lead["website"] {
			case nil:
				nullWebsite++
			case "":
				emptyWebsite++
			}
			if e["lead_category_id"] == nil {
				nullCategory++
			} else {
				withCategory++
			}
			require.IsType(t, obj{}, lead["custom_fields"])
			require.IsType(t, false, lead["is_unsubscribed"])
			require.Contains(t, lead, "unsubscribed_client_id_map")
			require.NotEmpty(t, lead["email"])
		}
	}
	for name, n := range map[string]int{"micro": micro, "milli": milli, "null phone": nullPhone, "empty website": emptyWebsite,
		"null website": nullWebsite, "category": withCategory, "null category": nullCategory} {
		require.Positive(t, n, "no lead shows %s", name)
	}
	require.Greater(t, milli, micro, "most timestamps are the REST style")

	r := get(t, s, fmt.Sprintf("/campaigns/%d/leads?limit=101", s.Truth().Campaigns[0].ID))
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, string(r.body), "limit")
}

func TestStatisticsShape(t *testing.T) {
	s := newServer(t, fakeapi.Config{Campaigns: 6, LeadsPerCampaign: 80, Now: fixedNow})
	uuidRe := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	seen := map[string]int{}
	for _, c := range s.Truth().Campaigns {
		p := getJSON[obj](t, s, fmt.Sprintf("/campaigns/%d/statistics?limit=1000", c.ID))
		require.IsType(t, "", p["total_stats"])
		for _, row := range p["data"].([]any) {
			row := row.(obj)
			for _, k := range []string{"lead_name", "lead_email", "lead_category", "sequence_number", "stats_id", "email_campaign_seq_id",
				"seq_variant_id", "email_subject", "email_message", "sent_time", "open_time", "click_time", "reply_time",
				"open_count", "click_count", "is_unsubscribed", "is_bounced"} {
				require.Contains(t, row, k)
			}
			require.Regexp(t, uuidRe, row["stats_id"])
			require.NotNil(t, row["sent_time"])
			for _, k := range []string{"open_time", "reply_time", "lead_category", "seq_variant_id"} {
				if row[k] == nil {
					seen["null "+k]++
				} else {
					seen[k]++
				}
			}
			if row["email_subject"] == "" {
				seen["empty subject"]++
			}
		}
	}
	for _, k := range []string{"null open_time", "open_time", "null reply_time", "reply_time", "null lead_category", "lead_category",
		"null seq_variant_id", "seq_variant_id", "empty subject"} {
		require.Positive(t, seen[k], "no row shows %s", k)
	}
}

func TestSequencesShape(t *testing.T) {
	s := newServer(t, fakeapi.Config{Campaigns: 4, LeadsPerCampaign: 5, SequencesPerCampaign: 3, Now: fixedNow})
	variants := 0
	for _, c := range s.Truth().Campaigns {
		seqs := getJSON[[]obj](t, s, fmt.Sprintf("/campaigns/%d/sequences", c.ID))
		require.Len(t, seqs, 3)
		for i, sq := range seqs {
			require.Equal(t, json.Number(fmt.Sprint(i+1)), sq["seq_number"])
			require.Equal(t, json.Number(fmt.Sprint(c.ID)), sq["email_campaign_id"])
			d := sq["seq_delay_details"].(obj)
			require.Contains(t, d, "delayInDays")
			if i == 1 {
				require.Equal(t, "", sq["subject"], "a follow-up continues the thread")
			}
			variants += len(sq["sequence_variants"].([]any))
		}
	}
	require.Positive(t, variants)
}

func TestEmailAccountsAndClientsShape(t *testing.T) {
	s := newServer(t, fakeapi.Config{Campaigns: 2, LeadsPerCampaign: 5, EmailAccounts: 150, Clients: 3, Now: fixedNow})
	first := getJSON[[]obj](t, s, "/email-accounts/?offset=0&limit=100")
	second := getJSON[[]obj](t, s, "/email-accounts?offset=100&limit=100")
	require.Len(t, first, 100)
	require.Len(t, second, 50)
	types := map[string]bool{}
	nullWarmup := 0
	for _, a := range append(first, second...) {
		require.NotEmpty(t, a["password"], "the list route returns the password: the client must strip it")
		require.NotEmpty(t, a["imap_password"])
		types[a["type"].(string)] = true
		w, ok := a["warmup_details"].(obj)
		if !ok {
			nullWarmup++
			continue
		}
		require.Regexp(t, `^\d+%$`, w["warmup_reputation"])
	}
	require.Equal(t, map[string]bool{"GMAIL": true, "OUTLOOK": true, "SMTP": true}, types)
	require.Positive(t, nullWarmup)
	require.Equal(t, http.StatusBadRequest, get(t, s, "/email-accounts/?limit=101").status)

	clients := getJSON[[]obj](t, s, "/client/")
	require.Len(t, clients, 3)
	for _, c := range clients {
		p := c["client_permision"].(obj)
		require.IsType(t, []any{}, p["permission"])
		require.Equal(t, []any{}, p["retricted_category"])
	}
}

func TestAuthMethodAndUnknownRoutes(t *testing.T) {
	s := newServer(t, fakeapi.Config{Campaigns: 2, LeadsPerCampaign: 5, Now: fixedNow})
	r := call(t, s, http.MethodGet, "/campaigns/", true)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.JSONEq(t, `{"message":"API key is required."}`, string(r.body))
	require.NotEmpty(t, r.header.Get("Date"))

	r = call(t, s, http.MethodGet, "/campaigns/?api_key=not-the-key", true)
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.JSONEq(t, `{"message":"Invalid API Key"}`, string(r.body))
	require.NotContains(t, string(r.body), "not-the-key")

	r = call(t, s, http.MethodPost, "/campaigns/", false)
	require.Equal(t, http.StatusMethodNotAllowed, r.status)
	require.Equal(t, http.MethodGet, r.header.Get("Allow"))

	r = get(t, s, "/nope")
	require.Equal(t, http.StatusNotFound, r.status)
	require.True(t, json.Valid(r.body))

	st := s.Stats()
	require.Equal(t, 2, st.Unauthorized)
	require.Equal(t, 2, st.Requests, "401s are not counted against the key")
	require.Equal(t, 1, st.Paths["/campaigns"])
	require.Equal(t, 1, st.Paths["other"])
}

// TestDeterministic: the same Config gives the same bytes on every route;
// another seed gives other data.
func TestDeterministic(t *testing.T) {
	cfg := fakeapi.Config{Campaigns: 5, LeadsPerCampaign: 120, Now: fixedNow}
	a, b := newServer(t, cfg), newServer(t, cfg)
	cfg.Seed = 43
	other := newServer(t, cfg)
	paths := []string{"/campaigns/?include_tags=true", "/email-accounts/", "/client/"}
	for _, c := range a.Truth().Campaigns {
		for _, p := range []string{"", "/analytics", "/leads?offset=100", "/statistics?limit=1000", "/sequences",
			"/analytics-by-date?start_date=2026-02-01&end_date=2026-03-03"} {
			paths = append(paths, fmt.Sprintf("/campaigns/%d%s", c.ID, p))
		}
	}
	differs := 0
	for _, p := range paths {
		ra, rb := get(t, a, p), get(t, b, p)
		require.Equal(t, ra.status, rb.status, p)
		require.Equal(t, string(ra.body), string(rb.body), p)
		if ro := get(t, other, p); string(ro.body) != string(ra.body) {
			differs++
		}
	}
	require.Greater(t, differs, len(paths)/2, "another seed changes the data")
	require.Equal(t, a.Truth(), b.Truth())
}

func TestAPIKeyNeverInBodies(t *testing.T) {
	// call() asserts it for every response in this package; this covers
	// the error answers explicitly.
	s := newServer(t, fakeapi.Config{Campaigns: 1, LeadsPerCampaign: 1, Now: fixedNow})
	id := s.Truth().Campaigns[0].ID
	for _, p := range []string{"/campaigns/x", "/nope", fmt.Sprintf("/campaigns/%d/leads?limit=0", id),
		fmt.Sprintf("/campaigns/%d/leads?created_at_gt=yesterday", id), fmt.Sprintf("/campaigns/%d/analytics-by-date", id)} {
		r := get(t, s, p)
		assert.NotEqual(t, http.StatusOK, r.status, p)
		assert.False(t, strings.Contains(string(r.body), testKey), p)
	}
}
