package load

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// maxFindings caps the rows one check records; a final row says how many
// more there were.
const maxFindings = 50

// cumulativeCounters never go down for a campaign: a lower value than in
// the previous snapshot means the API or the extract lost something.
var cumulativeCounters = []string{"sent_count", "unique_sent_count", "open_count", "unique_open_count",
	"click_count", "unique_click_count", "reply_count", "bounce_count", "unsubscribed_count", "block_count",
	"total_count"}

// runChecks runs every data check on the run's staged rows. Only
// unique_key can fail a run; the others warn.
func runChecks(ctx context.Context, db *Store, id string) ([]Check, error) {
	var out []Check
	for _, f := range []func(context.Context, *Store, string) ([]Check, error){
		checkUniqueKeys, checkCounterDrops, checkReportedTotals, checkAnalyticsLeadsTotal, checkOrphans,
	} {
		cs, err := f(ctx, db, id)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// finding is one row a check query returns: subject and detail.
type finding struct{ subject, detail string }

// collect runs q (returning subject, detail, and the total number of
// findings) and turns its rows into checks of the given severity, or one
// 'ok' check with okSubject/okDetail when there are none.
func collect(ctx context.Context, db *Store, name string, severity Severity, okSubject, okDetail, q string, args ...any) ([]Check, error) {
	rows, err := db.db.QueryContext(ctx, db.sq(q)+fmt.Sprintf(" LIMIT %d", maxFindings), args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer rows.Close()
	var out []Check
	var total int64
	for rows.Next() {
		var f finding
		if err := rows.Scan(&f.subject, &f.detail, &total); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, Check{Name: name, Subject: f.subject, Detail: f.detail, Severity: severity})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(out) == 0 {
		return []Check{{Name: name, Subject: okSubject, Detail: okDetail, Severity: SeverityOK}}, nil
	}
	if more := total - int64(len(out)); more > 0 {
		out = append(out, Check{Name: name, Subject: okSubject,
			Detail: fmt.Sprintf("%d more findings not listed", more), Severity: severity})
	}
	return out, nil
}

// checkUniqueKeys: each table's key is unique among the run's rows. A
// duplicate is a bug (in the API's paging or in our extract) and fails the
// run rather than publishing a snapshot that double-counts.
func checkUniqueKeys(ctx context.Context, db *Store, id string) ([]Check, error) {
	var out []Check
	for _, t := range tables {
		keys := strings.Join(t.key, ", ")
		cs, err := collect(ctx, db, "unique_key", SeverityError, t.name, keys+" unique in this snapshot",
			`SELECT '`+t.name+` ' || `+t.keyExpr()+`, n || ' rows share this key', count(*) OVER ()
			FROM (SELECT `+keys+`, count(*) AS n FROM @s.`+t.staged+` WHERE run_id = ? GROUP BY ALL HAVING count(*) > 1)
			ORDER BY ALL`, id)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// checkCounterDrops: a campaign's cumulative counters are not lower than in
// the previous succeeded snapshot.
func checkCounterDrops(ctx context.Context, db *Store, id string) ([]Check, error) {
	var prev sql.NullString
	if err := db.db.QueryRowContext(ctx, db.sq(`SELECT max(run_id) FROM @w.latest_run`)).Scan(&prev); err != nil {
		return nil, fmt.Errorf("counter_drop: %w", err)
	}
	if !prev.Valid {
		return []Check{{Name: "counter_drop", Subject: "campaign_analytics",
			Detail: "no previous snapshot to compare with", Severity: SeverityOK}}, nil
	}
	cols := strings.Join(cumulativeCounters, ", ")
	return collect(ctx, db, "counter_drop", SeverityWarning, "campaign_analytics",
		"no cumulative counter lower than in run "+prev.String,
		`WITH cur AS (UNPIVOT (SELECT campaign_id, `+cols+` FROM @s.campaign_analytics_staged WHERE run_id = ?)
			ON `+cols+` INTO NAME counter VALUE value),
		prev AS (UNPIVOT (SELECT campaign_id, `+cols+` FROM @w.campaign_analytics WHERE run_id = ?)
			ON `+cols+` INTO NAME counter VALUE value),
		-- Deleted leads take their sends and opens with them: say so next
		-- to the drop, so a reader can tell it from a data error.
		lost AS (SELECT p.campaign_id, count(*) AS gone FROM @w.leads p
			WHERE p.run_id = ? AND NOT EXISTS (SELECT 1 FROM @s.leads_staged c
				WHERE c.run_id = ? AND c.campaign_lead_map_id = p.campaign_lead_map_id)
			GROUP BY p.campaign_id)
		SELECT 'campaign ' || campaign_id,
			counter || ' dropped from ' || p.value || ' to ' || c.value || ' since run ' || ?
				|| coalesce(' (' || l.gone || ' of its leads are gone since: deleted leads take their counts with them)', ''),
			count(*) OVER ()
		FROM cur c JOIN prev p USING (campaign_id, counter) LEFT JOIN lost l USING (campaign_id)
		WHERE c.value < p.value
		ORDER BY campaign_id, counter`, id, prev.String, prev.String, id, prev.String)
}

// checkReportedTotals: the rows loaded per campaign match the total the API
// reported (total_leads, total_stats).
func checkReportedTotals(ctx context.Context, db *Store, id string) ([]Check, error) {
	var out []Check
	for _, stream := range []string{"leads", "lead_email_stats"} {
		t := totalTables[stream]
		cs, err := collect(ctx, db, "reported_total", SeverityWarning, stream,
			"rows loaded per campaign match the totals the API reported",
			`WITH reported AS (
				SELECT campaign_id, arg_max(total, batch) AS total FROM @s.`+stTotals+`
				WHERE run_id = $1 AND stream = $2 GROUP BY ALL),
			loaded AS (SELECT campaign_id, count(*) AS n FROM @s.`+t.staged+` WHERE run_id = $1 GROUP BY ALL),
			rejected AS (SELECT count(*) AS n FROM @s.`+stRejected+` WHERE run_id = $1 AND stream = $2)
			SELECT $2 || ' campaign ' || campaign_id,
				'loaded ' || coalesce(l.n, 0) || ' rows, the API reported ' || r.total ||
				CASE WHEN (SELECT n FROM rejected) > 0 THEN ' (' || (SELECT n FROM rejected) || ' ' || $2 || ' records rejected in this run)' ELSE '' END,
				count(*) OVER ()
			FROM reported r LEFT JOIN loaded l USING (campaign_id)
			WHERE r.total <> coalesce(l.n, 0)
			ORDER BY campaign_id`, id, stream)
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// checkAnalyticsLeadsTotal: for campaigns whose leads were fetched, the
// analytics' campaign_lead_stats total matches the leads loaded.
func checkAnalyticsLeadsTotal(ctx context.Context, db *Store, id string) ([]Check, error) {
	return collect(ctx, db, "analytics_leads_total", SeverityWarning, "campaign_analytics",
		"leads_total matches the leads loaded for every campaign whose leads were fetched",
		`WITH fetched AS (
			SELECT campaign_id FROM @s.`+stTotals+` WHERE run_id = $1 AND stream = 'leads'
			UNION SELECT campaign_id FROM @s.leads_staged WHERE run_id = $1),
		loaded AS (SELECT campaign_id, count(*) AS n FROM @s.leads_staged WHERE run_id = $1 GROUP BY ALL)
		SELECT 'campaign ' || a.campaign_id,
			'analytics leads_total is ' || a.leads_total || ' but ' || coalesce(l.n, 0) || ' leads were loaded',
			count(*) OVER ()
		FROM @s.campaign_analytics_staged a
		JOIN fetched f USING (campaign_id)
		LEFT JOIN loaded l USING (campaign_id)
		WHERE a.run_id = $1 AND a.leads_total <> coalesce(l.n, 0)
		ORDER BY a.campaign_id`, id)
}

// checkOrphans: rows of campaign-scoped tables refer to a campaign of the
// same snapshot (skipped when the run staged no campaigns at all).
func checkOrphans(ctx context.Context, db *Store, id string) ([]Check, error) {
	var parts []string
	for _, t := range []*table{tCampaignAnalytics, tLeads, tLeadEmailStats, tSequences} {
		parts = append(parts, `SELECT '`+t.name+`' AS tbl, campaign_id FROM @s.`+t.staged+` WHERE run_id = $1`)
	}
	return collect(ctx, db, "orphan_campaign", SeverityWarning, "campaigns",
		"every campaign-scoped row refers to a campaign in this snapshot",
		`WITH rows AS (`+strings.Join(parts, " UNION ALL ")+`),
		known AS (SELECT campaign_id FROM @s.campaigns_staged WHERE run_id = $1)
		SELECT tbl || ' campaign ' || campaign_id,
			count(*) || ' rows refer to a campaign that is not in this snapshot''s campaigns',
			count(*) OVER ()
		FROM rows
		WHERE EXISTS (SELECT 1 FROM known) AND campaign_id NOT IN (SELECT campaign_id FROM known)
		GROUP BY tbl, campaign_id
		ORDER BY tbl, campaign_id`, id)
}
