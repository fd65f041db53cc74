package load

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCrashMidLoad kills (SIGKILL) a process in the middle of loading a
// large snapshot: the warehouse then holds exactly the previous snapshot,
// and the next run succeeds.
func TestCrashMidLoad(t *testing.T) {
	const leads = 300_000
	path := filepath.Join(t.TempDir(), "wh.duckdb")
	before := previousSnapshot(t, path)

	h := startHelper(t, "crash-load", "LOAD_DB="+path, "LOAD_LEADS=300000")
	h.await(t, "staging")
	require.NoError(t, h.cmd.Process.Signal(syscall.SIGKILL))
	require.Error(t, h.cmd.Wait())

	s := openAt(t, path, Options{})
	require.Equal(t, before, contents(t, s.DB()), "views and history are exactly the previous snapshot")
	crashed := rowMaps(t, s.DB(), `SELECT run_id, status FROM etl_runs WHERE run_id <> (SELECT run_id FROM latest_run)`)
	require.Len(t, crashed, 1)
	assert.Equal(t, StatusRunning, crashed[0]["status"])
	staged := count(t, s.DB(), `SELECT count(*) FROM leads_rows WHERE run_id = ?`, crashed[0]["run_id"])
	assert.GreaterOrEqual(t, staged, int64(flushEvery), "the kill came after rows were staged")
	assert.Less(t, staged, int64(leads), "the kill came before the load finished")

	assertNextRunSucceeds(t, s, crashed[0]["run_id"])
}

// TestCrashAtCommit kills the process as it commits: the warehouse holds
// either the previous snapshot or the complete new one, never a mix.
func TestCrashAtCommit(t *testing.T) {
	const leads = 5_000
	path := filepath.Join(t.TempDir(), "wh.duckdb")
	before := previousSnapshot(t, path)

	h := startHelper(t, "crash-load", "LOAD_DB="+path, "LOAD_LEADS=5000")
	h.await(t, "committing")
	require.NoError(t, h.cmd.Process.Signal(syscall.SIGKILL))
	_ = h.cmd.Wait()

	s := openAt(t, path, Options{})
	runs := rowMaps(t, s.DB(), `SELECT run_id, status FROM etl_runs WHERE snapshot_date = ?`, day(2))
	require.Len(t, runs, 1)
	switch runs[0]["status"] {
	case StatusRunning:
		require.Equal(t, before, contents(t, s.DB()))
	case StatusSucceeded:
		require.Equal(t, runs[0]["run_id"], count2str(t, s, "SELECT max(run_id) FROM latest_run"))
		require.Equal(t, int64(leads+3), count(t, s.DB(), "SELECT count(*) FROM leads"))
		require.Equal(t, int64(leads+3), count(t, s.DB(), "SELECT count(*) FROM leads_history WHERE run_id = ?", runs[0]["run_id"]))
		require.Equal(t, int64(2), count(t, s.DB(), "SELECT count(*) FROM campaigns"))
	default:
		t.Fatalf("run status %q after a kill at commit", runs[0]["status"])
	}
	assertNextRunSucceeds(t, s, runs[0]["run_id"])
}

// previousSnapshot loads the snapshot a crash must preserve and returns
// the warehouse's contents.
func previousSnapshot(t *testing.T, path string) map[string][]string {
	t.Helper()
	s := openAt(t, path, Options{})
	b := fullBatch(1)
	b.Leads = append(b.Leads, synthLeads(101, 0, 1000)...)
	b.Totals = nil
	loadRunNoCleanup(t, s, day(1), b)
	before := contents(t, s.DB())
	require.NoError(t, s.Close())
	return before
}

func assertNextRunSucceeds(t *testing.T, s *Store, crashed string) {
	t.Helper()
	r, sum := loadRun(t, s, day(3), fullBatch(3))
	assert.Equal(t, StatusSucceeded, sum.Status)
	assert.Equal(t, int64(3), count(t, s.DB(), "SELECT count(*) FROM leads WHERE run_id = ?", r.ID()))
	status := count2str(t, s, "SELECT status FROM etl_runs WHERE run_id = '"+crashed+"'")
	assert.Contains(t, []string{StatusFailed, StatusSucceeded}, status)
	if status == StatusFailed {
		assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM leads_rows WHERE run_id = ?", crashed), "a dead run's rows are deleted")
	}
}
