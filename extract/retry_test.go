package extract_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
)

var campaignsItem = extract.Item{Stream: extract.StreamCampaigns}

// TestRetryAfterTable: the first request gets a 429 carrying the case's
// Retry-After header and/or body; the retry must reach the server no
// earlier than asked, and no later than the limiter's pause jitter (< 1 s)
// allows. Dates are read against the server's Date header.
func TestRetryAfterTable(t *testing.T) {
	t.Parallel()
	const jitter = time.Second // ratelimit's pause jitter bound
	cases := []struct {
		name     string
		header   func(now time.Time) string
		body     string
		min, max time.Duration
	}{
		{name: "delta seconds", header: func(time.Time) string { return "7" }, min: 7 * time.Second, max: 7*time.Second + jitter},
		{name: "IMF-fixdate", header: func(now time.Time) string { return now.Add(20 * time.Second).UTC().Format(http.TimeFormat) },
			min: 20 * time.Second, max: 20*time.Second + jitter},
		{name: "RFC 850", header: func(now time.Time) string {
			return now.Add(25 * time.Second).UTC().Format("Monday, 02-Jan-06 15:04:05 GMT")
		}, min: 25 * time.Second, max: 25*time.Second + jitter},
		{name: "asctime", header: func(now time.Time) string { return now.Add(13 * time.Second).UTC().Format(time.ANSIC) },
			min: 13 * time.Second, max: 13*time.Second + jitter},
		// No usable hint: the first backoff, U(0, 1 s), then the jitter.
		{name: "past date", header: func(now time.Time) string { return now.Add(-time.Hour).UTC().Format(http.TimeFormat) },
			max: time.Second + jitter},
		{name: "garbage", header: func(time.Time) string { return "soon" }, max: time.Second + jitter},
		{name: "negative", header: func(time.Time) string { return "-5" }, max: time.Second + jitter},
		{name: "header missing, body present", body: `{"error": {"code": "RATE_LIMIT_EXCEEDED", "message": "Too many requests. Please retry after 12 seconds.", "retry_after": 12}}`,
			min: 12 * time.Second, max: 12*time.Second + jitter},
		{name: "body retry_after as string", body: `{"error": {"retry_after": "9"}}`, min: 9 * time.Second, max: 9*time.Second + jitter},
		{name: "both, body larger", header: func(time.Time) string { return "5" }, body: `{"error": {"retry_after": 9}}`,
			min: 9 * time.Second, max: 9*time.Second + jitter},
		{name: "both, header larger", header: func(time.Time) string { return "30" }, body: `{"error": {"retry_after": 4}}`,
			min: 30 * time.Second, max: 30*time.Second + jitter},
		{name: "neither", max: time.Second + jitter},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var h hits
				srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if h.add(r) == 1 {
						w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
						if tc.header != nil {
							w.Header().Set("Retry-After", tc.header(time.Now()))
						}
						w.WriteHeader(http.StatusTooManyRequests)
						_, _ = io.WriteString(w, tc.body)
						return
					}
					_, _ = io.WriteString(w, `[{"id": 1}]`)
				})
				c, _ := newClient(t, srv, nil)
				p, err := c.Fetch(t.Context(), campaignsItem)
				require.NoError(t, err)
				require.Len(t, p.Records, 1)
				ts := h.times()
				require.Len(t, ts, 2)
				gap := ts[1].Sub(ts[0])
				require.GreaterOrEqual(t, gap, tc.min)
				require.LessOrEqual(t, gap, tc.max)
				s := c.Stats()
				require.EqualValues(t, 2, s.Requests)
				require.EqualValues(t, 1, s.Throttled)
				require.EqualValues(t, 1, s.Retries)
			})
		})
	}
}

// TestRetryAfterOverMax: a wait longer than WithMaxRetryAfter returns a
// *RateLimitedError at once instead of holding a worker for an hour.
func TestRetryAfterOverMax(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, header, body string }{
		{name: "header", header: "3600"},
		{name: "body", body: `{"error": {"retry_after": 3600}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var h hits
				srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					h.add(r)
					if tc.header != "" {
						w.Header().Set("Retry-After", tc.header)
					}
					w.WriteHeader(http.StatusTooManyRequests)
					_, _ = io.WriteString(w, tc.body)
				})
				c, _ := newClient(t, srv, nil, extract.WithMaxRetryAfter(15*time.Minute))
				start := time.Now()
				_, err := c.Fetch(t.Context(), campaignsItem)
				require.ErrorIs(t, err, extract.ErrRateLimited)
				var rl *extract.RateLimitedError
				require.ErrorAs(t, err, &rl)
				require.Equal(t, time.Hour, rl.RetryAfter)
				require.Equal(t, 1, rl.Attempts)
				require.Equal(t, "/campaigns/", rl.Endpoint)
				require.Zero(t, time.Since(start), "no blocking")
				require.Equal(t, 1, h.n())
				assertNoKey(t, err)
			})
		})
	}
}

// TestThrottledUntilRetriesRunOut: a server that always answers 429 costs
// 1 + maxRetries attempts, then a *RateLimitedError.
func TestThrottledUntilRetriesRunOut(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var h hits
		srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h.add(r)
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
		})
		c, _ := newClient(t, srv, nil, extract.WithRetry(3, time.Second, 16*time.Second))
		_, err := c.Fetch(t.Context(), campaignsItem)
		var rl *extract.RateLimitedError
		require.ErrorAs(t, err, &rl)
		require.Equal(t, 4, rl.Attempts)
		require.Equal(t, 4, h.n())
		require.EqualValues(t, 4, c.Stats().Throttled)
	})
}

// TestBackoff503: repeated 5xx give 1 + 5 attempts spaced by full-jitter
// backoff (each gap within [0, 2^n s] plus nothing else: the limiter is
// wide), every attempt takes a limiter slot and is observed, and the
// error carries the last status.
func TestBackoff503(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var h hits
		srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := h.add(r)
			if n == 6 {
				w.WriteHeader(http.StatusBadGateway)
				_, _ = io.WriteString(w, "bad gateway "+r.URL.RawQuery) // echoes the key
				return
			}
			w.WriteHeader(http.StatusServiceUnavailable)
		})
		var obs attempts
		lim := wide()
		c, _ := newClient(t, srv, nil, extract.WithLimiter(lim), extract.WithObserver(obs.observe))
		_, err := c.Fetch(t.Context(), extract.Item{Stream: extract.StreamSequences, CampaignID: 77})
		var ae *extract.APIError
		require.ErrorAs(t, err, &ae)
		require.Equal(t, http.StatusBadGateway, ae.Status)
		require.Equal(t, 6, ae.Attempts)
		require.Equal(t, "/campaigns/{id}/sequences", ae.Endpoint)
		require.EqualValues(t, 77, ae.CampaignID)
		require.Contains(t, ae.Body, "api_key=REDACTED")
		assertNoKey(t, err)

		ts := h.times()
		require.Len(t, ts, 6)
		for i := 1; i < len(ts); i++ {
			ceil := time.Duration(1<<(i-1)) * time.Second // 1, 2, 4, 8, 16 s
			require.LessOrEqual(t, ts[i].Sub(ts[i-1]), ceil, "gap before attempt %d", i+1)
		}
		as := obs.all()
		require.Len(t, as, 6)
		for i, a := range as {
			require.Equal(t, i+1, a.Attempt)
			require.Equal(t, "/campaigns/{id}/sequences", a.Endpoint)
			require.EqualValues(t, 77, a.CampaignID)
			require.Equal(t, -1, a.RateRemaining)
			require.NotEmpty(t, a.Err)
			if i > 0 {
				require.Equal(t, ts[i].Sub(ts[i-1]), a.Waited, "Waited is the backoff (the limiter is wide)")
			}
		}
		require.Equal(t, 503, as[0].Status)
		require.Equal(t, 502, as[5].Status)
		require.EqualValues(t, 6, lim.Stats().Reservations, "every attempt took a limiter slot")
		s := c.Stats()
		require.EqualValues(t, 6, s.Requests)
		require.EqualValues(t, 5, s.Retries)
		require.Equal(t, ts[5].Sub(ts[0]), s.Waited)
	})
}

// TestBackoff503RetryAfter: a 503 that says when to come back is believed.
func TestBackoff503RetryAfter(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var h hits
		srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if h.add(r) == 1 {
				w.Header().Set("Retry-After", "20")
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			_, _ = io.WriteString(w, `[]`)
		})
		c, _ := newClient(t, srv, nil)
		_, err := c.Fetch(t.Context(), campaignsItem)
		require.NoError(t, err)
		ts := h.times()
		require.Len(t, ts, 2)
		require.Equal(t, 20*time.Second, ts[1].Sub(ts[0]))
	})
}

// TestNotRetried: other 4xx fail at once with a typed error.
func TestNotRetried(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		is     error
	}{
		{http.StatusBadRequest, nil},
		{http.StatusUnauthorized, extract.ErrUnauthorized},
		{http.StatusForbidden, extract.ErrUnauthorized},
		{http.StatusNotFound, extract.ErrNotFound},
		{http.StatusUnprocessableEntity, nil},
		{http.StatusNotImplemented, nil},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var h hits
				srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					h.add(r)
					w.WriteHeader(tc.status)
					_, _ = io.WriteString(w, `{"message": "Invalid API Key `+r.URL.Query().Get("api_key")+`"}`)
				})
				c, logs := newClient(t, srv, nil)
				_, err := c.Fetch(t.Context(), extract.Item{Stream: extract.StreamLeads, CampaignID: 3})
				var ae *extract.APIError
				require.ErrorAs(t, err, &ae)
				require.Equal(t, tc.status, ae.Status)
				require.Equal(t, 1, ae.Attempts)
				require.Equal(t, 1, h.n(), "not retried")
				if tc.is != nil {
					require.ErrorIs(t, err, tc.is)
				} else {
					require.NotErrorIs(t, err, extract.ErrUnauthorized)
					require.NotErrorIs(t, err, extract.ErrNotFound)
				}
				require.Contains(t, err.Error(), "Invalid API Key REDACTED")
				require.Contains(t, err.Error(), "(campaign 3)")
				assertNoKey(t, err)
				require.NotContains(t, logs.String(), testKey)
			})
		})
	}
}

// TestDroppedConnectionsRetried: a connection closed without a response
// (hijacked, or an aborted handler) is a transport error and is retried.
func TestDroppedConnectionsRetried(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var h hits
		srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch h.add(r) {
			case 1:
				conn, _, err := w.(http.Hijacker).Hijack()
				assert.NoError(t, err)
				_ = conn.Close()
			case 2:
				panic(http.ErrAbortHandler)
			default:
				_, _ = io.WriteString(w, `[{"id": 5}]`)
			}
		})
		var obs attempts
		c, _ := newClient(t, srv, nil, extract.WithObserver(obs.observe))
		p, err := c.Fetch(t.Context(), campaignsItem)
		require.NoError(t, err)
		require.Len(t, p.Records, 1)
		require.Equal(t, 3, h.n())
		as := obs.all()
		require.Len(t, as, 3)
		require.Zero(t, as[0].Status)
		require.Contains(t, as[0].Err, "connection reset")
		require.Contains(t, as[0].Err, "api_key=REDACTED")
		require.NotContains(t, as[0].Err, testKey)
		require.Equal(t, 200, as[2].Status)
		require.Empty(t, as[2].Err)
		require.EqualValues(t, 2, c.Stats().Retries)
	})
}

// TestDroppedForever: transport errors that never stop give a
// *TransportError after 6 attempts, with the URL redacted.
func TestDroppedForever(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) })
		c, _ := newClient(t, srv, nil)
		_, err := c.Fetch(t.Context(), campaignsItem)
		var te *extract.TransportError
		require.ErrorAs(t, err, &te)
		require.Equal(t, 6, te.Attempts)
		require.Contains(t, err.Error(), "api_key=REDACTED")
		assertNoKey(t, err)
	})
}

// TestAttemptTimeout: the per-attempt timeout cuts a hung request (which is
// then retried) but never a long limiter wait.
func TestAttemptTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var h hits
		srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if h.add(r) == 1 {
				time.Sleep(2 * time.Minute) // hung server
			}
			_, _ = io.WriteString(w, `[]`)
		})
		lim := ratelimit.New([]ratelimit.Window{{Len: 10 * time.Minute, Max: 2}})
		var obs attempts
		c, _ := newClient(t, srv, nil, extract.WithLimiter(lim), extract.WithAttemptTimeout(5*time.Second), extract.WithObserver(obs.observe))
		start := time.Now()
		_, err := c.Fetch(t.Context(), campaignsItem)
		require.NoError(t, err)
		as := obs.all()
		require.Len(t, as, 2)
		require.Equal(t, 5*time.Second, as[0].Duration)
		require.Contains(t, as[0].Err, "deadline exceeded")
		require.NotContains(t, as[0].Err, testKey)

		// The window (2 per 10 min) is now full: the next request waits
		// about ten minutes in the limiter, far past the 5 s attempt
		// timeout, and still succeeds.
		_, err = c.Fetch(t.Context(), campaignsItem)
		require.NoError(t, err)
		require.GreaterOrEqual(t, time.Since(start), 10*time.Minute)
		require.Equal(t, 3, h.n())
	})
}

// TestContextWinsOverTransport: cancelling mid-request or mid-backoff
// returns the context's error, promptly, not a transport error.
func TestContextWinsOverTransport(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select { // a slow server that notices the client hanging up
			case <-time.After(time.Minute):
			case <-r.Context().Done():
			}
		})
		c, _ := newClient(t, srv, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.Fetch(ctx, campaignsItem)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		var te *extract.TransportError
		require.False(t, errors.As(err, &te), "a cancelled job is not a transport failure")
		require.Equal(t, 3*time.Second, time.Since(start))
	})
	synctest.Test(t, func(t *testing.T) {
		srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
		c, _ := newClient(t, srv, nil)
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(1500*time.Millisecond, cancel)
		start := time.Now()
		_, err := c.Fetch(ctx, campaignsItem)
		require.ErrorIs(t, err, context.Canceled)
		require.Equal(t, 1500*time.Millisecond, time.Since(start))
	})
}

// TestKeyNeverLeaks drives real sockets (outside any bubble): a 500 whose
// body echoes the URL, a 401, and a refused connection. No error text, no
// observed attempt and no log line may contain the key.
func TestKeyNeverLeaks(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.Path, "/campaigns/1/"):
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = fmt.Fprintf(w, "internal error while serving %s (key %s, escaped %s)", r.URL.String(), r.URL.Query().Get("api_key"), r.URL.RawQuery)
		case strings.Contains(r.URL.Path, "/campaigns/2/"):
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = fmt.Fprintf(w, `{"message": "Invalid API Key %s"}`, r.URL.Query().Get("api_key"))
		case strings.Contains(r.URL.Path, "/campaigns/3/"):
			w.Header().Set("Retry-After", "99999")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = fmt.Fprintf(w, `{"error": {"message": "slow down, %s"}}`, r.URL.Query().Get("api_key"))
		default:
			_, _ = io.WriteString(w, `{"id": 1}`)
		}
	}))
	t.Cleanup(srv.Close)

	// A port nobody listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	refused := "http://" + ln.Addr().String() + "/api/v1"
	require.NoError(t, ln.Close())

	log, logs := testLogger(t)
	var obs attempts
	mk := func(base string) *extract.Client {
		c, err := extract.NewClient(testKey, extract.WithBaseURL(base), extract.WithLimiter(wide()),
			extract.WithLogger(log), extract.WithObserver(obs.observe), extract.WithRetry(2, time.Millisecond, 2*time.Millisecond))
		require.NoError(t, err)
		return c
	}
	good := mk(srv.URL + "/api/v1")
	var errs []error
	for id := int64(1); id <= 4; id++ {
		_, err := good.Fetch(t.Context(), extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: id})
		errs = append(errs, err)
	}
	require.Error(t, errs[0])
	require.ErrorIs(t, errs[1], extract.ErrUnauthorized)
	require.ErrorIs(t, errs[2], extract.ErrRateLimited)
	require.NoError(t, errs[3])

	_, err = mk(refused).Fetch(t.Context(), campaignsItem)
	var te *extract.TransportError
	require.ErrorAs(t, err, &te)
	require.Contains(t, err.Error(), "api_key=REDACTED")
	require.Contains(t, err.Error(), "refused")
	errs = append(errs, err)

	for _, e := range errs[:3] {
		assertNoKey(t, e)
	}
	assertNoKey(t, err)
	require.Contains(t, errs[0].Error(), "(key REDACTED, escaped api_key=REDACTED)")
	for _, a := range obs.all() {
		require.NotContains(t, a.Err, testKey)
		require.NotContains(t, a.Endpoint, testKey)
	}
	require.NotEmpty(t, logs.String())
	require.NotContains(t, logs.String(), testKey)
}
