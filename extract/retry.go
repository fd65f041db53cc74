package extract

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
)

// Body caps: a page of 1000 statistics rows is a few MB; anything near
// maxPageBody is not a page. Error bodies are only kept as an excerpt.
const (
	maxPageBody  = 64 << 20
	maxErrorRead = 64 << 10
)

// response is one HTTP answer, fully read within its attempt's timeout.
type response struct {
	status    int
	header    http.Header
	body      []byte
	truncated bool // a 2xx body longer than maxPageBody
}

// verdict is what the retry loop does after an attempt.
type verdict int

const (
	stop         verdict = iota // success, or a failure retrying cannot fix
	retryBackoff                // sleep a full-jitter backoff, then try again
	retryPause                  // 429: pause the whole limiter, then try again
)

// shouldRetry is the retry policy, in one place. Every call this client
// makes is a GET, which is idempotent, so transport errors and 5xx are
// safe to repeat.
func shouldRetry(ctx context.Context, resp *response, err error) verdict {
	if ctx.Err() != nil {
		return stop // never retry a job that was cancelled or ran out of time
	}
	if err != nil {
		// No response: refused, reset, dropped mid-body, or the attempt
		// timed out.
		return retryBackoff
	}
	switch s := resp.status; {
	case s == http.StatusTooManyRequests:
		return retryPause // the limiter turned us away; the server did nothing
	case s == http.StatusRequestTimeout:
		return retryBackoff // the server gave up waiting for our request
	case s == http.StatusNotImplemented, s == http.StatusHTTPVersionNotSupported:
		return stop // 501, 505: permanent, retrying cannot change them
	case s >= 500 && s <= 599:
		return retryBackoff // 500, 502, 503, 504 and friends: overload, deploys, proxies
	}
	return stop // 2xx, and 4xx other than 408/429 (bad request, key, id): typed error
}

// get performs one request with its retries and returns the final 2xx
// response. Every attempt first takes a limiter slot on the job context;
// only the HTTP exchange itself runs under the per-attempt timeout.
func (c *Client) get(ctx context.Context, ep endpoint, it Item, path string, q url.Values) (*response, error) {
	return c.call(ctx, http.MethodGet, nil, ep, it, path, q)
}

// call is get for any method, with a JSON body (nil for none). Only GET
// and DELETE are retried after a 5xx or a dropped connection: a POST that
// may have been carried out is not repeated (a 429 is always retried: the
// server did nothing).
func (c *Client) call(ctx context.Context, method string, body []byte, ep endpoint, it Item, path string, q url.Values) (*response, error) {
	idempotent := method == http.MethodGet || method == http.MethodDelete
	full, redacted := c.urls(path, q)
	var slept time.Duration // backoff slept before the coming attempt
	for attempt := 1; ; attempt++ {
		waited, err := c.lim.Wait(ctx)
		waited += slept
		slept = 0
		if err != nil {
			return nil, c.ctxErr(ctx, ep, it, err)
		}
		c.count(it.Stream, func(s *Stats, ss *StreamStats) {
			s.Requests++
			ss.Requests++
			s.Waited += waited
			if attempt > 1 {
				s.Retries++
			}
		})

		at := time.Now()
		resp, err := c.send(ctx, method, full, body)
		dur := time.Since(at)
		if err != nil {
			err = c.redact.transportErr(err, redacted)
		}
		if resp != nil {
			// Every response, 429s included, tells the limiter what the
			// server thinks is left (another program may share the key).
			c.lim.Observe(resp.header)
		}
		c.report(ep, it, at, dur, attempt, waited, resp, err)

		v := shouldRetry(ctx, resp, err)
		if v == retryBackoff && !idempotent {
			v = stop
		}
		switch v {
		case stop:
			if ctx.Err() != nil {
				return nil, c.ctxErr(ctx, ep, it, ctx.Err())
			}
			if err != nil { // a POST's transport error: not retried
				return nil, &TransportError{Endpoint: ep.template, CampaignID: it.CampaignID, Attempts: attempt, Err: err}
			}
			if err := c.checkResponse(resp.status, resp.body, ep, it, attempt); err != nil {
				return nil, err
			}
			return resp, nil

		case retryPause:
			c.count(it.Stream, func(s *Stats, _ *StreamStats) { s.Throttled++ })
			wait := c.throttleWait(resp, attempt)
			if wait > c.maxRetryAfter || attempt > c.maxRetries {
				c.log.Warn("smartlead: rate limited, giving up on request",
					"endpoint", ep.template, "campaign_id", it.CampaignID, "attempts", attempt, "retry_after", wait)
				return nil, &RateLimitedError{Endpoint: ep.template, CampaignID: it.CampaignID, RetryAfter: wait, Attempts: attempt}
			}
			// Pause the whole limiter, not just this worker: every worker
			// queues behind the gate and the per-second window spreads
			// them out again afterwards (no thundering herd).
			until := time.Now().Add(wait)
			c.lim.PauseUntil(until, fmt.Sprintf("paused after 429 on %s (retry after %s)", ep.template, wait.Round(time.Millisecond)))
			c.log.Warn("smartlead: 429 Too Many Requests, pausing all workers",
				"endpoint", ep.template, "campaign_id", it.CampaignID, "attempt", attempt, "pause", wait.Round(time.Millisecond))

		case retryBackoff:
			if attempt > c.maxRetries {
				if err != nil {
					return nil, &TransportError{Endpoint: ep.template, CampaignID: it.CampaignID, Attempts: attempt, Err: err}
				}
				return nil, c.checkResponse(resp.status, resp.body, ep, it, attempt)
			}
			d := ratelimit.Backoff(attempt-1, c.retryBase, c.retryCap, c.float64)
			if resp != nil && resp.status == http.StatusServiceUnavailable {
				// A 503 that says when to come back is believed, up to the
				// same maximum as a 429.
				if ra, ok := c.retryAfterHeader(resp.header); ok {
					if ra > c.maxRetryAfter {
						return nil, c.checkResponse(resp.status, resp.body, ep, it, attempt)
					}
					d = max(d, ra)
				}
			}
			status := "transport error"
			if resp != nil {
				status = strconv.Itoa(resp.status)
			}
			c.log.Info("smartlead: retrying after backoff",
				"endpoint", ep.template, "campaign_id", it.CampaignID, "attempt", attempt, "status", status, "backoff", d.Round(time.Millisecond))
			if err := sleep(ctx, d); err != nil {
				return nil, c.ctxErr(ctx, ep, it, err)
			}
			slept = d
		}
	}
}

// send makes one HTTP attempt and reads the whole body under the attempt
// timeout, so a connection dropped mid-body is a (retried) transport error.
func (c *Client) send(ctx context.Context, method, full string, reqBody []byte) (*response, error) {
	actx, cancel := context.WithTimeout(ctx, c.attemptTimeout)
	defer cancel()
	var rd io.Reader
	if reqBody != nil {
		rd = bytes.NewReader(reqBody)
	}
	req, err := http.NewRequestWithContext(actx, method, full, rd)
	if err != nil {
		return nil, err
	}
	if reqBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "smartlead-etl")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer drain(resp.Body)
	limit := int64(maxErrorRead)
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		limit = maxPageBody
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %d response body: %w", resp.StatusCode, err)
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: body}
	if int64(len(body)) > limit {
		r.body = body[:limit]
		r.truncated = resp.StatusCode >= 200 && resp.StatusCode <= 299
	}
	return r, nil
}

// throttleWait is how long to pause after a 429: the largest of the
// Retry-After header, the body's error.retry_after and the backoff for
// this attempt (so a 429 without any hint still backs off).
func (c *Client) throttleWait(resp *response, attempt int) time.Duration {
	wait := ratelimit.Backoff(attempt-1, c.retryBase, c.retryCap, c.float64)
	if ra, ok := c.retryAfterHeader(resp.header); ok {
		wait = max(wait, ra)
	}
	if ra, ok := bodyRetryAfter(resp.body); ok {
		wait = max(wait, ra)
	}
	return wait
}

// retryAfterHeader reads Retry-After. An HTTP-date is measured against the
// server's own Date header when it sent one, so clock skew between us and
// the server does not stretch or shrink the wait.
func (c *Client) retryAfterHeader(h http.Header) (time.Duration, bool) {
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	now := time.Now()
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		now = d
	}
	return ratelimit.ParseRetryAfter(v, now)
}

// bodyRetryAfter reads {"error": {"retry_after": 30}} (number or string,
// in seconds), the body the vendor documents for a 429.
func bodyRetryAfter(body []byte) (time.Duration, bool) {
	var b struct {
		Error struct {
			RetryAfter json.RawMessage `json:"retry_after"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &b) != nil || len(b.Error.RetryAfter) == 0 {
		return 0, false
	}
	raw := string(b.Error.RetryAfter)
	if s, err := strconv.Unquote(raw); err == nil {
		raw = s
	}
	secs, err := strconv.ParseFloat(raw, 64)
	if err != nil || secs < 0 || secs > 1e6 {
		return 0, false
	}
	return time.Duration(secs * float64(time.Second)), true
}

// report tells the observer about one attempt and logs it at debug level.
func (c *Client) report(ep endpoint, it Item, at time.Time, dur time.Duration, attempt int, waited time.Duration, resp *response, err error) {
	a := Attempt{
		At:            at,
		Endpoint:      ep.template,
		CampaignID:    it.CampaignID,
		Duration:      dur,
		Attempt:       attempt,
		Waited:        waited,
		RateRemaining: -1,
	}
	if resp != nil {
		a.Status = resp.status
		if n, perr := strconv.Atoi(resp.header.Get("X-RateLimit-Remaining")); perr == nil {
			a.RateRemaining = n
		}
		if resp.status < 200 || resp.status > 299 {
			a.Err = fmt.Sprintf("%d %s", resp.status, http.StatusText(resp.status))
		}
	}
	if err != nil {
		a.Err = c.redact.String(err.Error())
	}
	if c.observe != nil {
		c.observe(a)
	}
	if c.log.Enabled(context.Background(), slog.LevelDebug) {
		c.log.Debug("smartlead: request",
			"endpoint", a.Endpoint, "campaign_id", a.CampaignID, "offset", it.Offset, "day", it.Day,
			"status", a.Status, "attempt", a.Attempt, "waited", a.Waited, "duration", a.Duration,
			"rate_remaining", a.RateRemaining, "err", a.Err)
	}
}

// ctxErr reports a cancelled or expired job as the context's error, not
// as whatever the transport made of it.
func (c *Client) ctxErr(ctx context.Context, ep endpoint, it Item, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		err = cerr
	}
	if it.CampaignID != 0 {
		return fmt.Errorf("smartlead: %s (campaign %d): %w", requestLine(ep.template), it.CampaignID, err)
	}
	return fmt.Errorf("smartlead: %s: %w", requestLine(ep.template), err)
}

// sleep waits d or until ctx is done, on one timer that is always stopped.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
