package ratelimit

import (
	"slices"
	"time"
)

// sched is the pure sliding-window-log arithmetic shared by Limiter and
// FinishTime. Each log holds reserved send times in ascending order.
//
// An entry is dropped once it can no longer constrain a send at or after
// "now" (older than Len+guard), or once Max+pending newer entries exist,
// where pending counts reservations not yet granted. Cutting to exactly
// Max would be unsafe: a cancelled reservation is removed from the log,
// and the entry it had pushed out may still be inside the window. Only
// pending entries are ever removed, so keeping pending extra entries is
// enough, and a log never grows past Max+pending.
type sched struct {
	wins  []Window
	guard time.Duration
	logs  [][]time.Time // logs[i][heads[i]:] is window i's log; the
	heads []int         // dropped prefix is reused, not reallocated
}

func newSched(wins []Window, guard time.Duration) sched {
	return sched{
		wins:  append([]Window(nil), wins...),
		guard: guard,
		logs:  make([][]time.Time, len(wins)),
		heads: make([]int, len(wins)),
	}
}

func (s *sched) log(i int) []time.Time { return s.logs[i][s.heads[i]:] }

// earliest returns the earliest time at or after from at which one more
// send keeps every window within its cap, and the index of the window that
// set it (-1 when from itself is allowed). Because reservations are
// monotone, the log's Max-th most recent entry is the one that must have
// left the window.
func (s *sched) earliest(from time.Time) (time.Time, int) {
	t, bind := from, -1
	for i, w := range s.wins {
		lg := s.log(i)
		if n := len(lg); n >= w.Max {
			if c := lg[n-w.Max].Add(w.Len + s.guard); c.After(t) {
				t, bind = c, i
			}
		}
	}
	return t, bind
}

// tail is the latest reservation still held (zero when none).
func (s *sched) tail() time.Time {
	var t time.Time
	for i := range s.logs {
		if lg := s.log(i); len(lg) > 0 && lg[len(lg)-1].After(t) {
			t = lg[len(lg)-1]
		}
	}
	return t
}

// push records a send at t (t >= tail) in every log and drops entries that
// cannot matter for any send at or after now, given pending reservations
// that may still be removed.
func (s *sched) push(t, now time.Time, pending int) {
	for i := range s.logs {
		s.logs[i] = append(s.logs[i], t)
		s.trim(i, now, pending)
	}
}

func (s *sched) trim(i int, now time.Time, pending int) {
	lg, w := s.log(i), s.wins[i]
	k := 0
	for k < len(lg) && (len(lg)-k > w.Max+pending || !lg[k].Add(w.Len+s.guard).After(now)) {
		k++
	}
	s.heads[i] += k
	if h := s.heads[i]; h > 0 && h >= len(s.logs[i])/2 {
		// Move the live part down once the dead prefix is as long as
		// it: amortised O(1) per entry and no new allocation.
		n := copy(s.logs[i], s.logs[i][h:])
		s.logs[i], s.heads[i] = s.logs[i][:n], 0
	}
}

// remove drops one entry equal to t from every log (entries with the same
// time are interchangeable). It searches from the end: removed entries
// are reservations, which sit at the tail.
func (s *sched) remove(t time.Time) {
	for i, lg := range s.logs {
		for j := len(lg) - 1; j >= s.heads[i]; j-- {
			if lg[j].Equal(t) {
				s.logs[i] = slices.Delete(lg, j, j+1)
				break
			}
			if lg[j].Before(t) {
				break
			}
		}
	}
}

// merge adds past sends (any order) to every log, keeping logs sorted.
func (s *sched) merge(sent []time.Time, now time.Time, pending int) {
	if len(sent) == 0 {
		return
	}
	add := slices.Clone(sent)
	slices.SortFunc(add, func(a, b time.Time) int { return a.Compare(b) })
	for i := range s.logs {
		lg := append(slices.Clone(s.log(i)), add...)
		slices.SortStableFunc(lg, func(a, b time.Time) int { return a.Compare(b) })
		s.logs[i], s.heads[i] = lg, 0
		s.trim(i, now, pending)
	}
}

// count returns how many logged sends of window i fall in (from, to].
func (s *sched) count(i int, from, to time.Time) int {
	n := 0
	for _, e := range s.log(i) {
		if e.After(from) && !e.After(to) {
			n++
		}
	}
	return n
}
