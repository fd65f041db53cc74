package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// std80 is the Standard tier at the vendor's advised 80% headroom.
var std80 = []Window{{time.Second, 8}, {time.Minute, 48}, {time.Hour, 800}}

func seeded(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// maxInWindow returns the most times in any half-open interval of length
// w; ts must be sorted.
func maxInWindow(ts []time.Time, w time.Duration) int {
	best, i := 0, 0
	for j := range ts {
		for ts[j].Sub(ts[i]) >= w {
			i++
		}
		best = max(best, j-i+1)
	}
	return best
}

func TestMaxInWindow(t *testing.T) {
	t0 := time.Unix(0, 0)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	for _, c := range []struct {
		ts   []time.Time
		want int
	}{
		{nil, 0},
		{at(0), 1},
		{at(0, 999), 2},
		{at(0, 1000), 1}, // half-open: 1000 ms later is a new window
		{at(0, 0, 0, 500, 1000, 1499), 4},
		{at(0, 100, 200, 1100, 1150, 1199, 1201), 4},
		{at(0, 100, 200, 1100, 1150, 1199), 4},
		{at(0, 100, 200, 201, 999, 1000), 5},
	} {
		assert.Equal(t, c.want, maxInWindow(c.ts, time.Second), "%v", c.ts)
	}
}

// internals is a copy of a Limiter's private state, read under its lock
// so that a failing require never leaves the lock held.
type internals struct {
	pending, budgets, shares int
	tail                     time.Time
}

func inspect(l *Limiter) internals {
	l.mu.Lock()
	defer l.mu.Unlock()
	return internals{pending: l.pending, budgets: len(l.ext), shares: len(l.shares), tail: l.s.tail()}
}

// grants collects the times at which Wait returned nil.
type grants struct {
	mu sync.Mutex
	ts []time.Time
}

func (g *grants) add(t time.Time) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ts = append(g.ts, t)
	return len(g.ts)
}

func (g *grants) sorted() []time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := slices.Clone(g.ts)
	slices.SortFunc(s, func(a, b time.Time) int { return a.Compare(b) })
	return s
}

func requireWithinWindows(t *testing.T, ts []time.Time, ws []Window, guard time.Duration, msg string) {
	t.Helper()
	for _, w := range ws {
		require.LessOrEqual(t, maxInWindow(ts, w.Len), w.Max, "%s: window %v", msg, w)
		// Stronger: the guard widens every window.
		require.LessOrEqual(t, maxInWindow(ts, w.Len+guard), w.Max, "%s: window %v + guard %v", msg, w, guard)
	}
}

// pull runs workers goroutines that take permits until n are granted and
// returns the first n grant times, relative to the start.
func pull(t *testing.T, l *Limiter, workers, n int) []time.Duration {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var g grants
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				if _, err := l.Wait(ctx); err != nil {
					return
				}
				if g.add(time.Now()) >= n {
					cancel()
				}
			}
		})
	}
	wg.Wait()
	ts := g.sorted()
	require.GreaterOrEqual(t, len(ts), n)
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = ts[i].Sub(start)
	}
	return out
}

// theory is ratelimit.md §4's lower bound for 8/1s, 48/1m, 800/1h.
func theory(r int) time.Duration {
	k := r - 1
	s := 3600*(k/800) + 60*((k%800)/48) + ((k%800)%48)/8
	return time.Duration(s) * time.Second
}

func TestOptimality(t *testing.T) {
	for _, c := range []struct {
		guard          time.Duration
		at100, at1000  time.Duration // upper bounds
		want100, w1000 time.Duration // exact, when known
	}{
		{guard: 0, at100: 120 * time.Second, at1000: 3840 * time.Second, want100: 120 * time.Second, w1000: 3840 * time.Second},
		{guard: DefaultGuard, at100: 121 * time.Second, at1000: 3880 * time.Second},
	} {
		t.Run("guard="+c.guard.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := New(std80, WithGuard(c.guard), WithRand(seeded(1)))
				got := pull(t, l, 8, 1000)
				t.Logf("guard %v: 100th permit at %v, 1000th at %v", c.guard, got[99], got[999])
				require.LessOrEqual(t, got[99], c.at100)
				require.LessOrEqual(t, got[999], c.at1000)
				// Faster than theory would mean a window let too much through.
				require.GreaterOrEqual(t, got[99], theory(100))
				require.GreaterOrEqual(t, got[999], theory(1000))
				if c.want100 > 0 {
					for _, r := range []int{1, 8, 9, 48, 49, 100, 800, 801, 1000} {
						require.Equal(t, theory(r), got[r-1], "permit %d", r)
					}
				}
			})
		})
	}
}

func TestFinishTimeMatchesTheory(t *testing.T) {
	start := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, r := range []int{1, 2, 8, 9, 47, 48, 49, 100, 799, 800, 801, 1000, 1601, 2500} {
		assert.Equal(t, theory(r), FinishTime(std80, nil, start, r).Sub(start), "R=%d", r)
	}
	assert.Equal(t, start, FinishTime(std80, nil, start, 0))
	// 10,000 requests: 12 h 8 min (ratelimit.md §4).
	assert.Equal(t, 43681*time.Second, FinishTime(std80, nil, start, 10000).Sub(start))

	// With the hour already used up by a previous run, the first request
	// waits for the oldest of those sends to leave the hour.
	var past []time.Time
	for i := range 800 {
		past = append(past, start.Add(-30*time.Minute+time.Duration(i)*2250*time.Millisecond))
	}
	assert.Equal(t, 30*time.Minute, FinishTime(std80, past, start, 1).Sub(start))
	assert.Equal(t, 30*time.Minute+2250*time.Millisecond, FinishTime(std80, past, start, 2).Sub(start))
}

// TestWindowInvariantProperty: whatever the number of goroutines, their
// latencies, cancellations and the request count, no rolling window ever
// holds more than its Max.
func TestWindowInvariantProperty(t *testing.T) {
	trials := 24
	if testing.Short() {
		trials = 6
	}
	for trial := range trials {
		seed := uint64(trial + 1)
		rnd := seeded(seed)
		ws := std80
		if trial%2 == 1 { // random small windows contend harder
			ws = nil
			for _, ln := range []time.Duration{time.Second, 5 * time.Second, time.Minute}[:1+rnd.IntN(3)] {
				ws = append(ws, Window{ln, 1 + rnd.IntN(20)})
			}
		}
		workers := 1 + rnd.IntN(32)
		n := 20 + rnd.IntN(1200)
		guard := []time.Duration{0, 50 * time.Millisecond, DefaultGuard}[rnd.IntN(3)]
		name := fmt.Sprintf("seed=%d/windows=%s/workers=%d/n=%d/guard=%v", seed, Format(ws), workers, n, guard)
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := New(ws, WithGuard(guard), WithRand(seeded(seed)))
				var g grants
				var next atomic.Int64
				var wg sync.WaitGroup
				for w := range workers {
					wr := seeded(seed*1000 + uint64(w))
					wg.Go(func() {
						for next.Add(1) <= int64(n) {
							for {
								ctx, cancel := context.WithCancel(context.Background())
								if wr.IntN(8) == 0 { // give up on some waits
									ctx, cancel = context.WithTimeout(ctx, time.Duration(wr.Int64N(int64(5*time.Second))))
								}
								_, err := l.Wait(ctx)
								cancel()
								if err == nil {
									break
								}
							}
							g.add(time.Now())
							time.Sleep(time.Duration(wr.Int64N(int64(2 * time.Second)))) // the request's latency
						}
					})
				}
				wg.Wait()
				ts := g.sorted()
				require.Len(t, ts, n)
				requireWithinWindows(t, ts, ws, guard, name)
				st := l.Stats()
				require.EqualValues(t, n, st.Reservations)
				require.Zero(t, inspect(l).pending)
			})
		})
	}
}

func TestIdleThenBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(std80, WithRand(seeded(2)))
		pull(t, l, 8, 800) // a full hour's worth first
		time.Sleep(2 * time.Hour)

		start := time.Now()
		var g grants
		var wg sync.WaitGroup
		for range 48 {
			wg.Go(func() {
				_, err := l.Wait(t.Context())
				assert.NoError(t, err)
				g.add(time.Now())
			})
		}
		wg.Wait()
		ts := g.sorted()
		require.Len(t, ts, 48)
		// Six bursts of 8, one (1 s + guard) apart.
		require.Equal(t, start, ts[0])
		require.Equal(t, 5*(time.Second+DefaultGuard), ts[47].Sub(start))
		require.LessOrEqual(t, maxInWindow(ts, time.Second), 8)
	})
}

func TestPauseUntil(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var hooked []WaitInfo
		var hmu sync.Mutex
		l := New(std80, WithRand(seeded(3)), WithWaitHook(10*time.Second, func(w WaitInfo) {
			hmu.Lock()
			hooked = append(hooked, w)
			hmu.Unlock()
		}))
		start := time.Now()
		var g grants
		var wg sync.WaitGroup
		for range 24 {
			wg.Go(func() {
				_, err := l.Wait(t.Context())
				assert.NoError(t, err)
				g.add(time.Now())
			})
		}
		time.Sleep(100 * time.Millisecond) // 8 granted, 16 asleep on later slots
		gate := time.Now().Add(30 * time.Second)
		const why = "paused after 429 (Retry-After 30s)"
		l.PauseUntil(gate, why)
		l.PauseUntil(gate.Add(-10*time.Second), "earlier") // the gate only moves forward

		// A newcomer during the pause queues behind it too.
		wg.Go(func() {
			_, err := l.Wait(t.Context())
			assert.NoError(t, err)
			g.add(time.Now())
		})
		wg.Wait()

		ts := g.sorted()
		require.Len(t, ts, 25)
		for i, ts := range ts {
			if i < 8 {
				require.Equal(t, start, ts, "permit %d", i+1)
				continue
			}
			require.False(t, ts.Before(gate), "permit %d at %v, before the gate", i+1, ts.Sub(start))
		}
		require.Less(t, ts[8].Sub(gate), time.Second, "released within the jitter")
		distinct := map[time.Time]bool{}
		for _, x := range ts[8:16] {
			distinct[x] = true
		}
		require.GreaterOrEqual(t, len(distinct), 3, "the released herd is spread: %v", ts[8:16])
		require.LessOrEqual(t, maxInWindow(ts[8:], time.Second), 8)

		st := l.Stats()
		require.EqualValues(t, 1, st.Pauses)
		require.EqualValues(t, 16, st.Requeued)
		require.Equal(t, gate, st.PausedUntil)
		require.Equal(t, why, st.PauseReason)
		hmu.Lock()
		got := slices.Clone(hooked)
		hmu.Unlock()
		require.NotEmpty(t, got)
		require.Equal(t, why, got[0].Reason)
		require.False(t, got[0].Until.Before(gate))
	})
}

func TestPreload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		var sent []time.Time
		for i := range 800 { // the last 30 minutes, one every 2.25 s, newest first
			sent = append(sent, now.Add(-time.Duration(i)*2250*time.Millisecond))
		}
		var info WaitInfo
		l := New(std80, WithRand(seeded(4)), WithWaitHook(time.Minute, func(w WaitInfo) { info = w }))
		l.Preload(sent)
		oldest := now.Add(-799 * 2250 * time.Millisecond)

		waited, err := l.Wait(t.Context())
		require.NoError(t, err)
		require.Equal(t, oldest.Add(time.Hour+DefaultGuard).Sub(now), waited)
		require.Equal(t, "1h window full (800/1h)", info.Reason)

		// The next slot opens when the next-oldest send leaves the hour.
		waited, err = l.Wait(t.Context())
		require.NoError(t, err)
		require.Equal(t, 2250*time.Millisecond, waited)

		// Sends older than every window change nothing.
		l2 := New(std80)
		l2.Preload([]time.Time{now.Add(-2 * time.Hour), now.Add(-90 * time.Minute)})
		waited, err = l2.Wait(t.Context())
		require.NoError(t, err)
		require.Zero(t, waited)
	})
}

func TestCancelReleasesSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		var sent []time.Time
		for i := range 800 {
			sent = append(sent, now.Add(-30*time.Minute+time.Duration(i)*2250*time.Millisecond))
		}
		l := New(std80, WithRand(seeded(5)))
		l.Preload(sent)
		firstSlot := now.Add(30*time.Minute + DefaultGuard)

		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		var returned sync.Map
		for i := range 10 {
			wg.Go(func() {
				_, err := l.Wait(ctx)
				assert.ErrorIs(t, err, context.Canceled)
				returned.Store(i, time.Now())
			})
		}
		time.Sleep(time.Minute)
		require.Equal(t, 10, inspect(l).pending)
		cancelAt := time.Now()
		cancel()
		wg.Wait()
		n := 0
		returned.Range(func(_, v any) bool {
			n++
			assert.LessOrEqual(t, v.(time.Time).Sub(cancelAt), 100*time.Millisecond)
			return true
		})
		require.Equal(t, 10, n)

		// Nothing reserved is left behind: the next caller gets the first
		// hourly slot, not the eleventh.
		in := inspect(l)
		require.Zero(t, in.pending)
		require.False(t, in.tail.After(now), "a cancelled reservation is still in the log")
		waited, err := l.Wait(t.Context())
		require.NoError(t, err)
		require.Equal(t, firstSlot.Sub(cancelAt), waited)
		require.EqualValues(t, 10, l.Stats().Cancelled)

		// A deadline shorter than the wait ends at the deadline, and the
		// slot (2.25 s after the first) is free for the next caller.
		dctx, dcancel := context.WithTimeout(t.Context(), time.Second)
		defer dcancel()
		waited, err = l.Wait(dctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, time.Second, waited)
		waited, err = l.Wait(t.Context())
		require.NoError(t, err)
		require.Equal(t, 1250*time.Millisecond, waited)
		require.Equal(t, firstSlot.Add(2250*time.Millisecond), time.Now())

		// An already-cancelled context reserves nothing.
		cctx, ccancel := context.WithCancel(t.Context())
		ccancel()
		_, err = l.Wait(cctx)
		require.ErrorIs(t, err, context.Canceled)
	})
	goleak.VerifyNone(t)
}

// TestRaceCancelsAndPauses hammers one limiter from 64 goroutines with
// random cancellations and pauses (run with -race).
func TestRaceCancelsAndPauses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ws := []Window{{100 * time.Millisecond, 3}, {time.Second, 10}}
		l := New(ws, WithGuard(10*time.Millisecond), WithRand(seeded(6)))
		type pause struct{ at, until time.Time }
		var pmu sync.Mutex
		var pauses []pause
		var g grants
		var wg sync.WaitGroup
		for w := range 64 {
			wr := seeded(600 + uint64(w))
			wg.Go(func() {
				for range 10 {
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(wr.Int64N(int64(20*time.Second))))
					if _, err := l.Wait(ctx); err == nil {
						g.add(time.Now())
					}
					cancel()
					if wr.IntN(50) == 0 {
						pmu.Lock()
						p := pause{time.Now(), time.Now().Add(time.Duration(wr.Int64N(int64(3 * time.Second))))}
						l.PauseUntil(p.until, "test pause")
						pauses = append(pauses, p)
						pmu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		ts := g.sorted()
		require.NotEmpty(t, ts)
		requireWithinWindows(t, ts, ws, 10*time.Millisecond, "race")
		for _, p := range pauses {
			for _, x := range ts {
				require.False(t, x.After(p.at) && x.Before(p.until), "grant at %v inside pause %v..%v", x, p.at, p.until)
			}
		}
		st := l.Stats()
		require.EqualValues(t, len(ts), st.Reservations)
		require.EqualValues(t, 640-len(ts), st.Cancelled)
	})
}

func TestNewRejectsInvalidWindow(t *testing.T) {
	require.PanicsWithValue(t, "ratelimit.New: invalid window 0/1s (want Len > 0 and Max >= 1)", func() {
		New([]Window{{time.Second, 0}})
	})
	l := New(std80)
	ws := l.Windows()
	ws[0].Max = 99
	require.Equal(t, std80, l.Windows(), "Windows returns a copy")
}

func TestStatsCountWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New([]Window{{time.Second, 1}}, WithGuard(0))
		for range 3 {
			_, err := l.Wait(t.Context())
			require.NoError(t, err)
		}
		st := l.Stats()
		require.EqualValues(t, 3, st.Reservations)
		require.EqualValues(t, 2, st.Waits)
		require.Equal(t, 2*time.Second, st.TotalWaited) // 0 + 1 s + 1 s
		require.Equal(t, time.Second, st.MaxWait)
	})
}

func rateHeaders(limit, remaining int, reset time.Time, date time.Time) http.Header {
	h := http.Header{}
	h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	if !date.IsZero() {
		h.Set("Date", date.UTC().Format(http.TimeFormat))
	}
	return h
}

var standard = MustPreset(TierStandard)

func TestObserveClockSkew(t *testing.T) {
	for _, c := range []struct {
		name     string
		skew     time.Duration
		min, max time.Duration
	}{
		// Reset is server now + 20 s: about 20 s on our clock whatever the
		// server's clock says (never 5m20s, never 0). The upper bound is
		// resetMargin plus the release jitter.
		{"server 5 min ahead", 5 * time.Minute, 20 * time.Second, 22 * time.Second},
		{"server 5 min behind", -5 * time.Minute, 20 * time.Second, 22 * time.Second},
		{"in sync", 0, 20 * time.Second, 22 * time.Second},
		{"1 s ahead, under the Date precision: ignored", time.Second, 21 * time.Second, 23 * time.Second},
		{"no Date header", 0, 20 * time.Second, 22 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := New(std80, WithServerWindows(standard), WithRand(seeded(7)))
				serverNow := time.Now().Add(c.skew)
				date := serverNow
				if c.name == "no Date header" {
					date = time.Time{}
				}
				l.Observe(rateHeaders(60, 0, serverNow.Add(20*time.Second), date))
				waited, err := l.Wait(t.Context())
				require.NoError(t, err)
				require.GreaterOrEqual(t, waited, c.min)
				require.LessOrEqual(t, waited, c.max)
				require.Zero(t, l.Stats().BadHeaders)
			})
		})
	}
}

func TestObserveRemainingLowPauses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(std80, WithServerWindows(standard), WithRand(seeded(8)))
		// Our own log holds 16 sends; a sleeper holds the slot at 1.25 s.
		var wg sync.WaitGroup
		var g grants
		for range 17 {
			wg.Go(func() {
				_, err := l.Wait(t.Context())
				assert.NoError(t, err)
				g.add(time.Now())
			})
		}
		time.Sleep(100 * time.Millisecond)
		now := time.Now()
		reset := now.Add(90 * time.Second).Truncate(time.Second)
		// The server says 2 of the hour's 1,000 are left: someone else
		// spent the rest.
		l.Observe(rateHeaders(1000, 2, reset, now))
		wg.Wait()
		ts := g.sorted()
		require.Len(t, ts, 17)
		for _, x := range ts[8:] {
			require.False(t, x.Before(reset), "sent at %v, before the reset", x.Sub(now))
		}
		st := l.Stats()
		require.EqualValues(t, 1, st.Pauses)
		require.EqualValues(t, 1, st.Foreign)
		require.Contains(t, st.PauseReason, "server reports 2 requests left until")
		require.Equal(t, reset.Add(resetMargin), st.PausedUntil)
	})
}

func TestObserveForeignBudgetAndProbe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var info WaitInfo
		l := New(std80, WithServerWindows(standard), WithRand(seeded(9)),
			WithWaitHook(time.Minute, func(w WaitInfo) { info = w }))
		start := time.Now()
		reset := start.Add(10 * time.Minute)
		l.Observe(rateHeaders(1000, 7, reset, start)) // predicted 1000: foreign
		for i := range 5 {                            // 7 minus the reserve of 2
			waited, err := l.Wait(t.Context())
			require.NoError(t, err)
			require.Zero(t, waited, "permit %d", i+1)
		}
		waited, err := l.Wait(t.Context()) // budget spent: after the reset, as the probe
		require.NoError(t, err)
		require.GreaterOrEqual(t, waited, 10*time.Minute+resetMargin)
		require.Less(t, waited, 10*time.Minute+resetMargin+time.Second)
		require.Equal(t, "server reports 7 requests left until "+time.Unix(reset.Unix(), 0).Format("15:04:05"), info.Reason)

		// Without news from the probe's response, the next waits probeHold.
		waited, err = l.Wait(t.Context())
		require.NoError(t, err)
		require.GreaterOrEqual(t, waited, probeHold)
		require.Less(t, waited, probeHold+time.Second)

		// A response that matches our own count (we are alone again)
		// lifts the cap: the next permits follow our windows only.
		now := time.Now()
		l.Observe(rateHeaders(1000, 1000-7, now.Add(time.Hour), now))
		for range 7 {
			waited, err = l.Wait(t.Context())
			require.NoError(t, err)
			require.Zero(t, waited)
		}
		require.Zero(t, inspect(l).budgets)
	})
}

func TestObserveOutOfOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(std80, WithServerWindows(standard), WithRand(seeded(10)))
		now := time.Now()
		reset := now.Add(5 * time.Minute)
		l.Observe(rateHeaders(1000, 30, reset, now))
		l.Observe(rateHeaders(1000, 6, reset, now))                     // the smallest wins
		l.Observe(rateHeaders(1000, 20, reset, now))                    // older news, same reset
		l.Observe(rateHeaders(1000, 900, reset.Add(-time.Minute), now)) // stale reset
		for i := range 4 {                                              // 6 minus the reserve
			waited, err := l.Wait(t.Context())
			require.NoError(t, err)
			require.Zero(t, waited, "permit %d", i+1)
		}
		waited, err := l.Wait(t.Context())
		require.NoError(t, err)
		require.GreaterOrEqual(t, waited, 5*time.Minute)
	})
}

func TestObserveOwnTrafficChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(std80, WithServerWindows(standard), WithRand(seeded(11)))
		start := time.Now()
		pull(t, l, 8, 40) // 40 sends: 5 bursts of 8
		now := time.Now()
		// The minute window: 60 - our 40 = 20 left, exactly as predicted.
		l.Observe(rateHeaders(60, 20, now.Add(55*time.Second), now))
		// The second window after our burst: 10 - 8 = 2 left, also ours.
		l.Observe(rateHeaders(10, 2, now.Add(time.Second), now))
		st := l.Stats()
		require.EqualValues(t, 2, st.Observed)
		require.Zero(t, st.Foreign)
		require.Zero(t, st.Pauses)
		// The next permit is set by our own 1 s window, nothing else.
		waited, err := l.Wait(t.Context())
		require.NoError(t, err)
		require.Equal(t, start.Add(5*(time.Second+DefaultGuard)), time.Now(), "waited %v", waited)
	})
}

func TestObserveUnknownWindowObeysServer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(std80, WithRand(seeded(12))) // no server windows: nothing to predict with
		now := time.Now()
		l.Observe(rateHeaders(500, 4, now.Add(time.Minute), now))
		for range 2 {
			waited, err := l.Wait(t.Context())
			require.NoError(t, err)
			require.Zero(t, waited)
		}
		waited, err := l.Wait(t.Context())
		require.NoError(t, err)
		require.GreaterOrEqual(t, waited, time.Minute)
	})
}

func TestObserveBadAndAbsentHeaders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(std80, WithServerWindows(standard))
		l.Observe(http.Header{})
		require.Zero(t, l.Stats().Observed)

		now := time.Now()
		for _, c := range []struct {
			field, value string
		}{
			{"X-RateLimit-Remaining", "lots"},
			{"X-RateLimit-Limit", "-1"},
			{"X-RateLimit-Reset", "soon"},
			{"Date", "yesterday"},
		} {
			h := rateHeaders(60, 50, now.Add(time.Minute), now)
			h.Set(c.field, c.value)
			before := l.Stats().BadHeaders
			l.Observe(h)
			st := l.Stats()
			require.Equal(t, before+1, st.BadHeaders, c.field)
			require.Contains(t, st.LastBadHeader, c.field)
			require.Contains(t, st.LastBadHeader, strconv.Quote(c.value))
		}
		// A reset already past changes nothing.
		l.Observe(rateHeaders(60, 0, now.Add(-time.Minute), now))
		require.Zero(t, l.Stats().Pauses)
		waited, err := l.Wait(t.Context())
		require.NoError(t, err)
		require.Zero(t, waited)
	})
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(1994, 11, 6, 8, 49, 7, 0, time.UTC) // 30 s before the RFC's example date
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30", 30 * time.Second, true},
		{" 30 ", 30 * time.Second, true},
		{"0", 0, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"Sun, 06 Nov 1994 08:49:37 GMT", 30 * time.Second, true},  // IMF-fixdate
		{"Sunday, 06-Nov-94 08:49:37 GMT", 30 * time.Second, true}, // RFC 850
		{"Sun Nov  6 08:49:37 1994", 30 * time.Second, true},       // asctime
		{"Sun, 06 Nov 1994 08:00:00 GMT", 0, true},                 // past date
		{"99999999999999999999", time.Duration(1<<63 - 1), true},
		{"", 0, false},
		{"-5", 0, false},
		{"soon", 0, false},
		{"30s", 0, false},
		{"NaN", 0, false},
	} {
		got, ok := ParseRetryAfter(c.in, now)
		assert.Equal(t, c.ok, ok, "%q", c.in)
		assert.Equal(t, c.want, got, "%q", c.in)
	}
}

func TestBackoff(t *testing.T) {
	r := seeded(13)
	for retry, bound := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second} {
		var hi time.Duration
		for range 2000 {
			d := Backoff(retry, time.Second, 16*time.Second, r.Float64)
			require.GreaterOrEqual(t, d, time.Duration(0))
			require.Less(t, d, bound, "retry %d", retry)
			hi = max(hi, d)
		}
		require.Greater(t, hi, bound*95/100, "retry %d: full jitter reaches the bound", retry)
	}
	for _, retry := range []int{5, 6, 10, 62, 63, 64, 1000} {
		require.LessOrEqual(t, Backoff(retry, time.Second, 16*time.Second, func() float64 { return 0.999999 }), 16*time.Second)
	}
	require.Equal(t, 5*time.Second/2, Backoff(10, time.Second, 5*time.Second, func() float64 { return 0.5 }))
	require.Equal(t, time.Duration(1<<62), Backoff(100, time.Second, time.Duration(1<<63-1), func() float64 { return 0.5 }))
	require.Zero(t, Backoff(3, 0, time.Second, nil))
	require.Less(t, Backoff(-1, time.Second, 16*time.Second, nil), time.Second)
}

// benchWindows never make Wait sleep: caps too high to reach. They are
// short so that the exact logs (which keep every send younger than
// Len+guard) stay small at millions of Waits per second.
var benchWindows = []Window{{time.Microsecond, 1 << 30}, {10 * time.Microsecond, 1 << 30}, {100 * time.Microsecond, 1 << 30}}

func BenchmarkWait(b *testing.B) {
	l := New(benchWindows, WithGuard(0))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Wait(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWaitParallel(b *testing.B) {
	l := New(benchWindows, WithGuard(0))
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Wait(ctx); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func TestWaitHookThreshold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []WaitInfo
		l := New([]Window{{time.Second, 1}, {time.Hour, 3}}, WithGuard(0),
			WithWaitHook(2*time.Second, func(w WaitInfo) { got = append(got, w) }))
		start := time.Now()
		for range 3 { // waits 0, 1 s, 1 s: all under the threshold
			_, err := l.Wait(t.Context())
			require.NoError(t, err)
		}
		require.Empty(t, got)
		_, err := l.Wait(t.Context())
		require.NoError(t, err)
		require.Equal(t, []WaitInfo{{Until: start.Add(time.Hour), Reason: "1h window full (3/1h)"}}, got)
	})
}

// TestObserveShareFullWindow: the server reports its hour full while
// another program holds most of it. Its Reset (the oldest entry, the
// other program's) is no use: that program takes the slot again. Our
// next send waits until enough of our own sends have left the hour for
// our share (ours + Remaining - reserve), and nothing probes at the reset.
func TestObserveShareFullWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(std80, WithServerWindows(standard), WithRand(seeded(14)))
		var sent []time.Time
		for range 10 { // 10 sends, 2 s apart
			_, err := l.Wait(t.Context())
			require.NoError(t, err)
			sent = append(sent, time.Now())
			time.Sleep(2 * time.Second)
		}
		require.Equal(t, sent, l.Sent())
		now := time.Now()
		reset := now.Add(5 * time.Second).Truncate(time.Second)
		l.Observe(rateHeaders(1000, 0, reset, now)) // 990 are someone else's
		st := l.Stats()
		require.EqualValues(t, 1, st.Shares)
		require.EqualValues(t, 1, st.Foreign)

		// Our share is 10 + 0 - 2 = 8: the 3rd of our sends must leave.
		want := sent[2].Add(time.Hour + DefaultGuard)
		require.Equal(t, want, l.NextSlot())
		var info WaitInfo
		l.hook, l.hookMin = func(w WaitInfo) { info = w }, time.Minute
		_, err := l.Wait(t.Context())
		require.NoError(t, err)
		require.Equal(t, want, time.Now(), "no probe at the server's reset")
		require.Contains(t, info.Reason, "server's 1000/1h window full (another program has about 990): our share 8")

		// Its response: still full, with 8 of ours in the hour. The 2
		// slots we left free went to the other program, so our share
		// shrinks to 8 - 2 = 6: the next send waits for the 6th of our
		// old sends to leave.
		l.Observe(rateHeaders(1000, 0, time.Now().Add(2*time.Second), time.Now()))
		require.Equal(t, sent[5].Add(time.Hour+DefaultGuard), l.NextSlot())
		require.Contains(t, l.Stats().PauseReason, "server reports 0 requests left")

		// The other program slows down: 30 left. We may use 28 more at
		// once (the share grows), then wait again for our own sends.
		time.Sleep(shareHold)
		l.Observe(rateHeaders(1000, 30, time.Now().Add(2*time.Second), time.Now()))
		require.Equal(t, time.Now(), l.NextSlot())
		// A header showing we are alone lifts the share altogether.
		l.Observe(rateHeaders(1000, 1000-len(l.Sent()), time.Now().Add(time.Hour), time.Now()))
		require.Zero(t, inspect(l).shares)
		require.Equal(t, time.Now(), l.NextSlot())
	})
}

// TestObserveShareStarved: the window is full and none of it is ours.
// The first probe goes at the reset (the other program may have been a
// burst); once that finds the window full again, the next probe waits
// half the window instead of every reset.
func TestObserveShareStarved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(std80, WithServerWindows(standard), WithRand(seeded(15)))
		now := time.Now()
		reset := now.Add(3 * time.Second).Truncate(time.Second)
		l.Observe(rateHeaders(1000, 0, reset, now))
		_, err := l.Wait(t.Context())
		require.NoError(t, err)
		probe := time.Now()
		require.False(t, probe.Before(reset.Add(resetMargin)))
		require.Less(t, probe.Sub(reset), resetMargin+gateJitter)

		// The probe came back 429 with Remaining 0: the other program took
		// the slot. Next try in half an hour at the earliest, and then
		// only one request per hour while the share is nothing.
		l.Observe(rateHeaders(1000, 0, probe.Add(2*time.Second), probe))
		require.Equal(t, probe.Add(time.Hour+DefaultGuard), l.NextSlot())
		require.LessOrEqual(t, probe.Add(30*time.Minute), l.NextSlot())
	})
}

// TestNextSlot: NextSlot says when a Wait called now would be granted and
// reserves nothing.
func TestNextSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(std80, WithServerWindows(standard), WithRand(seeded(16)))
		start := time.Now()
		require.Equal(t, start, l.NextSlot(), "a fresh limiter grants at once")

		for range 8 {
			_, err := l.Wait(t.Context())
			require.NoError(t, err)
		}
		next := start.Add(time.Second + DefaultGuard)
		for range 3 { // no side effects: asking again changes nothing
			require.Equal(t, next, l.NextSlot())
		}
		require.EqualValues(t, 8, l.Stats().Reservations)
		require.Zero(t, inspect(l).pending)
		_, err := l.Wait(t.Context())
		require.NoError(t, err)
		require.Equal(t, next, time.Now(), "Wait grants at the slot NextSlot named")

		// A slot handed to a sleeping waiter counts: the next is after it.
		go func() { _, _ = l.Wait(t.Context()) }()
		synctest.Wait()
		require.Equal(t, next, l.NextSlot(), "7 more fit in this second")
		for range 7 {
			go func() { _, _ = l.Wait(t.Context()) }()
		}
		synctest.Wait()
		require.Equal(t, next.Add(time.Second+DefaultGuard), l.NextSlot())
		// Past the last waiter's slot, and every waiter gone: one still
		// asleep at the pause would queue again behind the gate, first.
		time.Sleep(time.Until(next.Add(time.Second+DefaultGuard)) + time.Millisecond)
		synctest.Wait()

		// A pause: its gate, without the release jitter.
		gate := time.Now().Add(30 * time.Second)
		l.PauseUntil(gate, "test")
		require.Equal(t, gate, l.NextSlot())
		_, err = l.Wait(t.Context())
		require.NoError(t, err)
		require.False(t, time.Now().Before(gate))
		require.Less(t, time.Since(gate), gateJitter/4)

		// A server budget: 3 left means 1 for us (reserve 2), then the
		// reset plus the margin.
		time.Sleep(time.Minute)
		now := time.Now()
		reset := now.Add(time.Minute).Truncate(time.Second)
		l.Observe(rateHeaders(1000, 3, reset, now))
		require.Equal(t, now, l.NextSlot())
		_, err = l.Wait(t.Context())
		require.NoError(t, err)
		require.Equal(t, reset.Add(resetMargin), l.NextSlot())
		require.EqualValues(t, 19, l.Stats().Reservations)
	})
}

// TestHeaderPauseRequeuesLaterSlots: waiters asleep on slots after the
// gate that the server's headers set (our own minute window holds them
// until after the reset) were reserved before anyone knew the server's
// hour is full. They queue again when they wake: the first goes as the
// probe after the reset, and the second waits for its answer instead of
// following 125 ms later into the same full window (the run that once
// collected three 429s at one instant).
func TestHeaderPauseRequeuesLaterSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(std80, WithServerWindows(standard), WithRand(seeded(3)))
		start := time.Now()
		var sent []time.Time // our minute window full: 48 sends in the last 6 s
		for i := range 48 {
			sent = append(sent, start.Add(time.Duration(i-48)*time.Second/8))
		}
		l.Preload(sent)
		oldFirst := sent[0].Add(time.Minute + DefaultGuard)
		require.Equal(t, oldFirst, l.NextSlot())

		grants := make(chan time.Time, 2)
		for range 2 {
			go func() {
				_, err := l.Wait(t.Context())
				assert.NoError(t, err)
				grants <- time.Now()
			}()
		}
		synctest.Wait() // both asleep on slots about 54 s away

		// The server: 2 left in its hour until start+10s; another program
		// spends the key.
		l.Observe(rateHeaders(1000, 2, start.Add(10*time.Second), start))
		first, second := <-grants, <-grants
		assert.False(t, first.Before(oldFirst), "not before its own minute window allows")
		assert.GreaterOrEqual(t, second.Sub(first), probeHold, "the second waits for the probe's answer")
		assert.EqualValues(t, 2, l.Stats().Requeued)
	})
}

// TestPreloadFromTheFuture: sends an earlier process recorded while its
// clock was an hour ahead (stepped back since) look like sends in the
// future. Taken as they are they would hold the hour window until an hour
// after them: two hours of waiting. They are moved back together, the
// latest to now, keeping their spacing: the next slot is when the oldest
// of them leaves the window (30 minutes), as at a server that counted
// them when they were really sent, at the latest just before now.
func TestPreloadFromTheFuture(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := time.Now()
		var sent []time.Time
		for i := range 800 { // the last 30 minutes by the wrong clock, an hour ahead
			sent = append(sent, now.Add(time.Hour-time.Duration(i)*2250*time.Millisecond))
		}
		past := PastSends(sent, now)
		require.Len(t, past, 800)
		for i, p := range past {
			require.Equal(t, sent[i].Sub(sent[0]), p.Sub(past[0]), "spacing kept")
		}
		require.True(t, past[0].Equal(now), "the latest is now")
		require.Equal(t, []time.Time{now.Add(-time.Minute)}, PastSends([]time.Time{now.Add(-time.Minute)}, now), "past times are kept")

		l := New(std80, WithRand(seeded(4)))
		l.Preload(sent)
		waited, err := l.Wait(t.Context())
		require.NoError(t, err)
		oldest := now.Add(-799 * 2250 * time.Millisecond)
		require.Equal(t, oldest.Add(time.Hour+DefaultGuard).Sub(now), waited, "about 30 minutes, not 90")
	})
}
