package load

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// Change detection (issue 19) keeps three things for a run in the side
// file until its snapshot is published: the overall-stats rows its night
// read (published into overall_stats_seen, the memory the next night
// compares with), the data checks the pipeline itself found (a change
// signal it could not trust, and what it did instead), and the
// pipeline's own notes on its plan (what each signal flagged), so that a
// resumed run can verify what it planned. All three are written before
// the plan (SetPlan) and so share its fate: a run resumed without a plan
// plans, and writes them, again.

// Side-file tables of change detection.
const (
	stOverall      = "overall_stats_staged"
	stOverallCells = "overall_stats_cells_staged"
	stChecks       = "checks_staged"
	stNotes        = "run_notes"
)

// signalTables are the side file's change-detection tables, each with a
// run_id column.
var signalTables = []string{stOverall, stOverallCells, stChecks, stNotes}

// createSignalTables creates the side file's change-detection tables. The
// severity CHECK is the warehouse's data_checks one, made from the Go
// names (TestStatusesMatchSchema holds those to the migration's list).
func (s *Store) createSignalTables(ctx context.Context) error {
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS @s.` + stOverall + ` (run_id VARCHAR NOT NULL, campaign_id BIGINT NOT NULL,
			range_start DATE NOT NULL, range_end DATE NOT NULL, sent BIGINT NOT NULL, opened BIGINT NOT NULL,
			replied BIGINT NOT NULL, bounced BIGINT NOT NULL, unsubscribed BIGINT NOT NULL, positive_replied BIGINT NOT NULL,
			unique_lead_count BIGINT NOT NULL, unique_open_count BIGINT NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS @s.` + stOverallCells + ` (run_id VARCHAR NOT NULL, range_start DATE NOT NULL,
			range_end DATE NOT NULL, PRIMARY KEY (run_id, range_start))`,
		`CREATE TABLE IF NOT EXISTS @s.` + stChecks + ` (run_id VARCHAR NOT NULL, seq BIGINT NOT NULL, "check" VARCHAR NOT NULL,
			subject VARCHAR NOT NULL, detail VARCHAR NOT NULL,
			severity VARCHAR NOT NULL CHECK (severity IN (` + severityList() + `)),
			PRIMARY KEY (run_id, "check", subject))`,
		`CREATE TABLE IF NOT EXISTS @s.` + stNotes + ` (run_id VARCHAR PRIMARY KEY, notes JSON NOT NULL)`,
	} {
		if _, err := s.db.ExecContext(ctx, s.sq(q)); err != nil {
			return fmt.Errorf("load: create the side file's change-detection tables: %w", err)
		}
	}
	return nil
}

// severities are the check severities, as data_checks' CHECK lists them.
var severities = []Severity{SeverityOK, SeverityInfo, SeverityWarning, SeverityError}

func severityList() string {
	out := ""
	for i, v := range severities {
		if i > 0 {
			out += ", "
		}
		out += "'" + sqlString(string(v)) + "'"
	}
	return out
}

// OverallCell is one overall-stats range a night read: UTC days Start
// through End; in OverallStatsSeen, RunID is the run whose night read it
// last.
type OverallCell struct {
	Start, End time.Time
	RunID      string
}

// StageOverallStats records the overall-stats ranges the run's night read
// and the rows they listed, replacing what the run recorded before. When
// the snapshot is published, each of these ranges' rows in
// overall_stats_seen is replaced by these (a campaign the range no longer
// lists loses its row there). Call it with none to keep the memory as it
// is (a night whose rows could not be trusted).
func (r *Run) StageOverallStats(ctx context.Context, cells []OverallCell, rows []transform.OverallStat) error {
	if err := r.usable(); err != nil {
		return err
	}
	in := map[time.Time]bool{}
	for i, c := range cells {
		if c.End.Before(c.Start) {
			return fmt.Errorf("load: overall-stats range %d: end %s is before start %s", i, c.End.Format(time.DateOnly), c.Start.Format(time.DateOnly))
		}
		in[dateOnly(c.Start.UTC())] = true
	}
	for i, o := range rows {
		if !in[dateOnly(o.Start.UTC())] {
			return fmt.Errorf("load: overall-stats row %d (campaign %d): range starting %s is not among the ranges read",
				i, o.CampaignID, o.Start.Format(time.DateOnly))
		}
	}
	err := inTx(ctx, r.s.db, func(tx *sql.Tx) error {
		for _, t := range []string{stOverall, stOverallCells} {
			if _, err := tx.ExecContext(ctx, r.s.sq(`DELETE FROM @s.`+t+` WHERE run_id = ?`), r.id); err != nil {
				return err
			}
		}
		if len(cells) > 0 {
			starts, ends := make([]time.Time, len(cells)), make([]time.Time, len(cells))
			for i, c := range cells {
				starts[i], ends[i] = dateOnly(c.Start.UTC()), dateOnly(c.End.UTC())
			}
			if _, err := tx.ExecContext(ctx, r.s.sq(`INSERT INTO @s.`+stOverallCells+` SELECT $1, unnest($2::DATE[]), unnest($3::DATE[])
				ON CONFLICT DO NOTHING`), r.id, starts, ends); err != nil {
				return err
			}
		}
		if len(rows) == 0 {
			return nil
		}
		// One statement for the lot: columns as lists, unnested together.
		cols := make([][]int64, 9)
		var starts, ends []time.Time
		for _, o := range rows {
			for i, v := range []int64{o.CampaignID, o.Sent, o.Opened, o.Replied, o.Bounced, o.Unsubscribed,
				o.PositiveReplied, o.UniqueLeads, o.UniqueOpens} {
				cols[i] = append(cols[i], v)
			}
			starts, ends = append(starts, dateOnly(o.Start.UTC())), append(ends, dateOnly(o.End.UTC()))
		}
		_, err := tx.ExecContext(ctx, r.s.sq(`INSERT INTO @s.`+stOverall+` (run_id, campaign_id, range_start, range_end, sent, opened,
			replied, bounced, unsubscribed, positive_replied, unique_lead_count, unique_open_count)
			SELECT $1, unnest($2::BIGINT[]), unnest($3::DATE[]), unnest($4::DATE[]), unnest($5::BIGINT[]), unnest($6::BIGINT[]),
				unnest($7::BIGINT[]), unnest($8::BIGINT[]), unnest($9::BIGINT[]), unnest($10::BIGINT[]), unnest($11::BIGINT[]),
				unnest($12::BIGINT[])`),
			r.id, cols[0], starts, ends, cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8])
		return err
	})
	if err != nil {
		return fmt.Errorf("load: stage the overall-stats rows of run %s: %w", r.id, err)
	}
	return nil
}

// publishOverallStats moves run id's overall-stats rows into
// overall_stats_seen, range by range, inside the publishing transaction.
func (s *Store) publishOverallStats(ctx context.Context, tx *sql.Tx, id string) error {
	var n int64
	if err := tx.QueryRowContext(ctx, s.sq(`SELECT count(*) FROM @s.`+stOverallCells+` WHERE run_id = ?`), id).Scan(&n); err != nil || n == 0 {
		return err // nothing read (a full refresh of an older schema in tests, or a night that kept the memory)
	}
	for _, q := range []string{
		`DELETE FROM @w.overall_stats_seen WHERE range_start IN (SELECT range_start FROM @s.` + stOverallCells + ` WHERE run_id = $1)`,
		`INSERT INTO @w.overall_stats_seen SELECT campaign_id, range_start, range_end, sent, opened, replied, bounced,
			unsubscribed, positive_replied, unique_lead_count, unique_open_count, run_id FROM @s.` + stOverall + ` WHERE run_id = $1`,
		`INSERT INTO @w.overall_stats_cells SELECT range_start, range_end, run_id FROM @s.` + stOverallCells + ` WHERE run_id = $1
			ON CONFLICT (range_start) DO UPDATE SET range_end = excluded.range_end, run_id = excluded.run_id`,
	} {
		if _, err := tx.ExecContext(ctx, s.sq(q), id); err != nil {
			return fmt.Errorf("remember the overall-stats rows: %w", err)
		}
	}
	return nil
}

// OverallStats returns what overall_stats_seen holds: the ranges the
// published snapshot's nights read and their rows (Start is the range's
// first day, End its last as read). A warehouse without the table (an
// older schema, read-only) holds none.
func (h Held) OverallStats(ctx context.Context) ([]OverallCell, []transform.OverallStat, error) {
	s := h.s
	var have bool
	if err := s.db.QueryRowContext(ctx, s.sq(`SELECT count(*) = 2 FROM duckdb_tables() WHERE database_name = '`+sqlString(s.whCatalog)+`'
		AND table_name IN ('overall_stats_seen', 'overall_stats_cells')`)).Scan(&have); err != nil || !have {
		return nil, nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.sq(`SELECT range_start, range_end, run_id FROM @w.overall_stats_cells ORDER BY range_start`))
	if err != nil {
		return nil, nil, fmt.Errorf("load: read overall_stats_cells: %w", err)
	}
	var cells []OverallCell
	for rows.Next() {
		var c OverallCell
		if err := rows.Scan(&c.Start, &c.End, &c.RunID); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("load: read overall_stats_cells: %w", err)
		}
		c.Start, c.End = c.Start.UTC(), c.End.UTC()
		cells = append(cells, c)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, nil, fmt.Errorf("load: read overall_stats_cells: %w", err)
	}
	rows, err = s.db.QueryContext(ctx, s.sq(`SELECT campaign_id, range_start, range_end, sent, opened, replied, bounced,
		unsubscribed, positive_replied, unique_lead_count, unique_open_count FROM @w.overall_stats_seen ORDER BY range_start, campaign_id`))
	if err != nil {
		return nil, nil, fmt.Errorf("load: read overall_stats_seen: %w", err)
	}
	defer rows.Close()
	var out []transform.OverallStat
	for rows.Next() {
		var o transform.OverallStat
		if err := rows.Scan(&o.CampaignID, &o.Start, &o.End, &o.Sent, &o.Opened, &o.Replied, &o.Bounced,
			&o.Unsubscribed, &o.PositiveReplied, &o.UniqueLeads, &o.UniqueOpens); err != nil {
			return nil, nil, fmt.Errorf("load: read overall_stats_seen: %w", err)
		}
		o.Start, o.End = o.Start.UTC(), o.End.UTC()
		out = append(out, o)
	}
	return cells, out, rows.Err()
}

// AddChecks records data checks the caller found (change detection: a
// signal it could not trust and what it did instead), to be written to
// data_checks with the run's own when its snapshot is published. A check
// with the same name and subject as one recorded before replaces it, so
// recording again after a resume does not repeat it. Severity
// SeverityError is refused: the pipeline fails a run by returning an
// error, not through a check.
func (r *Run) AddChecks(ctx context.Context, checks ...Check) error {
	if err := r.usable(); err != nil {
		return err
	}
	for i, c := range checks {
		switch {
		case c.Name == "" || c.Subject == "":
			return fmt.Errorf("load: check %d: name and subject are required", i)
		case c.Severity != SeverityOK && c.Severity != SeverityInfo && c.Severity != SeverityWarning:
			return fmt.Errorf("load: check %d (%s %s): severity %q is not %q, %q or %q", i, c.Name, c.Subject,
				c.Severity, SeverityOK, SeverityInfo, SeverityWarning)
		}
	}
	err := inTx(ctx, r.s.db, func(tx *sql.Tx) error {
		for _, c := range checks {
			if _, err := tx.ExecContext(ctx, r.s.sq(`INSERT INTO @s.`+stChecks+` (run_id, seq, "check", subject, detail, severity)
				SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4, $5 FROM @s.`+stChecks+` WHERE run_id = $1
				ON CONFLICT (run_id, "check", subject) DO UPDATE SET detail = excluded.detail, severity = excluded.severity`),
				r.id, c.Name, redact(c.Subject), redact(c.Detail), string(c.Severity)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("load: record the checks of run %s: %w", r.id, err)
	}
	return nil
}

// stagedChecks returns the checks AddChecks recorded for run id, in the
// order first recorded.
func (s *Store) stagedChecks(ctx context.Context, id string) ([]Check, error) {
	rows, err := s.db.QueryContext(ctx, s.sq(`SELECT "check", subject, detail, severity FROM @s.`+stChecks+`
		WHERE run_id = ? ORDER BY seq`), id)
	if err != nil {
		return nil, fmt.Errorf("read the run's own checks: %w", err)
	}
	defer rows.Close()
	var out []Check
	for rows.Next() {
		var c Check
		if err := rows.Scan(&c.Name, &c.Subject, &c.Detail, &c.Severity); err != nil {
			return nil, fmt.Errorf("read the run's own checks: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// checks returns the checks AddChecks recorded so far.
func (r *Run) checks(ctx context.Context) ([]Check, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	cs, err := r.s.stagedChecks(ctx, r.id)
	if err != nil {
		return nil, fmt.Errorf("load: run %s: %w", r.id, err)
	}
	return cs, nil
}

// SetNotes keeps a document for the caller (the pipeline's notes on its
// plan), replacing the one kept before; Notes reads it back, also after
// a resume.
func (r *Run) SetNotes(ctx context.Context, notes json.RawMessage) error {
	if err := r.usable(); err != nil {
		return err
	}
	if !json.Valid(notes) {
		return fmt.Errorf("load: notes of run %s: not valid JSON", r.id)
	}
	if _, err := r.s.db.ExecContext(ctx, r.s.sq(`INSERT INTO @s.`+stNotes+` VALUES (?, ?)
		ON CONFLICT (run_id) DO UPDATE SET notes = excluded.notes`), r.id, string(notes)); err != nil {
		return fmt.Errorf("load: keep the notes of run %s: %w", r.id, err)
	}
	return nil
}

// Notes returns the document SetNotes kept, or nil.
func (r *Run) Notes(ctx context.Context) (json.RawMessage, error) {
	if err := r.usable(); err != nil {
		return nil, err
	}
	var doc string
	err := r.s.db.QueryRowContext(ctx, r.s.sq(`SELECT notes::VARCHAR FROM @s.`+stNotes+` WHERE run_id = ?`), r.id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load: read the notes of run %s: %w", r.id, err)
	}
	return json.RawMessage(doc), nil
}

// Items returns every item of the run's queue, done or pending, first
// pages and following pages alike, in seq order: what it has asked for
// so far.
func (st Staged) Items(ctx context.Context) ([]extract.Item, error) {
	r := st.r
	if err := r.usable(); err != nil {
		return nil, err
	}
	if err := r.flushPending(ctx); err != nil {
		return nil, err
	}
	rows, err := r.s.db.QueryContext(ctx, r.s.sq(`SELECT item::VARCHAR FROM @s.work_items WHERE run_id = ? ORDER BY seq`), r.id)
	if err != nil {
		return nil, fmt.Errorf("load: read work queue of %s: %w", r.id, err)
	}
	defer rows.Close()
	var out []extract.Item
	for rows.Next() {
		var doc string
		var it extract.Item
		if err := rows.Scan(&doc); err != nil {
			return nil, fmt.Errorf("load: read work queue of %s: %w", r.id, err)
		}
		if err := json.Unmarshal([]byte(doc), &it); err != nil {
			return nil, fmt.Errorf("load: work item of run %s: column item: %w", r.id, err)
		}
		out = append(out, it)
	}
	return out, rows.Err()
}
