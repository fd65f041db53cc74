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
// The pure helpers FinishTime (the greedy schedule, for planning),
// ParseRetryAfter and Backoff (full jitter) serve the client's retry loop
// and the plan command.
package ratelimit
