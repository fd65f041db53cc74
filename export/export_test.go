package export

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/internal/fixture"
	"github.com/smartlead-etl/smartlead-etl/load"

	"github.com/smartlead-etl/smartlead-etl/internal/lockfile"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// expected returns the relation an exported table must equal, with the
// partition column as DuckDB reads it back from the path.
func exportExpected(spec exportSpec, m *Manifest) string {
	snap := "DATE '" + m.SnapshotDate + "'"
	switch {
	case spec.kind == exportSnapshot && m.AllSnapshots:
		return spec.source
	case spec.kind == exportSnapshot:
		return spec.name // the view: the latest snapshot
	case spec.kind == exportDaily:
		return spec.source
	case spec.kind == exportEvents:
		return "(SELECT *, " + eventDay + " AS event_date FROM email_events)"
	case spec.source == "etl_runs" && m.AllSnapshots:
		return "etl_runs"
	case spec.source == "etl_runs":
		return "(SELECT * FROM etl_runs WHERE snapshot_date = " + snap + ")"
	case m.AllSnapshots:
		return "(SELECT t.*, e.snapshot_date FROM " + spec.source + " t JOIN etl_runs e USING (run_id))"
	}
	return "(SELECT t.*, e.snapshot_date FROM " + spec.source + " t JOIN etl_runs e USING (run_id) WHERE e.snapshot_date = " + snap + ")"
}

func queryInt(t *testing.T, s *load.Store, q string, args ...any) int64 {
	t.Helper()
	var n int64
	require.NoError(t, s.DB().QueryRowContext(context.Background(), q, args...).Scan(&n), q)
	return n
}

// checkExport verifies an export against the warehouse: every file's
// checksum and row count, every table read back with hive_partitioning
// equal (EXCEPT ALL both ways) to what it exported, no secret column, and
// manifest.json equal to m.
func checkExport(t *testing.T, s *load.Store, dir string, m *Manifest) {
	t.Helper()
	require.Len(t, m.Tables, len(exportSpecs))
	secret := regexp.MustCompile(`(?i)password|api_?key|secret`)
	for i, spec := range exportSpecs {
		mt := m.Tables[i]
		require.Equal(t, spec.name, mt.Name)
		var total int64
		for _, f := range mt.Files {
			require.NotContains(t, f.Path, "..")
			require.True(t, strings.HasPrefix(f.Path, mt.Name+"/"+mt.Partition+"="), f.Path)
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f.Path)))
			require.NoError(t, err)
			sum := sha256.Sum256(b)
			require.Equal(t, hex.EncodeToString(sum[:]), f.SHA256, f.Path)
			require.Equal(t, f.Rows, queryInt(t, s, "SELECT count(*) FROM read_parquet($1)", filepath.Join(dir, f.Path)), f.Path)
			total += f.Rows
		}
		require.Equal(t, mt.Rows, total, mt.Name)

		var cols []string
		for _, c := range mt.Schema {
			require.NotRegexp(t, secret, c.Name, "%s.%s", mt.Name, c.Name)
			cols = append(cols, quoteIdent(c.Name))
		}
		require.Equal(t, mt.Partition, mt.Schema[len(mt.Schema)-1].Name, "partition column last")
		list := strings.Join(cols, ", ")
		// Read back this export's files: by the glob a user would write when
		// the folder holds only them, else by the manifest's list (an
		// earlier export may have left other days' partitions).
		var paths, quoted []string
		for _, f := range mt.Files {
			paths = append(paths, filepath.Join(dir, filepath.FromSlash(f.Path)))
			quoted = append(quoted, quoteString(paths[len(paths)-1]))
		}
		glob := filepath.Join(dir, mt.Name, "*", "*.parquet")
		onDisk, err := filepath.Glob(glob)
		require.NoError(t, err)
		slices.Sort(paths)
		files := "read_parquet([" + strings.Join(quoted, ", ") + "], hive_partitioning = true)"
		if slices.Equal(onDisk, paths) {
			files = "read_parquet(" + quoteString(glob) + ", hive_partitioning = true)"
		}
		want := exportExpected(spec, m)
		require.Equal(t, mt.Rows, queryInt(t, s, "SELECT count(*) FROM "+want), mt.Name)
		require.NotEmpty(t, mt.Files, "%s: an empty table still has a file with its schema", mt.Name)
		for _, q := range []string{
			"SELECT count(*) FROM (SELECT " + list + " FROM " + files + " EXCEPT ALL SELECT " + list + " FROM " + want + ")",
			"SELECT count(*) FROM (SELECT " + list + " FROM " + want + " EXCEPT ALL SELECT " + list + " FROM " + files + ")",
		} {
			require.Zero(t, queryInt(t, s, q), "%s: %s", mt.Name, q)
		}
		// The types read back are the ones the manifest names.
		require.Equal(t, mt.Schema, describeRead(t, s, "SELECT "+list+" FROM "+files), mt.Name)
	}

	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	require.NoError(t, err)
	var disk Manifest
	require.NoError(t, json.Unmarshal(b, &disk))
	require.Equal(t, *m, disk)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		require.False(t, strings.HasPrefix(e.Name(), "."), "left behind: %s", e.Name())
	}
}

// describeRead returns the columns and types of query's result.
func describeRead(t *testing.T, s *load.Store, query string) []ManifestColumn {
	t.Helper()
	rows, err := s.DB().Query("DESCRIBE " + query)
	require.NoError(t, err, query)
	defer rows.Close()
	var got []ManifestColumn
	for rows.Next() {
		var c ManifestColumn
		var a, b, d, e any
		require.NoError(t, rows.Scan(&c.Name, &c.Type, &a, &b, &d, &e))
		got = append(got, c)
	}
	require.NoError(t, rows.Err())
	return got
}

// partFiles lists the files of one partition directory.
func partFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func manifestTable(m *Manifest, name string) ManifestTable {
	for _, t := range m.Tables {
		if t.Name == name {
			return t
		}
	}
	return ManifestTable{}
}

func TestExportRoundTrip(t *testing.T) {
	f := fixture.New(t)
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "lake")
	m, err := Export(ctx, f.Store.DB(), dir, Options{Now: f.Clock.Now})
	require.NoError(t, err)
	require.Equal(t, f.Runs[1], m.RunID)
	require.Equal(t, "2026-11-27", m.SnapshotDate)
	checkExport(t, f.Store, dir, m)

	leads := manifestTable(m, "leads")
	require.Equal(t, []ManifestFile{{Path: "leads/snapshot_date=2026-11-27/part-" + f.Runs[1] + ".parquet", Rows: 6,
		SHA256: leads.Files[0].SHA256}}, leads.Files)
	require.EqualValues(t, 6, leads.Rows)
	daily := manifestTable(m, "campaign_daily_stats")
	require.Equal(t, "day", daily.Partition)
	require.Len(t, daily.Files, 3, "one file per day and the run that last wrote it: 25 by run 1, 26 and 27 by run 2")
	require.Equal(t, "campaign_daily_stats/day=2026-11-25/part-"+f.Runs[0]+".parquet", daily.Files[0].Path)
	runs := manifestTable(m, "etl_runs")
	require.Len(t, runs.Files, 1, "the runs of the latest snapshot date only")
	events := manifestTable(m, "email_events")
	require.Equal(t, "event_date", events.Partition)
	var paths []string
	for _, f := range events.Files {
		paths = append(paths, f.Path)
	}
	require.Equal(t, []string{
		"email_events/event_date=2026-11-25/part-events.parquet",
		"email_events/event_date=2026-11-26/part-events.parquet",
		"email_events/event_date=2026-11-27/part-events.parquet",
	}, paths, "one file per UTC day of the events, whatever the snapshot")
	require.EqualValues(t, len(fixture.Events), events.Rows, "every event once, the redelivered one included once")
	require.Zero(t, queryInt(t, f.Store, `SELECT count(*) FROM read_parquet($1) WHERE payload::VARCHAR LIKE '%secret_key%'`,
		filepath.Join(dir, "email_events", "*", "*.parquet")), "the webhook secret is not exported")

	// ZSTD, as asked.
	var codec string
	require.NoError(t, f.Store.DB().QueryRow(`SELECT DISTINCT compression FROM parquet_metadata($1)`,
		filepath.Join(dir, leads.Files[0].Path)).Scan(&codec))
	require.Equal(t, "ZSTD", codec)

	// Reproducible: another export of the same snapshot, elsewhere and over
	// the first, gives the same bytes.
	dir2 := filepath.Join(t.TempDir(), "lake2")
	m2, err := Export(ctx, f.Store.DB(), dir2, Options{Now: f.Clock.Now})
	require.NoError(t, err)
	m3, err := Export(ctx, f.Store.DB(), dir, Options{Now: f.Clock.Now})
	require.NoError(t, err)
	for i := range m.Tables {
		require.Equal(t, m.Tables[i], m2.Tables[i])
		require.Equal(t, m.Tables[i], m3.Tables[i])
		for _, file := range m.Tables[i].Files {
			a, err := os.ReadFile(filepath.Join(dir, file.Path))
			require.NoError(t, err)
			b, err := os.ReadFile(filepath.Join(dir2, file.Path))
			require.NoError(t, err)
			require.True(t, bytes.Equal(a, b), file.Path)
		}
	}
	checkExport(t, f.Store, dir, m3)
}

func TestExportAllSnapshotsAndNoSecrets(t *testing.T) {
	f := fixture.New(t)
	dir := filepath.Join(t.TempDir(), "lake")
	m, err := Export(t.Context(), f.Store.DB(), dir, Options{AllSnapshots: true})
	require.NoError(t, err)
	checkExport(t, f.Store, dir, m)

	leads := manifestTable(m, "leads")
	require.Equal(t, []string{
		"leads/snapshot_date=2026-11-26/part-" + f.Runs[0] + ".parquet",
		"leads/snapshot_date=2026-11-27/part-" + f.Runs[1] + ".parquet",
	}, []string{leads.Files[0].Path, leads.Files[1].Path})
	require.Len(t, leads.Files, 2, "the failed run's staged rows are no snapshot")
	require.EqualValues(t, 5+6, leads.Rows)
	runs := manifestTable(m, "etl_runs")
	require.Len(t, runs.Files, 3, "every run, the failed one included")
	require.Equal(t, "etl_runs/snapshot_date=2026-11-28/part-"+f.Failed+".parquet", runs.Files[2].Path)

	// The planted key went into an error and a request URL; load redacted
	// it, and no exported value holds it.
	var redacted int64
	require.NoError(t, f.Store.DB().QueryRow(`SELECT count(*) FROM read_parquet($1, hive_partitioning = true)
		WHERE endpoint LIKE '%REDACTED%'`, filepath.Join(dir, "api_requests/*/*.parquet")).Scan(&redacted))
	require.EqualValues(t, 1, redacted, "the planted request is exported, redacted")
	for _, mt := range m.Tables {
		n := queryInt(t, f.Store, `SELECT count(*) FROM read_parquet($1, hive_partitioning = true) AS r
			WHERE r::VARCHAR ILIKE '%' || $2 || '%' OR r::VARCHAR ILIKE '%PLANTED%'`,
			filepath.Join(dir, mt.Name, "*/*.parquet"), fixture.PlantedKey)
		require.Zero(t, n, mt.Name)
	}
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		require.NotContains(t, string(b), fixture.PlantedKey, path)
		return nil
	})
	require.NoError(t, err)
}

// TestExportReplacesPartition: a new snapshot on the same day replaces the
// day's partition whole; a file an older export left there does not
// survive, and other days are left alone.
func TestExportReplacesPartition(t *testing.T) {
	f := fixture.New(t)
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "lake")
	_, err := Export(ctx, f.Store.DB(), dir, Options{AllSnapshots: true})
	require.NoError(t, err)
	day27 := filepath.Join(dir, "leads", "snapshot_date=2026-11-27")
	day26 := filepath.Join(dir, "leads", "snapshot_date=2026-11-26")
	require.Equal(t, []string{"part-" + f.Runs[1] + ".parquet"}, partFiles(t, day27))
	require.NoError(t, os.WriteFile(filepath.Join(day27, "part-stray.parquet"), []byte("old"), 0o644))
	before26, err := os.ReadFile(filepath.Join(day26, "part-"+f.Runs[0]+".parquet"))
	require.NoError(t, err)

	// A fourth run, again for 2026-11-27, without lead 5003.
	start := fixture.Snap2.Add(20 * time.Hour)
	f.Clock.T = start
	r, err := f.Store.BeginRun(ctx, load.RunStart{SnapshotDate: fixture.Snap2, StartedAt: start})
	require.NoError(t, err)
	b := fixture.Batch(2)
	b.Leads = slices.DeleteFunc(b.Leads, func(l transform.Lead) bool { return l.CampaignLeadMapID == 5003 })
	b.CampaignAnalytics[0].LeadsTotal = 3
	require.NoError(t, r.Write(ctx, b))
	f.Clock.T = start.Add(time.Minute)
	_, err = r.Commit(ctx, load.Counters{})
	require.NoError(t, err)

	m, err := Export(ctx, f.Store.DB(), dir, Options{Now: f.Clock.Now})
	require.NoError(t, err)
	require.Equal(t, r.ID(), m.RunID)
	checkExport(t, f.Store, dir, m)
	require.Equal(t, []string{"part-" + r.ID() + ".parquet"}, partFiles(t, day27), "the older run's file and the stray are gone")
	require.EqualValues(t, 5, queryInt(t, f.Store, "SELECT count(*) FROM read_parquet($1)",
		filepath.Join(day27, "part-"+r.ID()+".parquet")))
	after26, err := os.ReadFile(filepath.Join(day26, "part-"+f.Runs[0]+".parquet"))
	require.NoError(t, err)
	require.Equal(t, before26, after26, "another day's partition is not touched")
	require.ElementsMatch(t, []string{"part-" + f.Runs[1] + ".parquet", "part-" + r.ID() + ".parquet"},
		partFiles(t, filepath.Join(dir, "etl_runs", "snapshot_date=2026-11-27")), "both runs of the day")
}

func TestSwapPartition(t *testing.T) {
	for _, atomic := range []bool{true, false} {
		t.Run(fmt.Sprintf("exchange=%v", atomic), func(t *testing.T) {
			if !atomic {
				orig := exchange
				exchange = func(a, b string) (bool, error) { return false, nil }
				t.Cleanup(func() { exchange = orig })
			}
			root := t.TempDir()
			tmp := filepath.Join(root, ".export-tmp-x")
			staged := filepath.Join(tmp, "t", "p=1")
			dst := filepath.Join(root, "t", "p=1")
			require.NoError(t, os.MkdirAll(staged, 0o755))
			require.NoError(t, os.MkdirAll(dst, 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(staged, "new"), []byte("n"), 0o644))
			for _, n := range []string{"old1", "old2"} {
				require.NoError(t, os.WriteFile(filepath.Join(dst, n), []byte("o"), 0o644))
			}
			require.NoError(t, swapPartition(staged, dst, tmp))
			require.Equal(t, []string{"new"}, partFiles(t, dst))
			_, err := os.Stat(staged)
			require.ErrorIs(t, err, os.ErrNotExist)
			entries, err := os.ReadDir(tmp)
			require.NoError(t, err)
			for _, e := range entries {
				require.Equal(t, "t", e.Name(), "the old partition is removed")
			}
		})
	}
}

func TestExportEdges(t *testing.T) {
	f := fixture.New(t)
	ctx := t.Context()

	// A directory name with a quote is still one SQL string literal.
	dir := filepath.Join(t.TempDir(), "it's a lake")
	m, err := Export(ctx, f.Store.DB(), dir, Options{Now: f.Clock.Now})
	require.NoError(t, err)
	checkExport(t, f.Store, dir, m)

	// A crashed export's staging dir is cleaned up by the next one.
	stale := filepath.Join(dir, exportTmpPrefix+"dead")
	require.NoError(t, os.MkdirAll(filepath.Join(stale, "leads"), 0o755))
	_, err = Export(ctx, f.Store.DB(), dir, Options{Now: f.Clock.Now})
	require.NoError(t, err)
	_, err = os.Stat(stale)
	require.ErrorIs(t, err, os.ErrNotExist)

	// Another export in progress holds the directory.
	lock, err := lockfile.Acquire(filepath.Join(dir, ".export.lock"))
	require.NoError(t, err)
	_, err = Export(ctx, f.Store.DB(), dir, Options{Now: f.Clock.Now})
	require.ErrorIs(t, err, lockfile.ErrHeld)
	require.NoError(t, lock.Release())

	// A cancelled export changes nothing.
	before, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	require.NoError(t, err)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = Export(cctx, f.Store.DB(), dir, Options{Now: f.Clock.Now})
	require.ErrorIs(t, err, context.Canceled)
	after, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	require.NoError(t, err)
	require.Equal(t, before, after)

	// Ids from the database are checked before they become paths.
	for _, id := range []string{"../x", "a/b", "", ".hidden", `a\b`, "x'y"} {
		assert.False(t, safeComponent.MatchString(id) && !strings.Contains(id, ".."), id)
	}

	// Nothing to export before the first succeeded run.
	empty, err := load.Open(ctx, filepath.Join(t.TempDir(), "empty.duckdb"), fixture.SchemaFS(), load.Options{})
	require.NoError(t, err)
	defer empty.Close()
	_, err = Export(ctx, empty.DB(), filepath.Join(t.TempDir(), "out"), Options{})
	require.ErrorContains(t, err, "no succeeded run")
}

// TestExportReadOnly: the CLI exports from a read-only store.
func TestExportReadOnly(t *testing.T) {
	f := fixture.New(t)
	require.NoError(t, f.Store.Close())
	ro, err := load.OpenReadOnly(t.Context(), f.Path, load.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ro.Close()) })
	dir := filepath.Join(t.TempDir(), "lake")
	m, err := Export(t.Context(), ro.DB(), dir, Options{AllSnapshots: true})
	require.NoError(t, err)
	checkExport(t, ro, dir, m)
}

// TestExportOlderSchema: a warehouse that no run of this version has
// migrated yet (read-only commands do not migrate) lacks the newer tables;
// the export leaves them out instead of failing.
func TestExportOlderSchema(t *testing.T) {
	f := fixture.New(t)
	_, err := f.Store.DB().ExecContext(t.Context(), `DROP TABLE email_events`)
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "lake")
	m, err := Export(t.Context(), f.Store.DB(), dir, Options{Now: f.Clock.Now})
	require.NoError(t, err)
	require.Len(t, m.Tables, len(exportSpecs)-1)
	require.Empty(t, manifestTable(m, "email_events").Name)
	require.NoDirExists(t, filepath.Join(dir, "email_events"))
	require.EqualValues(t, 6, manifestTable(m, "leads").Rows)
}

// TestExportEmptyTables: a table with no rows (no webhook events yet, no
// daily stats) is exported as one zero-row Parquet file with the table's
// schema, so the glob that reads every other table reads it too: zero
// rows, with the columns and types the manifest names.
func TestExportEmptyTables(t *testing.T) {
	f := fixture.New(t)
	for _, tbl := range []string{"email_events", "campaign_daily_stats"} {
		_, err := f.Store.DB().ExecContext(t.Context(), "DELETE FROM "+tbl)
		require.NoError(t, err)
	}
	dir := filepath.Join(t.TempDir(), "lake")
	m, err := Export(t.Context(), f.Store.DB(), dir, Options{Now: f.Clock.Now})
	require.NoError(t, err)
	checkExport(t, f.Store, dir, m)
	for _, name := range []string{"email_events", "campaign_daily_stats"} {
		mt := manifestTable(m, name)
		require.Zero(t, mt.Rows)
		require.Len(t, mt.Files, 1, name)
		require.Zero(t, mt.Files[0].Rows)
		for _, glob := range []string{name + "/**/*.parquet", name + "/*/*.parquet"} {
			src := "read_parquet(" + quoteString(filepath.Join(dir, glob)) + ", hive_partitioning = true)"
			require.Zero(t, queryInt(t, f.Store, "SELECT count(*) FROM "+src), glob)
			require.Equal(t, mt.Schema, describeRead(t, f.Store, "SELECT * FROM "+src),
				"%s: the manifest's columns and types, partition column last", glob)
		}
	}
}
