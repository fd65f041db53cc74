package cli

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
)

// The command tests run the command line in-process, as the binary would
// (App.Run with args, stdout and stderr), against the simulated API
// served without sockets (see router), with exactly the variables each
// test gives: never the user's environment.

const testKey = "sk-test-SECRET-7f3a9c"

type result struct {
	code           int
	stdout, stderr string
}

func (r result) all() string { return r.stdout + r.stderr }

// router serves each simulated API by its host (127.0.0.1:<fake port>)
// in the calling goroutine, which also works inside a synctest bubble;
// any other host goes out over loopback as usual.
type router struct {
	mu    sync.Mutex
	hosts map[string]http.RoundTripper
}

var (
	routes   = &router{hosts: map[string]http.RoundTripper{}}
	fakePort atomic.Int64
	// testClient carries every in-process command's API requests.
	testClient = &http.Client{Transport: routes, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
)

func (r *router) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	rt := r.hosts[req.URL.Host]
	r.mu.Unlock()
	if rt == nil {
		return http.DefaultTransport.RoundTrip(req)
	}
	if req.Body != nil { // the simulated server reads it after the transport closed the original
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	return rt.RoundTrip(req)
}

type fakeOpts struct {
	campaigns, leads int
	faults           fakeapi.Faults
	limits           string
}

// startFake serves a simulated account and returns its base URL.
func startFake(t *testing.T, o fakeOpts) (*fakeapi.Server, string) {
	t.Helper()
	if o.campaigns == 0 {
		o.campaigns = 3
	}
	if o.leads == 0 {
		o.leads = 120
	}
	if o.limits == "" {
		o.limits = testLimits
	}
	windows, err := ratelimit.Parse(o.limits)
	require.NoError(t, err)
	fake := fakeapi.New(fakeapi.Config{Seed: 7, APIKey: testKey, Campaigns: o.campaigns, LeadsPerCampaign: o.leads, Windows: windows, Faults: o.faults})
	host := fmt.Sprintf("127.0.0.1:%d", 40000+fakePort.Add(1))
	routes.mu.Lock()
	routes.hosts[host] = fake.Transport()
	routes.mu.Unlock()
	t.Cleanup(func() {
		routes.mu.Lock()
		delete(routes.hosts, host)
		routes.mu.Unlock()
	})
	return fake, "http://" + host + fakeapi.BasePath
}

const testLimits = "200/1s,6000/1m,100000/1h"

// app is the command line as the tests run it: the repository's SQL, the
// variables env (KEY=VALUE) and nothing else of the environment.
func app(env ...string) App {
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	return App{SQL: os.DirFS("../.."), Version: "test", HTTPClient: testClient,
		LookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok }}
}

// runCLI runs one command line to its end.
func runCLI(t *testing.T, args []string, env ...string) result {
	t.Helper()
	return runCtx(t.Context(), args, env...)
}

func runCtx(ctx context.Context, args []string, env ...string) result {
	var stdout, stderr lockedBuffer
	code := app(env...).Run(ctx, args, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

func runArgs(db, base string, extra ...string) []string {
	return append([]string{"run", "--db", db, "--base-url", base, "--limits", testLimits, "--log-format", "json"}, extra...)
}

func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", path+"?access_mode=read_only")
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func scalar[T any](t *testing.T, db *sql.DB, q string, args ...any) T {
	t.Helper()
	var v T
	require.NoError(t, db.QueryRow(q, args...).Scan(&v), q)
	return v
}

// oneLine asserts that stderr is exactly one line and returns it.
func oneLine(t *testing.T, r result) string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
	require.Len(t, lines, 1, "want one line, got:\n%s", r.stderr)
	return lines[0]
}

// lockedBuffer is a buffer a command writes to while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
