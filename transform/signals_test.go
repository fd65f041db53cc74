package transform_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

const (
	signalDir       = "../testdata/signals"
	signalGoldenDir = "../testdata/golden/signals"
)

// signalCases maps each signal payload to the request behind it. Every
// file in signalDir must appear here.
var signalCases = []struct {
	file string
	item extract.Item
}{
	{"overall_stats_docs.json", extract.Item{Stream: extract.StreamOverallStats, Day: "2025-01-01", EndDay: "2025-01-30"}},
	{"overall_stats_simulated.json", extract.Item{Stream: extract.StreamOverallStats, Day: "1999-12-03", EndDay: "2000-01-01"}},
	{"overall_stats_broken.json", extract.Item{Stream: extract.StreamOverallStats, Day: "1999-12-03", EndDay: "2000-01-01"}},
	{"lead_activities_simulated.json", extract.Item{Stream: extract.StreamLeadActivities}},
	{"lead_activities_broken.json", extract.Item{Stream: extract.StreamLeadActivities}},
}

// signalPage reads a payload the way the client does (records from the
// endpoint's nested array).
func signalPage(t testing.TB, file string, item extract.Item) extract.Page {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(signalDir, file))
	require.NoError(t, err)
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	require.NoError(t, json.Unmarshal(body, &env))
	p := extract.Page{Item: item, Total: -1}
	if item.Stream == extract.StreamOverallStats {
		var inner struct {
			Rows []json.RawMessage `json:"campaign_wise_performance"`
		}
		require.NoError(t, json.Unmarshal(env.Data, &inner))
		p.Records = inner.Rows
		return p
	}
	require.NoError(t, json.Unmarshal(env.Data, &p.Records))
	return p
}

// TestSignalsGolden: each payload decodes to what the golden file holds,
// every record a row or a rejection naming its record and field.
func TestSignalsGolden(t *testing.T) {
	var files []string
	for _, tc := range signalCases {
		files = append(files, tc.file)
		t.Run(tc.file, func(t *testing.T) {
			p := signalPage(t, tc.file, tc.item)
			s := transform.SignalsFromPage(p)
			require.Equal(t, len(p.Records), len(s.OverallStats)+len(s.LeadActivities)+len(s.Rejected))
			for _, r := range s.Rejected {
				require.NotEmpty(t, r.RecordKey)
				require.NotEmpty(t, r.Reason)
				require.True(t, json.Valid(r.Raw))
			}
			got, err := json.MarshalIndent(s, "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			golden := filepath.Join(signalGoldenDir, tc.file)
			if *update {
				require.NoError(t, os.MkdirAll(signalGoldenDir, 0o755))
				require.NoError(t, os.WriteFile(golden, got, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test ./transform -run TestSignalsGolden -update")
			require.Equal(t, string(want), string(got))
		})
	}
	entries, err := os.ReadDir(signalDir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	require.ElementsMatch(t, files, names)
}

// TestDecodeOverallStat: counts as numbers or strings, "50%" rates, the
// range from the request; a missing or unreadable counter is an error
// naming it, because comparing zeros would call every campaign unchanged.
func TestDecodeOverallStat(t *testing.T) {
	o, err := transform.DecodeOverallStat("2025-01-01", "2025-01-30",
		[]byte(`{"id": "3000000001", "campaign_name": "Q1", "sent": "500", "opened": 250, "replied": "45", "bounced": 8,
		"open_rate": "50%", "reply_rate": "9.5%", "bounce_rate": 1.6, "positive_replied": "25", "unique_lead_count": 480,
		"unique_open_count": "230", "brand_new": {"x": 1}}`))
	require.NoError(t, err)
	require.Equal(t, int64(3_000_000_001), o.CampaignID)
	require.Equal(t, [8]int64{500, 250, 45, 8, 0, 25, 480, 230},
		[8]int64{o.Sent, o.Opened, o.Replied, o.Bounced, o.Unsubscribed, o.PositiveReplied, o.UniqueLeads, o.UniqueOpens})
	require.Equal(t, 50.0, *o.OpenRate)
	require.Equal(t, 9.5, *o.ReplyRate)
	require.Equal(t, 1.6, *o.BounceRate)
	require.Nil(t, o.PositiveReplyRate)
	require.Equal(t, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), o.Start)
	require.Equal(t, time.Date(2025, 1, 30, 0, 0, 0, 0, time.UTC), o.End)

	for _, tc := range []struct{ body, field, reason string }{
		{`{"id": 1, "replied": 0}`, "sent", "required counter is missing"},
		{`{"id": 1, "sent": null, "replied": 0}`, "sent", "required counter is null or empty"},
		{`{"id": 1, "sent": "12 emails", "replied": 0}`, "sent", "not an integer"},
		{`{"id": 1, "sent": -3, "replied": 0}`, "sent", "negative count"},
		{`{"id": 1, "sent": 1, "replied": 0, "open_rate": "high"}`, "open_rate", "not a number"},
		{`{"sent": 1, "replied": 0}`, "id", "required key is missing"},
		{`{"id": 0, "sent": 1, "replied": 0}`, "id", "key must be positive"},
		{`[1]`, "", "record is not a JSON object"},
	} {
		_, err := transform.DecodeOverallStat("2025-01-01", "2025-01-30", []byte(tc.body))
		var fe *transform.FieldError
		require.ErrorAs(t, err, &fe, tc.body)
		require.Equal(t, tc.field, fe.Field, tc.body)
		require.Contains(t, fe.Reason, tc.reason, tc.body)
	}
	_, err = transform.DecodeOverallStat("2025-01-30", "2025-01-01", []byte(`{"id": 1, "sent": 1, "replied": 0}`))
	require.ErrorContains(t, err, "end_date")
}

// TestDecodeLeadActivity: ids above 2^31 as numbers or strings, the
// emails with their engagement, and errors naming the email and field.
func TestDecodeLeadActivity(t *testing.T) {
	a, err := transform.DecodeLeadActivity([]byte(`{"lead_id": "2990007817", "email_lead_map_id": 2400004501, "campaign_id": 2702863,
		"campaign_name": "Q1", "status": "INPROGRESS", "current_seq_num": "2", "activities": [
		{"stats_id": "s1", "email_seq_number": "1", "sent_time": "2025-12-01T10:00:00.000Z", "open_count": "3", "click_count": 1,
		 "reply_details": null, "thread_replies": []},
		{"stats_id": "s2", "email_seq_number": 2, "sent_time": "2025-12-04 10:00:00.000Z", "open_count": 0,
		 "reply_details": {"reply_time": "2025-12-05T08:00:00+00:00", "message_id": "<x>"}, "thread_replies": [{"a": 1}, {"b": 2}]}]}`))
	require.NoError(t, err)
	require.Equal(t, int64(2_990_007_817), a.LeadID)
	require.Equal(t, int64(2_400_004_501), a.CampaignLeadMapID)
	require.Equal(t, int64(2), *a.CurrentSeqNum)
	require.Len(t, a.Emails, 2)
	require.Equal(t, int64(3), a.Emails[0].OpenCount)
	require.False(t, a.Emails[0].Replied)
	require.True(t, a.Emails[1].Replied)
	require.Equal(t, time.Date(2025, 12, 5, 8, 0, 0, 0, time.UTC), *a.Emails[1].ReplyTime)
	require.Equal(t, int64(2), a.Emails[1].ThreadReplies)
	require.Equal(t, time.Date(2025, 12, 4, 10, 0, 0, 0, time.UTC), *a.Emails[1].SentTime)

	for _, tc := range []struct{ body, field, reason string }{
		{`{"lead_id": 1, "email_lead_map_id": 2, "campaign_id": 3, "activities": [{"stats_id": "a"}, {"stats_id": "b", "open_count": "x"}]}`,
			"activities[1].open_count", "not an integer"},
		{`{"lead_id": 1, "email_lead_map_id": 2, "campaign_id": 3, "activities": [{"open_count": 1}]}`, "activities[0].stats_id", "missing"},
		{`{"lead_id": 1, "email_lead_map_id": 2, "campaign_id": 3, "activities": [null]}`, "activities[0]", "expected an object"},
		{`{"lead_id": 1, "email_lead_map_id": 2, "campaign_id": 3, "activities": {"stats_id": "a"}}`, "activities", "expected an array"},
		{`{"lead_id": 1, "email_lead_map_id": 2, "campaign_id": 3, "activities": [{"stats_id": "a", "reply_details": "yes"}]}`,
			"activities[0].reply_details", "expected an object"},
		{`{"lead_id": 1, "campaign_id": 3}`, "email_lead_map_id", "required key is missing"},
		{`{"lead_id": "x", "email_lead_map_id": 2, "campaign_id": 3}`, "lead_id", "not an integer"},
		{`{"lead_id": 1, "email_lead_map_id": 2, "campaign_id": 3, "activities": [{"stats_id": "a"}`, "", "invalid JSON"},
	} {
		_, err := transform.DecodeLeadActivity([]byte(tc.body))
		var fe *transform.FieldError
		require.ErrorAs(t, err, &fe, tc.body)
		require.Equal(t, tc.field, fe.Field, tc.body)
		require.Contains(t, fe.Reason, tc.reason, tc.body)
	}
}

// TestSignalsFromPageRejectsOtherStreams: a table stream's page is not a
// signal; each record becomes a rejection, none is dropped.
func TestSignalsFromPageRejectsOtherStreams(t *testing.T) {
	s := transform.SignalsFromPage(extract.Page{Item: extract.Item{Stream: extract.StreamLeads, CampaignID: 4}, Records: []json.RawMessage{[]byte(`{}`), []byte(`{}`)}})
	require.Len(t, s.Rejected, 2)
	require.True(t, strings.HasPrefix(s.Rejected[0].Reason, "not a signal stream"))
	require.Equal(t, "campaign=4 offset=1", s.Rejected[1].RecordKey)
}

// seedSignals adds every record of the payloads of one signal stream.
func seedSignals(f *testing.F, stream extract.Stream) {
	f.Helper()
	for _, tc := range signalCases {
		if tc.item.Stream != stream {
			continue
		}
		for _, r := range signalPage(f, tc.file, tc.item).Records {
			f.Add([]byte(r))
		}
	}
	for _, s := range []string{``, `{}`, `[]`, `null`, `{"id":1`, `{"id":1,"sent":"1e3","replied":"0"}`, "{\"id\":\"\xff\"}",
		`{"lead_id":1,"email_lead_map_id":2,"campaign_id":3,"activities":[[[]]]}`} {
		f.Add([]byte(s))
	}
}

func FuzzDecodeOverallStat(f *testing.F) {
	seedSignals(f, extract.StreamOverallStats)
	item := extract.Item{Stream: extract.StreamOverallStats, Day: "2025-01-01", EndDay: "2025-01-30"}
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := transform.DecodeOverallStat(item.Day, item.EndDay, data)
		if err != nil {
			checkFailure(t, err)
		} else {
			require.Positive(t, o.CampaignID)
			require.GreaterOrEqual(t, o.Sent, int64(0))
			checkRow(t, o)
		}
		s := transform.SignalsFromPage(extract.Page{Item: item, Records: []json.RawMessage{data}, Total: -1})
		require.Equal(t, 1, len(s.OverallStats)+len(s.Rejected))
		require.Equal(t, err == nil, len(s.OverallStats) == 1)
		for _, r := range s.Rejected {
			require.True(t, json.Valid(r.Raw))
			require.NotEmpty(t, r.RecordKey)
		}
	})
}

func FuzzDecodeLeadActivity(f *testing.F) {
	seedSignals(f, extract.StreamLeadActivities)
	item := extract.Item{Stream: extract.StreamLeadActivities}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := transform.DecodeLeadActivity(data)
		if err != nil {
			checkFailure(t, err)
		} else {
			require.Positive(t, a.CampaignID)
			require.Positive(t, a.CampaignLeadMapID)
			require.Positive(t, a.LeadID)
			checkRow(t, a)
			for _, e := range a.Emails {
				require.NotEmpty(t, e.StatsID)
				checkRow(t, e)
			}
		}
		s := transform.SignalsFromPage(extract.Page{Item: item, Records: []json.RawMessage{data}, Total: -1})
		require.Equal(t, 1, len(s.LeadActivities)+len(s.Rejected))
		require.Equal(t, err == nil, len(s.LeadActivities) == 1)
		for _, r := range s.Rejected {
			require.True(t, json.Valid(r.Raw))
			require.NotEmpty(t, r.RecordKey)
		}
	})
}
