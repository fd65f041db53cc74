package main

import (
	"bufio"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/load/journal"
)

func TestWebhooksCommands(t *testing.T) {
	fake, base := startFake(t, fakeOpts{})
	db := filepath.Join(t.TempDir(), "w.duckdb")
	key := "SMARTLEAD_API_KEY=" + testKey
	args := func(a ...string) []string {
		return append(a, "--db", db, "--base-url", base, "--limits", "200/1s,6000/1m,100000/1h")
	}

	r := runBinary(t, args("webhooks", "register", "--url", "http://hooks.example.com/webhooks/smartlead"), key)
	assert.Equal(t, 2, r.code, r.all())
	assert.Contains(t, r.stderr, "use https")
	r = runBinary(t, args("webhooks", "register", "--url", "https://hooks.example.com/w", "--campaign", "1", "--client", "2"), key)
	assert.Equal(t, 2, r.code, r.all())
	r = runBinary(t, args("webhooks", "register", "--url", "https://hooks.example.com/w", "--events", "EMAIL_SENT,EMAIL_SNET"), key)
	assert.Equal(t, 2, r.code, r.all())
	assert.Contains(t, r.stderr, `unknown event type "EMAIL_SNET"`)
	r = runBinary(t, args("webhooks", "register", "--url", "https://hooks.example.com/w"))
	assert.Equal(t, 2, r.code, "no API key")
	assert.Empty(t, fake.Registrations())

	// Plain http is fine to a loopback receiver.
	r = runBinary(t, args("webhooks", "register", "--url", "http://127.0.0.1:8788/webhooks/smartlead", "--events", "EMAIL_REPLIED,EMAIL_SENT"), key)
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stdout, "registered webhook 901 (user-level)")
	regs := fake.Registrations()
	require.Len(t, regs, 1)
	assert.Equal(t, []string{"EMAIL_REPLY", "EMAIL_SENT"}, regs[0].EventTypes, "spellings normalised")

	campaign := fake.Truth().Campaigns[0].ID
	r = runBinary(t, args("webhooks", "register", "--url", "https://hooks.example.com/w", "--campaign", itoa(campaign)), key)
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stdout, "registered webhook 902 (campaign-level)")

	r = runBinary(t, args("webhooks", "list", "--campaign", itoa(campaign)), key)
	require.Equal(t, 0, r.code, r.all())
	assert.Regexp(t, `901\s+user\s+active`, r.stdout)
	assert.Regexp(t, `902\s+c\d+\s+active`, r.stdout)
	assert.Contains(t, r.stdout, `"association_type":"campaign"`)

	r = runBinary(t, args("webhooks", "delete", "901"), key)
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stdout, "deleted webhook 901")
	r = runBinary(t, args("webhooks", "delete", "901"), key)
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stdout, "does not exist")
	r = runBinary(t, args("webhooks", "list"), key)
	require.Equal(t, 0, r.code, r.all())
	assert.NotContains(t, r.stdout, "901")
	assert.NotContains(t, r.all(), testKey)

	// Every call went through the ledger, as a run's requests do.
	conn := openDB(t, db)
	assert.EqualValues(t, 2, scalar[int64](t, conn, `SELECT count(*) FROM api_requests WHERE endpoint = 'POST /webhook/create'`))
	assert.EqualValues(t, 2, scalar[int64](t, conn, `SELECT count(*) FROM api_requests WHERE endpoint = 'DELETE /webhook/delete'`))
	assert.EqualValues(t, fake.Stats().Requests, scalar[int64](t, conn, `SELECT count(*) FROM api_requests WHERE status <> 401`))
	assert.EqualValues(t, 1, scalar[int64](t, conn, `SELECT count(*) FROM webhook_registrations WHERE deleted_at IS NULL`))
	assert.Zero(t, scalar[int64](t, conn, `SELECT count(*) FROM api_requests WHERE endpoint LIKE '%`+testKey+`%' OR error LIKE '%`+testKey+`%'`))

	// ... and through the request journal first, each marked as in the
	// ledger: nothing for the next start to recover, nothing missing from
	// its quota memory.
	st, err := journal.Read(journal.Path(db))
	require.NoError(t, err)
	creates := 0
	for _, e := range st.Entries {
		assert.True(t, e.Flushed, "%s not marked as in the ledger", e.Attempt.Endpoint)
		if e.Attempt.Endpoint == "POST /webhook/create" {
			creates++
		}
	}
	assert.Equal(t, 2, creates)
	assert.Empty(t, st.Orphans())
}

// listen runs in the foreground, logs JSON without a terminal, refuses a
// wrong secret, and on SIGTERM answers what it has, merges and exits 0.
func TestListenCommand(t *testing.T) {
	const secret = "whsec-cli-test-91b2"
	db := filepath.Join(t.TempDir(), "w.duckdb")
	cmd := command(t, []string{"listen", "--addr", "127.0.0.1:0", "--db", db}, "SMARTLEAD_WEBHOOK_SECRET="+secret)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(out)
	require.True(t, sc.Scan(), stderr.String())
	line := sc.Text()
	require.Contains(t, line, "receiving SmartLead webhooks at http://")
	url := strings.Fields(strings.TrimPrefix(line, "receiving SmartLead webhooks at "))[0]
	base := strings.TrimSuffix(url, "/webhooks/smartlead")

	post := func(body string) int {
		resp, err := http.Post(url, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, 200, post(`{"event_type":"EMAIL_REPLY","event_timestamp":"2026-11-27T10:00:00Z","campaign_id":1,"secret_key":"`+secret+`"}`))
	assert.Equal(t, 401, post(`{"event_type":"EMAIL_REPLY","event_timestamp":"2026-11-27T10:00:00Z","campaign_id":2,"secret_key":"nope"}`))
	assert.Equal(t, 400, post(`{"secret_key":"`+secret+`", broken`))
	resp, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)

	start := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	require.NoError(t, cmd.Wait(), stderr.String())
	// Idle keep-alive connections do not hold the stop for the 25 s
	// shutdown grace (loose bound: CI machines are slow).
	assert.Less(t, time.Since(start), 20*time.Second)
	logs := stderr.String()
	assert.Contains(t, logs, `"msg":"webhook receiver stopped"`)
	assert.Contains(t, logs, `"msg":"webhook: delivery refused"`)
	assert.NotContains(t, logs, secret)

	conn := openDB(t, db)
	assert.EqualValues(t, 1, scalar[int64](t, conn, `SELECT count(*) FROM email_events WHERE event_type = 'EMAIL_REPLY'`))
	assert.EqualValues(t, 1, scalar[int64](t, conn, `SELECT count(*) FROM webhook_rejects`))
	assert.Zero(t, scalar[int64](t, conn, `SELECT count(*) FROM webhook_rejects WHERE body_excerpt LIKE '%`+secret+`%'`))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// lockedBuffer is a strings.Builder a child process writes to while the
// test reads it.
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
