package dashboard_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/dashboard"
	"github.com/smartlead-etl/smartlead-etl/internal/fixture"
	"github.com/smartlead-etl/smartlead-etl/internal/tmpfs"
	"github.com/smartlead-etl/smartlead-etl/report"
)

var update = flag.Bool("update", false, "rewrite the golden files from the current output")

const goldenDir = "../testdata/golden/dashboard"

// genTime is the generation time stamped on test pages.
var genTime = time.Date(2026, 11, 28, 7, 30, 0, 0, time.UTC)

func options(warehouse string) dashboard.Options {
	return dashboard.Options{Reports: fixture.ReportsFS(), Warehouse: warehouse,
		Now: func() time.Time { return genTime }, Version: "test"}
}

// stable replaces the fixture's random run ids with placeholders.
func stable(f *fixture.Fixture, s string) string {
	for i, id := range append(f.Runs[:], f.Failed) {
		s = strings.ReplaceAll(s, id, "<run"+string(rune('1'+i))+">")
	}
	return s
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if *update {
		require.NoError(t, os.MkdirAll(goldenDir, 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "golden file missing: run go test ./dashboard -run Golden -update")
	require.Equal(t, string(want), got, "the page's data differs from %s: review the change, then go test ./dashboard -run Golden -update", path)
}

// TestDataGolden pins the data the page embeds for the fixture warehouse,
// so that a change in a metric is a reviewed change.
func TestDataGolden(t *testing.T) {
	f := fixture.New(t)
	d, err := dashboard.Collect(t.Context(), f.Store, options(f.Path))
	require.NoError(t, err)
	checkGolden(t, "fixture.json", stable(f, goldenJSON(t, d)))

	// The page embeds exactly this data (compact).
	page, err := dashboard.Render(d)
	require.NoError(t, err)
	compact, err := json.Marshal(d)
	require.NoError(t, err)
	assert.Contains(t, string(page), `<script type="application/json" id="dashboard-data">`+string(compact)+`</script>`)
}

// TestDataMatchesReports checks the embedded numbers against the reports
// run directly, row for row, for the tables taken whole from a report.
func TestDataMatchesReports(t *testing.T) {
	f := fixture.New(t)
	d, err := dashboard.Collect(t.Context(), f.Store, options(f.Path))
	require.NoError(t, err)
	reps, err := report.Reports(fixture.ReportsFS())
	require.NoError(t, err)
	byName := map[string]report.Report{}
	for _, r := range reps {
		byName[r.Name] = r
	}
	for name, tbl := range map[string]dashboard.Table{
		"campaign_performance": d.Campaigns, "sequence_steps": d.Steps,
		"email_account_health": d.Accounts, "run_history": d.Runs,
	} {
		res, err := report.Run(t.Context(), f.Store, byName[name], report.ReportParams{})
		require.NoError(t, err)
		require.Len(t, tbl.Rows, len(res.Rows), name)
		for i, row := range tbl.Rows {
			for j, col := range tbl.Columns {
				k := indexOf(res.Columns, col)
				if k < 0 {
					continue // added by the dashboard (client_id)
				}
				want, err := report.JSONValue(res.Rows[i][k], res.Types[k])
				require.NoError(t, err)
				assert.Equal(t, want, row[j], "%s row %d column %s", name, i, col)
			}
		}
	}
	// daily_trend: the per-campaign rows, and the page's sums equal the
	// report's ALL rows for the additive counts.
	res, err := report.Run(t.Context(), f.Store, byName["daily_trend"], report.ReportParams{})
	require.NoError(t, err)
	all := 0
	for _, r := range res.Rows {
		if r[indexOf(res.Columns, "campaign")] == "ALL" {
			all++
		}
	}
	assert.Len(t, d.Daily.Rows, len(res.Rows)-all)
}

// goldenJSON writes d as JSON with one table row per line, so that a
// changed number shows as one changed line in review.
func goldenJSON(t *testing.T, d *dashboard.Data) string {
	t.Helper()
	var b strings.Builder
	meta, err := json.MarshalIndent(d.Meta, "  ", "  ")
	require.NoError(t, err)
	b.WriteString("{\n  \"meta\": " + string(meta))
	tables := []struct {
		name string
		t    *dashboard.Table
	}{{"clients", &d.Clients}, {"campaigns", &d.Campaigns}, {"daily", &d.Daily}, {"steps", &d.Steps},
		{"snapshots", &d.Snapshots}, {"lead_status", &d.LeadStatus}, {"accounts", &d.Accounts},
		{"runs", &d.Runs}, {"reply_hours", d.ReplyHours}}
	for _, tb := range tables {
		b.WriteString(",\n  \"" + tb.name + "\": ")
		if tb.t == nil {
			b.WriteString("null")
			continue
		}
		cols, err := json.Marshal(tb.t.Columns)
		require.NoError(t, err)
		b.WriteString("{\n    \"columns\": " + string(cols) + ",\n    \"rows\": [")
		for i, r := range tb.t.Rows {
			row, err := json.Marshal(r)
			require.NoError(t, err)
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString("\n      " + string(row))
		}
		b.WriteString("\n    ]\n  }")
	}
	b.WriteString("\n}\n")
	require.True(t, json.Valid([]byte(b.String())))
	return b.String()
}

func indexOf(xs []string, s string) int {
	for i, x := range xs {
		if x == s {
			return i
		}
	}
	return -1
}

// TestPageNamesFileNotPath: the page shows the warehouse's file name, never
// its directory, and never a key the fixture planted in run errors.
func TestPageNamesFileNotPath(t *testing.T) {
	f := fixture.New(t)
	page, err := dashboard.Generate(t.Context(), f.Store, options("/home/alice/clients/acme/warehouse.duckdb"))
	require.NoError(t, err)
	s := string(page)
	assert.Contains(t, s, `"warehouse":"warehouse.duckdb"`)
	assert.NotContains(t, s, "/home/alice")
	assert.NotContains(t, s, fixture.PlantedKey)
	assert.NotContains(t, s, filepath.Dir(f.Path))
	assert.Less(t, len(page), 2<<20)

	// Only three scripts: the data (not executable), Chart.js, the page;
	// nothing is loaded from anywhere.
	assert.Equal(t, 3, strings.Count(s, "<script"))
	assert.Regexp(t, regexp.MustCompile(`Content-Security-Policy" content="default-src 'none'; script-src 'sha256-[^']+' 'sha256-[^']+';`), s)
	for _, attr := range []string{" src=", " href=", "@import", "url("} {
		assert.NotContains(t, s[:strings.Index(s, `<script type="application/json"`)], attr, "the page shell loads nothing")
	}
}

func TestNoSnapshot(t *testing.T) {
	s := emptyWarehouse(t)
	_, err := dashboard.Generate(t.Context(), s, options("empty.duckdb"))
	require.ErrorIs(t, err, dashboard.ErrNoSnapshot)
}

// TestRepliesByHourWithEmailEvents: when the webhook receiver's table
// holds replies, the page gets replies by hour of day (UTC); without, none.
func TestRepliesByHourWithEmailEvents(t *testing.T) {
	f := fixture.New(t)
	db := f.Store.DB()
	_, err := db.ExecContext(t.Context(), `DELETE FROM email_events`)
	require.NoError(t, err)
	d, err := dashboard.Collect(t.Context(), f.Store, options("w.duckdb"))
	require.NoError(t, err)
	assert.Nil(t, d.ReplyHours, "no reply event: no chart")

	_, err = db.ExecContext(t.Context(), `INSERT INTO email_events (event_id, event_type, event_at, received_at, campaign_id, payload) VALUES
		('e1', 'EMAIL_REPLY', '2026-11-26 09:15:00+00', now(), 101, '{}'),
		('e2', 'EMAIL_REPLY', '2026-11-26 09:45:00+00', now(), 101, '{}'),
		('e3', 'email_replied', '2026-11-26 23:59:00+00', now(), 102, '{}'),
		('e4', 'EMAIL_OPEN', '2026-11-26 09:00:00+00', now(), 101, '{}'),
		('e5', 'EMAIL_REPLY', '2026-11-27 01:00:00-05', now(), NULL, '{}')`)
	require.NoError(t, err)
	d, err = dashboard.Collect(t.Context(), f.Store, options("w.duckdb"))
	require.NoError(t, err)
	require.NotNil(t, d.ReplyHours)
	got, err := json.Marshal(d.ReplyHours)
	require.NoError(t, err)
	// e5 is 06:00 UTC; the open is not a reply.
	assert.JSONEq(t, `{"columns":["campaign_id","hour","replies"],"rows":[[null,6,1],[101,9,2],[102,23,1]]}`, string(got))
}

func TestWriteFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.html")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o644))
	require.NoError(t, dashboard.WriteFile(path, []byte("<!DOCTYPE html>")))
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "<!DOCTYPE html>", string(b))
	left, err := filepath.Glob(filepath.Join(filepath.Dir(path), ".*.tmp"))
	require.NoError(t, err)
	assert.Empty(t, left)

	err = dashboard.WriteFile(filepath.Join(t.TempDir(), "missing", "d.html"), nil)
	require.Error(t, err)
}

// TestDataCannotCloseItsScript: names holding </script>, comments and
// markup stay inside the JSON block, escaped, whatever the browser does.
func TestDataCannotCloseItsScript(t *testing.T) {
	s, _ := buildWarehouse(t, shape{Campaigns: len(awkwardNames), Snapshots: 1, DailyDays: 1, Awkward: true, Leads: 1})
	page, err := dashboard.Generate(t.Context(), s, options("w.duckdb"))
	require.NoError(t, err)
	low := strings.ToLower(string(page))
	assert.Equal(t, 3, strings.Count(low, "</script"), "only the three closing tags of the page's own scripts")
	assert.Equal(t, 3, strings.Count(low, "<script"))
	assert.NotContains(t, low, "<img")
	assert.NotContains(t, low, "<!--")
	assert.Contains(t, string(page), `\u003cscript\u003ealert(1)\u003c/script\u003e`)
	assert.Contains(t, string(page), `Line one\nLine two\r\nLine three`)
	assert.Contains(t, string(page), "🚀 Launch 🎯 naïve café")
}

// TestWriteFileOnFullDisk: a page that does not fit (a real tmpfs, full)
// fails with one line naming the page and saying the previous one stays;
// the previous page is byte-for-byte unchanged and no temporary file is
// left; once there is space the same call succeeds.
func TestWriteFileOnFullDisk(t *testing.T) {
	dir := tmpfs.Mount(t, 1<<20)
	f := fixture.New(t)
	page, err := dashboard.Generate(t.Context(), f.Store, options("warehouse.duckdb"))
	require.NoError(t, err)
	path := filepath.Join(dir, "d.html")
	old := []byte("<!DOCTYPE html><title>yesterday</title>")
	require.NoError(t, dashboard.WriteFile(path, old))
	filler := tmpfs.Fill(t, dir)

	err = dashboard.WriteFile(path, page)
	require.ErrorIs(t, err, syscall.ENOSPC)
	assert.Equal(t, "dashboard: disk full: no space left on the device for "+path+"; the previous page is unchanged", err.Error())
	got, rerr := os.ReadFile(path)
	require.NoError(t, rerr)
	assert.Equal(t, old, got, "the previous page stays")
	entries, rerr := os.ReadDir(dir)
	require.NoError(t, rerr)
	assert.Len(t, entries, 2, "the page and the filler: no temporary file left")

	require.NoError(t, os.Remove(filler))
	require.NoError(t, dashboard.WriteFile(path, page))
	got, rerr = os.ReadFile(path)
	require.NoError(t, rerr)
	assert.Equal(t, page, got)
}
