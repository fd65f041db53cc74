package cli

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/load/journal"
)

func TestWebhooksCommands(t *testing.T) {
	t.Parallel()
	fake, base := startFake(t, fakeOpts{})
	db := filepath.Join(t.TempDir(), "w.duckdb")
	key := "SMARTLEAD_API_KEY=" + testKey
	args := func(a ...string) []string {
		return append(a, "--db", db, "--base-url", base, "--limits", "200/1s,6000/1m,100000/1h")
	}

	r := runCLI(t, args("webhooks", "register", "--url", "http://hooks.example.com/webhooks/smartlead"), key)
	assert.Equal(t, 2, r.code, r.all())
	assert.Contains(t, r.stderr, "use https")
	r = runCLI(t, args("webhooks", "register", "--url", "https://hooks.example.com/w", "--campaign", "1", "--client", "2"), key)
	assert.Equal(t, 2, r.code, r.all())
	r = runCLI(t, args("webhooks", "register", "--url", "https://hooks.example.com/w", "--events", "EMAIL_SENT,EMAIL_SNET"), key)
	assert.Equal(t, 2, r.code, r.all())
	assert.Contains(t, r.stderr, `unknown event type "EMAIL_SNET"`)
	r = runCLI(t, args("webhooks", "register", "--url", "https://hooks.example.com/w"))
	assert.Equal(t, 2, r.code, "no API key")
	assert.Empty(t, fake.Registrations())

	// Plain http is fine to a loopback receiver.
	r = runCLI(t, args("webhooks", "register", "--url", "http://127.0.0.1:8788/webhooks/smartlead", "--events", "EMAIL_REPLIED,EMAIL_SENT"), key)
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stdout, "registered webhook 901 (user-level)")
	regs := fake.Registrations()
	require.Len(t, regs, 1)
	assert.Equal(t, []string{"EMAIL_REPLY", "EMAIL_SENT"}, regs[0].EventTypes, "spellings normalised")

	campaign := fake.Truth().Campaigns[0].ID
	r = runCLI(t, args("webhooks", "register", "--url", "https://hooks.example.com/w", "--campaign", itoa(campaign)), key)
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stdout, "registered webhook 902 (campaign-level)")

	r = runCLI(t, args("webhooks", "list", "--campaign", itoa(campaign)), key)
	require.Equal(t, 0, r.code, r.all())
	assert.Regexp(t, `901\s+user\s+active`, r.stdout)
	assert.Regexp(t, `902\s+c\d+\s+active`, r.stdout)
	assert.Contains(t, r.stdout, `"association_type":"campaign"`)

	r = runCLI(t, args("webhooks", "delete", "901"), key)
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stdout, "deleted webhook 901")
	r = runCLI(t, args("webhooks", "delete", "901"), key)
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stdout, "does not exist")
	r = runCLI(t, args("webhooks", "list"), key)
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

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Plain http goes only to a loopback receiver, named in any case: the
// same check (extract.IsLoopback) as the API's base URL.
func TestWebhookSpecLoopback(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"http://LOCALHOST:8788/webhooks/smartlead", "http://localhost/w", "http://[::1]:8788/w", "https://hooks.example.com/w"} {
		_, err := webhookSpec(u, []string{"EMAIL_SENT"}, "", 0, 0)
		require.NoError(t, err, u)
	}
	for _, u := range []string{"http://hooks.example.com/w", "http://localhost.evil.example/w"} {
		_, err := webhookSpec(u, []string{"EMAIL_SENT"}, "", 0, 0)
		require.ErrorContains(t, err, "use https", u)
	}
}
