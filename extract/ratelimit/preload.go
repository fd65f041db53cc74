package ratelimit

import (
	"slices"
	"time"
)

// Preload seeds the logs with sends made before this process started (the
// warehouse's request ledger), so a new run does not start at full speed
// into a 429. Call it before the first Wait: slots already granted are
// not revisited. Times may be in any order; those too old to matter are
// dropped, and those after now are moved back as [PastSends] says.
//
// The times are wall-clock readings of earlier processes; from here on
// the limiter measures them, like everything else, on this process's
// monotonic clock, so a clock step while it runs moves nothing.
func (l *Limiter) Preload(sent []time.Time) {
	now := time.Now()
	past := PastSends(sent, now)
	for i, t := range past {
		past[i] = now.Add(t.Sub(now)) // the same instant, with a monotonic reading
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.s.merge(past, time.Now(), l.pending)
}

// PastSends returns a copy of sent, wall-clock times of requests made
// before now by earlier processes, in which times after now are moved
// back. A send cannot be later than the start that reads it: such a time
// means the clock was stepped back since it was recorded, by at least
// the amount the latest one is ahead. All the times from the future are
// moved back by exactly that amount, keeping their spacing, so the latest
// is now: each one is then no earlier than the send really was (a window
// the server still counts it in is never under-counted), and none holds
// a window for longer than the window's length (the next run does not
// wait an hour for a window it thinks is full). Times not after now are
// kept: a clock stepped forward is invisible in wall-clock times alone,
// which is why the request journal also records a boot-time clock and
// gives Preload times already measured on it.
func PastSends(sent []time.Time, now time.Time) []time.Time {
	out := slices.Clone(sent)
	var ahead time.Duration
	for _, t := range out {
		ahead = max(ahead, t.Sub(now))
	}
	if ahead <= 0 {
		return out
	}
	for i, t := range out {
		if t.After(now) {
			out[i] = t.Add(-ahead)
		}
	}
	return out
}

// FinishTime returns when the n-th request would be sent (n >= 1) if
// requests were sent as early as windows allow, starting at start, given
// earlier sends past. It is the greedy schedule the Limiter follows,
// without its guard, so it is the fastest possible plan; it returns start
// for n <= 0.
func FinishTime(windows []Window, past []time.Time, start time.Time, n int) time.Time {
	if n <= 0 {
		return start
	}
	s := newSched(windows, 0)
	s.merge(past, start, 0)
	t := start
	for range n {
		t, _ = s.earliest(maxTime(t, s.tail()))
		s.push(t, t, 0)
	}
	return t
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// NextSlot returns when a Wait called now would be granted, counting our
// windows, reservations already handed out, a pause, the server's
// budgets and our share of windows another program fills. It reserves
// nothing. The random release jitter after a pause (under a second) is
// not included, so the grant may come that much later. Use it to stop
// cleanly before a deadline instead of starting a wait that cannot end
// in time.
func (l *Limiter) NextSlot() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, _ := l.slotLocked(time.Now(), func(time.Duration) time.Duration { return 0 })
	return t
}

// Sent returns our reserved send times still inside the longest window,
// ascending: the grants of the last hour plus any slot already handed to
// a waiter. A later run can pass them to Preload.
func (l *Limiter) Sent() []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	longest := -1
	for i, w := range l.s.wins {
		if longest < 0 || w.Len > l.s.wins[longest].Len {
			longest = i
		}
	}
	if longest < 0 {
		return nil
	}
	from := time.Now().Add(-l.s.wins[longest].Len)
	var out []time.Time
	for _, e := range l.s.log(longest) {
		if e.After(from) {
			out = append(out, e)
		}
	}
	return out
}
