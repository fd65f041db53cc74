package ratelimit

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// HeldBack is wall-clock time with some caller asleep on a slot, not the
// sum of every caller's wait: four workers meeting one full minute window
// are held back for a minute, not four.
func TestHeldBackIsWallClockNotSummedPerWorker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		lim := New([]Window{{time.Minute, 4}}, WithGuard(0), WithRand(seeded(1)))
		ctx := context.Background()
		start := time.Now()
		var wg sync.WaitGroup
		for range 4 { // a full window's worth at once: no wait
			wg.Go(func() { _, err := lim.Wait(ctx); assert.NoError(t, err) })
		}
		wg.Wait()
		require.Zero(t, lim.HeldBack())

		// Four more: all wait for the same minute.
		for range 4 {
			wg.Go(func() { _, err := lim.Wait(ctx); assert.NoError(t, err) })
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		assert.Equal(t, 30*time.Second, lim.HeldBack(), "counts while callers still sleep")
		wg.Wait()
		st := lim.Stats()
		assert.Equal(t, time.Minute, time.Since(start))
		assert.Equal(t, time.Minute, st.HeldBack)
		assert.Equal(t, 4*time.Minute, st.TotalWaited, "the per-caller sum counts the minute four times")

		// Time with nobody waiting adds nothing; a cancelled wait counts
		// up to its cancellation.
		time.Sleep(2 * time.Minute)
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for range 4 {
			_, err := lim.Wait(ctx)
			require.NoError(t, err)
		}
		_, err := lim.Wait(cctx)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, time.Minute+10*time.Second, lim.HeldBack())
	})
}
