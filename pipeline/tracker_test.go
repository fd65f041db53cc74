package pipeline

import (
	"net/http"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
)

// A limiter whose minute window is full for the next minute: the estimate
// must include that minute, not extrapolate the last pages' rate.
func TestTrackerEstimateWaitsOutASaturatedWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ws := []ratelimit.Window{{Len: time.Second, Max: 8}, {Len: time.Minute, Max: 48}, {Len: time.Hour, Max: 800}}
		lim := ratelimit.New(ws)
		now := time.Now()
		past := make([]time.Time, 48)
		for i := range past {
			past[i] = now.Add(-time.Duration(48-i) * 10 * time.Millisecond) // the last half-second
		}
		lim.Preload(past)
		tr := NewTracker(lim, 100*time.Millisecond)
		tr.queued(1)
		tr.fetched()
		tr.Expect(10) // ten more requests, following pages included

		e := tr.Estimate(now)
		assert.Equal(t, 1, e.Done)
		assert.Equal(t, 11, e.Total)
		require.GreaterOrEqual(t, e.NextSlot.Sub(now), 59*time.Second, "the minute window frees its first slot after a minute")
		assert.GreaterOrEqual(t, e.Finish.Sub(now), time.Minute, "ten requests after a full minute window take at least a minute")
		assert.Less(t, e.Finish.Sub(now), 63*time.Second, "and go in one burst once it frees")

		// 58 requests: 48 fit the window once it frees, the next 10 wait
		// for a second minute.
		tr.Expect(58)
		e = tr.Estimate(now)
		assert.GreaterOrEqual(t, e.Finish.Sub(now), 2*time.Minute)

		// Done: nothing left, whatever the plan predicted.
		tr.Finish()
		e = tr.Estimate(now)
		assert.Equal(t, e.Done, e.Total)
		assert.Equal(t, now, e.Finish)
	})
}

// Requests already reserved by waiting workers are counted once.
func TestTrackerCountsReservedSlotsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := ratelimit.New([]ratelimit.Window{{Len: time.Minute, Max: 2}}, ratelimit.WithGuard(0))
		tr := NewTracker(lim, 0)
		tr.Expect(4)
		ctx := t.Context()
		for range 2 {
			_, err := lim.Wait(ctx)
			require.NoError(t, err)
		}
		start := time.Now()
		// Two workers now wait for the slots at +1m.
		for range 2 {
			go func() { _, _ = lim.Wait(ctx) }()
		}
		synctest.Wait()
		tr.queued(4)
		tr.fetched()
		tr.fetched()
		e := tr.Estimate(start)
		assert.Equal(t, time.Minute, e.Finish.Sub(start), "the two left hold the reserved slots at +1m")
		time.Sleep(time.Minute)
		synctest.Wait()
	})
}

// The server reports 7 requests left in its hour until a reset in 1m50s
// (another program spends the key): by the windows alone the 20 requests
// left go in a few seconds ("~3s left"), but the run will wait for the
// reset, and so does the estimate.
func TestTrackerEstimateCountsTheServersBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ws := []ratelimit.Window{{Len: time.Second, Max: 8}, {Len: time.Minute, Max: 48}, {Len: time.Hour, Max: 800}}
		lim := ratelimit.New(ws, ratelimit.WithServerWindows(ratelimit.MustPreset(ratelimit.TierStandard)))
		now := time.Now()
		reset := now.Add(110 * time.Second)
		h := http.Header{}
		h.Set("X-RateLimit-Limit", "1000")
		h.Set("X-RateLimit-Remaining", "7")
		h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		lim.Observe(h)
		tr := NewTracker(lim, 0)
		tr.Expect(20)

		e := tr.Estimate(now)
		assert.Equal(t, now, e.NextSlot, "nothing holds the next request back yet")
		require.Less(t, ratelimit.FinishTime(ws, lim.Sent(), now, 20).Sub(now), 5*time.Second, "the windows alone")
		assert.GreaterOrEqual(t, e.Finish.Sub(now), 110*time.Second, "the reset is still to come")
		assert.Less(t, e.Finish.Sub(now), 115*time.Second)
	})
}
