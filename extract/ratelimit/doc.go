// Package ratelimit holds the client-side request limiter shared by every
// worker and every retry of one API key: an exact sliding-window log per
// window (per second, minute, hour), so that no rolling window can ever
// see more than its cap, plus a global pause gate for 429s and for what
// the server's X-RateLimit headers say is left.
//
// One mutex guards all windows. Each Wait reserves the earliest slot
//
//	t = max(now, last reservation, gate, max_i(log_i[len-Max_i] + Len_i + guard))
//
// appends t to every log and sleeps on one timer until t, or until its
// context ends (the slot is then given back). Token buckets (x/time/rate)
// and sliding-window counters only bound a window at burst + rate x Len,
// up to about twice the cap; the log bounds it exactly. The guard widens
// every window a little so that requests whose network latency differs
// still reach the server inside the cap.
//
// Observe reads X-RateLimit-Limit/Remaining/Reset on every response and
// holds our sends to what the server says is left when another program
// spends the same key; once it fills a window, our share of that window
// is what our own sends hold in it. PauseUntil is the global reaction to
// a 429. Preload seeds the logs from earlier runs' sends (Sent returns
// them); NextSlot tells, without reserving, when the next Wait would be
// granted.
//
// Clocks. Within a process every time the limiter keeps is measured on
// the monotonic clock: reservations come from time.Now, and Preload,
// PauseUntil and the server's X-RateLimit-Reset are converted to it as
// they arrive, so a step of the wall clock (NTP, a resumed VM) during a
// run neither releases a window early nor holds it longer. Across
// processes only recorded times exist. The request journal dates each
// request of this boot by the boot-time clock, which no step moves, so a
// start gets the true send times whichever way the wall clock was
// stepped in between. Wall-clock times alone (the ledger; a journal from
// before a reboot) can be wrong either way, and a start decides:
//
//   - A time after now is impossible for a past send: the clock was
//     stepped back since it was recorded. PastSends (Preload calls it)
//     moves all such times back together, the latest to now, keeping
//     their spacing: each is then no earlier than the send really was (a
//     window the server still counts it in is never under-counted), and
//     none holds a window longer than the window lasts (the next run does
//     not wait an hour for a window it thinks full). It costs at most the
//     time between the previous process's last request and this start.
//   - A time in the past is taken as it is. A clock stepped forward is
//     invisible in it: without a boot-time reading (only after a reboot)
//     requests the server still counts may look older than its window,
//     and a run right after may meet a 429, which pauses everyone as any
//     429 does.
//
// A run's --deadline is a time of the wall clock, as a user means it: the
// run compares the wait for the next slot (monotonic) with the time left
// until the deadline by the wall clock as it reads at that moment.
//
// The pure helpers FinishTime (the greedy schedule, for planning),
// ParseRetryAfter and Backoff (full jitter) serve the client's retry loop
// and the plan command.
package ratelimit
