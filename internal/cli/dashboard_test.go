package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func requirePage(t *testing.T, path, warehouse string) string {
	t.Helper()
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the page holds campaign data")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	s := string(b)
	assert.True(t, strings.HasPrefix(s, "<!DOCTYPE html>"))
	assert.Contains(t, s, `"warehouse":"`+warehouse+`"`)
	assert.NotContains(t, s, filepath.Dir(path), "no directory on the page")
	assert.NotContains(t, s, testKey)
	return s
}

func TestDashboardAfterRunAndOnDemand(t *testing.T) {
	t.Parallel()
	_, base := startFake(t, fakeOpts{campaigns: 4, leads: 30})
	dir := t.TempDir()
	db := filepath.Join(dir, "wh.duckdb")
	after := filepath.Join(dir, "after-run.html")
	r := runCLI(t, runArgs(db, base, "--dashboard", after), "SMARTLEAD_API_KEY="+testKey)
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stderr, `"msg":"dashboard written"`)
	requirePage(t, after, "wh.duckdb")

	out := filepath.Join(dir, "d.html")
	require.NoError(t, os.WriteFile(out, []byte("stale"), 0o644))
	r = runCLI(t, []string{"dashboard", "--db", db, "--out", out})
	require.Equal(t, 0, r.code, r.all())
	assert.Contains(t, r.stdout, "dashboard written to "+out)
	requirePage(t, out, "wh.duckdb")

	r = runCLI(t, []string{"dashboard", "--db", db})
	assert.Equal(t, 2, r.code, r.all())
	assert.Contains(t, r.stderr, "--out FILE.html is required")
	r = runCLI(t, []string{"dashboard", "--db", filepath.Join(dir, "missing.duckdb"), "--out", out})
	assert.Equal(t, 2, r.code, r.all())
}
