package ratelimit

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// DefaultGuard is the margin added to every window's length. The greedy
// schedule sends a burst, then the next burst exactly one window later; if
// the first burst reaches the server later than the second (new TLS
// connections cost one or two round trips more than warm ones), the server
// would see both bursts in one window. 250 ms covers a couple of round
// trips and costs at most 2 guards on a short job (the 100th request at
// 80% Standard goes at 120.5 s instead of 120 s) and one guard per hour on
// a long one.
const DefaultGuard = 250 * time.Millisecond

const (
	// gateJitter: waiters released by a pause (or a server reset) trickle
	// out over about this long instead of all at once.
	gateJitter = time.Second
	// resetMargin is added after a server-reported reset: Reset and Date
	// both have 1 s resolution and skew under 2 s is ignored.
	resetMargin = time.Second
	// reserve is how many of the server's remaining requests we leave
	// unused when another client shares the key: it absorbs our own
	// requests still in flight when the header was written.
	reserve = 2
	// probeHold: after a foreign-traffic pause ends, only one request is
	// let through until its response reports how much the reset freed (or
	// until this much time passes without news).
	probeHold = 3 * time.Second
	// skewIgnore: the Date header has 1 s precision, so smaller
	// differences are noise.
	skewIgnore = 2 * time.Second
	// shareHold: responses arrive out of order, and an older header
	// counts fewer of our own requests than our log already holds, so for
	// this long after a share is set only a smaller one replaces it.
	shareHold = 5 * time.Second
)

// Limiter is the one limiter shared by every worker and every retry of one
// API key. It keeps an exact log of reserved send times per window, so no
// rolling window ever holds more than its Max, however many goroutines
// call Wait. Reservations are first come, first served and never earlier
// than a previous one. A global gate (PauseUntil) holds everyone back
// after a 429; Observe reads the server's X-RateLimit headers and slows
// down when another program spends the same key.
//
// All methods are safe for concurrent use. Wait spawns no goroutine, and
// the mutex is never held while sleeping.
type Limiter struct {
	mu      sync.Mutex
	s       sched
	raw     []Window
	guard   time.Duration
	gate    time.Time
	gateWhy string
	lastWhy string
	pending int          // reservations handed out but not yet granted or released
	ext     []*extBudget // few: one per X-RateLimit-Limit value seen
	extSeq  uint64
	shares  []*share // few: one per full server window shared with another program
	// stops counts the times the server's headers paused everyone: a
	// reservation made before the latest was chosen without knowing how
	// full the server's window is, so it is made again (Wait).
	stops   uint64
	rnd     *rand.Rand
	hookMin time.Duration
	hook    func(WaitInfo)
	st      Stats

	// Wall-clock time during which at least one caller slept on a future
	// slot: then no request could be sent at all, since every new
	// reservation queues behind it. Summing each caller's wait instead
	// counts one full window once per worker.
	sleeping  int
	heldSince time.Time
	held      time.Duration
}

// extBudget caps our sends while the server reports that someone else is
// using the key: at most left more reservations before until.
type extBudget struct {
	id          uint64
	limit       int       // X-RateLimit-Limit it came from
	serverReset int64     // X-RateLimit-Reset as sent (server clock)
	resetLocal  time.Time // the reset on our clock
	until       time.Time // resetLocal + resetMargin, or the probe's end
	remaining   int       // smallest Remaining seen for serverReset
	left        int
	exhausted   bool // left reached 0 at some point: probe after the reset
	probe       bool
}

func (b *extBudget) reason() string {
	if b.probe {
		return "probing how much the server's window freed"
	}
	return fmt.Sprintf("server reports %d requests left until %s", b.remaining, b.resetLocal.Format("15:04:05"))
}

// share caps our own sends in one server window once the server has
// reported that window full while another program spends the key. The
// server's Reset names the moment its oldest entry leaves; when that
// entry is the other program's, the other program usually takes the slot
// again at once, so probing at every reset only collects 429s. What we
// can count on are the slots our own sends free: at an observation, our
// sends in the window (mine) plus what is left (Remaining) is our part of
// the window, and it stays so while the other program keeps its own rate.
// So at most capN = mine + Remaining - reserve of our sends may fall in
// any rolling Len (+ guard): the next send waits until one of ours leaves
// the window, which the other program cannot take from us first.
type share struct {
	limit int           // X-RateLimit-Limit it came from
	win   Window        // the server's window (unscaled)
	log   int           // our log that holds every send of win.Len
	capN  int           // our sends allowed in any rolling win.Len + guard
	setAt time.Time     // when capN was last replaced (not lowered)
	seen  time.Time     // last observation of this window
	hold  time.Time     // capN < 1: nothing of ours in it to wait for; probe then
	other int           // the other program's requests in the window, as inferred
	stale time.Duration // no observation for this long: forget the share
}

func (s *share) reason() string {
	return fmt.Sprintf("server's %s window full (another program has about %d): our share %d", s.win, s.other, max(s.capN, 0))
}

// Option configures a Limiter.
type Option func(*Limiter)

// WithServerWindows gives the unscaled, documented windows. Observe matches
// X-RateLimit-Limit against their Max to tell which window a header
// describes, and so how many requests our own log predicts are left.
func WithServerWindows(raw []Window) Option {
	return func(l *Limiter) { l.raw = append([]Window(nil), raw...) }
}

// WithGuard sets the margin added to every window's length (default
// DefaultGuard). Negative values count as zero.
func WithGuard(d time.Duration) Option {
	return func(l *Limiter) { l.guard = max(d, 0) }
}

// WithWaitHook calls fn, outside the lock and on the waiting goroutine,
// before every wait longer than min (for progress lines such as "waiting
// 14m: 1h window full").
func WithWaitHook(min time.Duration, fn func(WaitInfo)) Option {
	return func(l *Limiter) { l.hookMin, l.hook = min, fn }
}

// WithRand sets the jitter source; tests pass a seeded one. The Limiter
// only uses it under its own lock.
func WithRand(r *rand.Rand) Option {
	return func(l *Limiter) {
		if r != nil {
			l.rnd = r
		}
	}
}

// WaitInfo describes a wait that is about to start.
type WaitInfo struct {
	Until  time.Time // when the slot is
	Reason string    // human-readable, e.g. "1h window full (800/1h)"
}

// Stats is a snapshot of a Limiter's counters.
type Stats struct {
	Reservations  int64         // slots granted (Wait returned nil)
	Waits         int64         // grants that had to wait at all
	TotalWaited   time.Duration // summed over grants: per caller, so several overlapping waits add up
	HeldBack      time.Duration // wall-clock time some caller slept on a slot, i.e. nothing could be sent
	MaxWait       time.Duration // longest single grant's wait
	Cancelled     int64         // Waits ended by their context
	Requeued      int64         // slots given up because a pause moved past them
	Pauses        int64         // PauseUntil calls (incl. from Observe) that moved the gate
	PausedUntil   time.Time     // the gate; zero if never paused
	PauseReason   string        // why the gate was last moved
	Observed      int64         // responses with X-RateLimit headers
	Foreign       int64         // of those, ones showing another client on the key
	Shares        int64         // times a full server window was shared with another client (see Observe)
	BadHeaders    int64         // malformed X-RateLimit or Date headers (ignored)
	LastBadHeader string        // the last one, e.g. `X-RateLimit-Remaining "x": not an integer`
}

// New builds a limiter enforcing every window at once. The windows must
// already be scaled by the headroom (see Scale); Parse, Preset and Scale
// only produce valid ones, and New panics on a window with Len <= 0 or
// Max < 1 because that is a programming error.
func New(windows []Window, opts ...Option) *Limiter {
	for _, w := range windows {
		if w.Len <= 0 || w.Max < 1 {
			panic(fmt.Sprintf("ratelimit.New: invalid window %v (want Len > 0 and Max >= 1)", w))
		}
	}
	l := &Limiter{guard: DefaultGuard}
	for _, o := range opts {
		o(l)
	}
	if l.rnd == nil {
		l.rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	l.s = newSched(windows, l.guard)
	return l
}

// Windows returns a copy of the enforced (scaled) windows.
func (l *Limiter) Windows() []Window { return append([]Window(nil), l.s.wins...) }

// Stats returns a snapshot of the counters.
func (l *Limiter) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.st
	st.PausedUntil, st.PauseReason = l.gate, l.gateWhy
	st.HeldBack = l.heldLocked(time.Now())
	return st
}

// HeldBack is the wall-clock time during which the limiter held every
// request back: some caller was asleep on a future slot (a full window,
// a pause after a 429, the server's budget), so no request could be sent.
func (l *Limiter) HeldBack() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.heldLocked(time.Now())
}

func (l *Limiter) heldLocked(now time.Time) time.Duration {
	if l.sleeping > 0 {
		return l.held + now.Sub(l.heldSince)
	}
	return l.held
}

// sleepLocked and wakeLocked bracket a caller's sleep on a slot.
func (l *Limiter) sleepLocked(now time.Time) {
	if l.sleeping == 0 {
		l.heldSince = now
	}
	l.sleeping++
}

func (l *Limiter) wakeLocked(now time.Time) {
	l.sleeping--
	if l.sleeping == 0 {
		l.held += now.Sub(l.heldSince)
	}
}

type reservation struct {
	at      time.Time
	why     string
	charged []uint64 // ext budgets this reservation was counted against
	stops   uint64   // l.stops when it was made
}

// Wait reserves the next free slot and blocks until it. It returns how long
// it waited. If ctx ends first it returns ctx.Err() and gives the slot
// back (when it is still in the future), so later callers move up. If a
// pause (PauseUntil, a 429) moved past the slot while it slept, it gives
// the slot up and queues again behind the pause.
//
// Wait on the job's context, not on a per-attempt timeout: a wait for the
// hourly window can legitimately last most of an hour.
func (l *Limiter) Wait(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		l.mu.Lock()
		l.st.Cancelled++
		l.mu.Unlock()
		return 0, err
	}
	start := time.Now()
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		l.mu.Lock()
		now := time.Now()
		r := l.reserveLocked(now)
		sleeps := r.at.After(now)
		if sleeps {
			l.sleepLocked(now)
		}
		l.mu.Unlock()

		d := r.at.Sub(now)
		if d > 0 && l.hook != nil && d > l.hookMin {
			l.hook(WaitInfo{Until: r.at, Reason: r.why})
		}
		if d = time.Until(r.at); d > 0 {
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			select {
			case <-ctx.Done():
				timer.Stop()
				l.mu.Lock()
				l.wakeLocked(time.Now())
				l.pending--
				if r.at.After(time.Now()) {
					l.releaseLocked(r)
				}
				l.st.Cancelled++
				l.mu.Unlock()
				return time.Since(start), ctx.Err()
			case <-timer.C:
			}
		}

		l.mu.Lock()
		if sleeps {
			l.wakeLocked(time.Now())
		}
		l.pending--
		if l.gate.After(r.at) || r.stops != l.stops {
			// A 429 paused everyone while we slept and our slot is
			// before the pause, or the server's headers said its window
			// is (nearly) full since we reserved: queue again, so that
			// the slot is chosen knowing that (after a reset, one probe
			// goes first and the rest wait for its answer).
			l.releaseLocked(r)
			l.st.Requeued++
			l.mu.Unlock()
			continue
		}
		waited := time.Since(start)
		l.st.Reservations++
		l.st.TotalWaited += waited
		if waited > 0 {
			l.st.Waits++
		}
		l.st.MaxWait = max(l.st.MaxWait, waited)
		l.mu.Unlock()
		return waited, nil
	}
}

// reserveLocked computes the earliest slot (slotLocked) and records it in
// every log and budget.
func (l *Limiter) reserveLocked(now time.Time) reservation {
	t, why := l.slotLocked(now, l.jitter)
	r := reservation{at: t, why: why, stops: l.stops}
	l.ext = slices.DeleteFunc(l.ext, func(b *extBudget) bool {
		if t.Before(b.until) {
			b.left--
			if b.left <= 0 {
				b.exhausted = true
			}
			r.charged = append(r.charged, b.id)
			return false
		}
		if b.exhausted && !b.probe {
			// The reset passed after we had used up what the server
			// allowed. We do not know how much it freed: let this one
			// request through and hold the rest until its response
			// (Observe) tells us, or until probeHold passes.
			b.probe, b.left, b.until = true, 0, t.Add(probeHold)
			r.charged = append(r.charged, b.id)
			return false
		}
		return true
	})
	l.shares = slices.DeleteFunc(l.shares, func(sh *share) bool { return !now.Before(sh.seen.Add(sh.stale)) })
	l.pending++
	l.s.push(t, now, l.pending)
	l.lastWhy = why
	return r
}

// slotLocked returns the earliest slot for a reservation made at now,
// and why it is not now:
//
//	t = max(now, last reservation, gate, max_i(log_i[len-Max_i] + Len_i + guard),
//	        exhausted server budgets, our share of full server windows)
//
// jit draws the release jitter after a pause or a server reset.
func (l *Limiter) slotLocked(now time.Time, jit func(time.Duration) time.Duration) (time.Time, string) {
	t, bind := l.s.earliest(now)
	why := ""
	if bind >= 0 {
		w := l.s.wins[bind]
		why = fmt.Sprintf("%s window full (%s)", fmtDur(w.Len), w)
	}
	if tail := l.s.tail(); tail.After(t) {
		t, why = tail, l.lastWhy // first come, first served
	}
	// Each waiter released by a pause goes a random bit (mean gateJitter/8)
	// after the one before, so the herd trickles out over about
	// gateJitter instead of hitting the server in one instant.
	if !l.gate.IsZero() && t.Before(l.gate.Add(gateJitter)) {
		if l.gate.After(t) {
			t, why = l.gate, l.gateWhy
		}
		t = t.Add(jit(gateJitter / 4))
	}
	// An exhausted server budget holds everyone until its reset, and a
	// full shared window until one of our own sends leaves it. Moving t
	// past one constraint can matter for another, hence the loop.
	for moved := true; moved; {
		moved = false
		for _, b := range l.ext {
			if b.left <= 0 && b.until.After(t) {
				t, why, moved = b.until.Add(jit(gateJitter)), b.reason(), true
			}
		}
		for _, sh := range l.shares {
			if !now.Before(sh.seen.Add(sh.stale)) {
				continue // forgotten at the next reservation
			}
			if c := l.shareSlot(sh); c.After(t) {
				t, why, moved = c, sh.reason(), true
			}
		}
	}
	return t, why
}

// shareSlot is the earliest time at which one more send keeps our sends in
// the shared window within our share: the capN-th most recent of ours must
// have left it. With no share at all (capN < 1) one probe a while later
// finds out whether the other program has slowed down.
func (l *Limiter) shareSlot(sh *share) time.Time { return shareSlotIn(&l.s, sh, l.guard) }

// shareSlotIn is shareSlot on the logs s (Forecast's copy).
func shareSlotIn(s *sched, sh *share, guard time.Duration) time.Time {
	n := max(sh.capN, 1)
	var t time.Time
	if lg := s.log(sh.log); len(lg) >= n {
		t = lg[len(lg)-n].Add(sh.win.Len + guard)
	}
	if sh.capN < 1 && sh.hold.After(t) {
		t = sh.hold
	}
	return t
}

// releaseLocked gives a reservation back: its log entry and its charge on
// any server budget that still exists.
func (l *Limiter) releaseLocked(r reservation) {
	l.s.remove(r.at)
	for _, id := range r.charged {
		for _, b := range l.ext {
			if b.id == id {
				b.left++
			}
		}
	}
}

// jitter returns a uniform duration in [0, d).
func (l *Limiter) jitter(d time.Duration) time.Duration {
	return time.Duration(l.rnd.Int64N(int64(d)))
}

// PauseUntil holds every reservation back until t (plus a small positive
// jitter per waiter): the global reaction to a 429. Waiters already
// asleep on an earlier slot queue again when they wake. The gate only
// moves forward; reason is shown to users (WaitInfo, Stats), e.g.
// "paused after 429 (Retry-After 30s)".
func (l *Limiter) PauseUntil(t time.Time, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pauseLocked(t, reason)
}

// pauseLocked moves the gate to t, if that is later, and says whether it
// moved.
func (l *Limiter) pauseLocked(t time.Time, reason string) bool {
	now := time.Now()
	t = now.Add(t.Sub(now)) // on the monotonic clock, whatever t came from
	if !t.After(l.gate) || !t.After(now) {
		return false
	}
	l.gate, l.gateWhy = t, reason
	l.st.Pauses++
	return true
}
