package load

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/smartlead-etl/smartlead-etl/extract"
)

// Carry says which rows of a previous snapshot an incremental run copies
// into its own at commit, so that every snapshot stays complete.
type Carry struct {
	Stream     string // "campaign_analytics", "sequences", "leads" or "lead_email_stats"
	CampaignID int64
	FromRun    string // the succeeded run whose rows are copied
	// Mode is CarryAll (copy every row of that campaign and stream from
	// FromRun) or CarryMerge (copy those whose key, e.g.
	// campaign_lead_map_id or stats_id, this run did not stage).
	Mode CarryMode
}

// CarryMode is how a carry copies rows, as stored in run_carry.mode.
type CarryMode string

// Carry modes.
const (
	CarryAll   CarryMode = "all"
	CarryMerge CarryMode = "merge"
)

// carriedBatch is the batch of rows copied by a carry: no page uses it
// (Write and queue items count from 1).
const carriedBatch = "0"

// carryTables are the streams whose rows can be carried.
var carryTables = map[string]*table{
	"campaign_analytics": tCampaignAnalytics, "sequences": tSequences, "leads": tLeads, "lead_email_stats": tLeadEmailStats,
}

// campaignTables are the tables whose rows belong to one campaign.
var campaignTables = map[string]*table{
	"campaign_analytics": tCampaignAnalytics, "campaign_daily_stats": tDailyStats, "sequences": tSequences,
	"leads": tLeads, "lead_email_stats": tLeadEmailStats,
}

func carryTable(stream string) (*table, error) {
	if t := carryTables[stream]; t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("unknown stream %q (want campaign_analytics, sequences, leads or lead_email_stats)", stream)
}

// checkCarries validates cs and returns them with one entry per (stream,
// campaign), the last one winning, as the upsert would.
func (r *Run) checkCarries(ctx context.Context, cs []Carry) ([]Carry, error) {
	from := map[string]bool{}
	for i, c := range cs {
		bad := func(field, why string) error {
			return fmt.Errorf("load: carry %d (%s campaign %d): field %s: %s", i, c.Stream, c.CampaignID, field, why)
		}
		if _, err := carryTable(c.Stream); err != nil {
			return nil, bad("Stream", err.Error())
		}
		switch {
		case c.CampaignID <= 0:
			return nil, bad("CampaignID", "must be positive")
		case c.Mode != CarryAll && c.Mode != CarryMerge:
			return nil, bad("Mode", fmt.Sprintf("%q is not %q or %q", c.Mode, CarryAll, CarryMerge))
		case c.FromRun == "":
			return nil, bad("FromRun", "required")
		case c.FromRun == r.id:
			return nil, bad("FromRun", "a run cannot carry its own rows")
		}
		from[c.FromRun] = true
	}
	for id := range from {
		var status Status
		err := r.s.db.QueryRowContext(ctx, r.s.sq(`SELECT status FROM @w.etl_runs WHERE run_id = ?`), id).Scan(&status)
		if err == sql.ErrNoRows {
			return nil, fmt.Errorf("load: carry from run %s: no such run", id)
		}
		if err != nil {
			return nil, fmt.Errorf("load: carry from run %s: %w", id, err)
		}
		if status != StatusSucceeded {
			return nil, fmt.Errorf("load: carry from run %s: it is %s, not a snapshot", id, status)
		}
	}
	type key struct {
		stream string
		id     int64
	}
	last := map[key]int{}
	for i, c := range cs {
		last[key{c.Stream, c.CampaignID}] = i
	}
	out := make([]Carry, 0, len(last))
	for i, c := range cs {
		if last[key{c.Stream, c.CampaignID}] == i {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *Store) upsertCarries(ctx context.Context, tx *sql.Tx, id string, cs []Carry) error {
	if len(cs) == 0 {
		return nil
	}
	stmt, err := tx.PrepareContext(ctx, s.sq(`INSERT INTO @s.run_carry (run_id, stream, campaign_id, from_run, mode) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (run_id, stream, campaign_id) DO UPDATE SET from_run = excluded.from_run, mode = excluded.mode`))
	if err != nil {
		return fmt.Errorf("record carries: %w", err)
	}
	defer stmt.Close()
	for _, c := range cs {
		if _, err := stmt.ExecContext(ctx, id, c.Stream, c.CampaignID, c.FromRun, c.Mode); err != nil {
			return fmt.Errorf("record carry %s campaign %d: %w", c.Stream, c.CampaignID, err)
		}
	}
	return nil
}

// SetCarry records rows to carry forward at commit, replacing an earlier
// carry of the same stream and campaign. Carries are kept in run_carry,
// so they survive a resume.
func (r *Run) SetCarry(ctx context.Context, cs []Carry) error {
	if err := r.usable(); err != nil {
		return err
	}
	cs, err := r.checkCarries(ctx, cs)
	if err != nil {
		return err
	}
	if err := inTx(ctx, r.s.db, func(tx *sql.Tx) error { return r.s.upsertCarries(ctx, tx, r.id, cs) }); err != nil {
		return fmt.Errorf("load: run %s: %w", r.id, err)
	}
	return nil
}

// DropCarry removes the carry of one stream and campaign, if any.
func (r *Run) DropCarry(ctx context.Context, stream string, campaignID int64) error {
	if err := r.usable(); err != nil {
		return err
	}
	if _, err := carryTable(stream); err != nil {
		return fmt.Errorf("load: DropCarry campaign %d: %w", campaignID, err)
	}
	if _, err := r.s.db.ExecContext(ctx, r.s.sq(`DELETE FROM @s.run_carry WHERE run_id = ? AND stream = ? AND campaign_id = ?`),
		r.id, stream, campaignID); err != nil {
		return fmt.Errorf("load: DropCarry %s campaign %d: %w", stream, campaignID, err)
	}
	return nil
}

// Carries returns the run's carries, by stream and campaign.
func (r *Run) Carries(ctx context.Context) ([]Carry, error) {
	rows, err := r.s.db.QueryContext(ctx, r.s.sq(`SELECT stream, campaign_id, from_run, mode FROM @s.run_carry
		WHERE run_id = ? ORDER BY stream, campaign_id`), r.id)
	if err != nil {
		return nil, fmt.Errorf("load: read carries of %s: %w", r.id, err)
	}
	defer rows.Close()
	var out []Carry
	for rows.Next() {
		var c Carry
		if err := rows.Scan(&c.Stream, &c.CampaignID, &c.FromRun, &c.Mode); err != nil {
			return nil, fmt.Errorf("load: read carries of %s: %w", r.id, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// MergeCarries returns the run's CarryMerge carries of stream, by
// campaign: the campaigns whose rows are the previous snapshot's plus what
// changed.
func (r *Run) MergeCarries(ctx context.Context, stream string) (map[int64]Carry, error) {
	cs, err := r.Carries(ctx)
	if err != nil {
		return nil, err
	}
	out := map[int64]Carry{}
	for _, c := range cs {
		if c.Stream == stream && c.Mode == CarryMerge {
			out[c.CampaignID] = c
		}
	}
	return out, nil
}

// DiscardCampaign deletes the rows this run staged for one campaign and
// stream (with the totals the API reported for them and the records its
// pages rejected), before a full refresh of it. Like Write, it must be
// called from the goroutine that stages rows. To switch a campaign to a
// full re-read, prefer Refetch, which also drops the carry and enqueues
// the re-read in the same transaction.
func (r *Run) DiscardCampaign(ctx context.Context, stream string, campaignID int64) error {
	if err := r.usable(); err != nil {
		return err
	}
	if campaignTables[stream] == nil {
		return fmt.Errorf("load: DiscardCampaign campaign %d: stream %q is not one of a campaign's", campaignID, stream)
	}
	if err := r.flushPending(ctx); err != nil {
		return err
	}
	if err := inTx(ctx, r.s.db, func(tx *sql.Tx) error { return r.discardCampaign(ctx, tx, stream, campaignID) }); err != nil {
		return fmt.Errorf("load: DiscardCampaign %s campaign %d of run %s: %w", stream, campaignID, r.id, err)
	}
	return nil
}

// Refetch switches one campaign's streams to a full re-read, in one
// transaction: it drops their carries, deletes what the run staged of
// them (as DiscardCampaign) and enqueues items, returning their seqs. Done
// as three calls, a crash between them could leave the campaign with
// neither carried rows nor queued pages, which no check would notice.
// Like Write, it must be called from the goroutine that stages rows.
func (r *Run) Refetch(ctx context.Context, campaignID int64, streams []string, items []extract.Item) ([]int64, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	for _, st := range streams {
		if campaignTables[st] == nil {
			return nil, fmt.Errorf("load: Refetch campaign %d: stream %q is not one of a campaign's", campaignID, st)
		}
	}
	for i, it := range items {
		if err := checkItem(i, it); err != nil {
			return nil, err
		}
	}
	if err := r.flushPending(ctx); err != nil {
		return nil, err
	}
	first := r.batch + 1
	err := inTx(ctx, r.s.db, func(tx *sql.Tx) error {
		for _, st := range streams {
			if _, err := tx.ExecContext(ctx, r.s.sq(`DELETE FROM @s.run_carry WHERE run_id = ? AND stream = ? AND campaign_id = ?`),
				r.id, st, campaignID); err != nil {
				return err
			}
			if err := r.discardCampaign(ctx, tx, st, campaignID); err != nil {
				return err
			}
		}
		return r.s.insertItems(ctx, tx, r.id, first, items)
	})
	if err != nil {
		return nil, fmt.Errorf("load: Refetch campaign %d of run %s: %w", campaignID, r.id, err)
	}
	r.batch += int64(len(items))
	return seqs(first, len(items)), nil
}

// flushPending flushes rows still in the Appenders, which a delete would
// not see.
func (r *Run) flushPending(ctx context.Context) error {
	if r.pending == 0 && len(r.completed) == 0 {
		return nil
	}
	return r.Flush(ctx)
}

func (r *Run) discardCampaign(ctx context.Context, tx *sql.Tx, stream string, campaignID int64) error {
	// Rejected records hold no campaign: the pages that produced them are
	// the items of this stream and campaign.
	if _, err := tx.ExecContext(ctx, r.s.sq(`DELETE FROM @s.`+stRejected+` WHERE run_id = $1 AND batch IN
		(SELECT seq FROM @s.work_items WHERE run_id = $1 AND stream = $2 AND campaign_id = $3)`),
		r.id, stream, campaignID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, r.s.sq(`DELETE FROM @s.`+campaignTables[stream].staged+` WHERE run_id = ? AND campaign_id = ?`),
		r.id, campaignID); err != nil {
		return err
	}
	if totalTables[stream] != nil {
		if _, err := tx.ExecContext(ctx, r.s.sq(`DELETE FROM @s.`+stTotals+` WHERE run_id = ? AND stream = ? AND campaign_id = ?`),
			r.id, stream, campaignID); err != nil {
			return err
		}
	}
	return nil
}

// carrySQL copies into run $1's staging (snapshot date $2) the rows of t
// its carries name, as the snapshot of the run they come from held them:
// all of a campaign's, or those whose key the run did not stage.
func carrySQL(t *table) string {
	k := t.key[0]
	return `INSERT INTO @s.` + t.staged + `
		SELECT $1, ` + carriedBatch + `, $2::DATE, f.* EXCLUDE (valid_from, valid_to)
		FROM @w.` + t.physical + ` f
		JOIN @s.run_carry c ON c.campaign_id = f.campaign_id
		JOIN @w.etl_runs e ON e.run_id = c.from_run
		WHERE c.run_id = $1 AND c.stream = '` + t.name + `'
		AND f.valid_from <= e.commit_seq AND e.commit_seq < f.valid_to
		AND (c.mode = 'all' OR f.` + k + ` NOT IN (SELECT ` + k + ` FROM @s.` + t.staged + `
			WHERE run_id = $1 AND batch <> ` + carriedBatch + `))`
}

// applyCarry copies the carried rows into the run's staging, in one
// transaction that first deletes the copies an interrupted commit may have
// left, and returns the rows copied per table.
func (r *Run) applyCarry(ctx context.Context) (map[string]int64, error) {
	var bad sql.NullString
	if err := r.s.db.QueryRowContext(ctx, r.s.sq(`SELECT any_value(c.from_run) FROM @s.run_carry c
		LEFT JOIN @w.etl_runs e ON e.run_id = c.from_run
		WHERE c.run_id = ? AND (e.status IS DISTINCT FROM 'succeeded'
			OR e.commit_seq < (SELECT max(commit_seq) FROM @w.snapshot_floor))`), r.id).Scan(&bad); err != nil {
		return nil, err
	}
	if bad.Valid {
		return nil, fmt.Errorf("run %s, which rows are carried from, is not a succeeded run (or retention removed it)", bad.String)
	}
	names := make([]string, 0, len(carryTables))
	for n := range carryTables {
		names = append(names, n)
	}
	slices.Sort(names)
	out := map[string]int64{}
	err := inTx(ctx, r.s.db, func(tx *sql.Tx) error {
		for _, n := range names {
			t := carryTables[n]
			if _, err := tx.ExecContext(ctx, r.s.sq(`DELETE FROM @s.`+t.staged+` WHERE run_id = ? AND batch = `+carriedBatch), r.id); err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			res, err := tx.ExecContext(ctx, r.s.sq(carrySQL(t)), r.id, r.snapshot)
			if err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
			if out[n], err = res.RowsAffected(); err != nil {
				return fmt.Errorf("%s: %w", t.name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
