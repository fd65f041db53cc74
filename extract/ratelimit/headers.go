package ratelimit

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Observe reads X-RateLimit-Limit, -Remaining and -Reset (a unix time) from
// a response, 429s included, and reacts when the server counts requests
// that our own log did not make: another program is using the key.
//
// The vendor does not document which window the headers describe; our
// simulated server reports the window with the least remaining. So the
// Limit value is matched against the unscaled windows (WithServerWindows)
// to pick the window, and our own sends in it predict what the server
// should report. Only when Remaining is clearly below that prediction do
// we cap our sends at Remaining-reserve until the reset, pausing everyone
// when nothing is left. When we are alone our own log is already stricter
// than the server, so the headers change nothing. If Limit matches no
// known window the prediction is impossible and the server's numbers are
// obeyed as they are.
//
// When a known window is reported (nearly) full because of the other
// program, waiting for its Reset does not help: Reset is when the oldest
// entry leaves, usually the other program's, and it takes that slot
// again at once. Our share of the window is then capped at our own sends
// in it plus Remaining minus the reserve, so our next send waits for one
// of our own sends to leave (see share); the share follows every later
// header of that window and ends when one shows we are alone.
//
// Reset is converted to our clock with the Date header (clock skew);
// responses arrive out of order, so for one reset the smallest Remaining
// wins, and a reset older than one already seen is ignored. Malformed
// headers are ignored and counted in Stats.
func (l *Limiter) Observe(h http.Header) {
	ls, rs, zs := h.Get("X-RateLimit-Limit"), h.Get("X-RateLimit-Remaining"), h.Get("X-RateLimit-Reset")
	if ls == "" && rs == "" && zs == "" {
		return
	}
	now := time.Now()
	limit, rem, reset, err := parseRateHeaders(ls, rs, zs)
	skew, dateErr := dateSkew(h.Get("Date"), now) // unreadable Date: assume no skew
	l.mu.Lock()
	defer l.mu.Unlock()
	l.st.Observed++
	for _, e := range []error{err, dateErr} {
		if e != nil {
			l.st.BadHeaders++
			l.st.LastBadHeader = e.Error()
		}
	}
	if err != nil {
		return
	}
	// On our monotonic clock from here on, like every time the limiter
	// keeps: a step of the wall clock while we wait moves nothing.
	resetLocal := now.Add(time.Unix(reset, 0).Add(-skew).Sub(now))
	if !resetLocal.After(now) {
		return // already over: nothing to hold back for
	}

	foreign := true // unknown window: take the server's word
	if i := l.matchLocked(limit); i >= 0 {
		w := l.raw[i]
		if j := l.logFor(w.Len); j >= 0 {
			// The guard widens the count a little: the server's window
			// trails ours by the request's latency.
			mine := l.s.count(j, now.Add(-w.Len-l.guard), now)
			foreign = rem < w.Max-mine-reserve
			l.shareLocked(limit, w, j, mine, rem, foreign, now)
		}
	}
	if foreign {
		l.st.Foreign++
	}

	var b *extBudget
	for _, e := range l.ext {
		if e.limit == limit {
			b = e
		}
	}
	switch {
	case b != nil && reset < b.serverReset:
		return // stale: a newer response was already seen
	case b != nil && reset == b.serverReset && !b.probe:
		if rem < b.remaining {
			b.remaining = rem
			b.left = min(b.left, rem-reserve)
		}
	case !foreign:
		if b != nil {
			l.ext = deleteBudget(l.ext, b)
		}
		return
	default: // a newer reset (or a probe's answer): start afresh
		if b != nil {
			l.ext = deleteBudget(l.ext, b)
		}
		l.extSeq++
		b = &extBudget{
			id: l.extSeq, limit: limit, serverReset: reset,
			resetLocal: resetLocal, until: resetLocal.Add(resetMargin),
			remaining: rem, left: rem - reserve,
		}
		l.ext = append(l.ext, b)
	}
	if b.left <= 0 {
		b.exhausted = true
	}
	if rem <= reserve && l.pauseLocked(b.until, b.reason()) {
		// Stop even the waiters that already hold a slot, after the
		// gate too: they were counted against no budget of this reset.
		l.stops++
	}
}

// shareLocked keeps our share of a server window that another program
// fills (see share): it starts when the server reports the window (nearly)
// full, follows every later header of that window, and ends when a header
// shows we are alone again.
func (l *Limiter) shareLocked(limit int, w Window, log, mine, rem int, foreign bool, now time.Time) {
	var sh *share
	for _, e := range l.shares {
		if e.limit == limit {
			sh = e
		}
	}
	if !foreign {
		if sh != nil {
			l.shares = slices.DeleteFunc(l.shares, func(e *share) bool { return e == sh })
		}
		return
	}
	fresh := sh == nil
	if fresh {
		if rem > reserve {
			return // room left: the budget until the reset is enough
		}
		sh = &share{limit: limit, win: w, log: log, stale: w.Len + l.guard}
		l.shares = append(l.shares, sh)
		l.st.Shares++
	}
	c := mine + rem - reserve
	switch {
	case fresh || now.Sub(sh.setAt) >= shareHold:
		sh.capN, sh.setAt = c, now
	case c < sh.capN:
		sh.capN = c
	}
	sh.other = max(w.Max-rem-mine, 0)
	sh.seen = now
	if sh.capN < 1 && !fresh {
		// Nothing of ours to wait for and the probe at the reset found
		// the window full again: the other program takes every slot
		// that frees. Probe seldom instead of at every reset.
		sh.hold = maxTime(sh.hold, now.Add(w.Len/2))
	}
}

func deleteBudget(s []*extBudget, b *extBudget) []*extBudget {
	for i, e := range s {
		if e == b {
			return append(s[:i], s[i+1:]...)
		}
	}
	return s
}

// matchLocked finds the server window whose Max equals the header's Limit.
func (l *Limiter) matchLocked(limit int) int {
	for i, w := range l.raw {
		if w.Max == limit {
			return i
		}
	}
	return -1
}

// logFor picks our log that holds every send of the last d: the window of
// that length, else the shortest longer one.
func (l *Limiter) logFor(d time.Duration) int {
	best := -1
	for i, w := range l.s.wins {
		if w.Len >= d && (best < 0 || w.Len < l.s.wins[best].Len) {
			best = i
		}
	}
	return best
}

func parseRateHeaders(ls, rs, zs string) (limit, rem int, reset int64, err error) {
	if limit, err = strconv.Atoi(strings.TrimSpace(ls)); err != nil || limit < 1 {
		return 0, 0, 0, fmt.Errorf("X-RateLimit-Limit %q: not a positive integer", ls)
	}
	if rem, err = strconv.Atoi(strings.TrimSpace(rs)); err != nil || rem < 0 {
		return 0, 0, 0, fmt.Errorf("X-RateLimit-Remaining %q: not a non-negative integer", rs)
	}
	if reset, err = strconv.ParseInt(strings.TrimSpace(zs), 10, 64); err != nil || reset < 0 {
		return 0, 0, 0, fmt.Errorf("X-RateLimit-Reset %q: not a unix time", zs)
	}
	return limit, rem, reset, nil
}

// dateSkew returns server clock minus ours from the Date header, or 0 when
// the header is absent or the difference is within its 1 s precision.
func dateSkew(v string, now time.Time) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := http.ParseTime(v)
	if err != nil {
		return 0, fmt.Errorf("Date %q: not an HTTP date", v)
	}
	skew := d.Sub(now)
	if skew > -skewIgnore && skew < skewIgnore {
		return 0, nil
	}
	return skew, nil
}

// ParseRetryAfter reads a Retry-After value: delta-seconds (a decimal
// fraction is tolerated) or an HTTP-date in any of the three forms
// (IMF-fixdate, RFC 850, asctime). A date in the past gives 0, true; an
// empty, negative or unreadable value gives 0, false so the caller falls
// back to its backoff.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if c := v[0]; c >= '0' && c <= '9' {
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) {
			return 0, false
		}
		if secs >= float64(math.MaxInt64/int64(time.Second)) {
			return time.Duration(math.MaxInt64), true
		}
		return time.Duration(secs * float64(time.Second)), true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// Backoff returns a full-jitter delay for the given retry (0 for the first
// retry): uniform in [0, min(cap, base*2^retry)). rnd returns values in
// [0, 1); nil means math/rand/v2's Float64.
func Backoff(retry int, base, cap time.Duration, rnd func() float64) time.Duration {
	if rnd == nil {
		rnd = randFloat64
	}
	ceil := max(base, 0)
	for i := 0; i < retry && ceil > 0 && ceil < cap; i++ {
		if ceil > cap/2 {
			ceil = cap // and no overflow for a huge cap
			break
		}
		ceil *= 2
	}
	ceil = min(ceil, cap)
	if ceil <= 0 {
		return 0
	}
	return time.Duration(rnd() * float64(ceil))
}

func randFloat64() float64 { return rand.Float64() }
