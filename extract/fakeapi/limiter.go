package fakeapi

import (
	"slices"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
)

// limiter is the server side of the rate limit: one exact log per window
// of the admission times still inside it. Not safe for concurrent use;
// Server holds its mutex around every call.
type limiter struct {
	windows []ratelimit.Window
	logs    [][]time.Time // per window, ascending, entries e with e > now-Len (pruned lazily)
	all     []admission   // every admission ever, ascending

	foreignEvery time.Duration // 0: no foreign traffic
	foreignNext  time.Time
	foreign      int // foreign requests counted
	foreignLost  int // foreign requests the windows would have refused
}

type admission struct {
	At      time.Time
	Foreign bool
}

func newLimiter(ws []ratelimit.Window, foreignPerMinute int, start time.Time) *limiter {
	l := &limiter{windows: slices.Clone(ws), logs: make([][]time.Time, len(ws))}
	if foreignPerMinute > 0 {
		l.foreignEvery = time.Minute / time.Duration(foreignPerMinute)
		l.foreignNext = start.Add(l.foreignEvery)
	}
	return l
}

// prune drops the entries that left their windows by now.
func (l *limiter) prune(now time.Time) {
	for i, w := range l.windows {
		log := l.logs[i]
		k := 0
		for k < len(log) && !log[k].After(now.Add(-w.Len)) {
			k++
		}
		if k > 0 {
			l.logs[i] = append(log[:0], log[k:]...)
		}
	}
}

// wait returns how long until every window has a free slot at now (0 if
// one is free now). Call prune first.
func (l *limiter) wait(now time.Time) time.Duration {
	var d time.Duration
	for i, w := range l.windows {
		log := l.logs[i]
		if len(log) < w.Max {
			continue
		}
		// The slot frees when enough of the oldest entries have left.
		free := log[len(log)-w.Max].Add(w.Len)
		d = max(d, free.Sub(now))
	}
	return d
}

func (l *limiter) record(now time.Time, foreign bool) {
	for i := range l.windows {
		l.logs[i] = append(l.logs[i], now)
	}
	l.all = append(l.all, admission{At: now, Foreign: foreign})
}

// catchUp materialises the foreign program's requests up to and including
// now, in time order, each admitted only if the windows allowed it then.
func (l *limiter) catchUp(now time.Time) {
	if l.foreignEvery == 0 {
		return
	}
	for !l.foreignNext.After(now) {
		t := l.foreignNext
		l.prune(t)
		if l.wait(t) == 0 {
			l.record(t, true)
			l.foreign++
		} else {
			l.foreignLost++
		}
		l.foreignNext = t.Add(l.foreignEvery)
	}
	l.prune(now)
}

// admit counts a request at now if every window has room; otherwise it
// returns the wait until one frees.
func (l *limiter) admit(now time.Time) (ok bool, retry time.Duration) {
	l.catchUp(now)
	if d := l.wait(now); d > 0 {
		return false, d
	}
	l.record(now, false)
	return true, 0
}

// state returns the window with the least remaining (ties: the later
// reset), its remaining count and when its oldest entry leaves it.
// ok is false when no windows are configured.
func (l *limiter) state(now time.Time) (w ratelimit.Window, remaining int, reset time.Time, ok bool) {
	for i, win := range l.windows {
		log := l.logs[i]
		rem := max(win.Max-len(log), 0)
		rs := now
		if len(log) > 0 {
			rs = log[0].Add(win.Len)
		}
		if !ok || rem < remaining || (rem == remaining && rs.After(reset)) {
			w, remaining, reset, ok = win, rem, rs, true
		}
	}
	return w, remaining, reset, ok
}

// MaxInWindow returns the most timestamps in any half-open interval of
// length w. ts need not be sorted; it is not modified.
func MaxInWindow(ts []time.Time, w time.Duration) int {
	s := slices.Clone(ts)
	slices.SortFunc(s, time.Time.Compare)
	best, i := 0, 0
	for j := range s {
		for s[j].Sub(s[i]) >= w {
			i++
		}
		best = max(best, j-i+1)
	}
	return best
}
