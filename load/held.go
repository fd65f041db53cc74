package load

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/smartlead-etl/smartlead-etl/transform"
)

// Change detection compares what the account-wide signals say with what
// a snapshot holds, and, once the re-reads are staged, what they brought
// with what was held. The readers here take sets (one query for the
// campaigns, leads or emails named), never a query per campaign.

// Held reads what the warehouse holds of earlier runs, for change
// detection and planning: a view of the Store kept apart from the run's
// lifecycle (BeginRun, Write, Commit), so that API stays narrow.
type Held struct{ s *Store }

// Held returns the store's reader of earlier runs.
func (s *Store) Held() Held { return Held{s} }

// Staged reads what a run has asked for and staged so far, set against
// what it carried: change detection's verification after the re-reads.
// Like Write, its methods must be called from the goroutine that stages
// rows (they flush the pending page first).
type Staged struct{ r *Run }

// Staged returns the run's reader of its own staging.
func (r *Run) Staged() Staged { return Staged{r} }

// LeadState is what change detection compares of a lead.
type LeadState struct {
	CampaignLeadMapID int64
	CampaignID        int64
	Email             string
	Status            *string
	CategoryID        *int64
	Unsubscribed      bool
}

// EmailState is what change detection compares of a lead_email_stats row.
type EmailState struct {
	StatsID      string
	CampaignID   int64
	LeadEmail    string
	LeadCategory *string
	SentTime     *time.Time
	OpenCount    int64
	ClickCount   int64
	ReplyTime    *time.Time
	Bounced      bool
	Unsubscribed bool
}

// Leads returns the leads of run runID's snapshot with the given
// campaign_lead_map_ids (those it holds), by id.
func (h Held) Leads(ctx context.Context, runID string, mapIDs []int64) (map[int64]LeadState, error) {
	s := h.s
	out := map[int64]LeadState{}
	if len(mapIDs) == 0 {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, s.sq(`SELECT campaign_lead_map_id, campaign_id, email, status, lead_category_id, is_unsubscribed
		FROM @w.leads_history WHERE run_id = $1 AND campaign_lead_map_id IN (SELECT unnest($2::BIGINT[]))`), runID, mapIDs)
	if err != nil {
		return nil, fmt.Errorf("load: held leads of run %s: %w", runID, err)
	}
	defer rows.Close()
	for rows.Next() {
		l, err := scanLeadState(rows)
		if err != nil {
			return nil, fmt.Errorf("load: held leads of run %s: %w", runID, err)
		}
		out[l.CampaignLeadMapID] = l
	}
	return out, rows.Err()
}

func scanLeadState(rows *sql.Rows) (LeadState, error) {
	var l LeadState
	var status sql.NullString
	var cat sql.NullInt64
	if err := rows.Scan(&l.CampaignLeadMapID, &l.CampaignID, &l.Email, &status, &cat, &l.Unsubscribed); err != nil {
		return l, err
	}
	if status.Valid {
		l.Status = &status.String
	}
	if cat.Valid {
		l.CategoryID = &cat.Int64
	}
	return l, nil
}

const emailCols = `stats_id, campaign_id, lead_email, lead_category, sent_time, open_count, click_count, reply_time, is_bounced, is_unsubscribed`

func scanEmailState(rows *sql.Rows) (EmailState, error) {
	var e EmailState
	var cat sql.NullString
	var sent, reply sql.NullTime
	if err := rows.Scan(&e.StatsID, &e.CampaignID, &e.LeadEmail, &cat, &sent, &e.OpenCount, &e.ClickCount, &reply,
		&e.Bounced, &e.Unsubscribed); err != nil {
		return e, err
	}
	if cat.Valid {
		e.LeadCategory = &cat.String
	}
	if sent.Valid {
		t := sent.Time.UTC()
		e.SentTime = &t
	}
	if reply.Valid {
		t := reply.Time.UTC()
		e.ReplyTime = &t
	}
	return e, nil
}

func scanEmails(rows *sql.Rows, err error, what string) ([]EmailState, error) {
	if err != nil {
		return nil, fmt.Errorf("load: %s: %w", what, err)
	}
	defer rows.Close()
	var out []EmailState
	for rows.Next() {
		e, err := scanEmailState(rows)
		if err != nil {
			return nil, fmt.Errorf("load: %s: %w", what, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Emails returns the lead_email_stats rows of run runID's snapshot
// for the given campaigns whose lead_email is among emails (the leads
// the signals name), or, with no emails, all of the campaigns' rows.
func (h Held) Emails(ctx context.Context, runID string, campaigns []int64, emails []string) ([]EmailState, error) {
	s := h.s
	if len(campaigns) == 0 {
		return nil, nil
	}
	q := `SELECT ` + emailCols + ` FROM @w.lead_email_stats_history WHERE run_id = $1
		AND campaign_id IN (SELECT unnest($2::BIGINT[]))`
	args := []any{runID, campaigns}
	if len(emails) > 0 {
		q += ` AND lead_email IN (SELECT unnest($3::VARCHAR[]))`
		args = append(args, emails)
	}
	rows, err := s.db.QueryContext(ctx, s.sq(q), args...)
	return scanEmails(rows, err, "held statistics of run "+runID)
}

// EmailsSince counts, per campaign, the lead_email_stats rows of run
// runID's snapshot sent at or after since[i] for campaigns[i]: what a
// statistics read from that time brings again.
func (h Held) EmailsSince(ctx context.Context, runID string, campaigns []int64, since []time.Time) (map[int64]int64, error) {
	s := h.s
	if len(campaigns) != len(since) {
		return nil, fmt.Errorf("load: HeldEmailsSince: %d campaigns and %d times", len(campaigns), len(since))
	}
	if len(campaigns) == 0 {
		return map[int64]int64{}, nil
	}
	rows, err := s.db.QueryContext(ctx, s.sq(`WITH w AS (SELECT unnest($2::BIGINT[]) AS campaign_id, unnest($3::TIMESTAMPTZ[]) AS since)
		SELECT w.campaign_id, count(h.stats_id) FROM w LEFT JOIN @w.lead_email_stats_history h
			ON h.run_id = $1 AND h.campaign_id = w.campaign_id AND h.sent_time >= w.since
		GROUP BY ALL`), runID, campaigns, since)
	if err != nil {
		return nil, fmt.Errorf("load: held statistics of run %s: %w", runID, err)
	}
	return scanCounts(rows)
}

// EventCampaigns lists, ascending, the campaigns of the webhook events
// email_events received since since (none when the table is missing).
func (h Held) EventCampaigns(ctx context.Context, since time.Time) ([]int64, error) {
	s := h.s
	var have bool
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) > 0 FROM duckdb_tables() WHERE database_name = '`+sqlString(s.whCatalog)+`'
		AND table_name = 'email_events'`).Scan(&have); err != nil || !have {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.sq(`SELECT DISTINCT campaign_id FROM @w.email_events
		WHERE received_at >= ? AND campaign_id IS NOT NULL ORDER BY campaign_id`), since)
	if err != nil {
		return nil, fmt.Errorf("load: campaigns of webhook events: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("load: campaigns of webhook events: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// Emails returns the lead_email_stats rows the run fetched (not
// carried) with the given stats_ids.
func (st Staged) Emails(ctx context.Context, statsIDs []string) ([]EmailState, error) {
	r := st.r
	if err := r.usable(); err != nil {
		return nil, err
	}
	if len(statsIDs) == 0 {
		return nil, nil
	}
	if err := r.flushPending(ctx); err != nil {
		return nil, err
	}
	rows, err := r.s.db.QueryContext(ctx, r.s.sq(`SELECT `+emailCols+` FROM @s.lead_email_stats_staged
		WHERE run_id = $1 AND batch <> `+carriedBatch+` AND stats_id IN (SELECT unnest($2::VARCHAR[]))`), r.id, statsIDs)
	return scanEmails(rows, err, "staged statistics of run "+r.id)
}

// Drift is what CategoryDrift found: campaigns whose statistics rows
// may hold a lead's old category or miss its unsubscribe, and whether the
// statistics endpoint joins the lead's category into every row.
type Drift struct {
	// NeedLeads: re-read statistics rows show a lead's category moving
	// where its lead row was not re-read.
	NeedLeads []int64
	// CategoryRows: a lead whose category moved has held statistics rows
	// that were not re-read (stale if the category is joined live).
	CategoryRows []int64
	// UnsubscribeRows: a lead that unsubscribed has held statistics rows
	// that were not re-read (one of them is now unsubscribed).
	UnsubscribeRows []int64
	// Probe is a held row of CategoryRows that was not re-read, to read
	// when there is no evidence either way.
	Probe EmailState
	// Live and PerRow count the evidence of the category's semantics:
	// re-read rows of a lead whose category moved, their own engagement
	// unchanged, that show another category (joined live) or still the
	// one they had (kept per row).
	Live, PerRow int64
}

// CategoryDrift finds, among the rows the run fetched, leads whose
// category moved since run fromRun's snapshot, as the leads or the
// statistics rows it re-read show it (an API that joins the lead's
// category into every statistics row moves it on all of them; a new row
// shows the category of now), and leads that unsubscribed (on one of
// their rows, which the lead does not say). Campaigns lists ascending.
// One query, whatever the number of campaigns.
func (st Staged) CategoryDrift(ctx context.Context, fromRun string) (Drift, error) {
	r := st.r
	var d Drift
	if err := r.usable(); err != nil {
		return d, err
	}
	if err := r.flushPending(ctx); err != nil {
		return d, err
	}
	rows, err := r.s.db.QueryContext(ctx, r.s.sq(`WITH
		sl AS (SELECT campaign_id, campaign_lead_map_id, email, lead_category_id, is_unsubscribed FROM @s.leads_staged
			WHERE run_id = $1 AND batch <> `+carriedBatch+`),
		se AS (SELECT campaign_id, stats_id, lead_email, lead_category, open_count, click_count, reply_time FROM @s.lead_email_stats_staged
			WHERE run_id = $1 AND batch <> `+carriedBatch+`),
		moved_leads AS (SELECT sl.campaign_id, sl.email,
				sl.lead_category_id IS DISTINCT FROM h.lead_category_id AS cat, sl.is_unsubscribed <> h.is_unsubscribed AS unsub
			FROM sl JOIN @w.leads_history h ON h.run_id = $2 AND h.campaign_lead_map_id = sl.campaign_lead_map_id
			WHERE sl.lead_category_id IS DISTINCT FROM h.lead_category_id OR sl.is_unsubscribed <> h.is_unsubscribed),
		moved_rows AS (SELECT DISTINCT se.campaign_id, se.lead_email AS email FROM se JOIN @w.lead_email_stats_history h
			ON h.run_id = $2 AND h.campaign_id = se.campaign_id AND h.lead_email = se.lead_email
			WHERE se.lead_category IS DISTINCT FROM h.lead_category),
		moved AS (SELECT campaign_id, email, cat, unsub FROM moved_leads
			UNION ALL SELECT campaign_id, email, true, false FROM moved_rows),
		-- A row whose own engagement did not change says how the API
		-- shows a lead's category: moved with it (live) or as it was.
		evidence AS (SELECT se.lead_category IS DISTINCT FROM h.lead_category AS live FROM se
			JOIN @w.lead_email_stats_history h ON h.run_id = $2 AND h.stats_id = se.stats_id
			JOIN moved_leads m ON m.cat AND m.campaign_id = se.campaign_id AND m.email = se.lead_email
			WHERE se.open_count = h.open_count AND se.click_count = h.click_count
				AND se.reply_time IS NOT DISTINCT FROM h.reply_time),
		not_reread AS (SELECT CASE WHEN m.cat THEN 'category' ELSE 'unsubscribe' END AS kind, h.campaign_id, h.stats_id, h.sent_time
			FROM @w.lead_email_stats_history h JOIN moved m
			ON h.run_id = $2 AND h.campaign_id = m.campaign_id AND h.lead_email = m.email
			WHERE NOT EXISTS (SELECT 1 FROM se WHERE se.stats_id = h.stats_id))
		SELECT DISTINCT 'leads', campaign_id, NULL, NULL::TIMESTAMPTZ FROM moved_rows m
			WHERE NOT EXISTS (SELECT 1 FROM sl WHERE sl.campaign_id = m.campaign_id AND sl.email = m.email)
		UNION ALL
		SELECT DISTINCT kind, campaign_id, NULL, NULL FROM not_reread
		UNION ALL
		(SELECT 'probe', campaign_id, stats_id, sent_time FROM not_reread
			WHERE kind = 'category' AND sent_time IS NOT NULL ORDER BY sent_time DESC, stats_id LIMIT 1)
		UNION ALL
		SELECT CASE WHEN live THEN 'live' ELSE 'per_row' END, count(*), NULL, NULL FROM evidence GROUP BY live
		ORDER BY 1, 2`), r.id, fromRun)
	if err != nil {
		return d, fmt.Errorf("load: category drift of run %s: %w", r.id, err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind string
		var id int64
		var statsID sql.NullString
		var sent sql.NullTime
		if err := rows.Scan(&kind, &id, &statsID, &sent); err != nil {
			return d, fmt.Errorf("load: category drift of run %s: %w", r.id, err)
		}
		switch kind {
		case "probe":
			d.Probe = EmailState{CampaignID: id, StatsID: statsID.String}
			t := sent.Time.UTC()
			d.Probe.SentTime = &t
		case "leads":
			d.NeedLeads = append(d.NeedLeads, id)
		case "category":
			d.CategoryRows = append(d.CategoryRows, id)
		case "unsubscribe":
			d.UnsubscribeRows = append(d.UnsubscribeRows, id)
		case "live":
			d.Live = id
		case "per_row":
			d.PerRow = id
		}
	}
	return d, rows.Err()
}

// Counts returns, per campaign, the rows of stream the run fetched
// (not carried).
func (st Staged) Counts(ctx context.Context, stream string) (map[int64]int64, error) {
	r := st.r
	if err := r.usable(); err != nil {
		return nil, err
	}
	t := campaignTables[stream]
	if t == nil {
		return nil, fmt.Errorf("load: StagedCounts: stream %q is not one of a campaign's", stream)
	}
	if err := r.flushPending(ctx); err != nil {
		return nil, err
	}
	rows, err := r.s.db.QueryContext(ctx, r.s.sq(`SELECT campaign_id, count(*) FROM @s.`+t.staged+`
		WHERE run_id = ? AND batch <> `+carriedBatch+` GROUP BY ALL`), r.id)
	if err != nil {
		return nil, fmt.Errorf("load: staged %s of run %s: %w", stream, r.id, err)
	}
	return scanCounts(rows)
}

// Analytics returns the campaign_analytics rows the run fetched, by
// campaign (the latest when fetched twice).
func (st Staged) Analytics(ctx context.Context) (map[int64]transform.CampaignAnalytics, error) {
	r := st.r
	if err := r.usable(); err != nil {
		return nil, err
	}
	if err := r.flushPending(ctx); err != nil {
		return nil, err
	}
	rows, err := r.s.db.QueryContext(ctx, r.s.sq(`SELECT `+colList(tCampaignAnalytics, "")+` FROM @s.campaign_analytics_staged
		WHERE run_id = ? AND batch <> `+carriedBatch+` QUALIFY row_number() OVER (PARTITION BY campaign_id ORDER BY batch DESC) = 1`), r.id)
	if err != nil {
		return nil, fmt.Errorf("load: staged analytics of run %s: %w", r.id, err)
	}
	defer rows.Close()
	out := map[int64]transform.CampaignAnalytics{}
	for rows.Next() {
		var a nullAnalytics
		if err := rows.Scan(a.dest()...); err != nil {
			return nil, fmt.Errorf("load: staged analytics of run %s: %w", r.id, err)
		}
		row := a.row()
		out[row.CampaignID] = *row
	}
	return out, rows.Err()
}

// Daily returns the campaign_daily_stats rows the run staged for
// day (fetched or written), by campaign.
func (st Staged) Daily(ctx context.Context, day time.Time) (map[int64]transform.CampaignDailyStat, error) {
	r := st.r
	if err := r.usable(); err != nil {
		return nil, err
	}
	if err := r.flushPending(ctx); err != nil {
		return nil, err
	}
	rows, err := r.s.db.QueryContext(ctx, r.s.sq(`SELECT `+colList(tDailyStats, "")+` FROM @s.campaign_daily_stats_staged
		WHERE run_id = ? AND day = ?`), r.id, dateOnly(day.UTC()))
	if err != nil {
		return nil, fmt.Errorf("load: staged daily stats of run %s: %w", r.id, err)
	}
	defer rows.Close()
	out := map[int64]transform.CampaignDailyStat{}
	for rows.Next() {
		var d transform.CampaignDailyStat
		if err := rows.Scan(&d.CampaignID, &d.Day, &d.SentCount, &d.UniqueSentCount, &d.OpenCount, &d.UniqueOpenCount,
			&d.ClickCount, &d.UniqueClickCount, &d.ReplyCount, &d.BounceCount, &d.UnsubscribedCount); err != nil {
			return nil, fmt.Errorf("load: staged daily stats of run %s: %w", r.id, err)
		}
		d.Day = d.Day.UTC()
		out[d.CampaignID] = d
	}
	return out, rows.Err()
}

// colList is t's columns, each prefixed with alias (e.g. "a.").
func colList(t *table, alias string) string {
	out := ""
	for i, c := range t.cols {
		if i > 0 {
			out += ", "
		}
		out += alias + c
	}
	return out
}

// ChangedLeads lists, ascending, the campaigns where a lead the run
// fetched is new or differs, in any column, from its row in run fromRun's
// snapshot. One query.
func (st Staged) ChangedLeads(ctx context.Context, fromRun string) ([]int64, error) {
	r := st.r
	if err := r.usable(); err != nil {
		return nil, err
	}
	if err := r.flushPending(ctx); err != nil {
		return nil, err
	}
	cols := colList(tLeads, "")
	rows, err := r.s.db.QueryContext(ctx, r.s.sq(`SELECT DISTINCT campaign_id FROM (
		SELECT `+cols+` FROM @s.leads_staged WHERE run_id = $1 AND batch <> `+carriedBatch+`
		EXCEPT
		SELECT `+cols+` FROM @w.leads_history WHERE run_id = $2
			AND campaign_id IN (SELECT campaign_id FROM @s.leads_staged WHERE run_id = $1 AND batch <> `+carriedBatch+`))
		ORDER BY 1`), r.id, fromRun)
	if err != nil {
		return nil, fmt.Errorf("load: changed leads of run %s: %w", r.id, err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("load: changed leads of run %s: %w", r.id, err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
