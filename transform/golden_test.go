package transform_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/transform from the current output")

const (
	payloadDir = "../testdata/payloads"
	goldenDir  = "../testdata/golden/transform"
)

// payloadCases maps each recorded response body to the request that
// produced it. Every file in payloadDir must appear here.
var payloadCases = []struct {
	file string
	item extract.Item
}{
	{"campaigns.json", extract.Item{Stream: extract.StreamCampaigns}},
	{"campaign_analytics_1562695.json", extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: 1562695}},
	{"campaign_analytics_3867136.json", extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: 3867136}},
	{"campaign_analytics_missing.json", extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: 999}},
	{"campaign_daily_stats_1562695_2025-02-03.json", extract.Item{Stream: extract.StreamCampaignDailyStats, CampaignID: 1562695, Day: "2025-02-03"}},
	{"leads_2710262.json", extract.Item{Stream: extract.StreamLeads, CampaignID: 2710262}},
	{"leads_2710262_broken.json", extract.Item{Stream: extract.StreamLeads, CampaignID: 2710262}},
	{"lead_email_stats_2710262.json", extract.Item{Stream: extract.StreamLeadEmailStats, CampaignID: 2710262}},
	{"sequences_2710262.json", extract.Item{Stream: extract.StreamSequences, CampaignID: 2710262}},
	{"email_accounts.json", extract.Item{Stream: extract.StreamEmailAccounts}},
	{"clients.json", extract.Item{Stream: extract.StreamClients}},
}

// pageFromBody does what the extractor does with a response body: a
// bare array is the records, an object with "data" is a page with an
// optional total_leads/total_stats (string or number), any other object
// is one record.
func pageFromBody(t testing.TB, item extract.Item, body []byte) extract.Page {
	p := extract.Page{Item: item, Total: -1}
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) {
		require.NoError(t, json.Unmarshal(body, &p.Records))
		return p
	}
	var env map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &env))
	data, ok := env["data"]
	if !ok {
		p.Records = []json.RawMessage{json.RawMessage(body)}
		return p
	}
	require.NoError(t, json.Unmarshal(data, &p.Records))
	for _, k := range []string{"total_leads", "total_stats"} {
		if raw, ok := env[k]; ok {
			var n json.Number
			require.NoError(t, json.Unmarshal(bytes.Trim(raw, `"`), &n))
			total, err := n.Int64()
			require.NoError(t, err)
			p.Total = total
		}
	}
	return p
}

func loadPage(t testing.TB, file string, item extract.Item) extract.Page {
	body, err := os.ReadFile(filepath.Join(payloadDir, file))
	require.NoError(t, err)
	return pageFromBody(t, item, body)
}

func batchRows(b transform.Batch) int {
	return len(b.Campaigns) + len(b.CampaignAnalytics) + len(b.DailyStats) + len(b.Leads) +
		len(b.LeadEmailStats) + len(b.Sequences) + len(b.EmailAccounts) + len(b.Clients)
}

func TestGolden(t *testing.T) {
	for _, tc := range payloadCases {
		t.Run(tc.file, func(t *testing.T) {
			p := loadPage(t, tc.file, tc.item)
			b := transform.FromPage(p)
			require.Equal(t, len(p.Records), batchRows(b)+len(b.Rejected), "every record becomes a row or a rejection")

			got, err := json.MarshalIndent(b, "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			golden := filepath.Join(goldenDir, tc.file)
			if *update {
				require.NoError(t, os.WriteFile(golden, got, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./transform -update to create it")
			require.Equal(t, string(want), string(got), "output differs from %s", golden)

			// Timestamps are UTC: encoding/json writes them with "Z".
			offset := regexp.MustCompile(`"\d{4}-\d\d-\d\dT[0-9:.]+[+-]\d\d:\d\d"`)
			require.Empty(t, offset.FindAll(got, -1))
		})
	}
}

// TestPayloadsAllCovered keeps payloads, the case table and goldens in
// step, so a new recording cannot be silently left out.
func TestPayloadsAllCovered(t *testing.T) {
	var files []string
	for _, tc := range payloadCases {
		files = append(files, tc.file)
	}
	slices.Sort(files)
	for _, dir := range []string{payloadDir, goldenDir} {
		entries, err := os.ReadDir(dir)
		require.NoError(t, err)
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		require.Equal(t, files, names, dir)
	}
}

// secretValues collects the values of every secret-named key in a
// payload, at any depth.
func secretValues(t *testing.T, body []byte) []string {
	var doc any
	require.NoError(t, json.Unmarshal(body, &doc))
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				lk := strings.ToLower(k)
				if s, ok := x.(string); ok && (strings.Contains(lk, "password") || strings.Contains(lk, "secret")) {
					out = append(out, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(doc)
	return out
}

func TestNoSecretReachesOutput(t *testing.T) {
	var seen int
	for _, tc := range payloadCases {
		body, err := os.ReadFile(filepath.Join(payloadDir, tc.file))
		require.NoError(t, err)
		secrets := secretValues(t, body)
		seen += len(secrets)
		b := transform.FromPage(pageFromBody(t, tc.item, body))
		out, err := json.Marshal(b)
		require.NoError(t, err)
		text := string(out) + " " + strings.ReplaceAll(strings.ReplaceAll(string(out), `\"`, `"`), `\\`, `\`)
		for _, s := range secrets {
			require.NotContains(t, text, s, tc.file)
		}
		require.NotContains(t, strings.ToLower(string(out)), "password", tc.file)
	}
	require.GreaterOrEqual(t, seen, 9, "the payloads must carry passwords for this test to mean anything")
}

// TestGoldenSpotChecks pins the quirks by value, so that regenerating a
// golden file cannot bless a wrong conversion unnoticed.
func TestGoldenSpotChecks(t *testing.T) {
	page := func(file string) transform.Batch {
		for _, tc := range payloadCases {
			if tc.file == file {
				return transform.FromPage(loadPage(t, file, tc.item))
			}
		}
		t.Fatalf("no case %s", file)
		return transform.Batch{}
	}

	t.Run("campaigns", func(t *testing.T) {
		b := page("campaigns.json")
		require.Len(t, b.Campaigns, 3)
		require.Empty(t, b.Rejected)
		c0, c1, c2 := b.Campaigns[0], b.Campaigns[1], b.Campaigns[2]
		require.Equal(t, int64(196026), *c0.UserID)
		require.Equal(t, int64(196026), *c1.UserID, "user_id as a string")
		require.Equal(t, int64(2710261), c1.CampaignID, "id as a string")
		require.Equal(t, int64(3147483648), c2.CampaignID, "id above 2^31")
		require.Equal(t, int64(3000000001), *c2.ClientID)
		require.Equal(t, "2023-09-25T17:29:11.618881Z", c1.CreatedAt.Format("2006-01-02T15:04:05.999999999Z07:00"))
		require.Equal(t, "2023-10-16T10:33:02Z", c1.UpdatedAt.Format("2006-01-02T15:04:05.999999999Z07:00"), "space-separated")
		require.Equal(t, "2025-03-28T07:35:01Z", c2.CreatedAt.Format("2006-01-02T15:04:05Z07:00"), "+02:00 converted to UTC")
		require.Equal(t, "Re-engagement — café owners \"EU\"", c1.Name)
		require.Equal(t, `["DONT_EMAIL_OPEN","DONT_LINK_CLICK"]`, string(c0.TrackSettings))
		require.Equal(t, `{"tz":"Europe/Berlin","days":[1,3]}`, string(c2.SchedulerCronValue), "compacted")
		require.Nil(t, c1.SchedulerCronValue)
		require.Nil(t, c2.TrackSettings, `"" is NULL`)
		require.Nil(t, c1.MaxLeadsPerDay, `"" is NULL`)
		require.Equal(t, int64(12), *c2.MaxLeadsPerDay, "12.0 is integral")
		require.Equal(t, int64(40), *c1.FollowUpPercentage, `"40%"`)
		require.True(t, *c1.SendAsPlainText)
		require.True(t, *c2.SendAsPlainText)
		require.Equal(t, "ARCHIVED", c2.Status, "status is free text")
	})
	t.Run("analytics", func(t *testing.T) {
		a := page("campaign_analytics_3867136.json").CampaignAnalytics[0]
		require.Equal(t, int64(359), a.SentCount)
		require.Equal(t, int64(0), a.OpenCount)
		require.Equal(t, int64(57), a.UniqueOpenCount, "open tracking off")
		require.Equal(t, int64(4), a.ClickCount, "a number among strings")
		require.Zero(t, a.UnsubscribedCount, "null counter")
		require.Zero(t, a.BlockCount, `"" counter`)
		require.Equal(t, int64(124), a.LeadsTotal)
		require.Equal(t, int64(117), a.LeadsCompleted)
		require.Equal(t, int64(3), a.LeadsInProgress)
		require.Equal(t, int64(4), a.LeadsBlocked)
		require.Equal(t, 1250.5, *a.Revenue)
		require.Equal(t, int64(3), *a.SequenceCount)
		require.Equal(t, int64(77), *a.ClientID)

		legacy := page("campaign_analytics_1562695.json").CampaignAnalytics[0]
		require.Equal(t, int64(30), legacy.SentCount)
		require.Equal(t, "COMPLETED", *legacy.Status)

		missing := page("campaign_analytics_missing.json")
		require.Empty(t, missing.CampaignAnalytics)
		require.Len(t, missing.Rejected, 1)
		require.Equal(t, "empty object", missing.Rejected[0].Reason)
		require.Equal(t, "campaign=999 offset=0", missing.Rejected[0].RecordKey)
	})
	t.Run("daily", func(t *testing.T) {
		d := page("campaign_daily_stats_1562695_2025-02-03.json").DailyStats[0]
		require.Equal(t, "2025-02-03T00:00:00Z", d.Day.Format("2006-01-02T15:04:05Z07:00"))
		require.Equal(t, int64(1), d.BounceCount)
		require.Equal(t, int64(2), d.UniqueOpenCount)
	})
	t.Run("leads", func(t *testing.T) {
		b := page("leads_2710262.json")
		require.Empty(t, b.Rejected)
		require.Len(t, b.Leads, 4)
		require.Equal(t, []transform.ReportedTotal{{Stream: "leads", CampaignID: 2710262, Total: 42}}, b.Totals)
		l0, l1, l2, l3 := b.Leads[0], b.Leads[1], b.Leads[2], b.Leads[3]
		require.Equal(t, int64(2433664091), l0.CampaignLeadMapID)
		require.Equal(t, int64(2995276770), l0.LeadID)
		require.Equal(t, int64(2710262), l0.CampaignID)
		require.Equal(t, `{"job_title":"CEO","industry":"Technology"}`, string(l0.CustomFields))
		require.Equal(t, int64(2433664092), l1.CampaignLeadMapID, "map id as a string (inbox shape)")
		require.Equal(t, int64(2995276771), l1.LeadID)
		require.Equal(t, "Zoë", *l1.FirstName)
		require.Nil(t, l1.LastName)
		require.Equal(t, "", *l1.CompanyName, `"" is kept for text`)
		require.Equal(t, "4915112345678", *l1.PhoneNumber, "unquoted phone number")
		require.Equal(t, int64(3), *l1.LeadCategoryID)
		require.True(t, l1.IsUnsubscribed)
		require.True(t, l2.IsUnsubscribed)
		require.Equal(t, `{"job_title":"Head of \"Growth\"","seats":12,"tags":["a","b"]}`, string(l1.CustomFields))
		require.Nil(t, l2.CustomFields)
		require.Equal(t, "{}", string(l3.CustomFields))
		require.Nil(t, l3.Status)
		require.Nil(t, l3.CreatedAt)
		require.False(t, l3.IsUnsubscribed)
	})
	t.Run("leads broken", func(t *testing.T) {
		b := page("leads_2710262_broken.json")
		require.Len(t, b.Leads, 2)
		type rej struct{ key, field string }
		var got []rej
		for _, r := range b.Rejected {
			require.Equal(t, "leads", r.Stream)
			got = append(got, rej{r.RecordKey, r.Field})
			require.NotContains(t, string(r.Raw), "hunter2")
		}
		require.Equal(t, []rej{
			{"2433664102", "lead.id"},
			{"2433664103", "created_at"},
			{"campaign=2710262 offset=3", "campaign_lead_map_id"},
			{"campaign=2710262 offset=4", "campaign_lead_map_id"},
		}, got)
		require.Equal(t, `not an integer: "abc"`, b.Rejected[0].Reason)
		require.Equal(t, `not a timestamp: "yesterday"`, b.Rejected[1].Reason)
		require.Equal(t, "required key is missing", b.Rejected[2].Reason)
		require.Equal(t, "empty object", b.Rejected[3].Reason)
	})
	t.Run("statistics", func(t *testing.T) {
		b := page("lead_email_stats_2710262.json")
		require.Empty(t, b.Rejected)
		require.Equal(t, []transform.ReportedTotal{{Stream: "lead_email_stats", CampaignID: 2710262, Total: 4}}, b.Totals)
		s0, s1, s2, s3 := b.LeadEmailStats[0], b.LeadEmailStats[1], b.LeadEmailStats[2], b.LeadEmailStats[3]
		require.Equal(t, "Interested", *s0.LeadCategory)
		require.Nil(t, s1.LeadCategory)
		require.Equal(t, `{"id":3,"name":"Meeting Booked","sentiment":"positive"}`, *s2.LeadCategory)
		require.Equal(t, int64(2), s0.OpenCount)
		require.Zero(t, s1.OpenCount)
		require.Equal(t, int64(2), *s1.SequenceNumber)
		require.Equal(t, "", *s1.EmailSubject)
		require.Nil(t, s1.OpenTime)
		require.True(t, s1.IsUnsubscribed)
		require.True(t, s2.IsBounced)
		require.True(t, s3.IsBounced)
		require.Equal(t, "2025-01-29T00:00:00Z", s3.SentTime.Format("2006-01-02T15:04:05Z07:00"), "date only")
	})
	t.Run("sequences", func(t *testing.T) {
		b := page("sequences_2710262.json")
		require.Empty(t, b.Rejected)
		require.Equal(t, int64(0), *b.Sequences[0].DelayInDays)
		require.Equal(t, int64(3), *b.Sequences[1].DelayInDays)
		require.Nil(t, b.Sequences[2].DelayInDays)
		require.Equal(t, "", *b.Sequences[1].Subject)
		require.Nil(t, b.Sequences[2].Subject)
		require.Equal(t, int64(2), b.Sequences[1].SeqNumber)
		require.Equal(t, int64(3000000005), b.Sequences[2].SequenceID)
	})
	t.Run("email accounts", func(t *testing.T) {
		b := page("email_accounts.json")
		require.Empty(t, b.Rejected)
		rep := func(i int) float64 { return *b.EmailAccounts[i].WarmupReputation }
		require.Equal(t, 95.0, rep(0), `"95%"`)
		require.Equal(t, 95.0, rep(1), "95")
		require.Equal(t, 1.6, rep(2), `"1.6%"`)
		require.Nil(t, b.EmailAccounts[3].WarmupReputation)
		require.Equal(t, int64(40), *b.EmailAccounts[1].MessagePerDay)
		require.True(t, *b.EmailAccounts[1].IsSMTPSuccess)
		require.False(t, *b.EmailAccounts[1].IsIMAPSuccess)
		require.Nil(t, b.EmailAccounts[1].CampaignCount)
		require.Equal(t, int64(12), *b.EmailAccounts[1].WarmupTotalSent)
	})
	t.Run("clients", func(t *testing.T) {
		b := page("clients.json")
		require.Empty(t, b.Rejected)
		require.Equal(t, `{"permission":["reply_master_inbox"],"retricted_category":[]}`, string(b.Clients[0].Permissions))
		require.Nil(t, b.Clients[1].Permissions)
		require.Nil(t, b.Clients[1].Email)
		require.Equal(t, int64(7), b.Clients[1].ClientID)
		require.Equal(t, int64(3000000007), b.Clients[2].ClientID)
	})
}

func TestTotalsOnlyOnFirstPage(t *testing.T) {
	p := loadPage(t, "leads_2710262.json", extract.Item{Stream: extract.StreamLeads, CampaignID: 2710262, Offset: 100})
	b := transform.FromPage(p)
	require.Empty(t, b.Totals)
	require.Len(t, b.Leads, 4)

	p.Item.Offset, p.Total = 0, -1
	require.Empty(t, transform.FromPage(p).Totals, "Total -1 means not sent")

	p.Total = 4
	require.Len(t, transform.FromPage(p).Totals, 1)
	p.Item.Since = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)
	require.Empty(t, transform.FromPage(p).Totals, "a filtered request's total counts changes, not the campaign")

	c := loadPage(t, "clients.json", extract.Item{Stream: extract.StreamClients})
	c.Total = 0
	require.Empty(t, transform.FromPage(c).Totals, "clients report no total")
}

func TestUnknownStreamRejectsEverything(t *testing.T) {
	p := loadPage(t, "clients.json", extract.Item{Stream: "webhooks", Offset: 10})
	b := transform.FromPage(p)
	require.Equal(t, 0, batchRows(b))
	require.Len(t, b.Rejected, 3)
	for i, r := range b.Rejected {
		require.Equal(t, "webhooks", r.Stream)
		require.Equal(t, "offset="+strconv.Itoa(10+i), r.RecordKey)
		require.Contains(t, r.Reason, `unknown stream "webhooks"`)
		require.NotContains(t, string(r.Raw), "should-never-be-kept")
	}
}
