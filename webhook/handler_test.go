package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/load"
)

const secret = "whsec-test-7Hq2"

// receiver is Serve running on a loopback port for one test.
type receiver struct {
	url  string
	db   string
	stop func()
}

func startReceiver(t *testing.T, db, sec string) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ln, Config{DB: db, Schema: os.DirFS("../sql/schema"), Secret: sec, MergeEvery: 50 * time.Millisecond})
	}()
	r := &receiver{url: "http://" + ln.Addr().String(), db: db}
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		require.NoError(t, <-done)
	}
	t.Cleanup(r.stop)
	return r
}

func post(t *testing.T, url, body string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+Path, strings.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func sign(body, key string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// query opens the warehouse after the receiver stopped (its final merge
// done) and returns one int.
func queryInt(t testing.TB, db, q string, args ...any) int64 {
	t.Helper()
	s, err := load.OpenReadOnly(context.Background(), db, load.Options{})
	require.NoError(t, err)
	defer s.Close()
	var n int64
	require.NoError(t, s.DB().QueryRow(q, args...).Scan(&n))
	return n
}

func queryRows(t testing.TB, db, q string) [][]sql.NullString {
	t.Helper()
	s, err := load.OpenReadOnly(context.Background(), db, load.Options{})
	require.NoError(t, err)
	defer s.Close()
	rows, err := s.DB().Query(q)
	require.NoError(t, err)
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]sql.NullString
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		out = append(out, vals)
	}
	return out
}

// Every documented payload variant is accepted, stored once, and lands in
// the warehouse with its fields extracted and its secret removed.
func TestReceiverPayloadVariants(t *testing.T) {
	db := filepath.Join(t.TempDir(), "wh.duckdb")
	r := startReceiver(t, db, secret)
	variants := map[string]string{
		"A sent":             `{"event_type":"EMAIL_SENT","event_timestamp":"2026-11-27T09:00:00Z","campaign_id":101,"campaign_name":"Q4","sl_email_lead_id":7,"sl_email_lead_map_id":9001,"sl_lead_email":"ann@example.com","from_email":"me@ours.example","subject":"Hi","sequence_number":1,"stats_id":"s1","secret_key":"` + secret + `","sent_message":{"message_id":"<m1@x>","time":"2026-11-27T09:00:00Z"}}`,
		"A open":             `{"event_type":"EMAIL_OPEN","event_timestamp":"2026-11-27T09:30:00Z","campaign_id":"101","sl_email_lead_map_id":"9001","stats_id":"s1","secret_key":"` + secret + `"}`,
		"A click":            `{"event_type":"EMAIL_LINK_CLICK","event_timestamp":"2026-11-27T09:31:00Z","campaign_id":101,"sl_email_lead_map_id":9001,"link_details":["https://x"],"secret_key":"` + secret + `"}`,
		"A click deprecated": `{"event_type":"EMAIL_CLICKED","time_clicked":"2026-11-27T09:32:00Z","campaign_id":101,"sl_email_lead_map_id":9001,"link_clicked":["https://y"],"secret_key":"` + secret + `"}`,
		"A reply":            `{"event_type":"EMAIL_REPLY","event_timestamp":"2026-11-27T10:00:00Z","campaign_id":101,"sl_email_lead_map_id":9001,"sequence_number":1,"reply_message":{"message_id":"<r1@x>","text":"yes","time":"2026-11-27T10:00:00Z"},"secret_key":"` + secret + `"}`,
		"A reply deprecated": `{"event_type":"EMAIL_REPLIED","time_replied":"2026-11-27T10:01:00Z","campaign_id":101,"sl_email_lead_map_id":9002,"message_id":"<r2@x>","reply_body":"ok","secret_key":"` + secret + `"}`,
		"A bounce":           `{"event_type":"EMAIL_BOUNCED","event_timestamp":"2026-11-27T10:02:00Z","campaign_id":101,"sl_email_lead_map_id":9003,"secret_key":"` + secret + `"}`,
		"A unsubscribe":      `{"event_type":"LEAD_UNSUBSCRIBED","event_timestamp":"2026-11-27T10:03:00Z","campaign_id":101,"sl_email_lead_map_id":9004,"secret_key":"` + secret + `"}`,
		"A category":         `{"event_type":"LEAD_CATEGORY_UPDATED","event_timestamp":"2026-11-27T10:04:00Z","campaign_id":101,"sl_email_lead_map_id":9001,"lead_category":{"old_id":3,"old_name":"Interested","new_id":1,"new_name":"Meeting Booked"},"history":[],"secret_key":"` + secret + `"}`,
		"unknown type":       `{"event_type":"MANUAL_STEP_REACHED","event_timestamp":"2026-11-27T10:05:00Z","campaign_id":101,"brand_new":true,"secret_key":"` + secret + `"}`,
	}
	// Shape B has no secret_key field: it authenticates by signature.
	shapeB := `{"event":"EMAIL_REPLIED","timestamp":"2024-01-15T10:30:00Z","campaign_id":123,"campaign_name":"Cold Outreach Q1","lead_id":789,"email_account_id":456,"lead":{"email":"lead@example.com","first_name":"Jane"},"sequence_number":1,"email":{"subject":"Quick question","message_id":"abc123@smartlead.ai"},"reply":{"subject":"Re: Quick question","body":"..."}}`
	for name, body := range variants {
		code, resp := post(t, r.url, body)
		require.Equal(t, http.StatusOK, code, "%s: %s", name, resp)
	}
	code, resp := post(t, r.url, shapeB, SignatureHeader, sign(shapeB, secret))
	require.Equal(t, http.StatusOK, code, resp)
	// Retries of two of them: stored once.
	code, _ = post(t, r.url, variants["A open"])
	require.Equal(t, http.StatusOK, code)
	code, _ = post(t, r.url, shapeB, SignatureHeader, sign(shapeB, secret))
	require.Equal(t, http.StatusOK, code)
	r.stop()

	assert.EqualValues(t, len(variants)+1, queryInt(t, db, `SELECT count(*) FROM email_events`))
	assert.Zero(t, queryInt(t, db, `SELECT count(*) FROM email_events WHERE payload::VARCHAR LIKE '%`+secret+`%'`))
	assert.Zero(t, queryInt(t, db, `SELECT count(*) FROM email_events WHERE payload->>'secret_key' IS NOT NULL`))
	rows := queryRows(t, db, `SELECT event_type, count(*) FROM email_events GROUP BY ALL ORDER BY 1`)
	got := map[string]string{}
	for _, r := range rows {
		got[r[0].String] = r[1].String
	}
	assert.Equal(t, map[string]string{"EMAIL_BOUNCE": "1", "EMAIL_LINK_CLICK": "2", "EMAIL_OPEN": "1", "EMAIL_REPLY": "3",
		"EMAIL_SENT": "1", "LEAD_CATEGORY_UPDATED": "1", "LEAD_UNSUBSCRIBED": "1", "MANUAL_STEP_REACHED": "1"}, got)
	sent := queryRows(t, db, `SELECT campaign_id, campaign_name, campaign_lead_map_id, lead_id, lead_email, sequence_number,
		stats_id, message_id, from_email, subject FROM email_events WHERE event_type = 'EMAIL_SENT'`)
	require.Len(t, sent, 1)
	var vals []string
	for _, v := range sent[0] {
		vals = append(vals, v.String)
	}
	assert.Equal(t, []string{"101", "Q4", "9001", "7", "ann@example.com", "1", "s1", "<m1@x>", "me@ours.example", "Hi"}, vals)
	cat := queryRows(t, db, `SELECT old_lead_category, new_lead_category FROM email_events WHERE event_type = 'LEAD_CATEGORY_UPDATED'`)
	assert.Equal(t, "Interested", cat[0][0].String)
	assert.Equal(t, "Meeting Booked", cat[0][1].String)
	b := queryRows(t, db, `SELECT lead_email, message_id, subject FROM email_events WHERE campaign_id = 123`)
	assert.Equal(t, []string{"lead@example.com", "abc123@smartlead.ai", "Quick question"}, []string{b[0][0].String, b[0][1].String, b[0][2].String})
	assert.Zero(t, queryInt(t, db, `SELECT count(*) FROM webhook_rejects`))
}

// Authentication failures get 401 and are stored nowhere.
func TestReceiverRefusesUnauthenticated(t *testing.T) {
	db := filepath.Join(t.TempDir(), "wh.duckdb")
	r := startReceiver(t, db, secret)
	ok := `{"event_type":"EMAIL_OPEN","event_timestamp":"2026-11-27T09:30:00Z","campaign_id":1,"secret_key":"` + secret + `"}`
	wrong := strings.Replace(ok, secret, "whsec-guess", 1)
	noField := `{"event_type":"EMAIL_OPEN","event_timestamp":"2026-11-27T09:31:00Z","campaign_id":1}`
	for name, c := range map[string]struct {
		body   string
		header []string
	}{
		"wrong secret_key":                 {wrong, nil},
		"no secret_key and no signature":   {noField, nil},
		"bad signature":                    {noField, []string{SignatureHeader, sign(noField, "whsec-other")}},
		"signature of another body":        {noField, []string{SignatureHeader, sign(ok, secret)}},
		"good field, bad signature":        {ok, []string{SignatureHeader, "sha256=00ff"}},
		"good signature, wrong secret_key": {wrong, []string{SignatureHeader, sign(wrong, secret)}},
		"signature not hex":                {noField, []string{SignatureHeader, "sha256=zz"}},
		"bad signature on invalid JSON":    {"{oops " + secret, []string{SignatureHeader, "sha256=00"}},
	} {
		code, resp := post(t, r.url, c.body, c.header...)
		assert.Equal(t, http.StatusUnauthorized, code, name)
		assert.NotContains(t, resp, secret, name)
	}
	// The same deliveries done right are accepted.
	code, _ := post(t, r.url, ok)
	assert.Equal(t, http.StatusOK, code)
	code, _ = post(t, r.url, noField, SignatureHeader, sign(noField, secret))
	assert.Equal(t, http.StatusOK, code)
	r.stop()
	assert.EqualValues(t, 2, queryInt(t, db, `SELECT count(*) FROM email_events`))
	assert.Zero(t, queryInt(t, db, `SELECT count(*) FROM webhook_rejects`))
}

// A body that is not JSON gets 400 and a webhook_rejects row; one over
// 1 MB gets 413 and a row; neither row holds the secret.
func TestReceiverRejects(t *testing.T) {
	db := filepath.Join(t.TempDir(), "wh.duckdb")
	r := startReceiver(t, db, secret)
	code, resp := post(t, r.url, `{"event_type":"EMAIL_OPEN","secret_key":"`+secret+`", oops`)
	assert.Equal(t, http.StatusBadRequest, code, resp)
	assert.Contains(t, resp, "invalid JSON")
	code, _ = post(t, r.url, `[1,2,3]`)
	assert.Equal(t, http.StatusBadRequest, code)
	big := `{"event_type":"EMAIL_OPEN","secret_key":"` + secret + `","pad":"` + strings.Repeat("x", MaxBody) + `"}`
	code, _ = post(t, r.url, big)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)
	// Exactly at the cap is fine.
	pad := MaxBody - len(`{"event_type":"EMAIL_OPEN","secret_key":"`+secret+`","pad":""}`)
	atCap := `{"event_type":"EMAIL_OPEN","secret_key":"` + secret + `","pad":"` + strings.Repeat("x", pad) + `"}`
	require.Len(t, atCap, MaxBody)
	code, _ = post(t, r.url, atCap)
	assert.Equal(t, http.StatusOK, code)
	r.stop()

	rows := queryRows(t, db, `SELECT reason, body_excerpt, remote_address, received_at FROM webhook_rejects ORDER BY received_at`)
	require.Len(t, rows, 3)
	assert.Contains(t, rows[0][0].String, "invalid JSON")
	assert.Contains(t, rows[0][1].String, `"event_type":"EMAIL_OPEN"`)
	assert.Contains(t, rows[1][0].String, "not a JSON object")
	assert.Equal(t, fmt.Sprintf("body larger than %d bytes", MaxBody), rows[2][0].String)
	for _, r := range rows {
		assert.NotContains(t, r[1].String, secret)
		assert.LessOrEqual(t, len(r[1].String), 300)
		assert.True(t, strings.HasPrefix(r[2].String, "127.0.0.1:"), r[2].String)
		assert.True(t, r[3].Valid)
	}
	assert.EqualValues(t, 1, queryInt(t, db, `SELECT count(*) FROM email_events`))
}

func TestReceiverHealthAndRoutes(t *testing.T) {
	r := startReceiver(t, filepath.Join(t.TempDir(), "wh.duckdb"), "")
	resp, err := http.Get(r.url + HealthPath)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(b), `"status":"ok"`)
	resp, err = http.Get(r.url + Path)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	resp, err = http.Post(r.url+"/other", "application/json", bytes.NewReader([]byte(`{}`)))
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	// Without a secret, anything that is JSON is accepted.
	code, _ := post(t, r.url, `{"event_type":"EMAIL_OPEN"}`)
	assert.Equal(t, http.StatusOK, code)
}

func decode(resp *http.Response, v any) {
	defer resp.Body.Close()
	_ = json.NewDecoder(resp.Body).Decode(v)
}
