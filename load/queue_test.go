package load

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// The queue tests' account: one campaign whose leads come in qPages pages
// of qPageSize, plus its analytics.
const (
	qCampaign = 101
	qPages    = 6
	qPageSize = 50
)

// qPlan is the work plan of the queue tests: analytics, then the first
// leads page; the other pages follow as each page's next.
func qPlan() []extract.Item {
	return []extract.Item{
		{Stream: extract.StreamCampaignAnalytics, CampaignID: qCampaign},
		{Stream: extract.StreamLeads, CampaignID: qCampaign},
	}
}

// qPage is what fetching it returns: deterministic, so that a page fetched
// again after a crash is the same page. Leads pages carry the API's total
// on the first page and one rejected record on each.
func qPage(it extract.Item) (transform.Batch, *extract.Item) {
	switch it.Stream {
	case extract.StreamCampaignAnalytics:
		return transform.Batch{CampaignAnalytics: []transform.CampaignAnalytics{
			{CampaignID: qCampaign, SentCount: 10, LeadsTotal: qPages * qPageSize}}}, nil
	case extract.StreamLeads:
		b := transform.Batch{Leads: synthLeads(qCampaign, it.Offset, qPageSize),
			Rejected: []transform.Rejected{{Stream: "leads", RecordKey: fmt.Sprintf("offset=%d", it.Offset), Field: "email",
				Reason: "not a string", Raw: transform.JSON(`{"email":1}`)}}}
		if it.Offset == 0 {
			b.Totals = []transform.ReportedTotal{{Stream: "leads", CampaignID: qCampaign, Total: qPages * qPageSize}}
		}
		if it.Offset+qPageSize < qPages*qPageSize {
			next := it
			next.Offset += qPageSize
			return b, &next
		}
		return b, nil
	}
	panic("qPage: unexpected stream " + it.Stream)
}

// qDrain completes every pending item of r (following next pages) until
// the queue is empty or stop says to stop before an item.
func qDrain(t *testing.T, r *Run, stop func(WorkItem) bool) {
	t.Helper()
	for {
		pending, err := r.PendingItems(t.Context())
		require.NoError(t, err)
		if len(pending) == 0 {
			return
		}
		for _, w := range pending {
			if stop != nil && stop(w) {
				return
			}
			b, next := qPage(w.Item)
			_, err := r.CompleteItem(t.Context(), w.Seq, b, next)
			require.NoError(t, err)
		}
	}
}

// qBegin starts a run and records the queue tests' plan.
func qBegin(t *testing.T, s *Store, at time.Time) *Run {
	t.Helper()
	r, err := s.BeginRun(t.Context(), RunStart{SnapshotDate: day(1), StartedAt: at, Mode: ModeFull})
	require.NoError(t, err)
	require.NoError(t, r.SetPlan(t.Context(), ModeFull, qPlan(), nil))
	return r
}

// qAssertSnapshot: the latest snapshot holds every lead exactly once, the
// analytics, and each page's rejected record once.
func qAssertSnapshot(t *testing.T, s *Store, runID string) {
	t.Helper()
	db := s.DB()
	require.Equal(t, runID, count2str(t, s, "SELECT run_id FROM latest_run"))
	assert.Equal(t, int64(qPages*qPageSize), count(t, db, "SELECT count(*) FROM leads"))
	assert.Equal(t, int64(qPages*qPageSize), count(t, db, "SELECT count(DISTINCT campaign_lead_map_id) FROM leads"))
	assert.Equal(t, synthLeadKeys(), dumpRows(t, db, "SELECT campaign_lead_map_id FROM leads"))
	assert.Equal(t, int64(1), count(t, db, "SELECT count(*) FROM campaign_analytics"))
	assert.Equal(t, int64(qPages), count(t, db, "SELECT count(*) FROM rejected_records WHERE run_id = ?", runID))
	assert.Equal(t, int64(qPages), count(t, db, "SELECT count(DISTINCT record_key) FROM rejected_records WHERE run_id = ?", runID))
	assert.Equal(t, int64(qPages*qPageSize), count(t, db, "SELECT total FROM reported_totals WHERE run_id = ?", runID))
	assert.Zero(t, count(t, db, "SELECT count(*) FROM stage.work_items WHERE run_id = ?", runID), "a succeeded run's queue is cleared")
}

func synthLeadKeys() []string {
	var out []string
	for _, l := range synthLeads(qCampaign, 0, qPages*qPageSize) {
		out = append(out, fmt.Sprintf("campaign_lead_map_id=%d", l.CampaignLeadMapID))
	}
	return sortedStrings(out)
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// TestQueue: seqs in enqueue order, pending in seq order, a completed
// page's next enqueued behind the rest, stats, and errors naming the item
// and field.
func TestQueue(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()
	r, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(1), Mode: ModeIncremental})
	require.NoError(t, err)
	since := time.Date(2026, 11, 26, 1, 2, 3, 456789123, time.FixedZone("X", 3600))
	items := []extract.Item{
		{Stream: extract.StreamLeads, CampaignID: 7, Since: since},
		{Stream: extract.StreamCampaignDailyStats, CampaignID: 7, Day: "2026-11-26"},
		{Stream: extract.StreamClients},
	}
	seq, err := r.Enqueue(ctx, items)
	require.NoError(t, err)
	require.Equal(t, []int64{1, 2, 3}, seq)
	require.NoError(t, r.Write(ctx, transform.Batch{Clients: []transform.Client{{ClientID: 1}}}), "a Write takes a batch number too")
	more, err := r.Enqueue(ctx, []extract.Item{{Stream: extract.StreamSequences, CampaignID: 7}})
	require.NoError(t, err)
	require.Equal(t, []int64{5}, more, "Write and the queue share one sequence")

	pending, err := r.PendingItems(ctx)
	require.NoError(t, err)
	require.Len(t, pending, 4)
	assert.Equal(t, []int64{1, 2, 3, 5}, []int64{pending[0].Seq, pending[1].Seq, pending[2].Seq, pending[3].Seq})
	assert.True(t, pending[0].Item.Since.Equal(since), "since survives to the nanosecond: %v", pending[0].Item.Since)
	assert.Equal(t, items[1], pending[1].Item)
	assert.Equal(t, items[2], pending[2].Item)

	next := &extract.Item{Stream: extract.StreamLeads, CampaignID: 7, Offset: 100, Since: since}
	nseq, err := r.CompleteItem(ctx, 1, transform.Batch{Leads: synthLeads(7, 0, 3)}, next)
	require.NoError(t, err)
	assert.Equal(t, int64(6), nseq)
	assert.Equal(t, []string{"batch=1|n=3"}, dumpRows(t, s.DB(), "SELECT batch, count(*) AS n FROM stage.leads_staged GROUP BY batch"))
	assert.Equal(t, int64(4), count(t, s.DB(), "SELECT batch FROM stage.clients_staged"), "CompleteItem flushed the Write's rows too")
	none, err := r.CompleteItem(ctx, 2, transform.Batch{}, nil)
	require.NoError(t, err)
	assert.Zero(t, none)
	pending, err = r.PendingItems(ctx)
	require.NoError(t, err)
	require.Len(t, pending, 3)
	assert.Equal(t, []int64{3, 5, 6}, []int64{pending[0].Seq, pending[1].Seq, pending[2].Seq})
	assert.Equal(t, int64(100), int64(pending[2].Item.Offset))
	p, d, err := r.QueueStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, [2]int64{3, 2}, [2]int64{p, d})

	_, err = r.CompleteItem(ctx, 1, transform.Batch{Leads: synthLeads(7, 0, 3)}, nil)
	require.ErrorContains(t, err, "work item 1 of run "+r.ID()+": it is done already")
	_, err = r.CompleteItem(ctx, 99, transform.Batch{}, nil)
	require.ErrorContains(t, err, "work item 99 of run "+r.ID()+": no such item")
	_, err = r.CompleteItem(ctx, 3, transform.Batch{}, &extract.Item{Stream: extract.StreamLeads, CampaignID: 7, Offset: -1})
	require.ErrorContains(t, err, "field offset: negative (the page after item 3)")
	assert.Equal(t, int64(3), count(t, s.DB(), "SELECT count(*) FROM stage.leads_staged"), "refused completions stage nothing")

	for _, c := range []struct {
		it   extract.Item
		want string
	}{
		{extract.Item{Stream: "nope", CampaignID: 1}, `work item 1 (nope campaign 1): field stream: unknown stream "nope"`},
		{extract.Item{Stream: extract.StreamLeads}, "work item 1 (leads campaign 0): field campaign_id: required"},
		{extract.Item{Stream: extract.StreamLeads, CampaignID: -4}, "field campaign_id: negative"},
		{extract.Item{Stream: extract.StreamCampaignDailyStats, CampaignID: 4, Day: "26/11/2026"}, `field day: "26/11/2026" is not YYYY-MM-DD`},
	} {
		_, err := r.Enqueue(ctx, []extract.Item{{Stream: extract.StreamClients}, c.it})
		require.ErrorContains(t, err, c.want)
	}
	p, _, err = r.QueueStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(3), p, "a refused Enqueue adds nothing")

	_, err = r.Commit(ctx, Counters{})
	require.ErrorContains(t, err, "3 work items are still pending")
	assert.Equal(t, string(StatusFailed), count2str(t, s, "SELECT status FROM etl_runs"))
	assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage.work_items"), "a failed run's queue is deleted")
	assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage.leads_staged"))
}

// TestQueueRunCommits: a whole run through the queue publishes each row
// once, with no data check warning.
func TestQueueRunCommits(t *testing.T) {
	s, _ := openTest(t, Options{})
	r := qBegin(t, s, t0)
	qDrain(t, r, nil)
	sum, err := r.Commit(t.Context(), Counters{})
	require.NoError(t, err)
	require.Zero(t, sum.Warnings, "%+v", sum.Checks)
	qAssertSnapshot(t, s, r.ID())
}

// die abandons r as a process that dies does: unflushed rows lost, its
// etl_runs row left 'running'.
func die(r *Run) {
	_ = r.closeAppenders(context.Background(), false)
	r.end()
}

// errCrash stands for the process dying.
var errCrash = errors.New("simulated crash")

// TestCrashBetweenFlushAndDone: the process fails after a page's rows are
// flushed but before its item is marked done: the two are one commit, so
// neither is kept, the item is pending again after Resume, and once the
// rest is done the snapshot holds every row exactly once.
func TestCrashBetweenFlushAndDone(t *testing.T) {
	path := t.TempDir() + "/wh.duckdb"
	s := openAt(t, path, Options{})
	r := qBegin(t, s, t0)
	var crashed int64
	testHookItemFlushed = func(seq int64) error {
		if seq >= 4 { // the third leads page
			crashed = seq
			return errCrash
		}
		return nil
	}
	t.Cleanup(func() { testHookItemFlushed = nil })
	pending, err := r.PendingItems(t.Context())
	require.NoError(t, err)
	for len(pending) > 0 {
		w := pending[0]
		b, next := qPage(w.Item)
		if _, err = r.CompleteItem(t.Context(), w.Seq, b, next); err != nil {
			break
		}
		pending, err = r.PendingItems(t.Context())
		require.NoError(t, err)
	}
	require.ErrorIs(t, err, errCrash)
	require.NotZero(t, crashed)
	require.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage.leads_staged WHERE batch = ?", crashed), "the page's rows went with its done-mark")
	require.NoError(t, s.Close()) // the process dies: the run stays 'running'
	testHookItemFlushed = nil

	s = openAt(t, path, Options{})
	r2, err := s.Resume(t.Context(), t0.Add(-time.Hour))
	require.NoError(t, err)
	require.NotNil(t, r2)
	assert.Equal(t, r.ID(), r2.ID())
	assert.True(t, r2.Resumed())
	assert.True(t, r2.Planned())
	assert.True(t, r2.StartedAt().Equal(t0), "%v", r2.StartedAt())
	assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage.leads_staged WHERE batch = ?", crashed), "Resume deleted the unfinished page's rows")
	assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM rejected_records WHERE batch = ?", crashed), "and its rejected records")
	assert.Equal(t, int64(2*qPageSize), count(t, s.DB(), "SELECT count(*) FROM stage.leads_staged"), "the done pages' rows are kept")
	pending, err = r2.PendingItems(t.Context())
	require.NoError(t, err)
	require.Len(t, pending, 1)
	assert.Equal(t, crashed, pending[0].Seq)
	assert.Equal(t, 2*qPageSize, pending[0].Item.Offset)

	qDrain(t, r2, nil)
	sum, err := r2.Commit(t.Context(), Counters{})
	require.NoError(t, err)
	require.Zero(t, sum.Warnings, "%+v", sum.Checks)
	qAssertSnapshot(t, s, r.ID())
	assert.Equal(t, []map[string]string{{"status": "succeeded", "resumed": "1", "mode": "full"}},
		rowMaps(t, s.DB(), "SELECT status, resumed, mode FROM etl_runs"))
}

// TestAbortIncompleteAfterStagedPage: a failure between a page's flush and
// its done-mark still lets the run stop as incomplete (the staging is
// consistent for a resume), which keeps its rows and queue.
func TestAbortIncompleteAfterStagedPage(t *testing.T) {
	s, _ := openTest(t, Options{})
	r := qBegin(t, s, t0)
	testHookItemFlushed = func(int64) error { return errCrash }
	t.Cleanup(func() { testHookItemFlushed = nil })
	w, err := r.PendingItems(t.Context())
	require.NoError(t, err)
	b, next := qPage(w[0].Item)
	_, err = r.CompleteItem(t.Context(), w[0].Seq, b, next)
	require.ErrorIs(t, err, errCrash)
	_, err = r.CompleteItem(t.Context(), w[1].Seq, b, next)
	require.ErrorContains(t, err, "cannot continue after an earlier error", "the run can only be stopped")
	testHookItemFlushed = nil
	require.NoError(t, r.Abort(t.Context(), StatusIncomplete, errors.New("deadline"), Counters{}))
	assert.Equal(t, string(StatusIncomplete), count2str(t, s, "SELECT status FROM etl_runs"))
	assert.Equal(t, int64(2), count(t, s.DB(), "SELECT count(*) FROM stage.work_items WHERE status = 'pending'"))

	r2, err := s.Resume(t.Context(), t0)
	require.NoError(t, err)
	require.NotNil(t, r2)
	assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage.campaign_analytics_staged"), "the page not marked done is gone")
	qDrain(t, r2, nil)
	_, err = r2.Commit(t.Context(), Counters{})
	require.NoError(t, err)
	qAssertSnapshot(t, s, r.ID())
}

// TestResumeIncomplete: a run stopped by a budget continues where it
// stopped, keeping its done pages, mode and start; requests are not made
// twice (only pending items are handed out).
func TestResumeIncomplete(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()
	r, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(1), StartedAt: t0, Mode: ModeIncremental})
	require.NoError(t, err)
	require.NoError(t, r.SetPlan(ctx, ModeFull, qPlan(), nil))
	done := 0
	qDrain(t, r, func(WorkItem) bool { done++; return done > 3 })
	require.NoError(t, r.Abort(ctx, StatusIncomplete, errors.New("request budget of 3 reached"),
		Counters{Requests: 3, Waited: 2 * time.Second, Elapsed: 5 * time.Second}))
	assert.Equal(t, string(StatusIncomplete), count2str(t, s, "SELECT status FROM etl_runs"))

	r2, err := s.Resume(ctx, t0)
	require.NoError(t, err, "notBefore equal to the start is resumable")
	require.NotNil(t, r2)
	// The next invocation adds its own to what the first waited and ran.
	prior, err := r2.PriorCounters(ctx)
	require.NoError(t, err)
	assert.Equal(t, Counters{Waited: 2 * time.Second, Elapsed: 5 * time.Second}, prior, "no attempt was logged: no request")
	p, d, err := r2.QueueStats(ctx)
	require.NoError(t, err)
	assert.Equal(t, [2]int64{1, 3}, [2]int64{p, d})
	var fetched []extract.Item
	pending, err := r2.PendingItems(ctx)
	require.NoError(t, err)
	fetched = append(fetched, pending[0].Item)
	assert.Equal(t, extract.Item{Stream: extract.StreamLeads, CampaignID: qCampaign, Offset: 2 * qPageSize}, pending[0].Item,
		"the next unfinished page, not the start")
	qDrain(t, r2, nil)
	_, err = r2.Commit(ctx, Counters{Waited: 3 * time.Second, Elapsed: 9 * time.Second})
	require.NoError(t, err)
	qAssertSnapshot(t, s, r.ID())
	// The commit's own time (real here: the store has no test clock) adds
	// to the 9 s the invocations report.
	assert.Equal(t, "3|true", count2str(t, s, "SELECT wait_seconds::INT || '|' || (run_seconds >= 9 AND run_seconds < 60) FROM etl_runs"))
	runs, err := s.runs(ctx, 5)
	require.NoError(t, err)
	require.Len(t, runs, 1)
	assert.Equal(t, ModeFull, runs[0].Mode, "SetPlan set the mode")
	assert.Equal(t, 1, runs[0].Resumed)
	assert.Empty(t, runs[0].Error)
}

// TestResumeChoosesAndCleansUp: too old a run is not resumed and is
// cleaned up, a cancelled run is never resumed, a dead run without a queue
// is marked failed, and BeginRun after a nil Resume has nothing to undo.
func TestResumeChoosesAndCleansUp(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()
	db := s.DB()

	// Cancelled: its queue and rows go at once; never resumable.
	r := qBegin(t, s, t0.Add(3*time.Hour))
	qDrain(t, r, func(w WorkItem) bool { return w.Seq > 2 })
	require.NoError(t, r.Abort(ctx, StatusCancelled, context.Canceled, Counters{}))
	assert.Zero(t, count(t, db, "SELECT count(*) FROM stage.work_items"))
	assert.Zero(t, count(t, db, "SELECT count(*) FROM stage.leads_staged"))
	none, err := s.Resume(ctx, t0)
	require.NoError(t, err)
	require.Nil(t, none, "a cancelled run is not resumed")

	// Old and incomplete: not resumed with a later notBefore, cleaned up.
	old := qBegin(t, s, t0)
	qDrain(t, old, func(w WorkItem) bool { return w.Seq > 2 })
	require.NoError(t, old.Abort(ctx, StatusIncomplete, nil, Counters{}))
	require.NotZero(t, count(t, db, "SELECT count(*) FROM stage.leads_staged WHERE run_id = ?", old.ID()))
	n, err := s.ResumablePending(ctx, t0)
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "the pending items a resume with an earlier notBefore would continue: the third leads page")
	n, err = s.ResumablePending(ctx, t0.Add(time.Hour))
	require.NoError(t, err)
	assert.Zero(t, n)
	none, err = s.Resume(ctx, t0.Add(time.Hour))
	require.NoError(t, err)
	require.Nil(t, none, "started before notBefore")
	got := rowMaps(t, db, "SELECT status, error FROM etl_runs WHERE run_id = ?", old.ID())[0]
	assert.Equal(t, string(StatusFailed), got["status"])
	assert.Contains(t, got["error"], "too old to resume (started before 2026-11-27T03:00:00Z)")
	for _, tb := range stagedTables() {
		assert.Zero(t, count(t, db, "SELECT count(*) FROM stage."+tb+" WHERE run_id = ?", old.ID()), tb)
	}

	// A dead run without a queue (a plain Write run): failed, not resumed.
	plain, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(1), StartedAt: t0.Add(4 * time.Hour)})
	require.NoError(t, err)
	require.NoError(t, plain.Write(ctx, fullBatch(1)))
	require.NoError(t, plain.flush(ctx))
	die(plain)
	none, err = s.Resume(ctx, t0)
	require.NoError(t, err)
	require.Nil(t, none)
	assert.Equal(t, string(StatusFailed), count2str(t, s, "SELECT status FROM etl_runs WHERE run_id = '"+plain.ID()+"'"))
	assert.Zero(t, count(t, db, "SELECT count(*) FROM stage.leads_staged"))

	// After a nil Resume, BeginRun starts clean and the run succeeds.
	before := dumpRows(t, db, "SELECT run_id, status FROM etl_runs")
	fresh := qBegin(t, s, t0.Add(5*time.Hour))
	assert.Equal(t, before, dumpRows(t, db, "SELECT run_id, status FROM etl_runs WHERE run_id <> ?", fresh.ID()),
		"BeginRun had nothing left to change")
	qDrain(t, fresh, nil)
	_, err = fresh.Commit(ctx, Counters{})
	require.NoError(t, err)
	qAssertSnapshot(t, s, fresh.ID())
}

// TestResumePicksNewest: of two interrupted runs the newest is resumed
// and the other discarded.
func TestResumePicksNewest(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()
	a := qBegin(t, s, t0)
	require.NoError(t, a.Abort(ctx, StatusIncomplete, nil, Counters{}))
	b := qBegin(t, s, t0.Add(time.Minute))
	require.NoError(t, b.Abort(ctx, StatusIncomplete, nil, Counters{}))
	r, err := s.Resume(ctx, t0)
	require.NoError(t, err)
	require.NotNil(t, r)
	assert.Equal(t, b.ID(), r.ID())
	got := rowMaps(t, s.DB(), "SELECT status, error FROM etl_runs WHERE run_id = ?", a.ID())[0]
	assert.Equal(t, map[string]string{"status": string(StatusFailed), "error": "run " + b.ID() + " was resumed instead"}, got)
	assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage.work_items WHERE run_id = ?", a.ID()))
	_, err = s.Resume(ctx, t0)
	require.ErrorIs(t, err, ErrRunActive)
	require.NoError(t, r.Abort(ctx, StatusIncomplete, nil, Counters{}))
}

// TestResumeUnplanned: a run that died before its plan was recorded
// starts over under its own id: its queue and rows are gone, so the
// campaign list fetched again is not held twice.
func TestResumeUnplanned(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()
	r, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(1), StartedAt: t0})
	require.NoError(t, err)
	seq, err := r.Enqueue(ctx, []extract.Item{{Stream: extract.StreamCampaigns}})
	require.NoError(t, err)
	_, err = r.CompleteItem(ctx, seq[0], transform.Batch{Campaigns: fullBatch(1).Campaigns}, nil)
	require.NoError(t, err)
	die(r) // before SetPlan

	r2, err := s.Resume(ctx, t0)
	require.NoError(t, err)
	require.NotNil(t, r2)
	assert.False(t, r2.Planned())
	pending, err := r2.PendingItems(ctx)
	require.NoError(t, err)
	assert.Empty(t, pending)
	assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage.campaigns_staged"))
	seq, err = r2.Enqueue(ctx, []extract.Item{{Stream: extract.StreamCampaigns}})
	require.NoError(t, err)
	_, err = r2.CompleteItem(ctx, seq[0], transform.Batch{Campaigns: fullBatch(1).Campaigns}, nil)
	require.NoError(t, err)
	require.NoError(t, r2.SetPlan(ctx, ModeIncremental, nil, nil))
	sum, err := r2.Commit(ctx, Counters{})
	require.NoError(t, err)
	assert.Equal(t, int64(2), sum.Rows["campaigns"])
}

// TestBeginRunKeepsResumableRun: BeginRun (a forced full refresh, say)
// turns a dead run that has a queue into an incomplete one instead of
// deleting it; when the new run succeeds, the older one is discarded, so
// abandoned runs do not accumulate.
func TestBeginRunKeepsResumableRun(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()
	dead := qBegin(t, s, t0)
	qDrain(t, dead, func(w WorkItem) bool { return w.Seq > 2 })
	die(dead)

	r := qBegin(t, s, t0.Add(time.Hour))
	got := rowMaps(t, s.DB(), "SELECT status, error FROM etl_runs WHERE run_id = ?", dead.ID())[0]
	assert.Equal(t, string(StatusIncomplete), got["status"])
	assert.Contains(t, got["error"], "its queue is kept for a resume")
	assert.Equal(t, int64(qPageSize), count(t, s.DB(), "SELECT count(*) FROM stage.leads_staged WHERE run_id = ?", dead.ID()))

	qDrain(t, r, nil)
	_, err := r.Commit(ctx, Counters{})
	require.NoError(t, err)
	got = rowMaps(t, s.DB(), "SELECT status, error FROM etl_runs WHERE run_id = ?", dead.ID())[0]
	assert.Equal(t, string(StatusFailed), got["status"])
	assert.Contains(t, got["error"], "abandoned: run "+r.ID()+", started later, succeeded")
	for _, tb := range stagedTables() {
		assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage."+tb+" WHERE run_id = ?", dead.ID()), tb)
	}
	qAssertSnapshot(t, s, r.ID())
	none, err := s.Resume(ctx, t0.Add(-time.Hour))
	require.NoError(t, err)
	assert.Nil(t, none)
}

// BenchmarkCompleteItem is the warehouse's cost per page of a queued run:
// stage 100 leads, flush them, mark the item done and enqueue the next.
func BenchmarkCompleteItem(b *testing.B) {
	path := b.TempDir() + "/wh.duckdb"
	s, err := Open(b.Context(), path, schemaDir(), benchOptions())
	require.NoError(b, err)
	defer s.Close()
	r, err := s.BeginRun(b.Context(), RunStart{SnapshotDate: day(1)})
	require.NoError(b, err)
	seq, err := r.Enqueue(b.Context(), []extract.Item{{Stream: extract.StreamLeads, CampaignID: 1}})
	require.NoError(b, err)
	next, cur := extract.Item{Stream: extract.StreamLeads, CampaignID: 1}, seq[0]
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		next.Offset += 100
		cur, err = r.CompleteItem(b.Context(), cur, transform.Batch{Leads: synthLeads(1, i*100, 100)}, &next)
		if err != nil {
			b.Fatal(err)
		}
	}
	require.NoError(b, r.Abort(b.Context(), StatusFailed, nil, Counters{}))
}

// TestRunSecondsCountTheCommit: a run's time (etl_runs.run_seconds)
// includes its commit's carrying and comparing, measured on the store's
// clock, on top of what the invocations report.
func TestRunSecondsCountTheCommit(t *testing.T) {
	var mu sync.Mutex
	clock := t0
	tick := func() time.Time { // each reading a second later
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return clock
	}
	s, _ := openTest(t, Options{Now: tick})
	ctx := t.Context()
	r, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(1), StartedAt: t0, Mode: ModeFull})
	require.NoError(t, err)
	require.NoError(t, r.SetPlan(ctx, ModeFull, qPlan(), nil))
	qDrain(t, r, nil)
	_, err = r.Commit(ctx, Counters{Elapsed: 5 * time.Second})
	require.NoError(t, err)
	var ran float64
	require.NoError(t, s.DB().QueryRowContext(ctx, "SELECT run_seconds FROM etl_runs").Scan(&ran))
	assert.Greater(t, ran, 5.0, "the commit's time is part of the run's")
	assert.Less(t, ran, 5.0+3600, "but not more than the clock moved")
}
