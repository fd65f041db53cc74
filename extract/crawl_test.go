package extract_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
)

// leadsServer serves n leads per campaign, 100 to a page, and counts
// requests in flight.
type leadsServer struct {
	n        int
	inFlight atomic.Int64
	maxIn    atomic.Int64
	hits     hits
}

func (s *leadsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.hits.add(r)
	in := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.maxIn.Load()
		if in <= m || s.maxIn.CompareAndSwap(m, in) {
			break
		}
	}
	time.Sleep(300 * time.Millisecond) // server work, while counted in flight
	parts := strings.Split(r.URL.Path, "/")
	cid, _ := strconv.Atoi(parts[len(parts)-2])
	off, _ := strconv.Atoi(r.URL.Query().Get("offset"))
	var recs []string
	for i := off; i < min(off+100, s.n); i++ {
		recs = append(recs, fmt.Sprintf(`{"campaign_lead_map_id": %d}`, cid*100000+i))
	}
	_, _ = fmt.Fprintf(w, `{"total_leads": "%d", "offset": %d, "limit": 100, "data": [%s]}`, s.n, off, strings.Join(recs, ","))
}

// jitter returns a goroutine-safe random duration source in [lo, hi].
func jitter(seed uint64, lo, hi time.Duration) func() time.Duration {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, 99))
	return func() time.Duration {
		mu.Lock()
		defer mu.Unlock()
		return lo + time.Duration(r.Int64N(int64(hi-lo)+1))
	}
}

func campaignIDs(n int) []int64 {
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	return ids
}

// TestCrawlSerialisesEmit: many workers fetch at once, but emit never runs
// on two goroutines at once, each chain's pages arrive in offset order,
// and every record arrives once.
func TestCrawlSerialisesEmit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := &leadsServer{n: 250}
		c, _ := newClient(t, srv, &memTransport{up: jitter(1, 0, 50*time.Millisecond), down: jitter(2, 0, time.Second)})
		items := extract.Plan(campaignIDs(30), nil, []extract.Stream{extract.StreamLeads})
		var busy atomic.Bool
		overlaps := 0
		offsets := map[int64][]int{}
		records := map[string]bool{}
		var twice []string
		err := c.Crawl(t.Context(), items, 8, func(p extract.Page) error {
			if !busy.CompareAndSwap(false, true) {
				overlaps++
			}
			defer busy.Store(false)
			time.Sleep(20 * time.Millisecond) // a slow sink widens any overlap
			offsets[p.Item.CampaignID] = append(offsets[p.Item.CampaignID], p.Item.Offset)
			for _, r := range p.Records {
				if records[string(r)] {
					twice = append(twice, string(r))
				}
				records[string(r)] = true
			}
			return nil
		})
		// Asserted here, on the test's goroutine: emit runs on a worker's.
		require.Empty(t, twice, "records emitted twice")
		require.NoError(t, err)
		require.Zero(t, overlaps, "emit ran concurrently")
		require.Len(t, records, 30*250)
		for id := int64(1); id <= 30; id++ {
			require.Equal(t, []int{0, 100, 200}, offsets[id], "campaign %d", id)
		}
		require.EqualValues(t, 8, srv.maxIn.Load(), "8 workers fetch at once")
		s := c.Stats()
		require.EqualValues(t, 90, s.Pages)
		require.EqualValues(t, 90, s.Requests)
		require.EqualValues(t, 7500, s.Records)
		require.EqualValues(t, 90, s.Streams[extract.StreamLeads].Requests)
	})
}

// TestCrawlDefaultsAndOrder: workers < 1 means 4; with one worker, items
// and their pages come in slice order.
func TestCrawlDefaultsAndOrder(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := &leadsServer{n: 150}
		c, _ := newClient(t, srv, nil)
		err := c.Crawl(t.Context(), extract.Plan(campaignIDs(20), nil, []extract.Stream{extract.StreamLeads}), 0,
			func(extract.Page) error { return nil })
		require.NoError(t, err)
		require.EqualValues(t, extract.DefaultWorkers, srv.maxIn.Load())

		srv = &leadsServer{n: 150}
		c, _ = newClient(t, srv, nil)
		var got []string
		err = c.Crawl(t.Context(), extract.Plan([]int64{5, 3, 9}, nil, []extract.Stream{extract.StreamLeads}), 1, func(p extract.Page) error {
			got = append(got, fmt.Sprintf("%d@%d", p.Item.CampaignID, p.Item.Offset))
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, []string{"5@0", "5@100", "3@0", "3@100", "9@0", "9@100"}, got)
	})
}

// TestCrawlEmitError: the sink's error cancels the crawl and is returned;
// emit is not called again and no new chain starts.
func TestCrawlEmitError(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := &leadsServer{n: 250}
		c, _ := newClient(t, srv, &memTransport{down: jitter(3, 100*time.Millisecond, time.Second)})
		errSink := errors.New("appender: disk full")
		calls := 0
		err := c.Crawl(t.Context(), extract.Plan(campaignIDs(50), nil, []extract.Stream{extract.StreamLeads}), 4, func(p extract.Page) error {
			calls++
			if calls == 5 {
				return errSink
			}
			return nil
		})
		require.ErrorIs(t, err, errSink)
		var ee *extract.EmitError
		require.ErrorAs(t, err, &ee)
		require.Equal(t, extract.StreamLeads, ee.Item.Stream)
		require.Equal(t, 5, calls)
		requests := srv.hits.n()
		require.LessOrEqual(t, requests, 5+4, "at most the pages in flight are fetched after the failure")
		time.Sleep(time.Hour)
		require.Equal(t, requests, srv.hits.n(), "nothing runs after Crawl returned")
	})
}

// TestCrawlAPIError: an API error stops the crawl and is returned as is.
func TestCrawlAPIError(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/campaigns/7/") {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			_, _ = io.WriteString(w, `{"id": 1}`)
		})
		c, _ := newClient(t, srv, nil)
		err := c.Crawl(t.Context(), extract.Plan(campaignIDs(20), nil, []extract.Stream{extract.StreamCampaignAnalytics}), 3,
			func(extract.Page) error { return nil })
		require.ErrorIs(t, err, extract.ErrNotFound)
		var ae *extract.APIError
		require.ErrorAs(t, err, &ae)
		require.EqualValues(t, 7, ae.CampaignID)
	})
}

// TestCrawlCancelWhileWaiting: workers queue for an hourly slot; cancelling
// the job returns within 100 ms of virtual time, leaks no goroutine, and
// gives every reserved slot back (the next Wait gets the first free slot,
// not one behind the cancelled reservations).
func TestCrawlCancelWhileWaiting(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	defer goleak.VerifyNone(t, ignore)
	synctest.Test(t, func(t *testing.T) {
		srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `{"id": 1}`) })
		lim := ratelimit.New([]ratelimit.Window{{Len: time.Second, Max: 8}, {Len: time.Hour, Max: 3}})
		c, _ := newClient(t, srv, nil, extract.WithLimiter(lim))
		ctx, cancel := context.WithCancel(t.Context())
		var cancelled time.Time
		time.AfterFunc(10*time.Minute, func() { cancelled = time.Now(); cancel() })
		emitted := 0
		err := c.Crawl(ctx, extract.Plan(campaignIDs(40), nil, []extract.Stream{extract.StreamCampaignAnalytics}), 8,
			func(extract.Page) error { emitted++; return nil })
		require.ErrorIs(t, err, context.Canceled)
		require.LessOrEqual(t, time.Since(cancelled), 100*time.Millisecond)
		require.Equal(t, 3, emitted)
		st := lim.Stats()
		require.EqualValues(t, 8, st.Cancelled, "all 8 workers were waiting")
		require.EqualValues(t, 3, st.Reservations)

		// The first send was at 0, so the next slot is at 1h + guard.
		waited, err := lim.Wait(context.Background())
		require.NoError(t, err)
		require.Equal(t, 50*time.Minute+ratelimit.DefaultGuard, waited)
	})
}

func TestAdmitStopsChainsQuietly(t *testing.T) {
	fake := fakeapi.New(fakeapi.Config{Seed: 5, APIKey: testKey, Campaigns: 3, LeadsPerCampaign: 250})
	var mu sync.Mutex
	asked := 0
	c, err := extract.NewClient(testKey,
		extract.WithBaseURL("http://localhost"+fakeapi.BasePath),
		extract.WithHTTPClient(&http.Client{Transport: fake.Transport()}),
		extract.WithLimiter(ratelimit.New([]ratelimit.Window{{Len: time.Second, Max: 1000}})),
		extract.WithAdmit(func(extract.Item) bool {
			mu.Lock()
			defer mu.Unlock()
			asked++
			return asked <= 4 // a budget of four pages
		}))
	require.NoError(t, err)
	var ids []int64
	for _, c := range fake.Truth().Campaigns {
		ids = append(ids, c.ID)
	}
	var got []extract.Item
	err = c.Crawl(context.Background(), extract.Plan(ids, nil, []extract.Stream{extract.StreamLeads}), 1, func(p extract.Page) error {
		got = append(got, p.Item)
		return nil
	})
	require.NoError(t, err, "a refused page ends its chain without an error")
	require.Len(t, got, 4)
	require.EqualValues(t, 4, c.Stats().Requests, "nothing is requested past the budget")
}
