package extract_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
)

// Tests in this file go through the real net/http stack over loopback TCP:
// the transport's connection reuse, its silent re-sends and the client's
// redirect handling only exist there. They run in real time, so they are
// kept to a few seconds each.

// connKey marks a server connection's request counter in its context.
type connKey struct{}

// dropper serves h, except that every nth request arriving on a reused
// connection (not the first on its connection) is read and then answered
// by closing the connection: the race a server's keep-alive timeout
// causes. It records when every request reached it, dropped ones included.
type dropper struct {
	h       http.Handler
	nth     int64
	reused  atomic.Int64
	dropped atomic.Int64
	hits    hits
}

func (d *dropper) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.hits.add(r)
	onConn := r.Context().Value(connKey{}).(*atomic.Int64).Add(1)
	if onConn > 1 && d.reused.Add(1)%d.nth == 0 {
		d.dropped.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return
	}
	d.h.ServeHTTP(w, r)
}

func startDropper(t *testing.T, d *dropper) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(d)
	srv.Config.ConnContext = func(ctx context.Context, _ net.Conn) context.Context {
		return context.WithValue(ctx, connKey{}, new(atomic.Int64))
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// TestReusedConnectionDropsAreCharged: a server that closes every 7th
// reused connection without answering. net/http's Transport re-sends an
// idempotent GET in that case on its own; every request that reached the
// server must have gone through the limiter (no rolling second holds more
// than the limit) and be counted and in the ledger.
func TestReusedConnectionDropsAreCharged(t *testing.T) {
	t.Parallel()
	fake := fakeapi.New(fakeapi.Config{Seed: 3, APIKey: testKey, Campaigns: 10, LeadsPerCampaign: 2})
	d := &dropper{h: fake, nth: 7}
	srv := startDropper(t, d)

	// The guard is the margin for a send reaching the server later than
	// the limiter granted it; the race detector on a loaded machine can
	// stretch that past the default. A re-send the limiter never saw goes
	// out within the same burst, so a wider guard does not hide one.
	const perSecond = 16
	lim := ratelimit.New([]ratelimit.Window{{Len: time.Second, Max: perSecond}}, ratelimit.WithGuard(time.Second))
	var obs attempts
	jr := &countingJournal{}
	c, err := extract.NewClient(testKey,
		extract.WithBaseURL(srv.URL+fakeapi.BasePath),
		extract.WithLimiter(lim),
		extract.WithObserver(obs.observe),
		extract.WithJournal(jr),
		extract.WithRetry(5, time.Millisecond, 10*time.Millisecond))
	require.NoError(t, err)

	const n = 80
	require.NoError(t, c.Crawl(t.Context(), analyticsItems(fake, n), 8, discard))

	at := d.hits.times()
	st := c.Stats()
	maxSec := fakeapi.MaxInWindow(at, time.Second)
	resent := 0
	for _, a := range obs.all() {
		if strings.Contains(a.Err, "the transport sent the request again") {
			resent++
		}
	}
	t.Logf("server saw %d requests (%d dropped on reused connections); client counted %d (%d retries), ledger %d rows (%d re-sent by the transport); max in a rolling second %d (limit %d)",
		len(at), d.dropped.Load(), st.Requests, st.Retries, len(obs.all()), resent, maxSec, perSecond)
	require.Positive(t, d.dropped.Load(), "the test must drop some reused connections")
	require.Positive(t, resent, "the transport's own re-sends must be seen")
	require.EqualValues(t, len(at), st.Requests, "every request that reached the server is counted")
	require.Len(t, obs.all(), len(at), "every request that reached the server is in the ledger")
	require.LessOrEqual(t, maxSec, perSecond, "requests the limiter never saw")
	sending, answered := jr.counts()
	require.Equal(t, len(at), sending, "every send is journaled before it goes out")
	require.Equal(t, len(at), answered, "every send's outcome is journaled")
}

// countingJournal counts what the client journals.
type countingJournal struct {
	mu                sync.Mutex
	sending, answered int
	ids               map[string]bool
}

func (j *countingJournal) Sending(extract.Attempt) (string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.sending++
	return fmt.Sprint(j.sending), nil
}

func (j *countingJournal) Answered(id string, _ extract.Attempt) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.ids == nil {
		j.ids = map[string]bool{}
	}
	if !j.ids[id] {
		j.ids[id] = true
		j.answered++
	}
}

func (j *countingJournal) counts() (int, int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.sending, j.answered
}

// recorder is a listener that keeps everything it receives.
type recorder struct {
	mu  sync.Mutex
	got []string // request line, headers and body of each request
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	var b strings.Builder
	b.WriteString(req.Method + " " + req.RequestURI + "\n")
	for k, vs := range req.Header {
		b.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	b.Write(body)
	r.mu.Lock()
	r.got = append(r.got, b.String())
	r.mu.Unlock()
	_, _ = io.WriteString(w, `[{"id": 9}]`)
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

// TestRedirectToAnotherHostCarriesNoKey: the API answers with a redirect
// to a second listener. The key is in the request's query, so following
// it would hand the key over (in the Referer at least). The second
// listener must receive nothing with the key, no request may carry a
// Referer, and the error names the status and the Location's host but
// not its query.
func TestRedirectToAnotherHostCarriesNoKey(t *testing.T) {
	t.Parallel()
	other := &recorder{}
	evil := httptest.NewServer(other)
	t.Cleanup(evil.Close)
	evilURL, err := url.Parse(evil.URL)
	require.NoError(t, err)

	var referers atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Referer") != "" {
			referers.Add(1)
		}
		http.Redirect(w, r, evil.URL+"/api/v1/campaigns/?token=SECRETQUERY", http.StatusFound)
	}))
	t.Cleanup(api.Close)

	var obs attempts
	c, err := extract.NewClient(testKey, extract.WithBaseURL(api.URL+"/api/v1"), extract.WithLimiter(wide()),
		extract.WithObserver(obs.observe))
	require.NoError(t, err)
	_, err = c.Fetch(t.Context(), campaignsItem)

	for _, req := range other.all() {
		require.NotContains(t, req, testKey, "the redirect target received the key")
	}
	require.Empty(t, other.all(), "a redirect to another host is never followed")
	require.Zero(t, referers.Load(), "no request carries a Referer")
	require.Error(t, err, "a redirect is an error")
	assertNoKey(t, err)
	require.Contains(t, err.Error(), "302")
	require.Contains(t, err.Error(), evilURL.Host)
	require.NotContains(t, err.Error(), "SECRETQUERY")
	require.Len(t, obs.all(), 1)
	require.Equal(t, http.StatusFound, obs.all()[0].Status)
}

func TestCheckBaseURL(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{
		"https://server.smartlead.ai/api/v1", "https://example.com", "http://127.0.0.1:8787/api/v1",
		"http://127.9.9.9/api/v1", "http://[::1]:80/api/v1", "http://localhost/api/v1", "http://LOCALHOST:1/x",
	} {
		require.NoError(t, extract.CheckBaseURL(ok), ok)
	}
	for _, c := range []struct{ url, want string }{
		{"http://server.smartlead.ai/api/v1", "unencrypted"},
		{"http://10.0.0.1/api/v1", "unencrypted"},
		{"http://localhost.evil.example/api/v1", "unencrypted"},
		{"http://[::ffff:8.8.8.8]/api/v1", "unencrypted"},
		{"ftp://x/api", "https://"},
		{"server.smartlead.ai/api/v1", "https://"},
		{"https://x/api?api_key=QUERYSECRET", "query"},
		{"https://x/api#QUERYSECRET", "fragment"},
		{"https://user:PASSWORDSECRET@server.smartlead.ai/api/v1", "user name or password"},
		{"http://user:PASSWORDSECRET@127.0.0.1/api/v1", "user name or password"},
		{"https://USERSECRET@server.smartlead.ai/api/v1", "user name or password"},
		{"https://a b/%zz PASSWORDSECRET", "not a URL"},
	} {
		err := extract.CheckBaseURL(c.url)
		require.Error(t, err, c.url)
		require.Contains(t, err.Error(), c.want, c.url)
		require.NotContains(t, err.Error(), "SECRET", "the error echoes a secret part of %s", c.url)
		_, err = extract.NewClient(testKey, extract.WithBaseURL(c.url))
		require.Error(t, err, "NewClient accepts %s", c.url)
		require.NotContains(t, err.Error(), "SECRET")
	}
}

// IsLoopback is the one loopback check (base URL, webhook receiver):
// host names compare in any case, as DNS does.
func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"localhost", "LOCALHOST", "LocalHost", "127.0.0.1", "127.8.9.1", "::1", "::ffff:127.0.0.1"} {
		require.True(t, extract.IsLoopback(h), h)
	}
	for _, h := range []string{"", "example.com", "localhost.evil.example", "10.0.0.1", "0.0.0.0", "::", "::ffff:8.8.8.8", "[::1]"} {
		require.False(t, extract.IsLoopback(h), h)
	}
}
