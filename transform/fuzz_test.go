package transform_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// The fuzz targets check, for any input: no panic; a successful decode
// has its key and only clean values (valid UTF-8, compact valid JSON,
// UTC times); a failure is a *FieldError; FromPage turns the record into
// exactly one row or one Rejected whose Raw is valid JSON. `make fuzz`
// runs each briefly; plain `go test` runs the seeds, which are the
// recorded payloads.

// seedRecords adds every record of the payloads of one stream.
func seedRecords(f *testing.F, stream extract.Stream) {
	f.Helper()
	n := 0
	for _, tc := range payloadCases {
		if tc.item.Stream != stream {
			continue
		}
		body, err := os.ReadFile(filepath.Join(payloadDir, tc.file))
		require.NoError(f, err)
		for _, r := range pageFromBody(f, tc.item, body).Records {
			f.Add([]byte(r))
			n++
		}
	}
	require.NotZero(f, n, "no seeds for %s", stream)
	for _, s := range []string{``, `{}`, `[]`, `null`, `{"id":1`, `{"id":"1e3"}`, `{"id":1,"id":"x"}`, "{\"id\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
}

// checkRow asserts that every field of a row is loadable: strings valid
// UTF-8, JSON columns valid and compact, times in UTC.
func checkRow(t *testing.T, row any) {
	v := reflect.ValueOf(row)
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		f := v.Field(i)
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				continue
			}
			f = f.Elem()
		}
		switch x := f.Interface().(type) {
		case string:
			require.True(t, utf8.ValidString(x), "%s is not UTF-8: %q", name, x)
		case transform.JSON:
			if x == nil {
				continue
			}
			require.True(t, json.Valid(x), "%s is not JSON: %q", name, x)
			var c bytes.Buffer
			require.NoError(t, json.Compact(&c, x))
			require.Equal(t, c.String(), string(x), "%s is not compact", name)
			require.True(t, utf8.Valid(x), "%s is not UTF-8", name)
		case time.Time:
			require.Equal(t, time.UTC, x.Location(), name)
		}
	}
}

func checkFailure(t *testing.T, err error) {
	var fe *transform.FieldError
	require.True(t, errors.As(err, &fe), "%T %v", err, err)
	require.NotEmpty(t, fe.Reason)
	require.True(t, utf8.ValidString(fe.Reason), "%q", fe.Reason)
	require.LessOrEqual(t, len(fe.Reason), 200, "reasons are truncated")
}

// checkPage runs FromPage on one record and checks the accounting.
func checkPage(t *testing.T, item extract.Item, data []byte) transform.Batch {
	b := transform.FromPage(extract.Page{Item: item, Records: []json.RawMessage{data}, Total: -1})
	require.Equal(t, 1, batchRows(b)+len(b.Rejected))
	for _, r := range b.Rejected {
		require.True(t, json.Valid(r.Raw), "Raw %q", r.Raw)
		require.Equal(t, string(item.Stream), r.Stream)
		require.NotEmpty(t, r.RecordKey)
		require.True(t, utf8.ValidString(r.RecordKey))
		require.NotContains(t, strings.ToLower(string(r.Raw)), `password"`)
	}
	return b
}

func FuzzDecodeLead(f *testing.F) {
	seedRecords(f, extract.StreamLeads)
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := transform.DecodeLead(77, data)
		if err != nil {
			checkFailure(t, err)
		} else {
			require.Positive(t, l.CampaignLeadMapID)
			require.Positive(t, l.LeadID)
			require.NotEmpty(t, l.Email)
			require.Equal(t, int64(77), l.CampaignID)
			checkRow(t, l)
		}
		b := checkPage(t, extract.Item{Stream: extract.StreamLeads, CampaignID: 77}, data)
		require.Equal(t, err == nil, len(b.Leads) == 1)
	})
}

func FuzzDecodeCampaign(f *testing.F) {
	seedRecords(f, extract.StreamCampaigns)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := transform.DecodeCampaign(data)
		if err != nil {
			checkFailure(t, err)
		} else {
			require.Positive(t, c.CampaignID)
			checkRow(t, c)
		}
		b := checkPage(t, extract.Item{Stream: extract.StreamCampaigns}, data)
		require.Equal(t, err == nil, len(b.Campaigns) == 1)
	})
}

func FuzzDecodeCampaignAnalytics(f *testing.F) {
	seedRecords(f, extract.StreamCampaignAnalytics)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := transform.DecodeCampaignAnalytics(data)
		if err != nil {
			checkFailure(t, err)
		} else {
			require.Positive(t, a.CampaignID)
			checkRow(t, a)
		}
		checkPage(t, extract.Item{Stream: extract.StreamCampaignAnalytics}, data)
	})
}

func FuzzDecodeDailyStat(f *testing.F) {
	seedRecords(f, extract.StreamCampaignDailyStats)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := transform.DecodeDailyStat(1562695, "2025-02-03", data)
		if err != nil {
			checkFailure(t, err)
		} else {
			require.Equal(t, int64(1562695), s.CampaignID)
			require.Equal(t, time.Date(2025, 2, 3, 0, 0, 0, 0, time.UTC), s.Day)
			checkRow(t, s)
		}
		checkPage(t, extract.Item{Stream: extract.StreamCampaignDailyStats, CampaignID: 1562695, Day: "2025-02-03"}, data)
	})
}

func FuzzDecodeLeadEmailStat(f *testing.F) {
	seedRecords(f, extract.StreamLeadEmailStats)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := transform.DecodeLeadEmailStat(77, data)
		if err != nil {
			checkFailure(t, err)
		} else {
			require.NotEmpty(t, strings.TrimSpace(s.StatsID))
			require.NotEmpty(t, s.LeadEmail)
			checkRow(t, s)
		}
		checkPage(t, extract.Item{Stream: extract.StreamLeadEmailStats, CampaignID: 77}, data)
	})
}

func FuzzDecodeSequence(f *testing.F) {
	seedRecords(f, extract.StreamSequences)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := transform.DecodeSequence(2710262, data)
		if err != nil {
			checkFailure(t, err)
		} else {
			require.Positive(t, s.SequenceID)
			checkRow(t, s)
		}
		checkPage(t, extract.Item{Stream: extract.StreamSequences, CampaignID: 2710262}, data)
	})
}

func FuzzDecodeClient(f *testing.F) {
	seedRecords(f, extract.StreamClients)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := transform.DecodeClient(data)
		if err != nil {
			checkFailure(t, err)
		} else {
			require.Positive(t, c.ClientID)
			checkRow(t, c)
		}
		checkPage(t, extract.Item{Stream: extract.StreamClients}, data)
	})
}

// FuzzDecodeEmailAccount plants passwords in every input and checks
// that they reach neither the row nor a rejection.
func FuzzDecodeEmailAccount(f *testing.F) {
	seedRecords(f, extract.StreamEmailAccounts)
	const mark = "Pw-7f3e9c-MARK"
	f.Fuzz(func(t *testing.T, data []byte) {
		if bytes.Contains(data, []byte(mark)) {
			t.Skip()
		}
		if i := bytes.IndexByte(data, '{'); i >= 0 {
			planted := `"password":"` + mark + `","imap_password":"` + mark + `","warmup_details":{"smtp_password":"` + mark + `"},`
			data = append(append(append([]byte(nil), data[:i+1]...), planted...), data[i+1:]...)
		}
		a, err := transform.DecodeEmailAccount(data)
		if err != nil {
			checkFailure(t, err)
			require.NotContains(t, err.Error(), mark)
		} else {
			require.Positive(t, a.EmailAccountID)
			require.NotEmpty(t, a.FromEmail)
			checkRow(t, a)
		}
		out, jerr := json.Marshal(a)
		require.NoError(t, jerr)
		require.NotContains(t, string(out), mark)

		b := checkPage(t, extract.Item{Stream: extract.StreamEmailAccounts}, data)
		out, jerr = json.Marshal(b)
		require.NoError(t, jerr)
		require.NotContains(t, string(out), mark)
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		"2025-02-24T11:51:47.872Z", "2023-09-25T17:29:11.618881+00:00", "2025-03-28T09:35:01+00:00",
		"2023-10-16 10:33:02.000Z", "2025-01-29", "2024-02-29T23:59:59.999999999-23:59", "garbage", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := transform.ParseTime(s)
		if err != nil {
			return
		}
		require.Equal(t, time.UTC, got.Location())
		// Whatever is accepted must mean what the standard library
		// thinks it means.
		layout, norm := time.RFC3339Nano, s
		if len(s) == 10 {
			layout = time.DateOnly
		} else {
			norm = s[:10] + "T" + s[11:]
		}
		want, perr := time.Parse(layout, norm)
		require.NoError(t, perr, "accepted %q, which time.Parse rejects", s)
		require.True(t, want.Equal(got), "%q: %v vs %v", s, got, want)
	})
}

// FuzzRedact: the output is always valid JSON without a secret-named
// key at any depth; for valid input it is idempotent and, when nothing
// needed removing, means the same as the input.
func FuzzRedact(f *testing.F) {
	for _, tc := range payloadCases {
		body, err := os.ReadFile(filepath.Join(payloadDir, tc.file))
		require.NoError(f, err)
		f.Add(body)
	}
	for _, s := range []string{`{"Pass\u0057ord":"x","a":[{"api_key":1}]}`, `{"url":"https://x/?api_key=abc&b=1"}`, `{"a":`, `"x"`, `1`, "[\"\xff\"]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out := transform.Redact(data)
		require.True(t, json.Valid(out), "%q", out)
		var doc any
		require.NoError(t, json.Unmarshal(out, &doc))
		require.False(t, hasSecretKey(doc), "%s", out)
		if !json.Valid(data) {
			m, ok := doc.(map[string]any)
			require.True(t, ok)
			require.Equal(t, true, m["invalid_json"])
			return
		}
		if m, ok := doc.(map[string]any); ok && m["invalid_json"] == true && nestingDepth(data) > 500 {
			return // deeper than the decoder accepts
		}
		require.Equal(t, string(out), string(transform.Redact(out)), "idempotent")
		var in any
		require.NoError(t, json.Unmarshal(data, &in))
		if !hasSecretKey(in) && !bytes.Contains(bytes.ToLower(data), []byte("api_key=")) {
			require.Equal(t, in, doc)
		}
	})
}

func hasSecretKey(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			lk := strings.ToLower(k)
			for _, w := range []string{"password", "passwd", "secret", "api_key", "apikey", "api-key"} {
				if strings.Contains(lk, w) {
					return true
				}
			}
			if hasSecretKey(x) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if hasSecretKey(x) {
				return true
			}
		}
	}
	return false
}

func nestingDepth(b []byte) int {
	depth, most, inStr := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case !inStr && (c == '{' || c == '['):
			depth++
			most = max(most, depth)
		case !inStr && (c == '}' || c == ']'):
			depth--
		}
	}
	return most
}
