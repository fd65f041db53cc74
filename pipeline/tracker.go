package pipeline

import (
	"sync"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
)

// Tracker follows a run against its plan and estimates when it can finish
// from the rate limiter's own schedule: the remaining requests placed
// after what the limiter's windows already hold, behind a pause and
// within the budget the server reports (ratelimit.Limiter.Forecast; a
// rate estimate from recent pages would show seconds through a
// minute-long wait for a full window), or from the pace of the pages so
// far where that is slower (the limit is not what binds). A Progress
// that implements Tracked receives the run's Tracker. Safe for
// concurrent use.
type Tracker struct {
	lim     *ratelimit.Limiter
	latency time.Duration
	start   time.Time

	mu       sync.Mutex
	expected int // page requests the plan predicts for the run, following pages included
	known    int // pages queued so far: first pages plus following pages found
	done     int // pages fetched
	finished bool
}

// Tracked is implemented by a Progress that shows an estimate.
type Tracked interface {
	Track(*Tracker)
}

// NewTracker follows requests sent through lim; latency is a typical
// request's, added to the last send.
func NewTracker(lim *ratelimit.Limiter, latency time.Duration) *Tracker {
	return &Tracker{lim: lim, latency: latency, start: time.Now()}
}

// Estimate is a snapshot of a run's progress.
type Estimate struct {
	Done  int // pages fetched
	Total int // pages predicted in all, following pages included; never below Done
	// Finish is the earliest time the remaining requests can be answered,
	// given what the limiter's windows already hold, a pause after a 429
	// and the server's reported budget.
	Finish time.Time
	// NextSlot is when the limiter lets the next request go; after now,
	// the run is held back by the rate limit.
	NextSlot time.Time
	HeldBack time.Duration // wall-clock time the rate limit has held every request back
}

// Expect records the plan's prediction: n more page requests, following
// pages included, after the pages fetched so far.
func (t *Tracker) Expect(n int) {
	t.mu.Lock()
	t.expected = t.done + n
	t.mu.Unlock()
}

// grow adds n page requests to the prediction, as fresh analytics reveal
// them.
func (t *Tracker) grow(n int) {
	t.mu.Lock()
	t.expected += n
	t.mu.Unlock()
}

// expectedTotal is the predicted page requests of the whole run, those
// done included.
func (t *Tracker) expectedTotal() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.expected
}

func (t *Tracker) queued(n int) {
	t.mu.Lock()
	t.known += n
	t.mu.Unlock()
}

func (t *Tracker) fetched() {
	t.mu.Lock()
	t.done++
	t.mu.Unlock()
}

// Finish marks the run complete: the estimate becomes Done = Total, even
// where the plan predicted more pages than there were.
func (t *Tracker) Finish() {
	t.mu.Lock()
	t.finished = true
	t.mu.Unlock()
}

// Estimate returns the progress at now.
func (t *Tracker) Estimate(now time.Time) Estimate {
	t.mu.Lock()
	done, total := t.done, max(t.expected, t.known, t.done)
	if t.finished {
		total = done
	}
	t.mu.Unlock()
	e := Estimate{Done: done, Total: total, Finish: now, NextSlot: now}
	if t.lim == nil {
		return e
	}
	e.HeldBack = t.lim.HeldBack()
	if next := t.lim.NextSlot(); next.After(now) {
		e.NextSlot = next
	}
	left := total - done
	if left <= 0 {
		return e
	}
	// Slots already handed to waiting workers are among the requests
	// left; the rest queue behind them and behind the next free slot.
	sent := t.lim.Sent()
	last, reserved := now, 0
	for _, s := range sent {
		if s.After(now) {
			reserved++
			last = s
		}
	}
	e.Finish = last
	if n := left - reserved; n > 0 {
		// Every wait still to come, not only the windows': the guard,
		// a pause, the server's budget and our share of its window.
		e.Finish = t.lim.Forecast(n)
	}
	e.Finish = e.Finish.Add(t.latency)
	// When the rate limit is not what binds, latency and concurrency are:
	// the pace of the time the run was not held back says how long the
	// rest takes at best.
	if active := now.Sub(t.start) - e.HeldBack; done > 0 && active > 0 {
		if paced := now.Add(time.Duration(int64(active) / int64(done) * int64(left))); paced.After(e.Finish) {
			e.Finish = paced
		}
	}
	return e
}
