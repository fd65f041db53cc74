package load

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/smartlead-etl/smartlead-etl/transform"
)

// CampaignState is what a snapshot holds about one campaign: what the
// planner compares the fresh campaign list with.
type CampaignState struct {
	CampaignID int64
	Status     string     // from campaigns; "" when the snapshot has no campaigns row for it
	UpdatedAt  *time.Time // from campaigns
	Leads      int64      // leads rows in the snapshot
	Stats      int64      // lead_email_stats rows in the snapshot
	LeadsTotal int64      // campaign_analytics.leads_total; -1 when the snapshot has no analytics for it
	Analytics  *transform.CampaignAnalytics
}

// CampaignStates returns, in one query, the state of every campaign that
// has a row in run runID's snapshot (any table), by campaign id.
func (h Held) CampaignStates(ctx context.Context, runID string) (map[int64]CampaignState, error) {
	s := h.s
	acols := make([]string, len(tCampaignAnalytics.cols))
	for i, c := range tCampaignAnalytics.cols {
		acols[i] = "a." + c
	}
	rows, err := s.db.QueryContext(ctx, s.sq(`WITH
		ids AS (SELECT campaign_id FROM @w.campaigns_history WHERE run_id = $1
			UNION SELECT campaign_id FROM @w.campaign_analytics_history WHERE run_id = $1
			UNION SELECT campaign_id FROM @w.leads_history WHERE run_id = $1
			UNION SELECT campaign_id FROM @w.lead_email_stats_history WHERE run_id = $1),
		c AS (SELECT campaign_id, any_value(status) AS status, any_value(updated_at) AS updated_at
			FROM @w.campaigns_history WHERE run_id = $1 GROUP BY ALL),
		l AS (SELECT campaign_id, count(*) AS n FROM @w.leads_history WHERE run_id = $1 GROUP BY ALL),
		st AS (SELECT campaign_id, count(*) AS n FROM @w.lead_email_stats_history WHERE run_id = $1 GROUP BY ALL),
		a AS (SELECT * FROM @w.campaign_analytics_history WHERE run_id = $1 QUALIFY row_number() OVER (PARTITION BY campaign_id) = 1)
		SELECT ids.campaign_id, coalesce(c.status, ''), c.updated_at, coalesce(l.n, 0), coalesce(st.n, 0),
			a.campaign_id IS NOT NULL, `+strings.Join(acols, ", ")+`
		FROM ids LEFT JOIN c USING (campaign_id) LEFT JOIN l USING (campaign_id)
		LEFT JOIN st USING (campaign_id) LEFT JOIN a USING (campaign_id)`), runID)
	if err != nil {
		return nil, fmt.Errorf("load: campaign states of run %s: %w", runID, err)
	}
	defer rows.Close()
	out := map[int64]CampaignState{}
	for rows.Next() {
		var cs CampaignState
		var updated sql.NullTime
		var has bool
		var a nullAnalytics
		dest := append([]any{&cs.CampaignID, &cs.Status, &updated, &cs.Leads, &cs.Stats, &has}, a.dest()...)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("load: campaign states of run %s: %w", runID, err)
		}
		if updated.Valid {
			t := updated.Time.UTC()
			cs.UpdatedAt = &t
		}
		cs.LeadsTotal = -1
		if has {
			cs.Analytics = a.row()
			cs.LeadsTotal = cs.Analytics.LeadsTotal
		}
		out[cs.CampaignID] = cs
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load: campaign states of run %s: %w", runID, err)
	}
	return out, nil
}

// nullAnalytics scans tCampaignAnalytics.cols of a LEFT JOIN, where every
// column may be NULL.
type nullAnalytics struct {
	id                      sql.NullInt64
	name, status            sql.NullString
	clientID, sequenceCount sql.NullInt64
	counts                  [20]sql.NullInt64 // sent_count .. leads_interested, in column order
	revenue                 sql.NullFloat64
}

func (a *nullAnalytics) dest() []any {
	d := []any{&a.id, &a.name, &a.status, &a.clientID, &a.sequenceCount}
	for i := range a.counts {
		d = append(d, &a.counts[i])
	}
	return append(d, &a.revenue)
}

func (a *nullAnalytics) row() *transform.CampaignAnalytics {
	n := func(i int) int64 { return a.counts[i].Int64 }
	r := &transform.CampaignAnalytics{CampaignID: a.id.Int64,
		SentCount: n(0), UniqueSentCount: n(1), OpenCount: n(2), UniqueOpenCount: n(3), ClickCount: n(4),
		UniqueClickCount: n(5), ReplyCount: n(6), BounceCount: n(7), UnsubscribedCount: n(8), BlockCount: n(9),
		TotalCount: n(10), DraftedCount: n(11), LeadsTotal: n(12), LeadsNotStarted: n(13), LeadsInProgress: n(14),
		LeadsCompleted: n(15), LeadsPaused: n(16), LeadsStopped: n(17), LeadsBlocked: n(18), LeadsInterested: n(19)}
	if a.name.Valid {
		r.Name = &a.name.String
	}
	if a.status.Valid {
		r.Status = &a.status.String
	}
	if a.clientID.Valid {
		r.ClientID = &a.clientID.Int64
	}
	if a.sequenceCount.Valid {
		r.SequenceCount = &a.sequenceCount.Int64
	}
	if a.revenue.Valid {
		r.Revenue = &a.revenue.Float64
	}
	return r
}

// Days returns the days campaign_daily_stats holds between from and to
// (UTC dates, both included), per campaign, as YYYY-MM-DD.
func (h Held) Days(ctx context.Context, from, to time.Time) (map[int64]map[string]bool, error) {
	s := h.s
	rows, err := s.db.QueryContext(ctx, s.sq(`SELECT campaign_id, strftime(day, '%Y-%m-%d') FROM @w.campaign_daily_stats
		WHERE day BETWEEN ? AND ?`), dateOnly(from.UTC()), dateOnly(to.UTC()))
	if err != nil {
		return nil, fmt.Errorf("load: days held: %w", err)
	}
	defer rows.Close()
	out := map[int64]map[string]bool{}
	for rows.Next() {
		var id int64
		var d string
		if err := rows.Scan(&id, &d); err != nil {
			return nil, fmt.Errorf("load: days held: %w", err)
		}
		if out[id] == nil {
			out[id] = map[string]bool{}
		}
		out[id][d] = true
	}
	return out, rows.Err()
}

// MergedCounts returns, per campaign, the rows of stream the run's
// snapshot will hold as Commit produces it: the rows it staged plus the
// ones its carries copy (all of the campaign's for CarryAll; for
// CarryMerge, those whose key it did not stage). It is what the planner
// compares with the analytics' leads_total to find deleted leads. Like
// Write, it must be called from the goroutine that stages rows.
func (st Staged) MergedCounts(ctx context.Context, stream string) (map[int64]int64, error) {
	r := st.r
	if err := r.usable(); err != nil {
		return nil, err
	}
	t, err := carryTable(stream)
	if err != nil {
		return nil, fmt.Errorf("load: MergedCounts: %w", err)
	}
	if err := r.flushPending(ctx); err != nil {
		return nil, err
	}
	rows, err := r.s.db.QueryContext(ctx, r.s.sq(`WITH
		staged AS (SELECT campaign_id, count(*) AS n FROM @s.`+t.staged+`
			WHERE run_id = $1 AND batch <> `+carriedBatch+` GROUP BY ALL),
		carried AS (SELECT campaign_id, count(*) AS n FROM `+carriedSQL(t)+` GROUP BY ALL)
		SELECT campaign_id, coalesce(s.n, 0) + coalesce(c.n, 0) FROM staged s FULL JOIN carried c USING (campaign_id)`),
		r.id)
	if err != nil {
		return nil, fmt.Errorf("load: merged counts of %s: %w", stream, err)
	}
	return scanCounts(rows)
}

// LeadsTotals returns the leads_total of the analytics this run
// staged, per campaign (the latest page when fetched twice): the number
// of leads the API says each campaign has now.
func (st Staged) LeadsTotals(ctx context.Context) (map[int64]int64, error) {
	r := st.r
	if err := r.usable(); err != nil {
		return nil, err
	}
	if err := r.flushPending(ctx); err != nil {
		return nil, err
	}
	rows, err := r.s.db.QueryContext(ctx, r.s.sq(`SELECT campaign_id, arg_max(leads_total, batch) FROM @s.campaign_analytics_staged
		WHERE run_id = ? AND batch <> `+carriedBatch+` GROUP BY ALL`), r.id)
	if err != nil {
		return nil, fmt.Errorf("load: staged leads totals: %w", err)
	}
	return scanCounts(rows)
}

func scanCounts(rows *sql.Rows) (map[int64]int64, error) {
	defer rows.Close()
	out := map[int64]int64{}
	for rows.Next() {
		var id, n int64
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("load: %w", err)
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	return out, nil
}

// RequestCounts returns the pages run runID fetched, per endpoint template
// and campaign (0 for account-level endpoints), from the api_requests
// ledger: its successful (2xx) requests, so retries and 429s do not count.
func (s *Store) RequestCounts(ctx context.Context, runID string) (map[string]map[int64]int64, error) {
	s.peekSideFile(ctx)
	rows, err := s.db.QueryContext(ctx, `SELECT endpoint, coalesce(campaign_id, 0), count(*) FROM `+s.ledgerSource()+`
		WHERE run_id = ? AND status BETWEEN 200 AND 299 GROUP BY ALL`, runID)
	if err != nil {
		return nil, fmt.Errorf("load: request counts of run %s: %w", runID, err)
	}
	defer rows.Close()
	out := map[string]map[int64]int64{}
	for rows.Next() {
		var ep string
		var id, n int64
		if err := rows.Scan(&ep, &id, &n); err != nil {
			return nil, fmt.Errorf("load: request counts of run %s: %w", runID, err)
		}
		if out[ep] == nil {
			out[ep] = map[int64]int64{}
		}
		out[ep][id] = n
	}
	return out, rows.Err()
}

// latencySample is how many recent successful requests TypicalLatency
// takes the median of.
const latencySample = 1000

// TypicalLatency is the median duration of the last successful requests
// in the ledger (0 when there is none): what a forecast adds to the last
// request's send time.
func (s *Store) TypicalLatency(ctx context.Context) (time.Duration, error) {
	s.peekSideFile(ctx)
	var ms sql.NullFloat64
	err := s.db.QueryRowContext(ctx, `SELECT median(duration_ms) FROM (SELECT duration_ms FROM `+s.ledgerSource()+`
		WHERE status BETWEEN 200 AND 299 ORDER BY "at" DESC LIMIT ?)`, latencySample).Scan(&ms)
	if err != nil {
		return 0, fmt.Errorf("load: typical latency: %w", err)
	}
	return time.Duration(ms.Float64 * float64(time.Millisecond)), nil
}
