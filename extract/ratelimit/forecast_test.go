package ratelimit

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sendAll makes n requests one after another and returns when the last
// was granted.
func sendAll(t *testing.T, l *Limiter, n int) time.Time {
	t.Helper()
	for range n {
		_, err := l.Wait(t.Context())
		require.NoError(t, err)
	}
	return time.Now()
}

// Forecast is when the limiter really lets the last request go, the
// guard included (1,000 requests at 80% Standard wait for the hour and
// many minute windows: FinishTime, without the guard, is early).
func TestForecastIsTheLimitersSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(std80, WithRand(seeded(1)))
		start := time.Now()
		assert.Equal(t, start, l.Forecast(0))
		f := l.Forecast(1000)
		assert.Greater(t, f.Sub(FinishTime(std80, nil, start, 1000)), DefaultGuard)
		assert.Equal(t, f, sendAll(t, l, 1000))
		// Half-way through, the forecast of the rest holds too.
		l = New(std80, WithRand(seeded(2)))
		sendAll(t, l, 500)
		f = l.Forecast(500)
		assert.Equal(t, f, sendAll(t, l, 500))
	})
}

// The windows alone say the next ten requests go in a second and a half;
// the server reports 7 left in its hour (another program spends the key),
// so the sixth waits ten minutes for the reset, and so does the forecast.
// A pause after a 429 counts as well.
func TestForecastCountsServerBudgetsAndPauses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(std80, WithServerWindows(standard), WithRand(seeded(3)))
		start := time.Now()
		reset := start.Add(10 * time.Minute)
		l.Observe(rateHeaders(1000, 7, reset, start))
		windows := FinishTime(std80, l.Sent(), start, 10)
		require.Less(t, windows.Sub(start), 2*time.Second)
		f := l.Forecast(10)
		assert.Equal(t, f, l.Forecast(10), "a forecast reserves nothing")
		require.GreaterOrEqual(t, f.Sub(start), 10*time.Minute)

		sendAll(t, l, 6) // 5 within the budget, the 6th after the reset
		// Its response: we are alone again (no probe hold).
		l.Observe(rateHeaders(1000, 1000-6, time.Now().Add(time.Hour), time.Now()))
		got := sendAll(t, l, 4)
		assert.WithinDuration(t, got, f, gateJitter, "forecast %s, last request at %s", f.Sub(start), got.Sub(start))

		l.PauseUntil(time.Now().Add(30*time.Second), "paused after 429")
		now := time.Now()
		assert.Equal(t, now.Add(30*time.Second), l.Forecast(1))
	})
}

// Our share of a server window another program fills: the forecast of
// one request is NextSlot, and the following ones wait for our own sends
// to leave the window, one by one.
func TestForecastCountsShares(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := New(std80, WithServerWindows(standard), WithRand(seeded(4)))
		var sent []time.Time
		for range 10 {
			sent = append(sent, sendAll(t, l, 1))
			time.Sleep(2 * time.Second)
		}
		now := time.Now()
		l.Observe(rateHeaders(1000, 0, now.Add(5*time.Second).Truncate(time.Second), now)) // share 8
		require.Equal(t, l.NextSlot(), l.Forecast(1))
		assert.Equal(t, sent[4].Add(time.Hour+DefaultGuard), l.Forecast(3))
	})
}

// The progress bar forecasts the rest of the run at every redraw (up to
// five times a second): 18,000 requests left is a 3,000-campaign first
// run.
func BenchmarkForecast18000(b *testing.B) {
	l := New(std80)
	past := make([]time.Time, 800)
	now := time.Now()
	for i := range past {
		past[i] = now.Add(-time.Hour + time.Duration(i)*4*time.Second)
	}
	l.Preload(past)
	for b.Loop() {
		l.Forecast(18000)
	}
}
