package extract_test

import (
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
)

// fullJournal records its first room sends, then refuses every one as a
// full disk does.
type fullJournal struct {
	mu       sync.Mutex
	room     int
	recorded int
	refused  int
}

func (j *fullJournal) Sending(extract.Attempt) (string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.recorded >= j.room {
		j.refused++
		return "", &os.PathError{Op: "write", Path: "w.duckdb.requests", Err: syscall.ENOSPC}
	}
	j.recorded++
	return "id", nil
}

func (j *fullJournal) Answered(string, extract.Attempt) {}

// TestUnrecordedRequestIsNotSent: once the journal cannot record a request
// (the disk is full), that request does not go out, neither from the
// retry loop nor as the transport's own re-send on a dropped reused
// connection: the server sees only requests the journal holds, so the
// next run's quota memory misses none.
func TestUnrecordedRequestIsNotSent(t *testing.T) {
	t.Parallel()
	fake := fakeapi.New(fakeapi.Config{Seed: 3, APIKey: testKey, Campaigns: 10, LeadsPerCampaign: 2})
	d := &dropper{h: fake, nth: 3}
	srv := startDropper(t, d)
	jr := &fullJournal{room: 25}
	c, err := extract.NewClient(testKey,
		extract.WithBaseURL(srv.URL+fakeapi.BasePath),
		extract.WithLimiter(ratelimit.New([]ratelimit.Window{{Len: time.Second, Max: 1000}})),
		extract.WithJournal(jr),
		extract.WithRetry(5, time.Millisecond, 10*time.Millisecond))
	require.NoError(t, err)
	err = c.Crawl(t.Context(), analyticsItems(fake, 60), 4, discard)
	require.ErrorIs(t, err, syscall.ENOSPC, "the run stops on the journal's error")
	require.Positive(t, jr.refused)
	require.Positive(t, d.dropped.Load(), "some reused connections were dropped (transport re-sends)")
	// A recorded request may still not go out (the run stopped first):
	// the journal over-counts then, which is safe; it never under-counts.
	require.LessOrEqual(t, len(d.hits.times()), jr.recorded, "the server saw only recorded requests")
}
