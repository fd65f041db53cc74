package ratelimit

import (
	"slices"
	"time"
)

// Forecast returns when the last of n more requests (n >= 1) would be
// sent if all of them asked now and each went as early as the limiter
// lets it: behind the slots already handed to waiters, within every
// window with its guard, after a pause (429), within the budget the
// server reports while another program spends the key (once spent, the
// rest wait for its reset) and within our share of a server window that
// program fills. It is the wait a progress estimate must count: the
// windows alone (FinishTime) miss the server's budgets, shares and the
// guard. It reserves nothing. Left out: the release jitter after a pause
// (under a second per pause), and the probe after a spent budget's reset
// (the forecast assumes the reset frees the window). n <= 0 returns now.
func (l *Limiter) Forecast(n int) time.Time {
	l.mu.Lock()
	now := time.Now()
	s := l.s.clone()
	gate := l.gate
	type budget struct {
		until time.Time
		left  int
	}
	budgets := make([]budget, 0, len(l.ext))
	for _, b := range l.ext {
		budgets = append(budgets, budget{b.until, b.left})
	}
	var shares []share
	for _, sh := range l.shares {
		if now.Before(sh.seen.Add(sh.stale)) {
			shares = append(shares, *sh)
		}
	}
	l.mu.Unlock()

	t := now
	for range n {
		// As slotLocked, without jitter: first come, first served.
		t, _ = s.earliest(maxTime(t, s.tail()))
		t = maxTime(t, gate)
		for moved := true; moved; {
			moved = false
			for _, b := range budgets {
				if b.left <= 0 && b.until.After(t) {
					t, moved = b.until, true
				}
			}
			for i := range shares {
				if c := shareSlotIn(&s, &shares[i], s.guard); c.After(t) {
					t, moved = c, true
				}
			}
		}
		for i := range budgets {
			if t.Before(budgets[i].until) {
				budgets[i].left--
			}
		}
		s.push(t, now, 0)
	}
	return t
}

// clone copies the logs, so that a forecast can push to them.
func (s *sched) clone() sched {
	c := sched{wins: s.wins, guard: s.guard, logs: make([][]time.Time, len(s.logs)), heads: make([]int, len(s.logs))}
	for i := range s.logs {
		c.logs[i] = slices.Clone(s.log(i))
	}
	return c
}
