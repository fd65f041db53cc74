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
// activity in the simple model the first incremental tests were built on
// (only campaigns that still send change, only on yesterday's emails);
// RealisticNight adds one as agency accounts live it (late opens and
// replies on finished campaigns' old emails, updated_at moving only with
// settings). AgencyConfig builds an agency account (StatusMix). Truth
// returns the data as Go values for comparison.
//
// Besides the per-campaign routes it serves the account-wide change
// signals from the same data: /analytics/campaign/overall-stats (each
// campaign's counters over a date range on the send-date axis, ranges
// longer than OverallStatsMaxDays refused) and
// /campaigns/all-leads-activities (leads with an event in a window, with
// their emails). SetEndpointFault makes a route answer 404, 400, 422,
// garbage, or numbers that disagree with the per-campaign routes.
package fakeapi
