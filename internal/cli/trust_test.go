package cli

import (
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countingServer is a listener on addr that counts every request.
func countingServer(t *testing.T, addr string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	ln, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &n
}

// nonLoopbackIP returns an address of this machine that is not loopback,
// or "" when it has none.
func nonLoopbackIP(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP.String()
		}
	}
	return ""
}

// TestBaseURLRefusedBeforeAnyRequest: plain http to a host that is not
// loopback (the key would travel unencrypted) and a base URL with userinfo
// are configuration errors (exit 2): no request reaches the listener, no
// warehouse is created, and the password is never echoed.
func TestBaseURLRefusedBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	srv, hits := countingServer(t, "127.0.0.1:0")
	host := strings.TrimPrefix(srv.URL, "http://")
	bases := []string{"http://someuser:PASSWORD-9f8e@" + host + "/api/v1", "https://PASSWORD-9f8e@server.smartlead.ai/api/v1"}
	if ip := nonLoopbackIP(t); ip != "" {
		other, otherHits := countingServer(t, ip+":0")
		bases = append(bases, other.URL+"/api/v1")
		t.Cleanup(func() { assert.Zero(t, otherHits.Load(), "a request went to the non-loopback listener") })
	} else {
		t.Log("no non-loopback address: plain http to one is covered by extract's tests only")
	}
	bases = append(bases, "http://server.smartlead.ai/api/v1")
	for _, base := range bases {
		for _, cmd := range []string{"run", "plan"} {
			db := filepath.Join(t.TempDir(), "w.duckdb")
			if cmd == "plan" {
				require.NoError(t, os.WriteFile(db, nil, 0o600)) // plan needs a warehouse to exist
			}
			r := runCLI(t, []string{cmd, "--db", db, "--base-url", base}, "SMARTLEAD_API_KEY="+testKey)
			require.Equal(t, 2, r.code, "%s %s: %s", cmd, base, r.all())
			require.Contains(t, r.stderr, "--base-url")
			require.NotContains(t, r.all(), "PASSWORD-9f8e")
			require.NotContains(t, r.all(), testKey)
			if cmd == "run" {
				_, err := os.Stat(db)
				require.ErrorIs(t, err, fs.ErrNotExist, "a warehouse was created for a refused configuration")
			}
		}
	}
	require.Zero(t, hits.Load(), "a request reached the server")
}

// TestRedirectFailsTheRunAndLeaksNothing: the API redirects to a second
// listener. The run fails (exit 1) naming the status and the other host;
// the second listener receives nothing, so no header, URL or body of its
// carries the key.
func TestRedirectFailsTheRunAndLeaksNothing(t *testing.T) {
	t.Parallel()
	other, otherHits := countingServer(t, "127.0.0.1:0")
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/api/v1/campaigns/?token=QUERY-SECRET-1", http.StatusMovedPermanently)
	}))
	t.Cleanup(api.Close)
	db := filepath.Join(t.TempDir(), "w.duckdb")
	r := runCLI(t, runArgs(db, api.URL+"/api/v1"), "SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 1, r.code, r.all())
	require.Zero(t, otherHits.Load(), "the redirect was followed")
	require.Contains(t, r.stderr, "301 Moved Permanently redirecting to host "+strings.TrimPrefix(other.URL, "http://"))
	require.Contains(t, r.stderr, "redirects are not followed")
	require.NotContains(t, r.all(), "QUERY-SECRET-1")
	require.NotContains(t, r.all(), testKey)
}

// TestPlanRequestsReachTheLedger: plan's own request (the campaign list)
// is spent quota like any other. plan journals it; the next run writes it
// to api_requests, so after run, plan, run the ledger holds every request
// the server saw.
func TestPlanRequestsReachTheLedger(t *testing.T) {
	t.Parallel()
	fake, base := startFake(t, fakeOpts{campaigns: 2, leads: 10})
	db := filepath.Join(t.TempDir(), "w.duckdb")
	env := "SMARTLEAD_API_KEY=" + testKey
	r := runCLI(t, runArgs(db, base), env)
	require.Equal(t, 0, r.code, r.all())
	before := fake.Stats().Requests
	r = runCLI(t, []string{"plan", "--db", db, "--base-url", base, "--limits", "200/1s,6000/1m,100000/1h"}, env)
	require.Equal(t, 0, r.code, r.all())
	require.Greater(t, fake.Stats().Requests, before, "plan made its request")
	r = runCLI(t, runArgs(db, base), env)
	require.Equal(t, 0, r.code, r.all())
	conn := openDB(t, db)
	require.EqualValues(t, fake.Stats().Requests, scalar[int64](t, conn, "SELECT count(*) FROM api_requests"),
		"the ledger holds every request the server saw, plan's included")
}
