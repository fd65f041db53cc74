package webhook

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/internal/tmpfs"
	"github.com/smartlead-etl/smartlead-etl/load"
)

// health GETs /healthz and returns its status code and body.
func health(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url + HealthPath)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var body map[string]any
	require.NoError(t, json.Unmarshal(b, &body), string(b))
	return resp.StatusCode, body
}

// The receiver on a full disk (its spool on a real 1 MB tmpfs): it stops
// acknowledging (503) and says why on /healthz (503) instead of claiming
// health; once space is freed it accepts deliveries again within a few
// seconds, without a restart. Every event acknowledged before, and every
// event refused meanwhile and retried (as SmartLead retries a non-200), is
// stored exactly once.
func TestReceiverFullDiskRecovers(t *testing.T) {
	db := filepath.Join(t.TempDir(), "wh.duckdb")
	dir := tmpfs.MountAt(t, load.EventsDir(db), 1<<20)
	r := startReceiver(t, db, "")
	event := func(i int) string {
		return fmt.Sprintf(`{"event_type":"EMAIL_OPEN","event_timestamp":"2026-11-27T09:30:00Z","campaign_id":101,"sl_email_lead_map_id":%d,"stats_id":"s%d"}`, 10000+i, i)
	}
	var acked, refused []int
	for i := range 10 {
		code, body := post(t, r.url, event(i))
		require.Equal(t, http.StatusOK, code, body)
		acked = append(acked, i)
	}
	code, _ := health(t, r.url)
	require.Equal(t, http.StatusOK, code)

	filler := tmpfs.Fill(t, dir)
	i := 10
	for ; i < 200 && len(refused) == 0; i++ { // the segment's last page may take a few more
		code, body := post(t, r.url, event(i))
		switch code {
		case http.StatusOK:
			acked = append(acked, i)
		case http.StatusServiceUnavailable:
			refused = append(refused, i)
		default:
			t.Fatalf("delivery %d: %d %s", i, code, body)
		}
	}
	require.NotEmpty(t, refused, "a full disk refuses deliveries")
	code, body := health(t, r.url)
	require.Equal(t, http.StatusServiceUnavailable, code, "/healthz tells the truth")
	assert.Equal(t, "unavailable", body["status"])
	assert.Contains(t, body["reason"], "disk full")
	assert.Contains(t, body["reason"], dir)
	for range 3 { // still full: still refused, without waiting
		code, _ := post(t, r.url, event(i))
		require.Equal(t, http.StatusServiceUnavailable, code)
		refused = append(refused, i)
		i++
	}

	require.NoError(t, os.Remove(filler))
	freed := time.Now()
	for {
		if code, _ := health(t, r.url); code == http.StatusOK {
			break
		}
		require.Less(t, time.Since(freed), 10*time.Second, "still unavailable 10 s after the disk was freed")
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("healthy %s after the space was freed", time.Since(freed).Round(time.Millisecond))
	// SmartLead retries what was refused, and sometimes sends twice.
	for _, j := range append(refused, acked[0], acked[len(acked)-1]) {
		code, body := post(t, r.url, event(j))
		require.Equal(t, http.StatusOK, code, body)
	}
	_, body = health(t, r.url)
	assert.EqualValues(t, 1, body["spool"].(map[string]any)["recoveries"])
	r.stop()

	want := len(acked) + len(refused)
	assert.EqualValues(t, want, queryInt(t, db, `SELECT count(*) FROM email_events`), "each event stored once")
	assert.EqualValues(t, want, queryInt(t, db, `SELECT count(DISTINCT campaign_lead_map_id) FROM email_events`))
	assert.Zero(t, queryInt(t, db, `SELECT count(*) FROM webhook_rejects`))
}
