// Package ratelimit holds the client-side request limiter shared by every
// worker and every retry of one API key: an exact sliding-window log per
// window (per second, minute, hour), so that no rolling window can ever
// see more than its cap, plus a global pause gate for 429s and for what
// the server's X-RateLimit headers say is left.
package ratelimit
