package extract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
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
	attempts  int  // HTTP attempts the answer took, retries included
}

// verdict is what the retry loop does after an attempt.
type verdict int

const (
	stop         verdict = iota // success, or a failure retrying cannot fix
	retryBackoff                // sleep a full-jitter backoff, then try again
	retryPause                  // 429: pause the whole limiter, then try again
)

// shouldRetry is the retry policy, in one place. It assumes an idempotent
// request, for which transport errors and 5xx are safe to repeat: call
// stops instead of backing off for a method that is not (a POST).
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
		// Admission is per request, retries included, so that a budget
		// counts exactly what reaches the server.
		if c.admit != nil && !c.admit(it) {
			return nil, ErrNotAdmitted
		}
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
		jid, err := c.journalSending(Attempt{At: at, Endpoint: ep.template, CampaignID: it.CampaignID, Attempt: attempt, Waited: waited})
		if err != nil {
			return nil, fmt.Errorf("%s: not sent: %w", requestName(ep.template, it.CampaignID, it.Offset), err)
		}
		resp, extra, refused, err := c.send(ctx, method, full, body, ep, it, attempt)
		if len(extra) > 0 {
			// The transport sent the request again on other connections
			// (see resendGate): each earlier send got no answer, and
			// each went through the limiter, the journal, the counters
			// and the ledger.
			sends := append([]sent{{at: at, waited: waited, jid: jid}}, extra...)
			for i, s := range sends[:len(sends)-1] {
				c.reportSend(ep, it, s, sends[i+1].at.Sub(s.at), attempt)
			}
			c.count(it.Stream, func(s *Stats, ss *StreamStats) {
				s.Requests += int64(len(extra))
				ss.Requests += int64(len(extra))
				s.Retries += int64(len(extra))
				for _, e := range extra {
					s.Waited += e.waited
				}
			})
			last := sends[len(sends)-1]
			at, waited, jid = last.at, last.waited, last.jid
			c.log.Warn("smartlead: the connection closed before an answer; the request was sent again",
				"endpoint", ep.template, "campaign_id", it.CampaignID, "sends", len(sends))
		}
		dur := time.Since(at)
		if refused != nil {
			// The transport wanted to send once more and the budget, the
			// journal or the job's context said no: nothing more went out.
			c.reportSend(ep, it, sent{at: at, waited: waited, jid: jid}, dur, attempt)
			switch {
			case errors.Is(refused, ErrNotAdmitted):
				return nil, ErrNotAdmitted
			case ctx.Err() != nil:
				return nil, c.ctxErr(ctx, ep, it, refused)
			}
			return nil, fmt.Errorf("%s: not sent again: %w", requestName(ep.template, it.CampaignID, it.Offset), refused)
		}
		if err != nil {
			err = c.redact.transportErr(err, redacted)
		}
		if resp != nil {
			// Every response, 429s included, tells the limiter what the
			// server thinks is left (another program may share the key).
			c.lim.Observe(resp.header)
		}
		c.report(ep, it, at, dur, attempt, waited, resp, err, jid)

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
			if resp.status >= 300 && resp.status <= 399 {
				return nil, redirectError(resp, full, ep, it)
			}
			if err := c.checkResponse(resp.status, resp.body, ep, it, attempt); err != nil {
				return nil, err
			}
			resp.attempts = attempt
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
// extra lists the sends the transport added on other connections after the
// first; refused is why it was stopped from adding one more.
func (c *Client) send(ctx context.Context, method, full string, reqBody []byte, ep endpoint, it Item, attempt int) (_ *response, extra []sent, refused, _ error) {
	cctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	actx, cancel := context.WithTimeout(cctx, c.attemptTimeout)
	defer cancel()
	gate := &resendGate{c: c, ctx: ctx, ep: ep, it: it, attempt: attempt, cancel: stop}
	var rd io.Reader
	if reqBody != nil {
		rd = bytes.NewReader(reqBody)
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(actx, gate.trace()), method, full, rd)
	if err != nil {
		return nil, nil, nil, err
	}
	if reqBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "smartlead-etl")
	resp, err := c.hc.Do(req)
	extra, refused = gate.result()
	if refused != nil {
		if err == nil {
			drain(resp.Body)
		}
		return nil, extra, refused, nil
	}
	if err != nil {
		return nil, extra, nil, err
	}
	defer drain(resp.Body)
	limit := int64(maxErrorRead)
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		limit = maxPageBody
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, extra, nil, fmt.Errorf("reading %d response body: %w", resp.StatusCode, err)
	}
	r := &response{status: resp.StatusCode, header: resp.Header, body: body}
	if int64(len(body)) > limit {
		r.body = body[:limit]
		r.truncated = resp.StatusCode >= 200 && resp.StatusCode <= 299
	}
	return r, extra, nil, nil
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

// reportSend records a send that got no answer because the connection
// closed and the transport sent the request again.
func (c *Client) reportSend(ep endpoint, it Item, s sent, dur time.Duration, attempt int) {
	c.report(ep, it, s.at, dur, attempt, s.waited, nil, errors.New(resendTag), s.jid)
}

// report tells the observer about one attempt and logs it at debug level.
func (c *Client) report(ep endpoint, it Item, at time.Time, dur time.Duration, attempt int, waited time.Duration, resp *response, err error, jid string) {
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
	if c.journal != nil {
		a.JournalID = jid
		c.journal.Answered(jid, a)
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

// journalSending records an attempt in the journal, when there is one,
// before it is sent.
func (c *Client) journalSending(a Attempt) (string, error) {
	if c.journal == nil {
		return "", nil
	}
	a.RateRemaining = -1
	return c.journal.Sending(a)
}

// ctxErr reports a cancelled or expired job as the context's error, not
// as whatever the transport made of it.
func (c *Client) ctxErr(ctx context.Context, ep endpoint, it Item, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		err = cerr
	}
	return fmt.Errorf("%s: %w", requestName(ep.template, it.CampaignID, 0), err)
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
