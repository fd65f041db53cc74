package load

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/smartlead-etl/smartlead-etl/extract"
)

// CarrySet says which rows of a previous snapshot an incremental run
// copies into its own at commit, for a set of campaigns, so that every
// snapshot stays complete. A plan records one set per stream, mode and
// run carried from, whatever the number of campaigns: carries are kept
// and applied as set operations, never one statement per campaign.
type CarrySet struct {
	Stream  string // "campaign_analytics", "sequences", "leads" or "lead_email_stats"
	FromRun string // the succeeded run whose rows are copied
	// Mode is CarryAll (copy every row of each campaign and stream from
	// FromRun) or CarryMerge (copy those whose key, e.g.
	// campaign_lead_map_id or stats_id, this run did not stage).
	Mode      CarryMode
	Campaigns []int64
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

// checkCarries validates sets and returns them normalised: one set per
// stream, mode and run, each campaign of a stream in one set only (the
// last set naming it wins, as an upsert would), campaigns ascending.
func (r *Run) checkCarries(ctx context.Context, sets []CarrySet) ([]CarrySet, error) {
	from := map[string]bool{}
	type key struct {
		stream string
		id     int64
	}
	owner := map[key]int{} // the set that carries each stream and campaign
	for i, c := range sets {
		bad := func(field, why string) error {
			return fmt.Errorf("load: carry set %d (%s, %s from run %s): field %s: %s", i, c.Stream, c.Mode, c.FromRun, field, why)
		}
		if _, err := carryTable(c.Stream); err != nil {
			return nil, bad("Stream", err.Error())
		}
		switch {
		case c.Mode != CarryAll && c.Mode != CarryMerge:
			return nil, bad("Mode", fmt.Sprintf("%q is not %q or %q", c.Mode, CarryAll, CarryMerge))
		case c.FromRun == "":
			return nil, bad("FromRun", "required")
		case c.FromRun == r.id:
			return nil, bad("FromRun", "a run cannot carry its own rows")
		}
		for _, id := range c.Campaigns {
			if id <= 0 {
				return nil, bad("Campaigns", fmt.Sprintf("campaign %d: must be positive", id))
			}
			owner[key{c.Stream, id}] = i
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
	type group struct {
		stream string
		mode   CarryMode
		from   string
	}
	at := map[group]int{}
	var out []CarrySet
	for i, c := range sets {
		g := group{c.Stream, c.Mode, c.FromRun}
		for _, id := range c.Campaigns {
			k := key{c.Stream, id}
			if owner[k] != i {
				continue
			}
			delete(owner, k) // a campaign listed twice in one set
			j, ok := at[g]
			if !ok {
				j = len(out)
				at[g] = j
				out = append(out, CarrySet{Stream: c.Stream, FromRun: c.FromRun, Mode: c.Mode})
			}
			out[j].Campaigns = append(out[j].Campaigns, id)
		}
	}
	for i := range out {
		slices.Sort(out[i].Campaigns)
	}
	return out, nil
}

// upsertCarries records normalised sets (see checkCarries), replacing the
// carries of the same streams and campaigns: one statement per set, each
// taking its campaigns as one list. (One INSERT ... ON CONFLICT per
// campaign costs DuckDB about 150 KiB of transaction memory each: a plan
// of 300 campaigns ran out of the default memory limit.)
func (s *Store) upsertCarries(ctx context.Context, tx *sql.Tx, id string, sets []CarrySet) error {
	for _, c := range sets {
		if _, err := tx.ExecContext(ctx, s.sq(`INSERT INTO @s.run_carry (run_id, stream, campaign_id, from_run, mode)
			SELECT $1, $2, unnest($3::BIGINT[]), $4, $5
			ON CONFLICT (run_id, stream, campaign_id) DO UPDATE SET from_run = excluded.from_run, mode = excluded.mode`),
			id, c.Stream, c.Campaigns, c.FromRun, string(c.Mode)); err != nil {
			return fmt.Errorf("record the %s carries of %d campaigns (%s from run %s): %w", c.Stream, len(c.Campaigns), c.Mode, c.FromRun, err)
		}
	}
	return nil
}

// setCarries, dropCarries, carries and discardStaged are the single steps
// the carry tests drive; the pipeline records carries with SetPlan and
// switches campaigns to a re-read with Refetch, which does the steps in
// one transaction.
//
// setCarries records rows to carry forward at commit, replacing earlier
// carries of the same streams and campaigns; within one call, the last
// set naming a stream and campaign wins. Carries are kept in run_carry,
// so they survive a resume. Its cost does not grow with the number of
// sets' campaigns beyond the list itself.
func (r *Run) setCarries(ctx context.Context, sets []CarrySet) error {
	if err := r.usable(); err != nil {
		return err
	}
	sets, err := r.checkCarries(ctx, sets)
	if err != nil {
		return err
	}
	if err := inTx(ctx, r.s.db, func(tx *sql.Tx) error { return r.s.upsertCarries(ctx, tx, r.id, sets) }); err != nil {
		return fmt.Errorf("load: run %s: %w", r.id, err)
	}
	return nil
}

// campaignList checks a list of campaign ids.
func campaignList(ids []int64) error {
	for _, id := range ids {
		if id <= 0 {
			return fmt.Errorf("campaign %d: must be positive", id)
		}
	}
	return nil
}

// dropCarries deletes the carries of stream for the campaigns ids.
func (s *Store) dropCarries(ctx context.Context, ex execer, id, stream string, ids []int64) error {
	_, err := ex.ExecContext(ctx, s.sq(`DELETE FROM @s.run_carry WHERE run_id = $1 AND stream = $2
		AND campaign_id IN (SELECT unnest($3::BIGINT[]))`), id, stream, ids)
	return err
}

// dropCarries removes the carries of one stream for a set of campaigns
// (those without one are skipped).
func (r *Run) dropCarries(ctx context.Context, stream string, campaigns []int64) error {
	if err := r.usable(); err != nil {
		return err
	}
	if _, err := carryTable(stream); err != nil {
		return fmt.Errorf("load: dropCarries: %w", err)
	}
	if err := campaignList(campaigns); err != nil {
		return fmt.Errorf("load: dropCarries %s: %w", stream, err)
	}
	if err := r.s.dropCarries(ctx, r.s.db, r.id, stream, campaigns); err != nil {
		return fmt.Errorf("load: dropCarries %s of %d campaigns: %w", stream, len(campaigns), err)
	}
	return nil
}

// carries returns the run's carries as sets: one per stream, mode and run
// carried from, in that order, campaigns ascending.
func (r *Run) carries(ctx context.Context) ([]CarrySet, error) {
	rows, err := r.s.db.QueryContext(ctx, r.s.sq(`SELECT stream, mode, from_run, list(campaign_id ORDER BY campaign_id)
		FROM @s.run_carry WHERE run_id = ? GROUP BY ALL ORDER BY stream, mode, from_run`), r.id)
	if err != nil {
		return nil, fmt.Errorf("load: read carries of %s: %w", r.id, err)
	}
	defer rows.Close()
	var out []CarrySet
	for rows.Next() {
		var c CarrySet
		var ids duckdb.Composite[[]int64]
		if err := rows.Scan(&c.Stream, &c.Mode, &c.FromRun, &ids); err != nil {
			return nil, fmt.Errorf("load: read carries of %s: %w", r.id, err)
		}
		c.Campaigns = ids.Get()
		out = append(out, c)
	}
	return out, rows.Err()
}

// CarriedCampaigns returns, ascending, the campaigns whose rows of stream
// the run carries in mode (CarryAll or CarryMerge; "" for either).
func (r *Run) CarriedCampaigns(ctx context.Context, stream string, mode CarryMode) ([]int64, error) {
	if _, err := carryTable(stream); err != nil {
		return nil, fmt.Errorf("load: CarriedCampaigns: %w", err)
	}
	rows, err := r.s.db.QueryContext(ctx, r.s.sq(`SELECT campaign_id FROM @s.run_carry
		WHERE run_id = $1 AND stream = $2 AND ($3 = '' OR mode = $3) ORDER BY campaign_id`), r.id, stream, string(mode))
	if err != nil {
		return nil, fmt.Errorf("load: read carries of %s: %w", r.id, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("load: read carries of %s: %w", r.id, err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// discardStaged deletes the rows this run staged for a set of campaigns
// of one stream (with the totals the API reported for them and the
// records their pages rejected), before a full refresh of them. Like
// Write, it must be called from the goroutine that stages rows. To switch
// campaigns to a full re-read, prefer Refetch, which also drops their
// carries and enqueues the re-read in the same transaction.
func (r *Run) discardStaged(ctx context.Context, stream string, campaigns []int64) error {
	if err := r.usable(); err != nil {
		return err
	}
	if campaignTables[stream] == nil {
		return fmt.Errorf("load: discardStaged: stream %q is not one of a campaign's", stream)
	}
	if err := campaignList(campaigns); err != nil {
		return fmt.Errorf("load: discardStaged %s: %w", stream, err)
	}
	if err := r.flushPending(ctx); err != nil {
		return err
	}
	if err := inTx(ctx, r.s.db, func(tx *sql.Tx) error { return r.discardCampaigns(ctx, tx, stream, campaigns) }); err != nil {
		return fmt.Errorf("load: discardStaged %s of %d campaigns of run %s: %w", stream, len(campaigns), r.id, err)
	}
	return nil
}

// Refetch switches a set of campaigns' streams to a full re-read, in one
// transaction: it drops their carries, deletes what the run staged of
// them (as discardStaged) and enqueues items, returning their seqs.
// Done as three calls, a crash between them could leave a campaign with
// neither carried rows nor queued pages, which no check would notice.
// Like Write, it must be called from the goroutine that stages rows.
func (r *Run) Refetch(ctx context.Context, campaigns []int64, streams []string, items []extract.Item) ([]int64, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	if err := campaignList(campaigns); err != nil {
		return nil, fmt.Errorf("load: Refetch: %w", err)
	}
	for _, st := range streams {
		if campaignTables[st] == nil {
			return nil, fmt.Errorf("load: Refetch: stream %q is not one of a campaign's", st)
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
			if carryTables[st] != nil {
				if err := r.s.dropCarries(ctx, tx, r.id, st, campaigns); err != nil {
					return err
				}
			}
			if err := r.discardCampaigns(ctx, tx, st, campaigns); err != nil {
				return err
			}
		}
		return r.s.insertItems(ctx, tx, r.id, first, items)
	})
	if err != nil {
		return nil, fmt.Errorf("load: Refetch %d campaigns of run %s: %w", len(campaigns), r.id, err)
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
	return r.flush(ctx)
}

func (r *Run) discardCampaigns(ctx context.Context, tx *sql.Tx, stream string, ids []int64) error {
	// Rejected records hold no campaign: the pages that produced them are
	// the items of this stream and these campaigns.
	if _, err := tx.ExecContext(ctx, r.s.sq(`DELETE FROM @s.`+stRejected+` WHERE run_id = $1 AND batch IN
		(SELECT seq FROM @s.work_items WHERE run_id = $1 AND stream = $2 AND campaign_id IN (SELECT unnest($3::BIGINT[])))`),
		r.id, stream, ids); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, r.s.sq(`DELETE FROM @s.`+campaignTables[stream].staged+` WHERE run_id = $1
		AND campaign_id IN (SELECT unnest($2::BIGINT[]))`), r.id, ids); err != nil {
		return err
	}
	if totalTables[stream] != nil {
		if _, err := tx.ExecContext(ctx, r.s.sq(`DELETE FROM @s.`+stTotals+` WHERE run_id = $1 AND stream = $2
			AND campaign_id IN (SELECT unnest($3::BIGINT[]))`), r.id, stream, ids); err != nil {
			return err
		}
	}
	return nil
}

// carrySQL copies into run $1's staging (snapshot date $2) the rows of t
// its carries name, as the snapshot of the run they come from held them:
// all of a campaign's, or those whose key the run did not stage. The
// carried campaigns are joined as a set and the staged keys anti-joined:
// statements follow the rows copied (see applyCarry), never the campaigns.
func carrySQL(t *table) string {
	return `INSERT INTO @s.` + t.staged + `
		SELECT $1, ` + carriedBatch + `, $2::DATE, f.* EXCLUDE (valid_from, valid_to)
		FROM ` + carriedSQL(t) + ` f`
}

// carriedSQL is a subquery of the versions of t that run $1's carries
// copy (see carrySQL), with valid_from and valid_to: a join of the
// versions with the carried campaigns, and for CarryMerge an anti-join
// with the keys the run staged. Both build their hash table on the small
// side (the campaigns, the staged keys) and stream the versions: a
// correlated NOT EXISTS made DuckDB materialise every carried row.
func carriedSQL(t *table) string {
	k := t.key[0]
	versions := func(mode CarryMode) string {
		return `SELECT f.* FROM @w.` + t.physical + ` f
			JOIN (SELECT c.campaign_id, e.commit_seq FROM @s.run_carry c JOIN @w.etl_runs e ON e.run_id = c.from_run
				WHERE c.run_id = $1 AND c.stream = '` + t.name + `' AND c.mode = '` + string(mode) + `') c
			ON c.campaign_id = f.campaign_id AND f.valid_from <= c.commit_seq AND c.commit_seq < f.valid_to`
	}
	return `(` + versions(CarryAll) + `
		UNION ALL
		SELECT m.* FROM (` + versions(CarryMerge) + `) m
		ANTI JOIN (SELECT ` + k + ` FROM @s.` + t.staged + ` WHERE run_id = $1 AND batch <> ` + carriedBatch + `) s
		ON s.` + k + ` = m.` + k + `)`
}

// applyCarry copies the carried rows into the run's staging, after
// deleting the copies an interrupted commit may have left, and returns
// the rows copied per table. It copies in chunks of about carryChunkRows
// rows, each its own transaction followed by a checkpoint of the side
// file: a statement holds what it inserts in memory until it commits,
// and committed rows stay in memory until a checkpoint writes them out
// (about 600 bytes a row: copying 3,000 campaigns of 30 leads at once
// held 160 MB, most of the default memory limit). A commit interrupted
// between chunks leaves copies that the next one (or a resume) deletes.
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
	for _, n := range names {
		t := carryTables[n]
		if _, err := r.s.db.ExecContext(ctx, r.s.sq(`DELETE FROM @s.`+t.staged+` WHERE run_id = ? AND batch = `+carriedBatch), r.id); err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		chunks, err := r.carryChunks(ctx, t)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", t.name, err)
		}
		for _, c := range chunks {
			res, err := r.s.db.ExecContext(ctx, r.s.sq(carrySQL(t)+` WHERE f.campaign_id BETWEEN $3 AND $4`), r.id, r.snapshot, c[0], c[1])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.name, err)
			}
			k, err := res.RowsAffected()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", t.name, err)
			}
			out[n] += k
			// Best effort: it only lets memory go, and fails while another
			// transaction writes the side file.
			if _, err := r.s.db.ExecContext(ctx, `CHECKPOINT "`+strings.ReplaceAll(r.s.stageCatalog, `"`, `""`)+`"`); err != nil {
				r.s.log.Debug("side file not checkpointed after a carry chunk", "error", err)
			}
		}
	}
	return out, nil
}

// carryChunkRows is about how many carried rows one transaction of
// applyCarry copies: its memory bound, and few chunks (four for 100,000
// leads).
var carryChunkRows int64 = 25_000

// carryChunks splits the campaigns whose rows of t the run carries into
// ranges of campaign ids holding about carryChunkRows rows each (a
// campaign larger than that is a range of its own).
func (r *Run) carryChunks(ctx context.Context, t *table) ([][2]int64, error) {
	rows, err := r.s.db.QueryContext(ctx, r.s.sq(`SELECT min(campaign_id), max(campaign_id) FROM (
			SELECT campaign_id, sum(n) OVER (ORDER BY campaign_id) AS upto FROM (
				SELECT campaign_id, count(*) AS n FROM `+carriedSQL(t)+` GROUP BY ALL))
		GROUP BY (upto - 1) // $2 ORDER BY 1`), r.id, carryChunkRows)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][2]int64
	for rows.Next() {
		var c [2]int64
		if err := rows.Scan(&c[0], &c[1]); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
