package load

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// v2Schema is the schema of migrations 001-002 only: today's warehouse
// before row versions.
func v2Schema(t *testing.T) fstest.MapFS {
	fs := fstest.MapFS{}
	for _, f := range []string{"001_warehouse.sql", "002_work_queue.sql"} {
		b, err := os.ReadFile("../sql/schema/" + f)
		require.NoError(t, err)
		fs[f] = &fstest.MapFile{Data: b}
	}
	return fs
}

// TestUpgradeKeepsEveryView builds a warehouse of migrations 001-002 with
// three snapshots (carried rows with their source's extracted_at, a row
// fetched again unchanged, a changed row, a deleted one, one that comes
// back, a new one), a failed run and an incomplete one, upgrades it in
// place, and finds every view returning exactly the same rows.
func TestUpgradeKeepsEveryView(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "wh.duckdb")
	old, err := Open(ctx, path, v2Schema(t), Options{})
	require.NoError(t, err)
	e := func(h int) string { return t0.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
	for _, q := range []string{
		`INSERT INTO etl_runs (run_id, commit_seq, status, snapshot_date, started_at, mode) VALUES
			('A', 1, 'succeeded', '2026-11-26', '` + e(0) + `', 'full'),
			('B', 2, 'succeeded', '2026-11-27', '` + e(24) + `', 'incremental'),
			('X', NULL, 'failed', '2026-11-28', '` + e(47) + `', 'full'),
			('C', 3, 'succeeded', '2026-11-28', '` + e(48) + `', 'incremental'),
			('I', NULL, 'incomplete', '2026-11-29', '` + e(72) + `', 'incremental')`,
		// lead 1 carried through B and C; 2 fetched again unchanged in B
		// (new extracted_at) then carried; 3 changed in B, deleted in C;
		// 4 new in B, changed in C; 5 gone in B, back in C unchanged.
		`INSERT INTO leads_rows (run_id, batch, snapshot_date, extracted_at, campaign_lead_map_id, lead_id, campaign_id,
			email, status, lead_category_id, is_unsubscribed, custom_fields) VALUES
			('A', 1, '2026-11-26', '` + e(1) + `', 1, 11, 101, 'a@x', 'STARTED', NULL, false, '{"k":1}'),
			('A', 1, '2026-11-26', '` + e(1) + `', 2, 12, 101, 'b@x', 'STARTED', NULL, false, NULL),
			('A', 1, '2026-11-26', '` + e(1) + `', 3, 13, 101, 'c@x', 'STARTED', 1, false, NULL),
			('A', 1, '2026-11-26', '` + e(1) + `', 5, 15, 101, 'e@x', 'STARTED', NULL, false, NULL),
			('B', 0, '2026-11-27', '` + e(1) + `', 1, 11, 101, 'a@x', 'STARTED', NULL, false, '{"k":1}'),
			('B', 2, '2026-11-27', '` + e(25) + `', 2, 12, 101, 'b@x', 'STARTED', NULL, false, NULL),
			('B', 2, '2026-11-27', '` + e(25) + `', 3, 13, 101, 'c@x', 'INPROGRESS', 2, false, NULL),
			('B', 2, '2026-11-27', '` + e(25) + `', 4, 14, 101, 'd@x', 'STARTED', NULL, false, NULL),
			('X', 1, '2026-11-28', '` + e(47) + `', 1, 11, 101, 'a@x', 'FAILED-RUN', NULL, false, NULL),
			('C', 0, '2026-11-28', '` + e(1) + `', 1, 11, 101, 'a@x', 'STARTED', NULL, false, '{"k":1}'),
			('C', 0, '2026-11-28', '` + e(25) + `', 2, 12, 101, 'b@x', 'STARTED', NULL, false, NULL),
			('C', 3, '2026-11-28', '` + e(49) + `', 4, 14, 101, 'd@x', 'COMPLETED', 3, true, NULL),
			('C', 3, '2026-11-28', '` + e(1) + `', 5, 15, 101, 'e@x', 'STARTED', NULL, false, NULL),
			('I', 1, '2026-11-29', '` + e(73) + `', 1, 11, 101, 'a@x', 'STAGED', NULL, false, NULL)`,
		`INSERT INTO campaigns_rows (run_id, batch, snapshot_date, extracted_at, campaign_id, name, status) VALUES
			('A', 1, '2026-11-26', '` + e(1) + `', 101, 'Q1', 'ACTIVE'),
			('B', 1, '2026-11-27', '` + e(24) + `', 101, 'Q1', 'ACTIVE'),
			('C', 1, '2026-11-28', '` + e(48) + `', 101, 'Q1', 'PAUSED')`,
		`INSERT INTO reported_totals_rows VALUES ('A', 1, '2026-11-26', 'leads', 101, 4), ('C', 3, '2026-11-28', 'leads', 101, 4)`,
		`INSERT INTO work_items (run_id, seq, status, stream, "offset", item) VALUES ('I', 1, 'done', 'campaigns', 0, '{}')`,
	} {
		_, err := old.DB().ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	before := contents(t, old.DB())
	require.NotEmpty(t, before["leads_history"])
	require.NoError(t, old.Close())

	s := openAt(t, path, Options{})
	require.Equal(t, before, contents(t, s.DB()), "every view returns the same rows after the upgrade")
	assert.Equal(t, int64(9), count(t, s.DB(), "SELECT count(*) FROM leads_rows"),
		"versions of leads 1-5: 1, 2 (fetched again), 2 (changed), 2 (changed), 2 (a gap): 9 for 11 snapshot rows")
	assert.Equal(t, string(StatusFailed), count2str(t, s, "SELECT status FROM etl_runs WHERE run_id = 'I'"), "a run interrupted before the upgrade cannot continue")
	assert.Equal(t, []string{
		"campaign_lead_map_id=1|run_id=A|old_status=NULL|new_status=STARTED|old_lead_category_id=NULL|new_lead_category_id=NULL",
		"campaign_lead_map_id=2|run_id=A|old_status=NULL|new_status=STARTED|old_lead_category_id=NULL|new_lead_category_id=NULL",
		"campaign_lead_map_id=3|run_id=A|old_status=NULL|new_status=STARTED|old_lead_category_id=NULL|new_lead_category_id=1",
		"campaign_lead_map_id=3|run_id=B|old_status=STARTED|new_status=INPROGRESS|old_lead_category_id=1|new_lead_category_id=2",
		"campaign_lead_map_id=4|run_id=B|old_status=NULL|new_status=STARTED|old_lead_category_id=NULL|new_lead_category_id=NULL",
		"campaign_lead_map_id=4|run_id=C|old_status=STARTED|new_status=COMPLETED|old_lead_category_id=NULL|new_lead_category_id=3",
		"campaign_lead_map_id=5|run_id=A|old_status=NULL|new_status=STARTED|old_lead_category_id=NULL|new_lead_category_id=NULL",
	}, dumpRows(t, s.DB(), `SELECT campaign_lead_map_id, run_id, old_status, new_status, old_lead_category_id,
		new_lead_category_id FROM lead_changes`))

	// A new night on the upgraded warehouse: an unchanged row keeps its
	// version (and first extracted_at), the snapshot is complete.
	next := contents(t, s.DB())["leads"]
	r, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(4)})
	require.NoError(t, err)
	require.NoError(t, r.setCarries(ctx, []CarrySet{{Stream: "leads", FromRun: "C", Mode: CarryAll, Campaigns: []int64{101}}}))
	_, err = r.Commit(ctx, Counters{})
	require.NoError(t, err)
	assert.Equal(t, int64(9), count(t, s.DB(), "SELECT count(*) FROM leads_rows"), "a night where nothing changed adds no version")
	got := contents(t, s.DB())["leads"]
	require.Len(t, got, len(next))
	for i := range got {
		assert.Equal(t, next[i][strings.Index(next[i], "|extracted_at"):], got[i][strings.Index(got[i], "|extracted_at"):])
	}
}

// TestLockErrorMessage pins the text of DuckDB's lock conflict in the
// version go.mod names, which lockError reads: an upgrade that rewords it
// fails here instead of turning waits into failures.
func TestLockErrorMessage(t *testing.T) {
	_, path := openTest(t, Options{})
	h := startHelper(t, "hold-lock", "LOAD_DB="+path+".other")
	h.await(t, "locked")
	_, err := OpenReadOnly(t.Context(), path+".other", Options{LockWait: -1})
	var le *LockedError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, h.cmd.Process.Pid, le.PID, "the holder's PID comes from the message")
	assert.NotEmpty(t, le.Program)

	// The driver's own words, exactly as lockError expects them.
	_, err = duckdb.NewConnector(path+".other?access_mode=read_only", nil)
	require.Error(t, err)
	want := fmt.Sprintf(`IO Error: Could not set lock on file "%s.other": Conflicting lock is held in %s (PID %d). `+
		`See also https://duckdb.org/docs/stable/connect/concurrency`, path, le.Program, h.cmd.Process.Pid)
	assert.True(t, strings.HasSuffix(err.Error(), want), "DuckDB's lock message changed:\n got %s\nwant ...%s", err, want)

	// The raw message, as the driver words it.
	raw := errors.New(`IO Error: Could not set lock on file "/x/wh.duckdb": Conflicting lock is held in /usr/bin/prog (PID 4242). See also https://duckdb.org/docs/stable/connect/concurrency`)
	le = lockError("/x/wh.duckdb", raw)
	require.NotNil(t, le)
	assert.Equal(t, 4242, le.PID)
	assert.Equal(t, "/usr/bin/prog", le.Program)
	assert.Nil(t, lockError("/x", errors.New("IO Error: No such file")))
}

// TestReaderAtCommit: a reader holds the warehouse open (another process)
// while a released run commits: the run waits CommitWait, then keeps its
// prepared snapshot (ErrCommitDeferred, etl_runs still 'running'); once
// the reader is gone, the next Open publishes it before anything else.
func TestReaderAtCommit(t *testing.T) {
	ctx := t.Context()
	s, path := openTest(t, Options{CommitWait: 300 * time.Millisecond, LockWait: 5 * time.Second})
	loadRun(t, s, day(1), fullBatch(1))
	before := contents(t, s.DB())
	r, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(2)})
	require.NoError(t, err)
	require.NoError(t, s.ReleaseWarehouse(ctx))

	// While the run stages, a reader opens the warehouse read-only.
	h := startHelper(t, "hold-read", "LOAD_DB="+path)
	h.await(t, "reading")
	require.NoError(t, r.Write(ctx, fullBatch(2)))
	_, err = r.Commit(ctx, Counters{Requests: 7})
	require.ErrorIs(t, err, ErrCommitDeferred)
	require.ErrorIs(t, err, ErrLocked)
	var le *LockedError
	require.ErrorAs(t, err, &le)
	assert.Equal(t, h.cmd.Process.Pid, le.PID, "the error names the reader")
	require.NoError(t, h.stdin.Close())
	require.NoError(t, h.cmd.Wait())
	require.NoError(t, s.Close())

	ro, err := OpenReadOnly(ctx, path, Options{})
	require.NoError(t, err)
	require.Equal(t, before, contents(t, ro.DB()), "nothing published yet")
	assert.Equal(t, string(StatusRunning), count2str(t, ro, "SELECT status FROM etl_runs WHERE run_id = '"+r.ID()+"'"))
	require.NoError(t, ro.Close())

	s2 := openAt(t, path, Options{})
	assert.Equal(t, string(StatusSucceeded), count2str(t, s2, "SELECT status FROM etl_runs WHERE run_id = '"+r.ID()+"'"))
	assert.Equal(t, int64(7), count(t, s2.DB(), "SELECT requests FROM etl_runs WHERE run_id = ?", r.ID()))
	assert.Equal(t, r.ID(), count2str(t, s2, "SELECT max(run_id) FROM latest_run"))
	assert.Equal(t, int64(3), count(t, s2.DB(), "SELECT count(*) FROM leads"))
}

// TestReadOnlySeesSideFile: plan opens the warehouse read-only and still
// sees an interrupted run's queue in the side file (no run holds it), and
// a run can start while nothing peeks.
func TestReadOnlySeesSideFile(t *testing.T) {
	ctx := t.Context()
	s, path := openTest(t, Options{})
	r := qBegin(t, s, t0)
	require.NoError(t, r.Abort(ctx, StatusIncomplete, errors.New("budget"), Counters{}))
	require.NoError(t, s.Close())

	ro, err := OpenReadOnly(ctx, path, Options{})
	require.NoError(t, err)
	n, err := ro.ResumablePending(ctx, t0.Add(-time.Hour))
	require.NoError(t, err)
	assert.Positive(t, n, "the interrupted run's pending pages")
	require.NoError(t, ro.Close())

	s2 := openAt(t, path, Options{})
	r2, err := s2.Resume(ctx, t0.Add(-time.Hour))
	require.NoError(t, err)
	require.NotNil(t, r2)
	assert.Equal(t, r.ID(), r2.ID())
}

// TestCancelWhileReaderHolds: a stopped run whose warehouse a reader holds
// does not wait for it past abortLockWait, and is never published or resumed
// later: the next run finds it running without staging and fails it.
func TestCancelWhileReaderHolds(t *testing.T) {
	s, path := openTest(t, Options{CommitWait: time.Minute})
	loadRun(t, s, day(1), fullBatch(1))
	r, err := s.BeginRun(t.Context(), RunStart{SnapshotDate: day(2)})
	require.NoError(t, err)
	require.NoError(t, s.ReleaseWarehouse(t.Context()))
	require.NoError(t, r.Write(t.Context(), fullBatch(2)))
	h := startHelper(t, "hold-read", "LOAD_DB="+path)
	h.await(t, "reading")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	require.ErrorIs(t, r.Abort(ctx, StatusCancelled, context.Canceled, Counters{}), ErrLocked)
	// Far under CommitWait's minute (the bound is loose for loaded CI
	// machines; abortLockWait is 3 s).
	assert.Less(t, time.Since(start), 30*time.Second, "a stop does not wait for readers")
	require.NoError(t, h.stdin.Close())
	require.NoError(t, h.cmd.Wait())
	require.NoError(t, s.Close())

	s2 := openAt(t, path, Options{})
	_, err = s2.BeginRun(t.Context(), RunStart{SnapshotDate: day(3)})
	require.NoError(t, err)
	assert.Equal(t, string(StatusFailed), count2str(t, s2, "SELECT status FROM etl_runs WHERE run_id = '"+r.ID()+"'"))
	assert.Zero(t, count(t, s2.DB(), "SELECT count(*) FROM stage.leads_staged WHERE run_id = ?", r.ID()))
}
