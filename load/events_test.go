package load

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/internal/spool"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// spoolEvent appends the delivery of event n (an open of lead n) to w.
func spoolEvent(t testing.TB, w *spool.Writer, n int) string {
	body := fmt.Sprintf(`{"event_type":"EMAIL_OPEN","event_timestamp":"2026-11-27T10:00:00Z","campaign_id":101,"sl_email_lead_map_id":%d,"secret_key":"whsec-x"}`, n)
	e, err := transform.DecodeWebhook([]byte(body), t0)
	require.NoError(t, err)
	rec, err := json.Marshal(transform.WebhookRecord{Event: &e})
	require.NoError(t, err)
	require.NoError(t, w.Append(context.Background(), rec))
	return e.EventID
}

func TestMergeEvents(t *testing.T) {
	s, path := openTest(t, Options{})
	w, err := spool.Open(EventsDir(path), spool.Options{SegmentSize: 2000})
	require.NoError(t, err)
	for i := range 30 {
		spoolEvent(t, w, i)
	}
	spoolEvent(t, w, 3) // a retry
	spoolEvent(t, w, 4)
	rej, _ := json.Marshal(transform.WebhookRecord{Reject: &transform.WebhookReject{ReceivedAt: t0, Reason: "invalid JSON", BodyExcerpt: "{oops", RemoteAddress: "127.0.0.1:5"}})
	require.NoError(t, w.Append(t.Context(), rej))
	require.NoError(t, w.Append(t.Context(), []byte("not a record")))

	res, err := s.MergeEvents(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 30, res.Events)
	assert.Equal(t, 2, res.Duplicates)
	assert.Equal(t, 2, res.Rejects)
	assert.EqualValues(t, 30, count(t, s.DB(), `SELECT count(DISTINCT event_id) FROM email_events`))
	assert.EqualValues(t, 30, count(t, s.DB(), `SELECT count(*) FROM email_events`))
	assert.Zero(t, count(t, s.DB(), `SELECT count(*) FROM email_events WHERE payload::VARCHAR LIKE '%whsec%'`))
	assert.EqualValues(t, 1, count(t, s.DB(), `SELECT count(*) FROM webhook_rejects WHERE reason = 'invalid JSON' AND remote_address = '127.0.0.1:5'`))

	// Nothing new: nothing merged. A retry arriving after the merge is
	// still stored once.
	res, err = s.MergeEvents(t.Context())
	require.NoError(t, err)
	assert.Zero(t, res.Events+res.Rejects+res.Duplicates)
	spoolEvent(t, w, 5)
	spoolEvent(t, w, 30)
	res, err = s.MergeEvents(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, res.Events)
	assert.Equal(t, 1, res.Duplicates)

	// Times keep their microseconds and become UTC; text survives quoting.
	e, err := transform.DecodeWebhook([]byte(`{"event_type":"EMAIL_REPLY","event_timestamp":"2026-11-27T10:00:00.123456789+02:00","campaign_id":"7","subject":"h\u00e9llo \"x\""}`),
		time.Date(2026, 1, 2, 3, 4, 5, 987654321, time.UTC))
	require.NoError(t, err)
	rec, _ := json.Marshal(transform.WebhookRecord{Event: &e})
	require.NoError(t, w.Append(t.Context(), rec))
	_, err = s.MergeEvents(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{`event_at=2026-11-27T08:00:00.123456Z|received_at=2026-01-02T03:04:05.987654Z|subject=héllo "x"`},
		dumpRows(t, s.DB(), `SELECT event_at, received_at, subject FROM email_events WHERE campaign_id = 7`))

	// Sealed segments that were fully merged are deleted by the next merge.
	require.NoError(t, w.Close())
	before, _ := spool.Segments(EventsDir(path))
	require.NotEmpty(t, before)
	_, err = s.MergeEvents(t.Context())
	require.NoError(t, err)
	w, err = spool.Open(EventsDir(path), spool.Options{})
	require.NoError(t, err)
	defer w.Close()
	_, err = s.MergeEvents(t.Context())
	require.NoError(t, err)
	after, _ := spool.Segments(EventsDir(path))
	assert.Len(t, after, 1, "only the writer's open segment is left")
	assert.Zero(t, count(t, s.DB(), `SELECT count(*) FROM webhook_spool`), "positions of deleted segments are forgotten")
	assert.EqualValues(t, 32, count(t, s.DB(), `SELECT count(*) FROM email_events`))
}

// The merge happens in the run's commit transaction, and only there: a
// run that fails its checks leaves the events spooled.
func TestMergeAtRunCommit(t *testing.T) {
	s, path := openTest(t, Options{})
	w, err := spool.Open(EventsDir(path), spool.Options{})
	require.NoError(t, err)
	defer w.Close()
	for i := range 5 {
		spoolEvent(t, w, i)
	}
	bad := fullBatch(1)
	bad.Leads = append(bad.Leads, bad.Leads[0]) // a duplicate key fails the run
	r, err := s.BeginRun(t.Context(), RunStart{SnapshotDate: day(1)})
	require.NoError(t, err)
	require.NoError(t, r.Write(t.Context(), bad))
	_, err = r.Commit(t.Context(), Counters{})
	require.ErrorIs(t, err, ErrCheckFailed)
	assert.Zero(t, count(t, s.DB(), `SELECT count(*) FROM email_events`))

	loadRun(t, s, day(1), fullBatch(1))
	assert.EqualValues(t, 5, count(t, s.DB(), `SELECT count(*) FROM email_events`))
}

// TestMergeKilled kills (SIGKILL) a process that merges a spool in many
// small transactions, three times at random moments, then finishes the
// merge: every event is in email_events exactly once.
func TestMergeKilled(t *testing.T) {
	const n = 3000
	path := filepath.Join(t.TempDir(), "wh.duckdb")
	s := openAt(t, path, Options{})
	require.NoError(t, s.Close())
	w, err := spool.Open(EventsDir(path), spool.Options{SegmentSize: 64 << 10})
	require.NoError(t, err)
	want := map[string]bool{}
	for i := range n {
		want[spoolEvent(t, w, i)] = true
	}
	require.NoError(t, w.Close())

	rng := rand.New(rand.NewPCG(1, 2))
	for range 3 {
		h := startHelper(t, "merge-events", "LOAD_DB="+path)
		h.await(t, "merging")
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond) // a random moment of the merge
		require.NoError(t, h.cmd.Process.Signal(syscall.SIGKILL))
		_ = h.cmd.Wait()
	}
	s = openAt(t, path, Options{})
	_, err = s.MergeEvents(t.Context())
	require.NoError(t, err)
	assert.EqualValues(t, n, count(t, s.DB(), `SELECT count(*) FROM email_events`))
	ids := dumpRows(t, s.DB(), `SELECT event_id FROM email_events`)
	got := map[string]bool{}
	for _, id := range ids {
		got[strings.TrimPrefix(id, "event_id=")] = true
	}
	assert.Equal(t, len(want), len(got))
	for id := range want {
		require.True(t, got[id], "event %s lost", id)
	}
}

// helperMergeEvents merges LOAD_DB's spool in transactions of 100 records,
// saying "merging" first.
func helperMergeEvents() error {
	mergeCap = 100
	s, err := Open(context.Background(), os.Getenv("LOAD_DB"), os.DirFS(os.Getenv("LOAD_SCHEMA_DIR")), Options{})
	if err != nil {
		return err
	}
	fmt.Println("merging")
	_, err = s.MergeEvents(context.Background())
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return err
}
