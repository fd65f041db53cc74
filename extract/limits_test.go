package extract_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
)

// Tests in this file run the client against the simulated API (fakeapi),
// which enforces the documented windows server-side with exact logs, all
// inside synctest bubbles: hours of rate limiting take milliseconds.

func rawStandard(t testing.TB) []ratelimit.Window {
	t.Helper()
	raw, err := ratelimit.Preset("standard")
	require.NoError(t, err)
	return raw
}

func scaled(t testing.TB, raw []ratelimit.Window, headroom float64) []ratelimit.Window {
	t.Helper()
	s, err := ratelimit.Scale(raw, headroom)
	require.NoError(t, err)
	return s
}

// analyticsItems returns n single-request items spread over the account's
// campaigns.
func analyticsItems(s *fakeapi.Server, n int) []extract.Item {
	acc := s.Truth()
	items := make([]extract.Item, n)
	for i := range items {
		items[i] = extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: acc.Campaigns[i%len(acc.Campaigns)].ID}
	}
	return items
}

func discard(extract.Page) error { return nil }

// TestPropertyWindowsNeverExceeded: random worker counts (1..32), request
// latencies and request counts; in every rolling window the server saw at
// most headroom x N of our requests, and it never answered 429.
//
// Latency is split the way the limiter's guard assumes: the request's trip
// to the server varies by less than the guard (0..200 ms), while the
// server's work and the way back vary freely (0..3 s).
func TestPropertyWindowsNeverExceeded(t *testing.T) {
	t.Parallel()
	raw := rawStandard(t)
	want := scaled(t, raw, 0.8)
	for seed := range uint64(8) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				r := rand.New(rand.NewPCG(seed, 1))
				workers := 1 + r.IntN(32)
				n := 20 + r.IntN(1200)
				if seed == 0 {
					n = 1000 // always cross the hourly window once
				}
				up := time.Duration(r.Int64N(int64(200*time.Millisecond))) + 1
				down := time.Duration(r.Int64N(int64(3*time.Second))) + 1
				s := fakeapi.New(fakeapi.Config{Seed: int64(seed), APIKey: testKey, Campaigns: 20, LeadsPerCampaign: 3, Windows: raw})
				tr := &memTransport{up: jitter(seed, 0, up), down: jitter(seed+100, 0, down)}
				c, _ := newClient(t, s, tr, extract.WithLimiter(standard(t, 0.8, seed)))

				require.NoError(t, c.Crawl(t.Context(), analyticsItems(s, n), workers, discard))

				ours := s.AdmittedOurs()
				require.Len(t, ours, n)
				for _, w := range want {
					got := fakeapi.MaxInWindow(ours, w.Len)
					require.LessOrEqual(t, got, w.Max, "workers=%d n=%d up<=%v down<=%v: %d requests in a rolling %v", workers, n, up, down, got, w.Len)
				}
				require.Zero(t, s.Stats().Throttled, "the server sent 429s")
				require.Zero(t, c.Stats().Throttled)
				t.Logf("workers=%d n=%d up<=%v down<=%v: finished after %v", workers, n, up, down, time.Since(ours[0]).Round(time.Second))
			})
		})
	}
}

// TestNotTooConservative: at the standard tier with headroom 0.8 the
// hourly window allows no better than 100 requests in 120 s and 1,000 in
// 3,840 s (ratelimit.md §4); the client must come within 121 s and
// 3,880 s, and must not beat the theory (that would mean a broken window).
func TestNotTooConservative(t *testing.T) {
	t.Parallel()
	raw := rawStandard(t)
	for _, tc := range []struct {
		n      int
		within time.Duration
	}{{100, 121 * time.Second}, {1000, 3880 * time.Second}} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				s := fakeapi.New(fakeapi.Config{Seed: 3, APIKey: testKey, Campaigns: 10, LeadsPerCampaign: 3, Windows: raw})
				fixed := func() time.Duration { return 50 * time.Millisecond }
				c, _ := newClient(t, s, &memTransport{up: fixed, down: fixed}, extract.WithLimiter(standard(t, 0.8, 1)))
				start := time.Now()
				require.NoError(t, c.Crawl(t.Context(), analyticsItems(s, tc.n), 8, discard))
				took := time.Since(start)
				theory := ratelimit.FinishTime(scaled(t, raw, 0.8), nil, start, tc.n).Sub(start)
				t.Logf("%d requests: %v (theory %v)", tc.n, took, theory)
				require.LessOrEqual(t, took, tc.within)
				require.GreaterOrEqual(t, took, theory)
				require.Zero(t, s.Stats().Throttled)
			})
		})
	}
}

// throttleOnce wraps the simulated API and answers the nth request itself
// with 429 and Retry-After: 30, recording when every request arrived.
type throttleOnce struct {
	next http.Handler
	nth  int
	mu   sync.Mutex
	seen []time.Time
	at   time.Time // when the 429 was sent
	item string    // the throttled request's path
}

func (h *throttleOnce) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.seen = append(h.seen, time.Now())
	n := len(h.seen)
	if n == h.nth {
		h.at, h.item = time.Now(), r.URL.Path
	}
	h.mu.Unlock()
	if n == h.nth {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = fmt.Fprint(w, `{"error": {"code": "RATE_LIMIT_EXCEEDED", "message": "Too many requests. Please retry after 30 seconds.", "retry_after": 30}}`)
		return
	}
	h.next.ServeHTTP(w, r)
}

// TestThrottlePausesEveryWorker: one 429 with Retry-After: 30 stops every
// worker: after the client has seen it, no request reaches the server for
// 30 s; the throttled request then succeeds, and no second 429 follows.
func TestThrottlePausesEveryWorker(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		raw := rawStandard(t)
		s := fakeapi.New(fakeapi.Config{Seed: 5, APIKey: testKey, Campaigns: 40, LeadsPerCampaign: 3, Windows: raw})
		h := &throttleOnce{next: s, nth: 20}
		const back = 100 * time.Millisecond // the 429 takes this long to come back
		c, _ := newClient(t, h, &memTransport{down: func() time.Duration { return back }}, extract.WithLimiter(standard(t, 0.8, 5)))
		items := analyticsItems(s, 40)
		var mu sync.Mutex
		got := map[int64]int{}
		require.NoError(t, c.Crawl(t.Context(), items, 8, func(p extract.Page) error {
			mu.Lock()
			got[p.Item.CampaignID]++
			mu.Unlock()
			require.Len(t, p.Records, 1)
			return nil
		}))
		require.Len(t, got, 40, "every item, the throttled one included, succeeded")

		seen := h.seen
		require.Len(t, seen, 41, "40 items and one retry")
		quiet := 0
		var after []time.Time
		for _, ts := range seen {
			if ts.After(h.at.Add(back)) && ts.Before(h.at.Add(back+30*time.Second)) {
				quiet++ // sent after the client saw the 429, before the pause ended
			}
			if !ts.Before(h.at.Add(back + 30*time.Second)) {
				after = append(after, ts)
			}
		}
		require.Zero(t, quiet, "requests reached the server during the pause")
		require.NotEmpty(t, after)
		require.LessOrEqual(t, fakeapi.MaxInWindow(after, time.Second), 8, "the herd is spread after the pause")
		require.Zero(t, s.Stats().Throttled, "no second 429")
		require.EqualValues(t, 1, c.Stats().Throttled)
		require.EqualValues(t, 41, c.Stats().Requests)
	})
}

// TestForeignClient: another program spends 10/min of the same key (600
// of its 1,000 an hour). Ours adapts from the X-RateLimit headers,
// finishes a multi-hour crawl and sees at most 2 429s per simulated hour.
func TestForeignClient(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		raw := rawStandard(t)
		s := fakeapi.New(fakeapi.Config{Seed: 11, APIKey: testKey, Campaigns: 30, LeadsPerCampaign: 3, Windows: raw,
			Faults: fakeapi.Faults{ForeignPerMinute: 10}})
		lim := standard(t, 0.8, 11)
		fixed := func() time.Duration { return 80 * time.Millisecond }
		c, _ := newClient(t, s, &memTransport{up: fixed, down: fixed}, extract.WithLimiter(lim))
		start := time.Now()
		require.NoError(t, c.Crawl(t.Context(), analyticsItems(s, 2500), 4, discard))
		hours := time.Since(start).Hours()
		st := s.Stats()
		t.Logf("2500 requests beside a 10/min foreign client: %.2f h, %d 429s, %d foreign requests (%d refused)",
			hours, st.Throttled, st.Foreign, st.ForeignRejected)
		require.Greater(t, hours, 2.0, "a multi-hour crawl")
		require.LessOrEqual(t, float64(st.Throttled), 2*math.Ceil(hours))
		require.Positive(t, lim.Stats().Foreign, "the limiter noticed the other program")
		require.Len(t, s.AdmittedOurs(), 2500, "429s are not admitted")
		for _, w := range raw {
			require.LessOrEqual(t, fakeapi.MaxInWindow(s.Admitted(), w.Len), w.Max)
		}
	})
}

// TestPagingAgainstTruth: every lead, statistics row and email account of
// the simulated account arrives exactly once; a short page stops each
// chain; statistics use the largest page the server honours (here 250);
// email-account passwords never leave the package.
func TestPagingAgainstTruth(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := fakeapi.New(fakeapi.Config{Seed: 21, APIKey: testKey, Campaigns: 8, LeadsPerCampaign: 180,
			EmailAccounts: 230, StatsMaxLimit: 250})
		truth := s.Truth()
		var ids []int64
		for _, c := range truth.Campaigns {
			ids = append(ids, c.ID)
		}
		c, _ := newClient(t, s, nil)
		leads := map[int64][]int64{}
		stats := map[int64][]string{}
		statOffsets := map[int64][]int{}
		var accounts []json.RawMessage
		items := extract.Plan(ids, nil, []extract.Stream{extract.StreamLeads, extract.StreamLeadEmailStats, extract.StreamEmailAccounts})
		require.NoError(t, c.Crawl(t.Context(), items, 4, func(p extract.Page) error {
			for _, r := range p.Records {
				switch p.Item.Stream {
				case extract.StreamLeads:
					var l struct {
						ID int64 `json:"campaign_lead_map_id"`
					}
					require.NoError(t, json.Unmarshal(r, &l))
					leads[p.Item.CampaignID] = append(leads[p.Item.CampaignID], l.ID)
				case extract.StreamLeadEmailStats:
					var st struct {
						ID string `json:"stats_id"`
					}
					require.NoError(t, json.Unmarshal(r, &st))
					stats[p.Item.CampaignID] = append(stats[p.Item.CampaignID], st.ID)
				case extract.StreamEmailAccounts:
					accounts = append(accounts, r)
				}
			}
			if p.Item.Stream == extract.StreamLeadEmailStats {
				statOffsets[p.Item.CampaignID] = append(statOffsets[p.Item.CampaignID], p.Item.Offset)
			}
			return nil
		}))

		wantLeadPages, wantStatPages, paged := 0, 0, 0
		for _, camp := range truth.Campaigns {
			var want []int64
			for _, l := range camp.Leads {
				want = append(want, l.CampaignLeadMapID)
			}
			require.Equal(t, want, leads[camp.ID], "campaign %d: every lead once, in order", camp.ID)
			var wantStats []string
			for _, r := range camp.Stats {
				wantStats = append(wantStats, r.StatsID)
			}
			require.Equal(t, wantStats, stats[camp.ID], "campaign %d: every statistics row once", camp.ID)
			wantLeadPages += len(camp.Leads)/100 + 1 // the short (possibly empty) page ends the chain
			wantStatPages += len(camp.Stats)/250 + 1
			if len(camp.Leads) > 100 {
				paged++
			}
			for i, off := range statOffsets[camp.ID] {
				require.Equal(t, 250*i, off)
			}
		}
		require.Positive(t, paged, "the account must exercise paging")
		paths := s.Stats().Paths
		require.Equal(t, wantLeadPages, paths["/campaigns/{id}/leads"])
		require.Equal(t, wantStatPages, paths["/campaigns/{id}/statistics"])
		require.Equal(t, 3, paths["/email-accounts"], "230 accounts: 100 + 100 + 30")

		require.Len(t, accounts, 230)
		for i, r := range accounts {
			var m map[string]any
			require.NoError(t, json.Unmarshal(r, &m))
			for k := range m {
				require.NotContains(t, strings.ToLower(k), "password")
			}
			ea := truth.EmailAccounts[i]
			require.EqualValues(t, ea.ID, m["id"])
			for _, secret := range []string{ea.Password, ea.IMAPPassword} {
				require.NotEmpty(t, secret)
				require.NotContains(t, string(r), secret, "account %d: a password travelled", ea.ID)
			}
		}
		require.Zero(t, c.Stats().Duplicates)
	})
}

// TestFullPlanAgainstFake crawls every stream of a small account, faults
// included (5xx, drops, slow answers), and checks nothing is lost.
func TestFullPlanAgainstFake(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		raw := rawStandard(t)
		s := fakeapi.New(fakeapi.Config{Seed: 31, APIKey: testKey, Campaigns: 12, LeadsPerCampaign: 120, Windows: raw,
			Faults: fakeapi.Faults{ErrorRate: 0.05, DropRate: 0.03, SlowRate: 0.05, SlowDelay: 5 * time.Second}})
		truth := s.Truth()
		var ids []int64
		for _, c := range truth.Campaigns {
			ids = append(ids, c.ID)
		}
		ids = append(ids, 999) // unknown: analytics answers {}
		day := truth.Now.Format(time.DateOnly)
		c, logs := newClient(t, s, &memTransport{down: jitter(9, 10*time.Millisecond, 400*time.Millisecond)},
			extract.WithLimiter(standard(t, 0.8, 31)))
		counts := map[extract.Stream]int{}
		require.NoError(t, c.Crawl(t.Context(), extract.Plan(ids, []string{day}, nil), 6, func(p extract.Page) error {
			counts[p.Item.Stream] += len(p.Records)
			return nil
		}))
		leads, seqs, stats := 0, 0, 0
		for _, camp := range truth.Campaigns {
			leads += len(camp.Leads)
			seqs += len(camp.Sequences)
			stats += len(camp.Stats)
		}
		require.Equal(t, map[extract.Stream]int{
			extract.StreamCampaigns:          len(truth.Campaigns),
			extract.StreamClients:            len(truth.Clients),
			extract.StreamEmailAccounts:      len(truth.EmailAccounts),
			extract.StreamCampaignAnalytics:  len(truth.Campaigns), // 999 gave {}
			extract.StreamCampaignDailyStats: len(truth.Campaigns), // 999 gave {}
			extract.StreamSequences:          seqs,
			extract.StreamLeadEmailStats:     stats,
			extract.StreamLeads:              leads,
		}, counts)
		st := c.Stats()
		fs := s.Stats()
		require.Positive(t, fs.Errors+fs.Drops, "faults were injected")
		require.EqualValues(t, fs.Errors+fs.Drops, st.Retries, "each fault cost one retry")
		require.EqualValues(t, 2, st.Empty, "analytics and daily stats of campaign 999")
		require.Contains(t, logs.String(), "empty response")
		require.Zero(t, fs.Throttled)
	})
}

// BenchmarkCrawl crawls a 200-campaign simulated account (standard tier,
// headroom 0.8, 4 workers) in virtual time and reports the achieved
// request rate against the 800/h ceiling and the number of 429s. The
// rate of a finite job can exceed 800/h (the first hour's burst), so
// "efficiency" compares with the greedy schedule, the fastest possible.
func BenchmarkCrawl(b *testing.B) {
	var requests, throttled int
	var took, best time.Duration
	for b.Loop() {
		ok := testing.RunTests(func(string, string) (bool, error) { return true, nil }, []testing.InternalTest{{
			Name: "BenchmarkCrawlBubble",
			F: func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					raw := rawStandard(t)
					s := fakeapi.New(fakeapi.Config{Seed: 41, APIKey: testKey, Campaigns: 200, LeadsPerCampaign: 150, Windows: raw})
					var ids []int64
					for _, c := range s.Truth().Campaigns {
						ids = append(ids, c.ID)
					}
					var days []string // a week of daily stats
					for d := range 7 {
						days = append(days, s.Truth().Now.AddDate(0, 0, -d).Format(time.DateOnly))
					}
					c, _ := newClient(t, s, &memTransport{up: jitter(1, 10*time.Millisecond, 60*time.Millisecond), down: jitter(2, 50*time.Millisecond, 600*time.Millisecond)},
						extract.WithLimiter(standard(t, 0.8, 41)))
					start := time.Now()
					require.NoError(t, c.Crawl(t.Context(), extract.Plan(ids, days, nil), extract.DefaultWorkers, discard))
					took = time.Since(start)
					st := s.Stats()
					requests, throttled = st.Requests, st.Throttled
					ours := s.AdmittedOurs()
					best = ratelimit.FinishTime(scaled(t, raw, 0.8), nil, ours[0], requests).Sub(ours[0])
				})
			},
		}})
		if !ok {
			b.Fatal("crawl failed")
		}
	}
	perHour := float64(requests) / took.Hours()
	b.ReportMetric(float64(requests), "requests")
	b.ReportMetric(took.Hours(), "virtual-h")
	b.ReportMetric(perHour, "req/h")
	b.ReportMetric(perHour/800, "x-ceiling")
	b.ReportMetric(best.Seconds()/took.Seconds(), "efficiency")
	b.ReportMetric(float64(throttled), "429s")
}

// TestForeignClientStartOffsets: the other program (10/min, 600 of the
// key's 1,000 an hour) has already been running for a while when our
// crawl starts, so the server's hour fills and every slot the other
// program frees it takes again at once: probing at the server's Reset
// only collects 429s. Ours must still finish (on what the other program
// leaves), with at most 2 429s per simulated hour; the server refuses
// what does not fit, so its windows hold by construction and are checked
// only as a sanity test of the simulation.
//
// At 30/min (1,800 an hour, more than the key allows) see
// TestForeignClientSaturatedKey.
func TestForeignClientStartOffsets(t *testing.T) {
	t.Parallel()
	for _, offset := range []time.Duration{0, 40 * time.Minute, 59 * time.Minute} {
		t.Run(fmt.Sprintf("offset=%v", offset), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				raw := rawStandard(t)
				s := fakeapi.New(fakeapi.Config{Seed: 11, APIKey: testKey, Campaigns: 30, LeadsPerCampaign: 3, Windows: raw,
					Faults: fakeapi.Faults{ForeignPerMinute: 10}})
				time.Sleep(offset) // the other program is already spending the key
				lim := standard(t, 0.8, 11)
				fixed := func() time.Duration { return 80 * time.Millisecond }
				c, _ := newClient(t, s, &memTransport{up: fixed, down: fixed}, extract.WithLimiter(lim))
				start := time.Now()
				err := c.Crawl(t.Context(), analyticsItems(s, 2500), 4, discard)
				took := time.Since(start)
				st := s.Stats()
				t.Logf("foreign 10/min from %v before: %v, %d 429s (%.2f/h), foreign %d (%d refused), limiter %+v",
					offset, took.Round(time.Second), st.Throttled, float64(st.Throttled)/took.Hours(),
					st.Foreign, st.ForeignRejected, lim.Stats())
				require.NoError(t, err)
				require.LessOrEqual(t, float64(st.Throttled), 2*math.Ceil(took.Hours()))
				require.Len(t, s.AdmittedOurs(), 2500)
				if offset > 0 {
					require.Positive(t, lim.Stats().Shares, "the hour filled and was shared")
				}
				for _, w := range raw {
					require.LessOrEqual(t, fakeapi.MaxInWindow(s.Admitted(), w.Len), w.Max)
				}
			})
		})
	}
}

// TestForeignClientSaturatedKey: a program spending 30/min (1,800 an
// hour) for 40 or 59 minutes already holds all 1,000 of the hour, and it
// takes each slot again at the very instant it frees, so no client can
// get a request in. Ours must neither hang nor hammer: the crawl ends
// with ErrRateLimited, and apart from each worker's first contact it
// probes at most twice an hour.
func TestForeignClientSaturatedKey(t *testing.T) {
	t.Parallel()
	for _, offset := range []time.Duration{40 * time.Minute, 59 * time.Minute} {
		t.Run(fmt.Sprintf("offset=%v", offset), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				raw := rawStandard(t)
				s := fakeapi.New(fakeapi.Config{Seed: 11, APIKey: testKey, Campaigns: 30, LeadsPerCampaign: 3, Windows: raw,
					Faults: fakeapi.Faults{ForeignPerMinute: 30}})
				time.Sleep(offset)
				require.Len(t, s.AdmittedForeign(), 1000, "the precondition: the other program holds the whole hour")
				const workers = 4
				lim := standard(t, 0.8, 11)
				fixed := func() time.Duration { return 80 * time.Millisecond }
				c, _ := newClient(t, s, &memTransport{up: fixed, down: fixed}, extract.WithLimiter(lim))
				start := time.Now()
				err := c.Crawl(t.Context(), analyticsItems(s, 100), workers, discard)
				took := time.Since(start)
				st := s.Stats()
				t.Logf("foreign 30/min from %v before: gave up after %v, %d 429s: %v", offset, took.Round(time.Second), st.Throttled, err)
				require.ErrorIs(t, err, extract.ErrRateLimited)
				require.Empty(t, s.AdmittedOurs())
				require.LessOrEqual(t, float64(st.Throttled), workers+2*math.Ceil(took.Hours()))
			})
		})
	}
}
