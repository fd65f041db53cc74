package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/internal/fixture"
	"github.com/smartlead-etl/smartlead-etl/load"
)

// -update rewrites the golden files (testdata/golden/reports at the
// repository root) from the current output:
//
//	go test ./report -run Report -update
//
// The flag may already be defined by another test file of the package;
// updating() reads whichever definition exists.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files from the current output")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

const reportGoldenDir = "../testdata/golden/reports"

func reportsFS() fstest.MapFS {
	m := fstest.MapFS{}
	entries, err := os.ReadDir("../sql/reports")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("../sql/reports", e.Name()))
		if err != nil {
			panic(err)
		}
		m[e.Name()] = &fstest.MapFile{Data: b}
	}
	return m
}

func mustReport(t *testing.T, name string) Report {
	t.Helper()
	rs, err := Reports(os.DirFS("../sql/reports"))
	require.NoError(t, err)
	for _, r := range rs {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no report %q", name)
	return Report{}
}

// render runs WriteResult and replaces the fixture's random run ids with
// stable placeholders, so that goldens do not change from run to run.
func render(t *testing.T, f *fixture.Fixture, res *Result, format string) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, WriteResult(&b, res, format))
	out := b.String()
	for i, id := range append(f.Runs[:], f.Failed) {
		out = strings.ReplaceAll(out, id, "<run"+string(rune('1'+i))+">")
	}
	require.NotContains(t, out, fixture.PlantedKey)
	return out
}

// checkGolden compares got with the golden file, rewriting it first under
// -update; the comparison always runs.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(reportGoldenDir, name)
	if updating() {
		require.NoError(t, os.MkdirAll(reportGoldenDir, 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: run go test ./report -run Report -update")
	require.Equal(t, string(want), got, "output differs from %s (go test ./report -run Report -update rewrites it)", path)
}

func TestReportsListed(t *testing.T) {
	rs, err := Reports(os.DirFS("../sql/reports"))
	require.NoError(t, err)
	var names []string
	for _, r := range rs {
		names = append(names, r.Name)
		assert.NotEmpty(t, r.Description, r.Name)
		assert.False(t, strings.HasPrefix(r.Description, "-"), r.Name)
	}
	require.Equal(t, []string{"activity_by_hour", "campaign_performance", "changes", "daily_trend", "email_account_health",
		"lead_status", "reply_times", "run_history", "sequence_steps"}, names)
}

func TestReportsRejectsBadFiles(t *testing.T) {
	for _, tc := range []struct {
		name string
		fs   fstest.MapFS
		want string
	}{
		{"no description", fstest.MapFS{"a.sql": {Data: []byte("SELECT 1;\n")}}, `report a.sql: the first line must be a "-- description" comment`},
		{"empty description", fstest.MapFS{"a.sql": {Data: []byte("--   \nSELECT 1;\n")}}, "first line must be"},
		{"only comments", fstest.MapFS{"a.sql": {Data: []byte("-- nothing\n-- here\n")}}, "no SQL after the comments"},
		{"bad name", fstest.MapFS{"Bad-Name.sql": {Data: []byte("-- x\nSELECT 1;\n")}}, "lower_snake_case"},
	} {
		_, err := Reports(tc.fs)
		require.Error(t, err, tc.name)
		require.Contains(t, err.Error(), tc.want, tc.name)
	}
	rs, err := Reports(fstest.MapFS{
		"b.sql":     {Data: []byte("-- Second\nSELECT 2;\n")},
		"a.sql":     {Data: []byte("--First one  \nSELECT 1;\n")},
		"README.md": {Data: []byte("not a report")},
	})
	require.NoError(t, err)
	require.Len(t, rs, 2)
	require.Equal(t, Report{Name: "a", Description: "First one", SQL: "--First one  \nSELECT 1;\n"}, rs[0])
	require.Equal(t, "b", rs[1].Name)
}

// TestReportGolden runs every report on the fixture and compares its CSV
// and JSON output with the golden files.
func TestReportGolden(t *testing.T) {
	f := fixture.New(t)
	rs, err := Reports(reportsFS())
	require.NoError(t, err)
	for _, r := range rs {
		res, err := Run(t.Context(), f.Store, r, ReportParams{})
		require.NoError(t, err, r.Name)
		require.NotEmpty(t, res.Rows, "report %s returned no rows on the fixture", r.Name)
		checkGolden(t, r.Name+".csv", render(t, f, res, FormatCSV))
		checkGolden(t, r.Name+".json", render(t, f, res, FormatJSON))
	}
}

// jsonRows runs a report and decodes its JSON output, numbers kept exact.
func jsonRows(t *testing.T, f *fixture.Fixture, name string, p ReportParams) []map[string]any {
	t.Helper()
	res, err := Run(t.Context(), f.Store, mustReport(t, name), p)
	require.NoError(t, err)
	var b bytes.Buffer
	require.NoError(t, WriteResult(&b, res, FormatJSON))
	dec := json.NewDecoder(&b)
	dec.UseNumber()
	var rows []map[string]any
	require.NoError(t, dec.Decode(&rows))
	return rows
}

func pct(num, den int64) float64 { return math.Round(10000*float64(num)/float64(den)) / 100 }

func num(t *testing.T, v any) float64 {
	t.Helper()
	n, ok := v.(json.Number)
	require.True(t, ok, "%v (%T) is not a JSON number", v, v)
	x, err := n.Float64()
	require.NoError(t, err)
	return x
}

// TestReportRatesByHand recomputes campaign_performance's rates for the
// fixture's campaigns from the loaded numbers, with the vendor's formulas.
func TestReportRatesByHand(t *testing.T) {
	f := fixture.New(t)
	rows := jsonRows(t, f, "campaign_performance", ReportParams{})
	require.Len(t, rows, 3)
	byID := map[string]map[string]any{}
	for _, r := range rows {
		byID[r["campaign_id"].(json.Number).String()] = r
	}
	an := fixture.Batch(2).CampaignAnalytics

	// 101: tracking on. open = unique opens / reached, reply = replies /
	// unique opens, bounce = bounces / reached.
	a, r := an[0], byID["101"]
	require.EqualValues(t, 101, a.CampaignID)
	assert.Equal(t, pct(a.UniqueOpenCount, a.UniqueSentCount), num(t, r["open_rate_pct"]))
	assert.Equal(t, 45.83, num(t, r["open_rate_pct"]))
	assert.Equal(t, pct(a.ReplyCount, a.UniqueOpenCount), num(t, r["reply_rate_pct"]))
	assert.Equal(t, 20.0, num(t, r["reply_rate_pct"]))
	assert.Equal(t, pct(a.BounceCount, a.UniqueSentCount), num(t, r["bounce_rate_pct"]))
	assert.Equal(t, 4.17, num(t, r["bounce_rate_pct"]))
	assert.Equal(t, "unique_opens", r["reply_rate_basis"])
	assert.Equal(t, true, r["open_tracking"])
	assert.Equal(t, float64(a.SentCount), num(t, r["emails_sent"]))
	assert.Equal(t, float64(a.UniqueSentCount), num(t, r["leads_reached"]))

	// 102: open tracking off (DONT_EMAIL_OPEN, open_count 0 with unique
	// opens 7): no open rate, replies over leads reached.
	a, r = an[1], byID["102"]
	assert.Nil(t, r["open_rate_pct"])
	assert.Equal(t, false, r["open_tracking"])
	assert.Equal(t, pct(a.ReplyCount, a.UniqueSentCount), num(t, r["reply_rate_pct"]))
	assert.Equal(t, 7.5, num(t, r["reply_rate_pct"]))
	assert.Equal(t, "leads_reached", r["reply_rate_basis"])
	assert.Equal(t, pct(a.BounceCount, a.UniqueSentCount), num(t, r["bounce_rate_pct"]))

	// 103: nothing sent, so no rate at all rather than a division by zero.
	r = byID["103"]
	for _, c := range []string{"open_rate_pct", "reply_rate_pct", "bounce_rate_pct"} {
		assert.Nil(t, r[c], c)
	}

	// daily_trend's ALL row sums the additive counts of a day and leaves
	// the unique counts and rates NULL.
	days := jsonRows(t, f, "daily_trend", ReportParams{})
	var all map[string]any
	for _, d := range days {
		if d["day"] == "2026-11-26" && d["campaign"] == "ALL" {
			all = d
		}
	}
	require.NotNil(t, all)
	assert.Equal(t, 45.0+15, num(t, all["sent"]))
	assert.Equal(t, 5.0+1, num(t, all["replies"]))
	assert.Nil(t, all["unique_opens"])
	assert.Nil(t, all["open_rate_pct"])

	// changes: campaign 101 gained lead 5005, lost 5004, 5002 moved to
	// COMPLETED, two emails got replies, and 40 more were sent.
	ch := jsonRows(t, f, "changes", ReportParams{})
	require.Len(t, ch, 3)
	c := ch[0]
	assert.Equal(t, "101", c["campaign_id"].(json.Number).String())
	assert.Equal(t, "2026-11-26", c["from_snapshot"])
	assert.Equal(t, "2026-11-27", c["to_snapshot"])
	assert.Equal(t, f.Runs[0], c["from_run"])
	assert.Equal(t, f.Runs[1], c["to_run"])
	for col, want := range map[string]float64{"new_leads": 1, "removed_leads": 1, "lead_status_changes": 1,
		"new_replies": 2, "sent_delta": 40, "replies_delta": 5, "unique_opens_delta": 15} {
		assert.Equal(t, want, num(t, c[col]), col)
	}
	assert.Equal(t, 1.0, num(t, ch[1]["new_leads"]))
	assert.Equal(t, 1.0, num(t, ch[1]["new_replies"]))
}

func TestReportParametersFilter(t *testing.T) {
	f := fixture.New(t)
	d26 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	d27 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

	rows := jsonRows(t, f, "campaign_performance", ReportParams{Campaign: ptr[int64](102)})
	require.Len(t, rows, 1)
	assert.Equal(t, "102", rows[0]["campaign_id"].(json.Number).String())

	rows = jsonRows(t, f, "daily_trend", ReportParams{Since: &d26, Until: &d26})
	var got []string
	for _, r := range rows {
		got = append(got, r["day"].(string)+" "+r["campaign"].(string))
	}
	require.Equal(t, []string{"2026-11-26 101", "2026-11-26 102", "2026-11-26 ALL"}, got)

	rows = jsonRows(t, f, "daily_trend", ReportParams{Campaign: ptr[int64](101), Since: &d26})
	got = nil
	for _, r := range rows {
		got = append(got, r["day"].(string)+" "+r["campaign"].(string))
	}
	require.Equal(t, []string{"2026-11-26 101", "2026-11-27 101"}, got, "one campaign: no ALL rows")

	rows = jsonRows(t, f, "run_history", ReportParams{Since: &d27})
	require.Len(t, rows, 2)
	assert.Equal(t, f.Failed, rows[0]["run_id"], "newest first")
	assert.Equal(t, f.Runs[1], rows[1]["run_id"])
	rows = jsonRows(t, f, "run_history", ReportParams{Since: &d27, Until: &d27})
	require.Len(t, rows, 1)
	assert.Equal(t, f.Runs[1], rows[0]["run_id"])
	rows = jsonRows(t, f, "run_history", ReportParams{Until: &d26})
	require.Len(t, rows, 1)
	assert.Equal(t, f.Runs[0], rows[0]["run_id"])

	// sequence_steps filters on the UTC day emails were sent.
	rows = jsonRows(t, f, "sequence_steps", ReportParams{Since: &d26})
	var sent float64
	for _, r := range rows {
		sent += num(t, r["sent"])
	}
	assert.Equal(t, 4.0, sent, "emails sent on 2026-11-26: two step-2 emails, fay and gus")

	// A filter the report does not have is an error, not ignored.
	_, err := Run(t.Context(), f.Store, mustReport(t, "campaign_performance"), ReportParams{Since: &d26})
	require.ErrorContains(t, err, "report campaign_performance: this report has no since filter (it takes: campaign)")
	require.ErrorIs(t, err, ErrReportFilter)
	_, err = Run(t.Context(), f.Store, mustReport(t, "email_account_health"), ReportParams{Campaign: ptr[int64](1)})
	require.ErrorContains(t, err, "has no campaign filter (it takes: none)")
	_, err = Run(t.Context(), f.Store, mustReport(t, "daily_trend"), ReportParams{Since: &d27, Until: &d26})
	require.ErrorContains(t, err, "since 2026-11-27 is after until 2026-11-26")
	require.ErrorIs(t, err, ErrReportFilter, "the CLI maps it to the usage exit code")

	// A report may only use the three known parameters.
	_, err = Run(t.Context(), f.Store, Report{Name: "x", SQL: "SELECT $who AS w"}, ReportParams{})
	require.ErrorContains(t, err, "unknown parameter $who")
}

// TestReportAndQueryCannotInject: parameters are typed values bound by
// name, so there is no string to inject; what remains is SQL text itself,
// which must be exactly one read-only statement.
func TestReportAndQueryCannotInject(t *testing.T) {
	f := fixture.New(t)
	ctx := t.Context()
	leads := func() int {
		res, err := Query(ctx, f.Store, "SELECT count(*) AS n FROM leads_rows")
		require.NoError(t, err)
		return int(res.Rows[0][0].(int64))
	}
	before := leads()
	require.Positive(t, before)

	for _, q := range []string{
		"SELECT 1; DROP TABLE leads_rows",
		"SELECT 1; DELETE FROM leads_rows",
		"DROP TABLE leads_rows",
		"DELETE FROM leads_rows",
		"COPY leads_rows TO '" + filepath.Join(t.TempDir(), "x.csv") + "'",
		"ATTACH '" + filepath.Join(t.TempDir(), "other.duckdb") + "' AS other",
		"SET threads = 1",
		"INSTALL httpfs",
		"EXPLAIN ANALYZE DELETE FROM leads_rows",
	} {
		_, err := Query(ctx, f.Store, q)
		require.ErrorIs(t, err, ErrNotQuery, q)
	}
	_, err := Query(ctx, f.Store, "SELECT 1; DROP TABLE leads_rows")
	require.ErrorContains(t, err, "several statements")
	_, err = Query(ctx, f.Store, "   ")
	require.ErrorIs(t, err, ErrNotQuery)
	_, err = Query(ctx, f.Store, "SELECT $1")
	require.ErrorContains(t, err, "ad-hoc queries take none")
	_, err = Query(ctx, f.Store, "SELEC 1")
	require.ErrorContains(t, err, "syntax error")

	hostile := Report{Name: "hostile", SQL: "-- x\nSELECT * FROM leads WHERE campaign_id = $campaign::BIGINT; DROP TABLE leads_rows"}
	_, err = Run(ctx, f.Store, hostile, ReportParams{Campaign: ptr[int64](101)})
	require.ErrorIs(t, err, ErrNotQuery)
	require.Equal(t, before, leads(), "nothing ran")

	// since/until are dates bound as DATE: a date at the edge of the range
	// filters, it is never text in the query.
	d := time.Date(2026, 11, 26, 23, 59, 59, 0, time.FixedZone("X", 5*3600))
	rows := jsonRows(t, f, "daily_trend", ReportParams{Since: &d, Until: &d})
	require.Len(t, rows, 3, "only the date part of a time is used")

	// Read-only: the CLI opens the store read-only, so even an allowed
	// statement type could not write; the file is unchanged afterwards.
	require.NoError(t, f.Store.Close())
	ro, err := load.OpenReadOnly(ctx, f.Path, load.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ro.Close()) })
	f.Store = ro
	res, err := Query(ctx, ro, "SELECT count(*) AS n FROM leads")
	require.NoError(t, err)
	require.EqualValues(t, 6, res.Rows[0][0])
	_, err = Query(ctx, ro, "CREATE TABLE x AS SELECT 1")
	require.ErrorIs(t, err, ErrNotQuery)
	// DuckDB refuses to bind a write on a read-only store; the message
	// says what was refused and why, not "Binder Error".
	for q, kind := range map[string]string{"DELETE FROM leads_rows": "a DELETE", "/* x */ (INSERT INTO leads_rows SELECT * FROM leads_rows)": "an INSERT",
		"ATTACH 'x.duckdb' AS x": "an ATTACH", "update leads_rows set email = NULL": "an UPDATE"} {
		_, err = Query(ctx, ro, q)
		require.ErrorIs(t, err, ErrNotQuery, q)
		require.ErrorContains(t, err, "read-only", q)
		require.ErrorContains(t, err, "not "+kind+" statement", q)
		require.NotContains(t, err.Error(), "Binder", q)
	}
	_, err = Query(ctx, ro, "EXPLAIN SELECT * FROM leads")
	require.NoError(t, err, "EXPLAIN is allowed where nothing can write")
	_, err = Query(ctx, ro, "EXPLAIN ANALYZE DELETE FROM leads_rows")
	require.ErrorContains(t, err, "read-only")
	_, err = ro.DB().ExecContext(ctx, "CREATE TABLE x AS SELECT 1")
	require.ErrorContains(t, err, "read-only")
	_, err = Run(ctx, ro, mustReport(t, "campaign_performance"), ReportParams{})
	require.NoError(t, err, "reports run on a read-only store")
	require.Equal(t, before, leads())
}

func TestQueryResultTypes(t *testing.T) {
	f := fixture.New(t)
	res, err := Query(t.Context(), f.Store, `SELECT 1::INTEGER AS i, 12.50::DECIMAL(6,2) AS dec, 0.1::DOUBLE AS dbl,
		DATE '2026-11-27' AS day, TIMESTAMPTZ '2026-11-27 10:00:00.5+00' AS ts, NULL AS nothing,
		'{"b":1,"a":[true]}'::JSON AS j, [1, 2] AS l, 'a "quoted" <b>' AS s, true AS ok,
		12345678901234567890123::HUGEINT AS big, INTERVAL 90 MINUTE AS iv`)
	require.NoError(t, err)
	require.Equal(t, []string{"INTEGER", "DECIMAL(6,2)", "DOUBLE", "DATE", "TIMESTAMPTZ", "INTEGER", "JSON",
		"INTEGER[]", "VARCHAR", "BOOLEAN", "HUGEINT", "INTERVAL"}, res.Types)
	var b bytes.Buffer
	require.NoError(t, WriteResult(&b, res, FormatJSON))
	require.Equal(t, `[
  {"i": 1, "dec": 12.50, "dbl": 0.1, "day": "2026-11-27", "ts": "2026-11-27T10:00:00.5Z", "nothing": null, "j": {"a":[true],"b":1}, "l": [1,2], "s": "a \"quoted\" <b>", "ok": true, "big": 12345678901234567890123, "iv": "01:30:00"}
]
`, b.String())
}
func ptr[T any](v T) *T { return &v }

// TestReportTimeZone: activity_by_hour groups by local time in the zone
// bound as $tz; the fixture's open at Thursday 23:30 UTC is Friday 00:30
// in Berlin. A report without $tz refuses the filter.
func TestReportTimeZone(t *testing.T) {
	f := fixture.New(t)
	key := func(rows []map[string]any) map[string]string {
		m := map[string]string{}
		for _, r := range rows {
			m[r["weekday"].(string)+" "+r["hour"].(json.Number).String()] = r["events"].(json.Number).String()
		}
		return m
	}
	utc := key(jsonRows(t, f, "activity_by_hour", ReportParams{}))
	assert.Equal(t, "1", utc["Thursday 23"])
	assert.NotContains(t, utc, "Friday 0")
	berlin := jsonRows(t, f, "activity_by_hour", ReportParams{TZ: ptrTo("Europe/Berlin")})
	assert.Equal(t, "Europe/Berlin", berlin[0]["time_zone"])
	b := key(berlin)
	assert.Equal(t, "1", b["Friday 0"])
	assert.NotContains(t, b, "Thursday 23")
	assert.Equal(t, "3", b["Thursday 10"], "09:xx UTC is 10:xx in Berlin")
	ny := key(jsonRows(t, f, "activity_by_hour", ReportParams{TZ: ptrTo("America/New_York"), Since: ptrTo(fixture.Snap2)}))
	assert.Equal(t, map[string]string{"Friday 4": "2"}, ny, "days are cut in the zone too")

	_, err := Run(t.Context(), f.Store, mustReport(t, "reply_times"), ReportParams{TZ: ptrTo("UTC")})
	require.ErrorIs(t, err, ErrReportFilter)
	// A bad zone reaches DuckDB only through a parameter: an error, never SQL.
	_, err = Run(t.Context(), f.Store, mustReport(t, "activity_by_hour"), ReportParams{TZ: ptrTo("x'; DROP TABLE email_events; --")})
	require.Error(t, err)
	n, err := Run(t.Context(), f.Store, mustReport(t, "reply_times"), ReportParams{Campaign: ptrTo[int64](102)})
	require.NoError(t, err)
	require.Len(t, n.Rows, 1)
}

func ptrTo[T any](v T) *T { return &v }
