// Package dashboard renders the warehouse as one self-contained HTML page:
// charts of the daily trend, the campaign funnel, sequence steps, lead
// status per snapshot, email account health and run history, with client,
// campaign and date filters and sortable tables.
//
// It reads the warehouse through a [report.Source] and imports no pipeline
// stage. The numbers come from the report files themselves (sql/reports,
// passed in as [Options.Reports]), so a metric means the same on the page
// as in `smartlead-etl report`: unique opens are never summed, and the
// reply rate falls back to leads reached when open tracking is off. The
// few views no report covers (lead status per snapshot, replies by hour
// from email_events when that table exists) are the SQL files of queries/.
//
// The page embeds Chart.js (assets/, MIT) and every script and style it
// needs, so it opens from disk with no network; a Content-Security-Policy
// allows only the page's own scripts, by hash. The data travels as JSON in
// a <script type="application/json"> block (json.Marshal escapes <, > and
// &) and the page writes it with textContent only, so a campaign named
// <script>...</script> is shown, never run.
package dashboard
