package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
)

// TestCrashMidLoad kills (SIGKILL) a process in the middle of loading a
// large snapshot: the warehouse then holds exactly the previous snapshot,
// and the next run succeeds.
func TestCrashMidLoad(t *testing.T) {
	const leads = 300_000
	path := filepath.Join(t.TempDir(), "wh.duckdb")
	before := previousSnapshot(t, path)

	h := startHelper(t, "crash-load", "LOAD_DB="+path, "LOAD_LEADS=300000", "LOAD_KILL_AT=staging")
	h.await(t, "staging")
	require.NoError(t, h.cmd.Process.Signal(syscall.SIGKILL))
	require.Error(t, h.cmd.Wait())

	s := openAt(t, path, Options{})
	require.Equal(t, before, contents(t, s.DB()), "views and history are exactly the previous snapshot")
	crashed := rowMaps(t, s.DB(), `SELECT run_id, status FROM etl_runs WHERE run_id <> (SELECT run_id FROM latest_run)`)
	require.Len(t, crashed, 1)
	assert.Equal(t, string(StatusRunning), crashed[0]["status"])
	staged := count(t, s.DB(), `SELECT count(*) FROM stage.leads_staged WHERE run_id = ?`, crashed[0]["run_id"])
	assert.GreaterOrEqual(t, staged, int64(flushEvery), "the kill came after rows were staged")
	assert.Less(t, staged, int64(leads), "the kill came before the load finished")

	assertNextRunSucceeds(t, s, crashed[0]["run_id"])
}

// TestCrashAtCommit kills the process inside the commit's warehouse
// transaction: the warehouse holds the previous snapshot, never a mix;
// the snapshot was prepared in the side file, so the next Open publishes
// it, complete.
func TestCrashAtCommit(t *testing.T) {
	const leads = 5_000
	path := filepath.Join(t.TempDir(), "wh.duckdb")
	before := previousSnapshot(t, path)

	h := startHelper(t, "crash-load", "LOAD_DB="+path, "LOAD_LEADS=5000", "LOAD_KILL_AT=commit")
	h.await(t, "committing")
	require.NoError(t, h.cmd.Process.Signal(syscall.SIGKILL))
	_ = h.cmd.Wait()

	ro, err := OpenReadOnly(t.Context(), path, Options{})
	require.NoError(t, err)
	require.Equal(t, before, contents(t, ro.DB()), "killed inside the transaction: the previous snapshot")
	require.NoError(t, ro.Close())

	s := openAt(t, path, Options{})
	runs := rowMaps(t, s.DB(), `SELECT run_id, status FROM etl_runs WHERE snapshot_date = ?`, day(2))
	require.Len(t, runs, 1)
	assert.Equal(t, string(StatusSucceeded), runs[0]["status"], "Open published the prepared snapshot")
	switch Status(runs[0]["status"]) {
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
	status := Status(count2str(t, s, "SELECT status FROM etl_runs WHERE run_id = '"+crashed+"'"))
	assert.Contains(t, []Status{StatusFailed, StatusSucceeded}, status)
	if status == StatusFailed {
		assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage.leads_staged WHERE run_id = ?", crashed), "a dead run's rows are deleted")
	}
}

// helperCrashQueue runs the queue tests' plan into LOAD_DB, completing
// items in order; at item LOAD_KILL_SEQ, once the page's rows are durable
// and before the item is marked done, it says "flushed" and waits to be
// killed.
func helperCrashQueue() error {
	ctx := context.Background()
	killAt, err := strconv.ParseInt(os.Getenv("LOAD_KILL_SEQ"), 10, 64)
	if err != nil {
		return err
	}
	s, err := Open(ctx, os.Getenv("LOAD_DB"), os.DirFS(os.Getenv("LOAD_SCHEMA_DIR")), Options{})
	if err != nil {
		return err
	}
	r, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(1), StartedAt: t0, Mode: ModeFull})
	if err != nil {
		return err
	}
	if err := r.SetPlan(ctx, ModeFull, qPlan(), nil); err != nil {
		return err
	}
	testHookItemFlushed = func(seq int64) error {
		if seq == killAt {
			fmt.Println("flushed")
			_, _ = io.Copy(io.Discard, os.Stdin) // until killed
			return errors.New("not killed")
		}
		return nil
	}
	for {
		pending, err := r.PendingItems(ctx)
		if err != nil || len(pending) == 0 {
			return errors.Join(err, errors.New("the queue ran out before the kill"))
		}
		b, next := qPage(pending[0].Item)
		if _, err := r.CompleteItem(ctx, pending[0].Seq, b, next); err != nil {
			return err
		}
	}
}

// TestKilledQueueResumes kills (SIGKILL) a process mid-queue, inside the
// transaction that commits a page with its done-mark: Resume continues the
// run with only that page pending (no request for a page already held),
// and the committed snapshot equals an uninterrupted run's.
func TestKilledQueueResumes(t *testing.T) {
	const killSeq = 5 // the fourth leads page
	path := filepath.Join(t.TempDir(), "wh.duckdb")
	h := startHelper(t, "crash-queue", "LOAD_DB="+path, fmt.Sprintf("LOAD_KILL_SEQ=%d", killSeq))
	h.await(t, "flushed")
	require.NoError(t, h.cmd.Process.Signal(syscall.SIGKILL))
	require.Error(t, h.cmd.Wait())

	s := openAt(t, path, Options{})
	require.Equal(t, string(StatusRunning), count2str(t, s, "SELECT status FROM etl_runs"))
	require.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage.leads_staged WHERE batch = ?", killSeq),
		"the killed page's rows and its done-mark are one commit, which never happened")
	r, err := s.Resume(t.Context(), t0)
	require.NoError(t, err)
	require.NotNil(t, r)
	pending, err := r.PendingItems(t.Context())
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, WorkItem{Seq: killSeq, Item: extract.Item{Stream: extract.StreamLeads, CampaignID: qCampaign, Offset: 3 * qPageSize}}, pending[0])
	assert.Equal(t, int64(3*qPageSize), count(t, s.DB(), "SELECT count(*) FROM stage.leads_staged"), "the three done pages are kept")
	qDrain(t, r, nil)
	sum, err := r.Commit(t.Context(), Counters{})
	require.NoError(t, err)
	require.Zero(t, sum.Warnings, "%+v", sum.Checks)
	qAssertSnapshot(t, s, r.ID())

	u, _ := openTest(t, Options{})
	ur := qBegin(t, u, t0)
	qDrain(t, ur, nil)
	_, err = ur.Commit(t.Context(), Counters{})
	require.NoError(t, err)
	for _, q := range []string{
		"SELECT * EXCLUDE (run_id, snapshot_date, extracted_at) FROM leads",
		"SELECT * EXCLUDE (run_id, snapshot_date, extracted_at) FROM campaign_analytics",
		"SELECT * EXCLUDE (run_id, batch) FROM rejected_records",
		"SELECT stream, campaign_id, total FROM reported_totals",
	} {
		assert.Equal(t, dumpRows(t, u.DB(), q), dumpRows(t, s.DB(), q), q)
	}
}
