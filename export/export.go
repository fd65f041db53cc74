package export

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/smartlead-etl/smartlead-etl/internal/diskfull"
	"github.com/smartlead-etl/smartlead-etl/internal/lockfile"
	"github.com/smartlead-etl/smartlead-etl/internal/privfile"
)

// Options configure [Export].
type Options struct {
	// AllSnapshots exports every snapshot still in the history tables (and
	// every run's operational rows), not only the latest.
	AllSnapshots bool
	// Now is the clock for the manifest's exported_at; nil means time.Now.
	Now func() time.Time
}

// Manifest describes one export; it is written to DIR/manifest.json.
type Manifest struct {
	RunID        string          `json:"run_id"`        // the latest succeeded run: what the plain-name views show
	SnapshotDate string          `json:"snapshot_date"` // its snapshot date, YYYY-MM-DD
	AllSnapshots bool            `json:"all_snapshots"`
	ExportedAt   time.Time       `json:"exported_at"`
	Tables       []ManifestTable `json:"tables"`
}

// ManifestTable is one exported table: its files (this export's only) and
// its schema as DuckDB reads the folder back with hive_partitioning, the
// partition column last.
type ManifestTable struct {
	Name      string           `json:"name"`
	Partition string           `json:"partition"` // the Hive partition column: snapshot_date, or day
	Rows      int64            `json:"rows"`
	Files     []ManifestFile   `json:"files"`
	Schema    []ManifestColumn `json:"schema"`
}

// ManifestFile is one Parquet file, its path relative to the export
// directory with forward slashes.
type ManifestFile struct {
	Path   string `json:"path"`
	Rows   int64  `json:"rows"`
	SHA256 string `json:"sha256"`
}

// ManifestColumn is a column name and its DuckDB type.
type ManifestColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Kinds of exported tables, which decide what a partition holds.
const (
	exportSnapshot = iota // a snapshot view: one file per succeeded run, partitioned by the run's snapshot_date
	exportRunLog          // an operational table keyed by run_id: one file per run, partitioned by the run's snapshot_date
	exportDaily           // campaign_daily_stats: the whole table, partitioned by its own day, one file per writing run
	exportEvents          // email_events: the whole table, partitioned by the event's UTC day, one file per day
)

// eventDay is the UTC day an event belongs to: when it happened, or when
// it was received if SmartLead did not say. UTC, not the session's zone,
// so that the partition does not depend on the machine exporting.
const eventDay = `(coalesce(event_at, received_at) AT TIME ZONE 'UTC')::DATE`

// eventsFile names the one file of an email_events partition.
const eventsFile = "events"

type exportSpec struct {
	name   string // folder and table name
	source string // relation read
	kind   int
	order  string // ORDER BY inside a file: a key, so that files are byte-for-byte reproducible
}

// exportSpecs are the exported tables, in manifest order. The snapshot
// tables read the public <name>_history views; staging, work queue and
// bookkeeping tables are not exported.
var exportSpecs = []exportSpec{
	{"campaigns", "campaigns_history", exportSnapshot, "campaign_id"},
	{"campaign_analytics", "campaign_analytics_history", exportSnapshot, "campaign_id"},
	{"leads", "leads_history", exportSnapshot, "campaign_lead_map_id"},
	{"lead_email_stats", "lead_email_stats_history", exportSnapshot, "stats_id"},
	{"sequences", "sequences_history", exportSnapshot, "sequence_id"},
	{"email_accounts", "email_accounts_history", exportSnapshot, "email_account_id"},
	{"clients", "clients_history", exportSnapshot, "client_id"},
	{"campaign_daily_stats", "campaign_daily_stats", exportDaily, "campaign_id"},
	{"etl_runs", "etl_runs", exportRunLog, "ALL"},
	{"data_checks", "data_checks", exportRunLog, "ALL"},
	{"rejected_records", "rejected_records", exportRunLog, "ALL"},
	{"api_requests", "api_requests", exportRunLog, "ALL"},
	{"email_events", "email_events", exportEvents, "event_id"},
}

// secretColumn matches column names that would hold a credential; the
// schema has none, and Export refuses to write one if a migration ever
// adds it.
var secretColumn = regexp.MustCompile(`(?i)passw|api_?key|secret|token|credential`)

// safeComponent is what a run id must look like to become part of a file
// name; the ids come from the database, so they are checked, not trusted.
var safeComponent = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// exportTmpPrefix names the staging directories inside the export
// directory (same filesystem, so renames are atomic; a leading dot keeps
// them out of readers' globs and Spark's listings).
const exportTmpPrefix = ".export-tmp-"

// Export writes the warehouse as Hive-partitioned, ZSTD-compressed Parquet
// files under dir, then dir/manifest.json:
//
//	dir/leads/snapshot_date=2026-11-27/part-<run_id>.parquet
//	dir/campaign_daily_stats/day=2026-11-26/part-<run_id>.parquet
//	dir/etl_runs/snapshot_date=2026-11-27/part-<run_id>.parquet
//	dir/email_events/event_date=2026-11-26/part-events.parquet
//
// Snapshot tables (campaigns, campaign_analytics, leads, lead_email_stats,
// sequences, email_accounts, clients) hold one file per succeeded run: by
// default the latest run only (what the views show), with AllSnapshots
// every run still in the history. The partition column is not repeated
// inside the files: readers take it from the path. campaign_daily_stats is
// upserted, not snapshotted, so it is exported whole, partitioned by its
// own day, one file per run that last wrote the day. The operational tables
// etl_runs, data_checks, rejected_records and api_requests hold one file
// per run, for the runs of the latest snapshot date (all runs with
// AllSnapshots). email_events (webhook events, only ever added) is
// exported whole, partitioned by the UTC day of the event, one file per
// day: an event that arrives late rewrites its day's file.
//
// Every partition the export touches is replaced whole: its files are
// written to a staging directory inside dir, synced, and swapped in with
// one rename (an atomic exchange on Linux), so a reader sees the old
// partition or the new one, never a mix, and files of an older run in that
// partition do not survive. Partitions of other dates are left alone:
// exporting into the same dir every night builds a history. manifest.json
// is removed before the first swap and written (atomically) after the
// last, so a manifest always matches the files it lists. Files are
// reproducible: the same snapshot exported twice gives identical bytes.
//
// A table with no rows still gets one file, with no rows and the table's
// schema, in the partition of the snapshot date, so that every table the
// manifest lists reads with the same glob (DIR/TABLE/*/*.parquet).
//
// An export holds dir/.export.lock, so two exports into one directory
// cannot interleave. No column whose name suggests a credential is
// written.
//
// On a full disk the export fails with a one-line error naming the file
// it could not write. Everything that needs space (the Parquet files and
// the new manifest) is written to the staging directory before the first
// swap, so such a failure leaves dir, its previous manifest included,
// exactly as it was.
func Export(ctx context.Context, db *sql.DB, dir string, o Options) (*Manifest, error) {
	var swapping bool
	m, err := export(ctx, db, dir, o, &swapping)
	if err != nil && diskfull.Is(err) {
		kept := "the previous export is unchanged"
		if _, serr := os.Stat(filepath.Join(dir, "manifest.json")); serr != nil && !swapping {
			kept = "nothing was exported"
		}
		if swapping {
			kept = "the export is incomplete and has no manifest.json until an export succeeds"
		}
		return nil, diskfull.Wrap("export", dir, kept, err)
	}
	return m, err
}

// export is Export; it sets *swapping once it starts changing dir.
func export(ctx context.Context, db *sql.DB, dir string, o Options, swapping *bool) (*Manifest, error) {
	if dir == "" {
		return nil, errors.New("export: no output directory")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := privfile.MkdirAll(abs); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	lock, err := lockfile.Acquire(filepath.Join(abs, ".export.lock"))
	if err != nil {
		return nil, fmt.Errorf("export to %s: %w", abs, err)
	}
	defer lock.Release()
	if err := removeStaleTmp(abs); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}

	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer conn.Close()

	now := o.Now
	if now == nil {
		now = time.Now
	}
	m := &Manifest{AllSnapshots: o.AllSnapshots, ExportedAt: now().UTC().Truncate(time.Second)}
	var snap time.Time
	err = conn.QueryRowContext(ctx, `SELECT run_id, snapshot_date FROM latest_run`).Scan(&m.RunID, &snap)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errors.New("export: the warehouse has no succeeded run yet: nothing to export")
	}
	if err != nil {
		return nil, fmt.Errorf("export: latest run: %w", err)
	}
	if !safeComponent.MatchString(m.RunID) {
		return nil, fmt.Errorf("export: latest run id %q is not safe in a file name", m.RunID)
	}
	m.SnapshotDate = snap.Format(time.DateOnly)

	tmp := filepath.Join(abs, exportTmpPrefix+randomHex())
	if err := privfile.Mkdir(tmp); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer os.RemoveAll(tmp)

	// Stage every partition first: a failing COPY leaves dir untouched.
	var parts []stagedPartition
	for _, spec := range exportSpecs {
		var n int
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_name = $1`,
			spec.source).Scan(&n); err != nil {
			return nil, fmt.Errorf("export %s: %w", spec.name, err)
		}
		if n == 0 {
			// A warehouse of an older schema that this version has not
			// yet migrated (read-only commands do not): the table comes
			// with the next run.
			continue
		}
		t, ps, err := stageTable(ctx, conn, spec, m, tmp)
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", spec.name, err)
		}
		m.Tables = append(m.Tables, *t)
		parts = append(parts, ps...)
	}
	// The new manifest is staged too, and every table folder made, so
	// that from the first swap on only renames and removals follow.
	staged := filepath.Join(tmp, "manifest.json")
	if err := writeManifest(staged, m); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	for _, p := range parts {
		if err := privfile.MkdirAll(filepath.Dir(filepath.Join(abs, filepath.FromSlash(p.rel)))); err != nil {
			return nil, fmt.Errorf("export: %w", err)
		}
	}
	if err := privfile.SyncDir(tmp); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}

	manifest := filepath.Join(abs, "manifest.json")
	*swapping = true
	if err := os.Remove(manifest); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("export: %w", err)
	}
	for _, p := range parts {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("export: stopped before swapping in %s: %w", p.rel, err)
		}
		if err := swapPartition(p.staged, filepath.Join(abs, filepath.FromSlash(p.rel)), tmp); err != nil {
			return nil, fmt.Errorf("export: replace %s: %w", p.rel, err)
		}
	}
	if err := os.Rename(staged, manifest); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := privfile.SyncDir(abs); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return m, nil
}

// stagedPartition is a partition directory written under the staging
// directory, waiting to replace rel (relative to the export directory).
type stagedPartition struct {
	staged string
	rel    string // e.g. leads/snapshot_date=2026-11-27
}

// exportFile is one file to write: the rows of run in partition value.
type exportFile struct {
	value string // partition value, YYYY-MM-DD
	run   string
}

// stageTable writes spec's files for this export under tmp.
func stageTable(ctx context.Context, conn *sql.Conn, spec exportSpec, m *Manifest, tmp string) (*ManifestTable, []stagedPartition, error) {
	partCol := "snapshot_date"
	switch spec.kind {
	case exportDaily:
		partCol = "day"
	case exportEvents:
		partCol = "event_date"
	}
	cols, err := describe(ctx, conn, "SELECT * FROM "+spec.source)
	if err != nil {
		return nil, nil, err
	}
	var sel []string
	t := &ManifestTable{Name: spec.name, Partition: partCol, Files: []ManifestFile{}}
	for _, c := range cols {
		if secretColumn.MatchString(c.Name) {
			return nil, nil, fmt.Errorf("column %s looks like it holds a secret; refusing to export it", c.Name)
		}
		if c.Name == partCol {
			continue
		}
		sel = append(sel, quoteIdent(c.Name))
		t.Schema = append(t.Schema, c)
	}
	t.Schema = append(t.Schema, ManifestColumn{Name: partCol, Type: "DATE"})

	files, err := exportFiles(ctx, conn, spec, m)
	if err != nil {
		return nil, nil, err
	}
	if len(files) == 0 {
		// An empty table (no webhook events yet): one file with its
		// schema and no rows, in the snapshot date's partition. The
		// snapshot and run-log kinds always have the latest run's file.
		f := exportFile{value: m.SnapshotDate, run: m.RunID}
		if spec.kind == exportEvents {
			f.run = eventsFile
		}
		files = append(files, f)
	}
	where := "run_id = $run"
	switch spec.kind {
	case exportDaily:
		where = "day = $value::DATE AND run_id = $run"
	case exportEvents:
		where = eventDay + " = $value::DATE"
	}
	copySQL := "SELECT " + strings.Join(sel, ", ") + " FROM " + spec.source + " WHERE " + where + " ORDER BY " + spec.order

	var parts []stagedPartition
	for _, f := range files {
		if !safeComponent.MatchString(f.run) || strings.Contains(f.run, "..") {
			return nil, nil, fmt.Errorf("run id %q is not safe in a file name", f.run)
		}
		if _, err := time.Parse(time.DateOnly, f.value); err != nil {
			return nil, nil, fmt.Errorf("partition value %q is not a date", f.value)
		}
		rel := spec.name + "/" + partCol + "=" + f.value
		if len(parts) == 0 || parts[len(parts)-1].rel != rel {
			staged := filepath.Join(tmp, filepath.FromSlash(rel))
			if err := privfile.MkdirAll(staged); err != nil {
				return nil, nil, err
			}
			parts = append(parts, stagedPartition{staged: staged, rel: rel})
		}
		name := "part-" + f.run + ".parquet"
		path := filepath.Join(parts[len(parts)-1].staged, name)
		var args []any
		switch spec.kind {
		case exportDaily:
			args = append(args, sql.Named("run", f.run), sql.Named("value", f.value))
		case exportEvents:
			args = append(args, sql.Named("value", f.value))
		default:
			args = append(args, sql.Named("run", f.run))
		}
		// COPY's target cannot be a bound parameter, so it is a quoted
		// literal: the export directory is the user's own path (not SQL
		// they can inject into, since quotes are doubled) and the rest is
		// validated above. Determinism: rows ordered by key; DuckDB's
		// writer preserves insertion order and embeds no timestamp.
		res, err := conn.ExecContext(ctx, "COPY ("+copySQL+") TO "+quoteString(path)+
			" (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)", args...)
		if err != nil {
			return nil, nil, fmt.Errorf("write %s/%s: %w", rel, name, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, nil, err
		}
		// DuckDB created the file with 0666 minus the umask; it holds
		// people's data. (Nobody else could reach it yet: tmp is 0700.)
		if err := privfile.Restrict(path); err != nil {
			return nil, nil, err
		}
		sum, err := syncAndHash(path)
		if err != nil {
			return nil, nil, err
		}
		t.Files = append(t.Files, ManifestFile{Path: rel + "/" + name, Rows: n, SHA256: sum})
		t.Rows += n
	}
	for _, p := range parts {
		if err := privfile.SyncDir(p.staged); err != nil {
			return nil, nil, err
		}
	}
	return t, parts, nil
}

// exportFiles lists the files spec gets in this export, sorted by
// partition value then run.
func exportFiles(ctx context.Context, conn *sql.Conn, spec exportSpec, m *Manifest) ([]exportFile, error) {
	var q string
	var args []any
	switch {
	case spec.kind == exportSnapshot && !m.AllSnapshots:
		q = `SELECT snapshot_date::VARCHAR, run_id FROM latest_run`
	case spec.kind == exportSnapshot:
		// Every run with rows in the history, and the latest always (an
		// empty file still says "no rows in this snapshot").
		q = `SELECT DISTINCT snapshot_date::VARCHAR, run_id FROM ` + spec.source + `
			UNION SELECT snapshot_date::VARCHAR, run_id FROM latest_run`
	case spec.kind == exportRunLog && !m.AllSnapshots:
		q = `SELECT snapshot_date::VARCHAR, run_id FROM etl_runs WHERE snapshot_date = $snap::DATE`
		args = append(args, sql.Named("snap", m.SnapshotDate))
	case spec.kind == exportRunLog:
		q = `SELECT snapshot_date::VARCHAR, run_id FROM etl_runs`
	case spec.kind == exportDaily:
		q = `SELECT DISTINCT day::VARCHAR, run_id FROM campaign_daily_stats`
	case spec.kind == exportEvents:
		q = `SELECT DISTINCT ` + eventDay + `::VARCHAR, $file FROM email_events`
		args = append(args, sql.Named("file", eventsFile))
	}
	rows, err := conn.QueryContext(ctx, q+` ORDER BY 1, 2`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var fs []exportFile
	for rows.Next() {
		var f exportFile
		if err := rows.Scan(&f.value, &f.run); err != nil {
			return nil, err
		}
		fs = append(fs, f)
	}
	return fs, rows.Err()
}

// describe returns the columns and DuckDB types of query's result.
func describe(ctx context.Context, conn *sql.Conn, query string) ([]ManifestColumn, error) {
	rows, err := conn.QueryContext(ctx, "DESCRIBE "+query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []ManifestColumn
	for rows.Next() {
		var c ManifestColumn
		var null, key, def, extra sql.NullString
		if err := rows.Scan(&c.Name, &c.Type, &null, &key, &def, &extra); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

func quoteIdent(s string) string  { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteString(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }
