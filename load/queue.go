package load

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

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

// execer is a *sql.DB, a *sql.Tx, or a *sql.Conn inside a transaction.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// insertItems adds items to run id's queue as pending, numbered from
// first, in one statement whatever their number (a statement per item
// took 11 s for the 18,000 first pages of a 3,000-campaign account).
// Absent values travel as zero values and are stored as NULL.
func (s *Store) insertItems(ctx context.Context, ex execer, id string, first int64, items []extract.Item) error {
	if len(items) == 0 {
		return nil
	}
	n := len(items)
	var (
		stream = make([]string, n)
		cid    = make([]int64, n)
		day    = make([]string, n)
		offset = make([]int64, n)
		since  = make([]time.Time, n)
		docs   = make([]string, n)
	)
	for i, it := range items {
		doc, err := json.Marshal(it)
		if err != nil {
			return fmt.Errorf("enqueue item %d: %w", i, err)
		}
		stream[i], cid[i], day[i], offset[i], since[i], docs[i] = string(it.Stream), it.CampaignID, it.Day, int64(it.Offset), it.Since, string(doc)
	}
	_, err := ex.ExecContext(ctx, s.sq(`INSERT INTO @s.work_items (run_id, seq, status, stream, campaign_id, day, "offset", since, item)
		SELECT $1, $2 + i - 1, 'pending', stream, nullif(cid, 0), nullif(day, ''), "offset",
			CASE WHEN since <> $9::TIMESTAMPTZ THEN since END, doc::JSON
		FROM (SELECT unnest(generate_series(1, len($3::VARCHAR[]))) AS i, unnest($3::VARCHAR[]) AS stream,
			unnest($4::BIGINT[]) AS cid, unnest($5::VARCHAR[]) AS day, unnest($6::BIGINT[]) AS "offset",
			unnest($7::TIMESTAMPTZ[]) AS since, unnest($8::VARCHAR[]) AS doc)`),
		id, first, stream, cid, day, offset, since, docs, time.Time{})
	if err != nil {
		return fmt.Errorf("enqueue %d items: %w", n, err)
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
	if err := inTx(ctx, r.s.db, func(tx *sql.Tx) error { return r.s.insertItems(ctx, tx, r.id, first, items) }); err != nil {
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

// PendingItems returns the run's pending work items in seq order. It
// flushes first, so that pages handed over are checked off and their next
// pages queued.
func (r *Run) PendingItems(ctx context.Context) ([]WorkItem, error) {
	if err := r.flushPending(ctx); err != nil {
		return nil, err
	}
	rows, err := r.s.db.QueryContext(ctx, r.s.sq(`SELECT seq, item::VARCHAR FROM @s.work_items
		WHERE run_id = ? AND status = 'pending' ORDER BY seq`), r.id)
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

// QueueStats counts the run's pending and done work items (as of the
// last flush).
func (r *Run) QueueStats(ctx context.Context) (pending, done int64, err error) {
	err = r.s.db.QueryRowContext(ctx, r.s.sq(`SELECT count(*) FILTER (WHERE status = 'pending'),
		count(*) FILTER (WHERE status = 'done') FROM @s.work_items WHERE run_id = ?`), r.id).Scan(&pending, &done)
	if err != nil {
		return 0, 0, fmt.Errorf("load: read work queue of %s: %w", r.id, err)
	}
	return pending, done, nil
}

// CompleteItem hands over the page of the pending item seq: it stages b's
// rows under batch seq and, in one transaction, makes them durable, marks
// seq done and queues next, returning next's seq (0 when next is nil). A
// crash leaves either all of it or none: seq pending, which
// [Store.Resume] hands out again (deleting any rows staged for it), so
// that a page is never held twice nor lost. Like Write, it must be called
// from the goroutine that stages rows; the rows' extracted_at is now (the
// store's clock, Options.Now).
func (r *Run) CompleteItem(ctx context.Context, seq int64, b transform.Batch, next *extract.Item) (int64, error) {
	if err := r.usable(); err != nil {
		return 0, err
	}
	extractedAt := r.s.opts.now()
	if next != nil {
		if err := checkItem(0, *next); err != nil {
			return 0, fmt.Errorf("%w (the page after item %d)", err, seq)
		}
	}
	var status string
	err := r.s.db.QueryRowContext(ctx, r.s.sq(`SELECT status FROM @s.work_items WHERE run_id = ? AND seq = ?`), r.id, seq).Scan(&status)
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
	c := completion{seq: seq, next: next}
	if next != nil {
		r.batch++
		c.nextSeq = r.batch
	}
	r.completed = append(r.completed, c)
	// Checked off at once: a request is never spent again on a page held.
	if err := r.flush(ctx); err != nil {
		return 0, err
	}
	return c.nextSeq, nil
}

// SetPlan records the run's work plan in one transaction: its mode
// (ModeFull or ModeIncremental), the items to fetch (appended to the
// queue in order) and the rows to carry forward (see [Run.setCarries]):
// its cost follows the number of items and sets, not one statement per
// campaign carried. A run resumed after
// SetPlan is Planned and continues its queue; one that died before plans
// again from a clean slate (see [Store.Resume]).
func (r *Run) SetPlan(ctx context.Context, mode Mode, items []extract.Item, carries []CarrySet) error {
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
	if err := r.flushPending(ctx); err != nil {
		return err
	}
	first = r.batch + 1
	err = inTx(ctx, r.s.db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, r.s.sq(`UPDATE @s.stage_runs SET mode = ?, planned = true WHERE run_id = ?`), m, r.id); err != nil {
			return err
		}
		if err := r.s.insertItems(ctx, tx, r.id, first, items); err != nil {
			return err
		}
		return r.s.upsertCarries(ctx, tx, r.id, cs)
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
