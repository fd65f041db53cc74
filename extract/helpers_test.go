package extract_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
)

// testKey is recognisable so that any leak of it into an error, a log line
// or a record is caught by assertNoKey.
const testKey = "sk-LEAKCANARY-7f3e9a1c5d"

// memTransport serves requests by calling a handler in-process. Inside a
// testing/synctest bubble an httptest.Server cannot be used (real sockets
// are never "durably blocked"), so this is the network: up is how long a
// request travels before the server sees it, down is how long the answer
// takes to come back (server work plus travel). A handler that hijacks the
// connection or aborts becomes a transport error, like a dropped
// connection.
type memTransport struct {
	h    http.Handler
	up   func() time.Duration
	down func() time.Duration
}

var errDropped = errors.New("read tcp 192.0.2.1:1234->192.0.2.2:443: connection reset by peer")

func (m *memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if m.up != nil {
		if err := sleepCtx(ctx, m.up()); err != nil {
			return nil, err
		}
	}
	sreq := req.Clone(ctx)
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "192.0.2.1:1234"
	rec := &hijackRecorder{ResponseRecorder: httptest.NewRecorder()}
	done := make(chan any, 1)
	go func() {
		defer func() { done <- recover() }()
		m.h.ServeHTTP(rec, sreq)
	}()
	var p any
	select {
	case p = <-done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if p != nil && p != http.ErrAbortHandler {
		panic(p)
	}
	if p != nil || rec.hijacked {
		return nil, errDropped
	}
	if m.down != nil {
		if err := sleepCtx(ctx, m.down()); err != nil {
			return nil, err
		}
	}
	res := rec.Result()
	res.Request = req
	return res, nil
}

type hijackRecorder struct {
	*httptest.ResponseRecorder
	hijacked bool
}

func (r *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	r.hijacked = true
	a, b := net.Pipe()
	_ = b.Close() // whatever the handler writes goes nowhere
	return a, bufio.NewReadWriter(bufio.NewReader(a), bufio.NewWriter(a)), nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testLogger captures debug-level logs and, when the test ends, checks
// that no line carries the API key.
func testLogger(t testing.TB) (*slog.Logger, *syncBuffer) {
	t.Helper()
	buf := &syncBuffer{}
	t.Cleanup(func() {
		if strings.Contains(buf.String(), testKey) {
			t.Errorf("a log line contains the API key:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// assertNoKey fails if err's text (or any wrapped error's) holds the key.
func assertNoKey(t testing.TB, err error) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		require.NotContains(t, e.Error(), testKey, "error text leaks the API key")
	}
}

// wide is a limiter that never makes anyone wait, for tests about
// something else.
func wide() *ratelimit.Limiter {
	return ratelimit.New([]ratelimit.Window{{Len: time.Second, Max: 100000}}, ratelimit.WithRand(rand.New(rand.NewPCG(1, 2))))
}

// standard is the standard tier at the given headroom, as the CLI builds it.
func standard(t testing.TB, headroom float64, seed uint64) *ratelimit.Limiter {
	t.Helper()
	raw, err := ratelimit.Preset("standard")
	require.NoError(t, err)
	scaled, err := ratelimit.Scale(raw, headroom)
	require.NoError(t, err)
	return ratelimit.New(scaled, ratelimit.WithServerWindows(raw), ratelimit.WithRand(rand.New(rand.NewPCG(seed, 7))))
}

// newClient builds a client whose network is h, in-process. Options given
// later override the defaults here (limiter, logger, rand).
func newClient(t testing.TB, h http.Handler, tr *memTransport, opts ...extract.Option) (*extract.Client, *syncBuffer) {
	t.Helper()
	if tr == nil {
		tr = &memTransport{}
	}
	tr.h = h
	log, buf := testLogger(t)
	base := []extract.Option{
		extract.WithBaseURL("http://localhost/api/v1"),
		extract.WithHTTPClient(&http.Client{Transport: tr}),
		extract.WithLimiter(wide()),
		extract.WithLogger(log),
		extract.WithRand(rand.New(rand.NewPCG(42, 43))),
	}
	c, err := extract.NewClient(testKey, append(base, opts...)...)
	require.NoError(t, err)
	return c, buf
}

// hits records when the server saw each request, and its URL (for tests
// that check the query).
type hits struct {
	mu   sync.Mutex
	at   []time.Time
	urls []string
}

func (h *hits) add(r *http.Request) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.at = append(h.at, time.Now())
	h.urls = append(h.urls, r.URL.String())
	return len(h.at)
}

func (h *hits) times() []time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Time(nil), h.at...)
}

func (h *hits) n() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.at)
}

// attempts collects what the observer saw.
type attempts struct {
	mu sync.Mutex
	a  []extract.Attempt
}

func (a *attempts) observe(x extract.Attempt) {
	a.mu.Lock()
	a.a = append(a.a, x)
	a.mu.Unlock()
}

func (a *attempts) all() []extract.Attempt {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]extract.Attempt(nil), a.a...)
}
