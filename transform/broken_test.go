package transform_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// setPath sets a dotted path in a JSON object to the JSON value bad.
func setPath(t *testing.T, record []byte, path, bad string) []byte {
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(record))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&doc))
	var v any
	dec = json.NewDecoder(strings.NewReader(bad))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&v))
	parts := strings.Split(path, ".")
	m := doc
	for _, p := range parts[:len(parts)-1] {
		next, ok := m[p].(map[string]any)
		require.True(t, ok, "path %s", path)
		m = next
	}
	m[parts[len(parts)-1]] = v
	out, err := json.Marshal(doc)
	require.NoError(t, err)
	return out
}

// TestOneBrokenField breaks one field of the middle record of a
// three-record page, for each stream and several kinds of damage: the
// page must give exactly one Rejected naming stream, key and field, and
// the other two records must still become rows.
func TestOneBrokenField(t *testing.T) {
	type breakage struct {
		path, bad string
		keyLost   bool   // the break destroys the key, so the record is located by offset
		reason    string // expected substring of the reason
	}
	cases := []struct {
		stream extract.Stream
		// record returns a good record with key k.
		record func(k int) string
		breaks []breakage
	}{
		{
			stream: extract.StreamLeads,
			record: func(k int) string {
				return `{"campaign_lead_map_id":` + strconv.Itoa(3000000000+k) + `,"status":"INPROGRESS","created_at":"2025-11-25T12:54:54.000Z","lead_category_id":null,` +
					`"lead":{"id":` + strconv.Itoa(4000000000+k) + `,"email":"a` + strconv.Itoa(k) + `@example.com","first_name":"A","custom_fields":{"x":1},"is_unsubscribed":false}}`
			},
			breaks: []breakage{
				{"lead.id", `"abc"`, false, `not an integer: "abc"`},
				{"lead.id", `1.5`, false, `not an integer: 1.5`},
				{"lead.id", `null`, false, `required key is null`},
				{"campaign_lead_map_id", `"x1"`, true, `not an integer: "x1"`},
				{"campaign_lead_map_id", `-4`, true, `key must be positive`},
				{"lead.email", `null`, false, `required field is null`},
				{"lead.email", `["a"]`, false, `expected a string, got an array`},
				{"created_at", `"2025-02-30T00:00:00Z"`, false, `not a timestamp: "2025-02-30T00:00:00Z"`},
				{"lead_category_id", `true`, false, `expected an integer, got true`},
				{"lead.is_unsubscribed", `"maybe"`, false, `not a boolean: "maybe"`},
				{"lead.first_name", `{"password":"pw-leak"}`, false, `expected a string, got an object`},
				{"lead", `"gone"`, false, `expected an object, got "gone"`},
			},
		},
		{
			stream: extract.StreamCampaigns,
			record: func(k int) string {
				return `{"id":` + strconv.Itoa(100+k) + `,"user_id":"5","name":"c","status":"ACTIVE","created_at":"2025-11-25T10:43:46.826Z","send_as_plain_text":false,"follow_up_percentage":20}`
			},
			breaks: []breakage{
				{"id", `"x"`, true, `not an integer: "x"`},
				{"id", `""`, true, `required key is empty`},
				{"user_id", `"abc"`, false, `not an integer: "abc"`},
				{"created_at", `"2025-13-01T00:00:00Z"`, false, `not a timestamp`},
				{"send_as_plain_text", `"yes"`, false, `not a boolean: "yes"`},
				{"follow_up_percentage", `"abc%"`, false, `not a percentage: "abc%"`},
				{"name", `false`, false, `expected a string, got false`},
			},
		},
		{
			stream: extract.StreamLeadEmailStats,
			record: func(k int) string {
				return `{"stats_id":"s-` + strconv.Itoa(k) + `","lead_email":"l@example.com","sequence_number":1,"sent_time":"2025-02-24T11:51:47.872Z","open_count":"1","is_bounced":false}`
			},
			breaks: []breakage{
				{"stats_id", `null`, true, `required key is null`},
				{"stats_id", `{}`, true, `expected a string, got an object`},
				{"sent_time", `"31/12/2024"`, false, `not a timestamp: "31/12/2024"`},
				{"sent_time", `1700000000`, false, `expected a timestamp string, got 1700000000`},
				{"open_count", `"1.5"`, false, `not an integer: "1.5"`},
				{"is_bounced", `"nope"`, false, `not a boolean`},
				{"lead_email", `""`, false, `required field is empty`},
			},
		},
		{
			stream: extract.StreamSequences,
			record: func(k int) string {
				return `{"id":` + strconv.Itoa(500+k) + `,"email_campaign_id":77,"seq_number":1,"seq_delay_details":{"delayInDays":2},"subject":"","sequence_variants":[]}`
			},
			breaks: []breakage{
				{"seq_delay_details.delayInDays", `"three"`, false, `not an integer: "three"`},
				{"seq_number", `null`, false, `required field is null`},
				{"email_campaign_id", `78`, false, `does not match the requested campaign 77`},
				{"seq_delay_details", `[]`, false, `expected an object, got an array`},
			},
		},
		{
			stream: extract.StreamEmailAccounts,
			record: func(k int) string {
				return `{"id":` + strconv.Itoa(900+k) + `,"from_email":"e@example.com","password":"pw-leak","imap_password":"pw-leak",` +
					`"message_per_day":50,"warmup_details":{"status":"ACTIVE","warmup_reputation":"95%"}}`
			},
			breaks: []breakage{
				{"warmup_details.warmup_reputation", `"ninety%"`, false, `not a number: "ninety%"`},
				{"warmup_details.warmup_reputation", `"%"`, false, `not a number: "%"`},
				{"message_per_day", `true`, false, `expected an integer, got true`},
				{"from_email", `null`, false, `required field is null`},
				{"id", `9223372036854775808`, true, `not an integer`},
			},
		},
		{
			stream: extract.StreamClients,
			record: func(k int) string {
				return `{"id":` + strconv.Itoa(10+k) + `,"name":"n","created_at":"2022-08-25T04:24:04.656Z","client_permision":{"permission":[]}}`
			},
			breaks: []breakage{
				{"id", `0`, true, `key must be positive, got 0`},
				{"created_at", `12345`, false, `expected a timestamp string, got 12345`},
			},
		},
	}
	for _, tc := range cases {
		for _, br := range tc.breaks {
			t.Run(string(tc.stream)+"/"+br.path+"="+br.bad, func(t *testing.T) {
				p := extract.Page{Item: extract.Item{Stream: tc.stream, CampaignID: 77, Offset: 200}, Total: -1}
				for k := range 3 {
					rec := []byte(tc.record(k))
					if k == 1 {
						rec = setPath(t, rec, br.path, br.bad)
					}
					p.Records = append(p.Records, rec)
				}
				b := transform.FromPage(p)
				require.Len(t, b.Rejected, 1, "%+v", b.Rejected)
				r := b.Rejected[0]
				require.Equal(t, string(tc.stream), r.Stream)
				require.Equal(t, br.path, r.Field)
				require.Contains(t, r.Reason, br.reason)
				require.Equal(t, 2, batchRows(b), "the rest of the page still loads")
				require.True(t, json.Valid(r.Raw))
				require.NotContains(t, string(r.Raw), "pw-leak")
				require.NotContains(t, r.Reason, "pw-leak")
				if br.keyLost {
					require.Equal(t, "campaign=77 offset=201", r.RecordKey)
				} else {
					require.NotContains(t, r.RecordKey, "offset=")
					require.NotEmpty(t, r.RecordKey)
				}
			})
		}
	}
}

func TestSingleRecordStreamsBroken(t *testing.T) {
	analytics := `{"id":77,"sent_count":"3","campaign_lead_stats":{"total":3,"completed":1}}`
	for _, tc := range []struct {
		item          extract.Item
		record        string
		field, reason string
	}{
		{extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: 77}, `{"id":77,"sent_count":"abc"}`, "sent_count", `not an integer: "abc"`},
		{extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: 77}, `{"id":77,"campaign_lead_stats":{"total":1.5}}`, "campaign_lead_stats.total", "not an integer: 1.5"},
		{extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: 77}, `{"id":77,"campaign_lead_stats":{"revenue":"$5"}}`, "campaign_lead_stats.revenue", `not a number: "$5"`},
		{extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: 78}, analytics, "id", "campaign id 77 does not match the requested campaign 78"},
		{extract.Item{Stream: extract.StreamCampaignDailyStats, CampaignID: 77, Day: "2025-02-03"}, `{"id":77,"open_count":"x"}`, "open_count", `not an integer: "x"`},
		{extract.Item{Stream: extract.StreamCampaignDailyStats, CampaignID: 77, Day: "2025-02-03"}, `{"id":77,"start_date":"2025-02-04"}`, "start_date", "does not match the requested day 2025-02-03"},
		{extract.Item{Stream: extract.StreamCampaignDailyStats, CampaignID: 77, Day: "2025-02-03"}, `{"id":76}`, "id", "campaign id 76 does not match"},
		{extract.Item{Stream: extract.StreamCampaignDailyStats, CampaignID: 77, Day: "3 Feb"}, `{"id":77}`, "day", `requested day is not YYYY-MM-DD: "3 Feb"`},
		{extract.Item{Stream: extract.StreamCampaignDailyStats, CampaignID: 77, Day: "2025-02-03"}, `{}`, "id", "empty object"},
	} {
		t.Run(tc.record, func(t *testing.T) {
			b := transform.FromPage(extract.Page{Item: tc.item, Records: []json.RawMessage{json.RawMessage(tc.record)}, Total: -1})
			require.Len(t, b.Rejected, 1)
			require.Equal(t, 0, batchRows(b))
			require.Equal(t, tc.field, b.Rejected[0].Field)
			require.Contains(t, b.Rejected[0].Reason, tc.reason)
			require.Equal(t, string(tc.item.Stream), b.Rejected[0].Stream)
		})
	}
}

func TestCampaignIDFromRequestMustBePositive(t *testing.T) {
	rec := []byte(`{"campaign_lead_map_id":1,"stats_id":"s","lead_email":"e","id":1,"seq_number":1,"lead":{"id":2,"email":"e"}}`)
	for _, stream := range []extract.Stream{extract.StreamLeads, extract.StreamLeadEmailStats, extract.StreamSequences, extract.StreamCampaignDailyStats} {
		b := transform.FromPage(extract.Page{Item: extract.Item{Stream: stream, Day: "2025-02-03"}, Records: []json.RawMessage{rec}, Total: -1})
		require.Len(t, b.Rejected, 1, stream)
		require.Equal(t, "campaign_id", b.Rejected[0].Field, stream)
		require.Equal(t, "requested campaign id must be positive, got 0", b.Rejected[0].Reason, stream)
	}
}

func TestRecordsThatAreNotObjects(t *testing.T) {
	for _, raw := range []string{``, `[]`, `"x"`, `null`, `42`, `{"name":"a"`, `{"name":"a"}{}`, `{"name":"a",}`, "{\"name\":\"a\x01\"}", `{"id":1e999999999}`} {
		t.Run(raw, func(t *testing.T) {
			_, err := transform.DecodeClient([]byte(raw))
			var fe *transform.FieldError
			require.True(t, errors.As(err, &fe), "%v", err)
			b := transform.FromPage(extract.Page{Item: extract.Item{Stream: extract.StreamClients}, Records: []json.RawMessage{json.RawMessage(raw)}, Total: -1})
			require.Len(t, b.Rejected, 1)
			require.Equal(t, "offset=0", b.Rejected[0].RecordKey)
			require.True(t, json.Valid(b.Rejected[0].Raw), "%s", b.Rejected[0].Raw)
		})
	}
}

func TestDecodersReturnFieldError(t *testing.T) {
	_, err := transform.DecodeLead(1, []byte(`{"campaign_lead_map_id":1,"lead_category_id":7.5e400,"lead":{"id":2,"email":"e"}}`))
	var fe *transform.FieldError
	require.ErrorAs(t, err, &fe)
	require.Equal(t, transform.FieldError{Field: "lead_category_id", Reason: "not an integer: 7.5e400"}, *fe)
	require.Equal(t, "lead_category_id: not an integer: 7.5e400", err.Error())

	// A syntax error after the key still names the key.
	b := transform.FromPage(extract.Page{Item: extract.Item{Stream: extract.StreamClients},
		Records: []json.RawMessage{json.RawMessage(`{"id":12,"name":tru}`)}, Total: -1})
	require.Len(t, b.Rejected, 1)
	require.Equal(t, "12", b.Rejected[0].RecordKey)
	require.Equal(t, "invalid JSON at byte 16: invalid literal", b.Rejected[0].Reason)
}
