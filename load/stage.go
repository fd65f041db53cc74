package load

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// flushEvery is how many staged rows a run lets its Appenders buffer
// before it flushes them; flushInterval is how long. Each flush is a
// commit, and it is what checks finished pages off the work queue, so
// these bound the memory a load holds, what a crash can lose (pages it
// fetches again), and the number of commits a load costs.
const (
	flushEvery    = 50_000
	flushInterval = 5 * time.Second
)

// completion is a page handed over by CompleteItem: the item is marked
// done, and next queued, in the transaction that makes its rows durable.
type completion struct {
	seq     int64
	next    *extract.Item
	nextSeq int64
}

// ID returns the run's id, the run_id of every row it writes.
func (r *Run) ID() string { return r.id }

// Write stages one batch of rows that belongs to no queue item, their
// extracted_at now (the store's clock, Options.Now). Like every staged
// row, they become durable at the next flush (every flushEvery rows or
// flushInterval, a completed item, Commit or an incomplete Abort), and
// visible only once Commit succeeds. Rejected records are kept under the
// run's id. A row with invalid JSON in a JSON column is an error naming
// the table, key and column; after any error the run can only be aborted.
func (r *Run) Write(ctx context.Context, b transform.Batch) error {
	if err := r.usable(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	r.batch++
	if err := r.stage(b, r.batch, r.s.opts.now()); err != nil {
		return err
	}
	return r.maybeFlush(ctx)
}

// maybeFlush flushes when the buffer is full or old enough.
func (r *Run) maybeFlush(ctx context.Context) error {
	if r.pending >= flushEvery || (r.pending > 0 || len(r.completed) > 0) && r.s.opts.now().Sub(r.flushedAt) >= flushInterval {
		return r.flush(ctx)
	}
	return nil
}

// stage appends b's rows to the Appenders under batch number batch.
func (r *Run) stage(b transform.Batch, batch int64, extractedAt time.Time) error {
	for _, t := range b.Totals {
		if totalTables[t.Stream] == nil {
			return r.fail(fmt.Errorf("load: reported total for campaign %d: unknown stream %q (want leads or lead_email_stats)", t.CampaignID, t.Stream))
		}
	}
	r.cur = batch
	err := errors.Join(
		appendRows(r, tCampaigns, b.Campaigns, extractedAt, fillCampaign),
		appendRows(r, tCampaignAnalytics, b.CampaignAnalytics, extractedAt, fillCampaignAnalytics),
		appendRows(r, tDailyStats, b.DailyStats, extractedAt, fillDailyStat),
		appendRows(r, tLeads, b.Leads, extractedAt, fillLead),
		appendRows(r, tLeadEmailStats, b.LeadEmailStats, extractedAt, fillLeadEmailStat),
		appendRows(r, tSequences, b.Sequences, extractedAt, fillSequence),
		appendRows(r, tEmailAccounts, b.EmailAccounts, extractedAt, fillEmailAccount),
		appendRows(r, tClients, b.Clients, extractedAt, fillClient),
		r.appendRejected(b.Rejected),
		r.appendTotals(b.Totals),
	)
	if err != nil {
		return r.fail(err)
	}
	return nil
}

// appendRows stages rows into t: the prefix, then fill's values.
func appendRows[T any](r *Run, t *table, rows []T, at time.Time, fill func([]driver.Value, *T)) error {
	if len(rows) == 0 || r.broken != nil {
		return nil
	}
	app, err := r.appender(t.staged)
	if err != nil {
		return err
	}
	v := r.row(prefix + len(t.cols))
	v[0], v[1], v[2], v[3] = r.id, r.cur, r.snapshot, at
	for i := range rows {
		fill(v[prefix:], &rows[i])
		if err := app.AppendRow(v...); err != nil {
			if bad := t.badJSON(v[prefix:]); bad != "" {
				return fmt.Errorf("load: %s %s: column %s: not valid JSON", t.name, t.keyOf(v[prefix:]), bad)
			}
			return fmt.Errorf("load: %s %s: %w", t.name, t.keyOf(v[prefix:]), err)
		}
	}
	r.pending += len(rows)
	return nil
}

func (r *Run) appendRejected(rej []transform.Rejected) error {
	if len(rej) == 0 || r.broken != nil {
		return nil
	}
	app, err := r.appender(stRejected)
	if err != nil {
		return err
	}
	v := r.row(7)
	for i := range rej {
		x := &rej[i]
		var raw driver.Value
		switch {
		case x.Raw == nil:
		case json.Valid(x.Raw):
			raw = json.RawMessage(x.Raw)
		default:
			// The record may be rejected for not being JSON at all: keep
			// its text as a JSON string rather than lose it.
			raw = string(x.Raw)
		}
		v[0], v[1], v[2], v[3], v[4], v[5], v[6] = r.id, x.Stream, x.RecordKey, x.Field, redact(x.Reason), raw, r.cur
		if err := app.AppendRow(v...); err != nil {
			return fmt.Errorf("load: rejected record %s %s: %w", x.Stream, x.RecordKey, err)
		}
	}
	r.pending += len(rej)
	return nil
}

func (r *Run) appendTotals(ts []transform.ReportedTotal) error {
	if len(ts) == 0 || r.broken != nil {
		return nil
	}
	app, err := r.appender(stTotals)
	if err != nil {
		return err
	}
	v := r.row(6)
	for _, t := range ts {
		v[0], v[1], v[2], v[3], v[4], v[5] = r.id, r.cur, r.snapshot, t.Stream, t.CampaignID, t.Total
		if err := app.AppendRow(v...); err != nil {
			return fmt.Errorf("load: reported total %s campaign %d: %w", t.Stream, t.CampaignID, err)
		}
	}
	r.pending += len(ts)
	return nil
}

func (r *Run) row(n int) []driver.Value {
	if cap(r.vals) < n {
		r.vals = make([]driver.Value, n)
	}
	return r.vals[:n]
}

// appender returns the Appender of a staging table, creating it (and the
// run's staging connection) on first use.
func (r *Run) appender(table string) (*duckdb.Appender, error) {
	if a := r.apps[table]; a != nil {
		return a, nil
	}
	conn, err := r.stagingConn()
	if err != nil {
		return nil, err
	}
	var a *duckdb.Appender
	err = conn.Raw(func(dc any) error {
		var err error
		a, err = duckdb.NewAppender(dc.(driver.Conn), r.s.stageCatalog, "main", table)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load: appender for %s: %w", table, err)
	}
	r.apps[table] = a
	return a, nil
}

// flush makes every row staged so far durable and checks off the pages
// CompleteItem handed over, queueing their next pages, in one transaction
// of the staging connection (the Appenders flush into it): a page's rows
// and its done-mark are committed together, one commit per page. Rows
// stay invisible until Commit.
func (r *Run) flush(ctx context.Context) error {
	if err := r.usable(); err != nil {
		return err
	}
	if r.conn == nil && len(r.completed) == 0 {
		return nil
	}
	conn, err := r.stagingConn()
	if err != nil {
		return r.fail(err)
	}
	if _, err := conn.ExecContext(ctx, `BEGIN TRANSACTION`); err != nil {
		return r.fail(fmt.Errorf("load: flush: %w", err))
	}
	if err := r.flushInTx(ctx, conn); err != nil {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
		return r.fail(err)
	}
	if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
		return r.fail(fmt.Errorf("load: flush: %w", err))
	}
	r.pending = 0
	r.flushedAt = r.s.opts.now()
	r.completed = r.completed[:0]
	return nil
}

// flushInTx flushes the Appenders and checks the completed items off,
// inside the staging connection's open transaction.
func (r *Run) flushInTx(ctx context.Context, conn *sql.Conn) error {
	for name, a := range r.apps {
		if err := a.FlushWithCancel(ctx); err != nil {
			return fmt.Errorf("load: flush %s: %w", name, err)
		}
	}
	if len(r.completed) == 0 {
		return nil
	}
	// A failure from here on (the test hook stands for one) rolls the
	// pages back with their rows: they stay pending, which a resume
	// fetches again.
	if testHookItemFlushed != nil {
		for _, c := range r.completed {
			if err := testHookItemFlushed(c.seq); err != nil {
				r.resumable = true
				return err
			}
		}
	}
	list := make([]string, 0, len(r.completed))
	var next []extract.Item
	firstNext := int64(0)
	for _, c := range r.completed {
		list = append(list, strconv.FormatInt(c.seq, 10))
		if c.next != nil {
			if firstNext == 0 {
				firstNext = c.nextSeq
			}
			next = append(next, *c.next)
		}
	}
	// Next pages are numbered in the order they were handed out, so they
	// are consecutive from the first.
	if err := r.s.insertItems(ctx, conn, r.id, firstNext, next); err != nil {
		return fmt.Errorf("load: queue the next pages of run %s: %w", r.id, err)
	}
	// The seqs are this run's own numbers, not input: a literal list.
	res, err := conn.ExecContext(ctx, r.s.sq(`UPDATE @s.work_items SET status = 'done', done_at = ?
		WHERE run_id = ? AND status = 'pending' AND seq IN (`+strings.Join(list, ", ")+`)`), r.s.opts.now(), r.id)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n != int64(len(list)) {
			err = fmt.Errorf("%d of the items are no longer pending", int64(len(list))-n)
		}
	}
	if err != nil {
		r.resumable = true
		return fmt.Errorf("load: check off %d work items of run %s: %w", len(list), r.id, err)
	}
	return nil
}

// closeAppenders closes every Appender: flushing their rows (and checking
// off completed items) when keep is true, discarding the unflushed rows
// otherwise.
func (r *Run) closeAppenders(ctx context.Context, keep bool) error {
	var errs []error
	if keep && r.broken == nil {
		if err := r.flush(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for name, a := range r.apps {
		if !keep || r.broken != nil {
			if err := a.Clear(); err != nil {
				errs = append(errs, fmt.Errorf("load: discard %s rows: %w", name, err))
			}
		}
		if err := a.Close(); err != nil {
			errs = append(errs, fmt.Errorf("load: flush %s: %w", name, err))
		}
		delete(r.apps, name)
	}
	r.pending = 0
	r.completed = nil
	return errors.Join(errs...)
}

// stagingConn is the run's staging connection, opened on first use: its
// Appenders and the transactions that flush them share it.
func (r *Run) stagingConn() (*sql.Conn, error) {
	if r.conn == nil {
		conn, err := r.s.db.Conn(context.Background())
		if err != nil {
			return nil, fmt.Errorf("load: staging connection: %w", err)
		}
		r.conn = conn
	}
	return r.conn, nil
}

// closeConn releases the run's staging connection.
func (r *Run) closeConn() {
	if r.conn != nil {
		_ = r.conn.Close()
		r.conn = nil
	}
}
