package load

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// WorkItem is one page-sized request of a run's persisted work queue.
type WorkItem struct {
	Seq  int64 // order of enqueueing, which is priority; the batch its rows are staged under
	Item extract.Item
}

// testHookItemFlushed, when set by a test, runs in CompleteItem after the
// page's rows are durable and before the item is marked done; an error
// stops CompleteItem there, as a crash would.
var testHookItemFlushed func(seq int64) error

// accountStreams are fetched once per account, not per campaign.
var accountStreams = map[extract.Stream]bool{
	extract.StreamCampaigns: true, extract.StreamClients: true, extract.StreamEmailAccounts: true,
}

// checkItem returns an error naming the item and the field that is wrong.
func checkItem(i int, it extract.Item) error {
	bad := func(field, why string) error {
		return fmt.Errorf("load: work item %d (%s campaign %d): field %s: %s", i, it.Stream, it.CampaignID, field, why)
	}
	switch {
	case !slices.Contains(extract.AllStreams, it.Stream):
		return bad("stream", fmt.Sprintf("unknown stream %q", it.Stream))
	case it.CampaignID < 0:
		return bad("campaign_id", "negative")
	case it.CampaignID == 0 && !accountStreams[it.Stream]:
		return bad("campaign_id", "required for a campaign's stream")
	case it.Offset < 0:
		return bad("offset", "negative")
	}
	if it.Day != "" {
		if _, err := time.Parse(time.DateOnly, it.Day); err != nil {
			return bad("day", fmt.Sprintf("%q is not YYYY-MM-DD", it.Day))
		}
	}
	return nil
}

// insertItems adds items to run id's queue as pending, numbered from first.
func insertItems(ctx context.Context, tx *sql.Tx, id string, first int64, items []extract.Item) error {
	if len(items) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO work_items
		(run_id, seq, status, stream, campaign_id, day, "offset", since, item) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	defer stmt.Close()
	for i, it := range items {
		doc, err := json.Marshal(it)
		if err != nil {
			return fmt.Errorf("enqueue item %d: %w", i, err)
		}
		var since any
		if !it.Since.IsZero() {
			since = it.Since
		}
		if _, err := stmt.ExecContext(ctx, id, first+int64(i), string(it.Stream), nullZero(it.CampaignID),
			nullEmpty(it.Day), int32(it.Offset), since, string(doc)); err != nil {
			return fmt.Errorf("enqueue item %d (%s campaign %d): %w", i, it.Stream, it.CampaignID, err)
		}
	}
	return nil
}

// Enqueue adds items to the run's work queue as pending, in order, and
// returns their seqs (increasing: a lower seq is fetched first). Like
// Write, it must be called from the goroutine that stages rows.
func (r *Run) Enqueue(ctx context.Context, items []extract.Item) ([]int64, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	for i, it := range items {
		if err := checkItem(i, it); err != nil {
			return nil, err
		}
	}
	first := r.batch + 1
	if err := inTx(ctx, r.s.db, func(tx *sql.Tx) error { return insertItems(ctx, tx, r.id, first, items) }); err != nil {
		return nil, fmt.Errorf("load: run %s: %w", r.id, err)
	}
	r.batch += int64(len(items))
	return seqs(first, len(items)), nil
}

func seqs(first int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = first + int64(i)
	}
	return out
}

// PendingItems returns the run's pending work items in seq order.
func (r *Run) PendingItems(ctx context.Context) ([]WorkItem, error) {
	rows, err := r.s.db.QueryContext(ctx, `SELECT seq, item::VARCHAR FROM work_items
		WHERE run_id = ? AND status = 'pending' ORDER BY seq`, r.id)
	if err != nil {
		return nil, fmt.Errorf("load: read work queue of %s: %w", r.id, err)
	}
	defer rows.Close()
	var out []WorkItem
	for rows.Next() {
		var w WorkItem
		var doc string
		if err := rows.Scan(&w.Seq, &doc); err != nil {
			return nil, fmt.Errorf("load: read work queue of %s: %w", r.id, err)
		}
		if err := json.Unmarshal([]byte(doc), &w.Item); err != nil {
			return nil, fmt.Errorf("load: work item %d of run %s: column item: %w", w.Seq, r.id, err)
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load: read work queue of %s: %w", r.id, err)
	}
	return out, nil
}

// QueueStats counts the run's pending and done work items.
func (r *Run) QueueStats(ctx context.Context) (pending, done int64, err error) {
	err = r.s.db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE status = 'pending'),
		count(*) FILTER (WHERE status = 'done') FROM work_items WHERE run_id = ?`, r.id).Scan(&pending, &done)
	if err != nil {
		return 0, 0, fmt.Errorf("load: read work queue of %s: %w", r.id, err)
	}
	return pending, done, nil
}

// CompleteItem records that the pending item seq was fetched: it stages
// b's rows under batch seq, makes them durable, and only then, in one
// transaction, marks seq done and enqueues next (when not nil), returning
// next's seq (0 when next is nil). A crash between the two leaves seq
// pending with its rows staged; [Store.Resume] deletes the staged rows of
// every item not done, so that the page is fetched again and never held
// twice. Like Write, it must be called from the goroutine that stages
// rows; the rows' extracted_at is now.
func (r *Run) CompleteItem(ctx context.Context, seq int64, b transform.Batch, next *extract.Item) (int64, error) {
	return r.CompleteItemAt(ctx, seq, b, next, r.s.opts.now())
}

// CompleteItemAt is CompleteItem with the extracted_at time of the rows
// (the time the page was fetched).
func (r *Run) CompleteItemAt(ctx context.Context, seq int64, b transform.Batch, next *extract.Item, extractedAt time.Time) (int64, error) {
	if err := r.usable(); err != nil {
		return 0, err
	}
	if next != nil {
		if err := checkItem(0, *next); err != nil {
			return 0, fmt.Errorf("%w (the page after item %d)", err, seq)
		}
	}
	var status string
	err := r.s.db.QueryRowContext(ctx, `SELECT status FROM work_items WHERE run_id = ? AND seq = ?`, r.id, seq).Scan(&status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, fmt.Errorf("load: complete work item %d of run %s: no such item", seq, r.id)
	case err != nil:
		return 0, fmt.Errorf("load: complete work item %d of run %s: %w", seq, r.id, err)
	case status != "pending":
		// Staging its rows again would hold the page twice.
		return 0, fmt.Errorf("load: complete work item %d of run %s: it is %s already", seq, r.id, status)
	}
	if err := r.stage(b, seq, extractedAt); err != nil {
		return 0, err
	}
	if err := r.Flush(ctx); err != nil {
		return 0, err
	}
	// From here on the page's rows are durable but the item is pending:
	// a failure leaves the staging consistent for a resume.
	if testHookItemFlushed != nil {
		if err := testHookItemFlushed(seq); err != nil {
			r.resumable = true
			return 0, r.fail(err)
		}
	}
	var nextSeq int64
	if next != nil {
		nextSeq = r.batch + 1
	}
	err = inTx(ctx, r.s.db, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE work_items SET status = 'done', done_at = ?
			WHERE run_id = ? AND seq = ? AND status = 'pending'`, r.s.opts.now(), r.id, seq)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("item %d is no longer pending", seq)
		}
		if next != nil {
			return insertItems(ctx, tx, r.id, nextSeq, []extract.Item{*next})
		}
		return nil
	})
	if err != nil {
		r.resumable = true
		return 0, r.fail(fmt.Errorf("load: complete work item %d of run %s: %w", seq, r.id, err))
	}
	if next != nil {
		r.batch = nextSeq
	}
	return nextSeq, nil
}

// SetPlan records the run's work plan in one transaction: its mode
// (ModeFull or ModeIncremental), the items to fetch (appended to the
// queue in order) and the rows to carry forward. A run resumed after
// SetPlan is Planned and continues its queue; one that died before plans
// again from a clean slate (see [Store.Resume]).
func (r *Run) SetPlan(ctx context.Context, mode string, items []extract.Item, carries []Carry) error {
	if err := r.usable(); err != nil {
		return err
	}
	m, err := checkMode(mode)
	if err != nil || mode == "" {
		return errors.Join(err, fmt.Errorf("load: SetPlan of run %s: mode is required", r.id))
	}
	for i, it := range items {
		if err := checkItem(i, it); err != nil {
			return err
		}
	}
	cs, err := r.checkCarries(ctx, carries)
	if err != nil {
		return err
	}
	first := r.batch + 1
	err = inTx(ctx, r.s.db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE etl_runs SET mode = ?, planned = true WHERE run_id = ?`, m, r.id); err != nil {
			return err
		}
		if err := insertItems(ctx, tx, r.id, first, items); err != nil {
			return err
		}
		return upsertCarries(ctx, tx, r.id, cs)
	})
	if err != nil {
		return fmt.Errorf("load: SetPlan of run %s: %w", r.id, err)
	}
	r.batch += int64(len(items))
	r.planned = true
	return nil
}

// Planned reports whether the run's work plan was recorded (SetPlan).
func (r *Run) Planned() bool { return r.planned }

// Resumed reports whether the run continues an interrupted one (Resume).
func (r *Run) Resumed() bool { return r.resumed }

// StartedAt is when the run first started, before any resume.
func (r *Run) StartedAt() time.Time { return r.started }

// resumeCandidate is the run Resume would continue.
type resumeCandidate struct {
	id       string
	started  time.Time
	snapshot time.Time
	planned  bool
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// findResumable returns the newest run that is interrupted ('incomplete',
// or 'running' left by a dead process), has a work queue, started at or
// after notBefore and after the snapshot the views show; nil when none.
func findResumable(ctx context.Context, q querier, notBefore time.Time) (*resumeCandidate, error) {
	var c resumeCandidate
	err := q.QueryRowContext(ctx, `SELECT run_id, started_at, snapshot_date, coalesce(planned, false) FROM etl_runs r
		WHERE status IN ('incomplete', 'running') AND started_at >= ?
		AND EXISTS (SELECT 1 FROM work_items w WHERE w.run_id = r.run_id)
		AND started_at > coalesce((SELECT max(started_at) FROM etl_runs WHERE status = 'succeeded'), '-infinity'::TIMESTAMPTZ)
		ORDER BY started_at DESC, run_id DESC LIMIT 1`, notBefore).Scan(&c.id, &c.started, &c.snapshot, &c.planned)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Resume continues an interrupted run instead of starting a new one, and
// returns nil (and no error) when there is none to continue. A run is
// resumable when it is 'incomplete' (stopped by a budget or deadline) or
// 'running' (its process died: the CLI's lock file guarantees that no live
// process writes it), has a work queue, started at or after notBefore, and
// started after the snapshot the views show. The newest such run is
// resumed: its status goes back to running, the rows staged by its items
// not done are deleted (see [Run.CompleteItem]) and everything else is
// kept: done items, their rows, carries, mode and start time. A run that
// died before its plan was recorded (not Planned) restarts from a clean
// slate: its queue, carries and rows are all deleted, keeping only its id.
//
// Every other interrupted run, the ones older than notBefore included, is
// marked failed and its rows, queue and carries are deleted, as BeginRun
// does for dead runs. A cancelled run (SIGTERM: the user asked it to stop)
// is never resumed; its rows were deleted when it stopped.
//
// So Resume then, when it returns nil, BeginRun is coherent: Resume has
// already cleaned up what cannot be resumed, and BeginRun finds nothing
// left to discard.
func (s *Store) Resume(ctx context.Context, notBefore time.Time) (*Run, error) {
	if s.readOnly {
		return nil, errors.New("load: Resume on a read-only store")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.active != nil {
		return nil, fmt.Errorf("load: Resume: %w (%s)", ErrRunActive, s.active.id)
	}
	var cand *resumeCandidate
	var last int64
	now := s.opts.now()
	err := inTx(ctx, s.db, func(tx *sql.Tx) error {
		var err error
		if cand, err = findResumable(ctx, tx, notBefore); err != nil {
			return err
		}
		candID := ""
		if cand != nil {
			candID = cand.id
		}
		if _, err := tx.ExecContext(ctx, `UPDATE etl_runs SET status = 'failed', finished_at = coalesce(finished_at, $1),
			error = CASE WHEN status = 'running' THEN 'the process running it stopped before finishing; ' ELSE coalesce(error || '; ', '') END ||
				CASE WHEN started_at < $2 THEN 'too old to resume (started before ' || $4 || ')'
				WHEN $3 <> '' THEN 'run ' || $3 || ' was resumed instead'
				ELSE 'not resumable' END
			WHERE status IN ('incomplete', 'running') AND run_id <> $3`,
			now, notBefore, candID, notBefore.UTC().Format(time.RFC3339)); err != nil {
			return fmt.Errorf("discard interrupted runs: %w", err)
		}
		if err := discardStaged(ctx, tx); err != nil {
			return err
		}
		if cand == nil {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE etl_runs SET status = 'running', finished_at = NULL, error = NULL,
			resumed = coalesce(resumed, 0) + 1 WHERE run_id = ?`, cand.id); err != nil {
			return err
		}
		if !cand.planned {
			return deleteStaged(ctx, tx, cand.id)
		}
		if err := dropUnfinished(ctx, tx, cand.id); err != nil {
			return err
		}
		last, err = lastBatch(ctx, tx, cand.id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load: resume: %w", err)
	}
	if cand == nil {
		return nil, nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("load: resume %s: %w", cand.id, err)
	}
	r := &Run{s: s, id: cand.id, snapshot: cand.snapshot, started: cand.started, resumed: true, planned: cand.planned,
		batch: last, conn: conn, apps: map[string]*duckdb.Appender{}}
	s.active = r
	s.log.Info("run resumed", "run_id", r.id, "started_at", r.started, "planned", r.planned)
	return r, nil
}

// dropUnfinished deletes what run id staged for items that are not done
// (their pages are fetched again) and rows carried by an interrupted
// commit (the next commit carries again).
func dropUnfinished(ctx context.Context, tx *sql.Tx, id string) error {
	for _, name := range append(physicalTables(), "rejected_records") {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+name+` WHERE run_id = $1 AND (batch = `+carriedBatch+` OR batch IN
			(SELECT seq FROM work_items WHERE run_id = $1 AND status = 'pending'))`, id); err != nil {
			return fmt.Errorf("delete unfinished pages from %s: %w", name, err)
		}
	}
	return nil
}

// lastBatch is the highest batch number run id used, for its queue and
// its Writes to continue from.
func lastBatch(ctx context.Context, q querier, id string) (int64, error) {
	parts := []string{`SELECT max(seq) AS b FROM work_items WHERE run_id = $1`}
	for _, name := range append(physicalTables(), "rejected_records") {
		parts = append(parts, `SELECT max(batch) FROM `+name+` WHERE run_id = $1`)
	}
	var last int64
	err := q.QueryRowContext(ctx, `SELECT coalesce(max(b), 0) FROM (`+strings.Join(parts, " UNION ALL ")+`)`, id).Scan(&last)
	return last, err
}

// ResumablePending is the number of pending work items of the run Resume
// (with the same notBefore) would continue: the requests left to make. It
// is 0 when there is no such run or its plan was not recorded (it would
// start over). It only reads, so it works on a read-only store.
func (s *Store) ResumablePending(ctx context.Context, notBefore time.Time) (int64, error) {
	c, err := findResumable(ctx, s.db, notBefore)
	if err != nil || c == nil || !c.planned {
		if err != nil {
			err = fmt.Errorf("load: find a resumable run: %w", err)
		}
		return 0, err
	}
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM work_items WHERE run_id = ? AND status = 'pending'`, c.id).Scan(&n); err != nil {
		return 0, fmt.Errorf("load: read work queue of %s: %w", c.id, err)
	}
	return n, nil
}
