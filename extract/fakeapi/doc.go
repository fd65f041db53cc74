// Package fakeapi is a simulated SmartLead API v1: an http.Handler that
// serves a deterministic synthetic account with the shapes and quirks the
// real API is documented to have (counters as strings, ids above 2^31,
// mixed timestamp formats, 200 with {} or an empty body for unknown ids,
// secrets in email-account responses), enforces rate-limit windows with
// exact rolling logs, and injects faults (5xx, dropped connections, slow
// answers, another program spending the same key's quota, a skewed clock).
//
// It reads time only through package time and starts no goroutines, so a
// Server built inside a testing/synctest bubble runs in virtual time.
// Transport serves it without sockets; the CLI serves it on loopback.
//
// The data carries event times (created, sent, opened, clicked, replied,
// status and category changes) so that the leads filters created_at_gt,
// last_sent_time_gt and event_time_gt and the statistics sent-time filters
// behave as an incremental extractor expects. Night adds one night of
// activity. Truth returns the data as Go values for comparison.
package fakeapi
