// Package extract is the SmartLead REST client: one shared multi-window
// rate limiter, retries that honour Retry-After, bounded concurrency and
// pagination. It yields raw records as Pages; it never decodes them into
// warehouse rows (that is package transform's job) and never touches the
// database.
//
// # Trust at the boundaries
//
// The API key travels in every request's query, so the client only talks
// to an https base URL (http only to loopback, for the simulated API) with
// no userinfo (CheckBaseURL), and never follows a redirect: a 3xx is a
// *RedirectError naming the status and the Location's host. Following one
// would hand the key to that host (the Referer carries the previous URL).
//
// Every request that reaches the server takes a limiter slot, is counted
// in Stats.Requests and reported to the observer (the api_requests
// ledger), and is admitted by WithAdmit. net/http's Transport breaks that
// on its own: when a reused keep-alive connection closes before the answer,
// it silently sends an idempotent GET again on another connection
// (Transport.shouldRetryRequest), and that send reaches the server too.
// We detect and charge it rather than prevent it. Preventing it means
// making the GET look non-replayable, which only a request body does (an
// Idempotency-Key header has the opposite effect): a GET with a body makes
// the transport probe it on a goroutine with a 200 ms timer, and a slow
// probe sends "Transfer-Encoding: chunked" on a GET, which some proxies
// reject. Detection is exact instead: the transport obtains a connection
// (httptrace GotConn) for every send, synchronously before writing it, so
// a second GotConn within one attempt is a re-send about to happen. The
// hook admits it and waits for a limiter slot before returning, so the
// rolling windows hold even counting re-sends; if the budget or the context
// refuses, it closes that connection so nothing is written. The earlier,
// unanswered send gets its own ledger row (status 0).
//
// # Account-wide change signals
//
// StreamOverallStats and StreamLeadActivities read the two endpoints that
// describe the whole account in a few pages (signals.go): every
// campaign's counters over a date range, and every lead with activity in
// a time window. They are inputs of change detection rather than tables.
// OverallStatsItems asks the same grid of ranges night after night;
// CrawlOverallStats cuts a range the endpoint refuses.
//
// NewHTTPClient builds the one *http.Client the commands use: idle
// connections for every worker (the default Transport keeps 2 per host),
// an idle timeout below common servers' keep-alive (so the close-while-
// sending race is rare), and bounded dial and TLS handshake times.
package extract
