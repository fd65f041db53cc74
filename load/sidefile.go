package load

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// The side file holds everything a run has not published: its staged
// rows, work queue, carries, request ledger and, once prepared, the
// difference its snapshot makes. It lives in a directory of its own next
// to the warehouse (<db>.staging/, 0700, the file 0600), so that the
// warehouse is written only briefly: to register a run, and to publish or
// end it.

// openTo is the valid_to of a version the latest snapshot holds.
const openTo = "9223372036854775807"

// StagingDir is the directory of the side file of the warehouse at path.
func StagingDir(path string) string { return path + ".staging" }

func stagingFile(path string) string { return filepath.Join(StagingDir(path), "stage.duckdb") }

// ensureStagingDir creates the side file's directory, 0700.
func ensureStagingDir(path string) error {
	dir := StagingDir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("load: create %s: %w", dir, err)
	}
	return os.Chmod(dir, 0o700)
}

// protectSideFile makes the side file and its WAL 0600 (DuckDB creates
// them with the process's umask).
func protectSideFile(path string) {
	for _, f := range []string{stagingFile(path), stagingFile(path) + ".wal"} {
		_ = os.Chmod(f, 0o600)
	}
}

// nameCatalogs reads the instance's catalog names: the default one is the
// warehouse unless stage names it; the other is attached as wh or stage.
func (s *Store) nameCatalogs(ctx context.Context, stage string) error {
	var cur string
	if err := s.db.QueryRowContext(ctx, `SELECT current_database()`).Scan(&cur); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if stage == "" {
		s.whCatalog = cur
	} else {
		s.stageCatalog = cur
	}
	quote := func(c string) string {
		if c == "" {
			return "missing_catalog."
		}
		return `"` + strings.ReplaceAll(c, `"`, `""`) + `".main.`
	}
	s.q = strings.NewReplacer("@w.", quote(s.whCatalog), "@s.", quote(s.stageCatalog))
	return nil
}

// sq qualifies @w. and @s. table names.
func (s *Store) sq(query string) string { return s.q.Replace(query) }

// hasStage reports whether the side file is attached.
func (s *Store) hasStage() bool { return s.stageCatalog != "" }

// openSideFile attaches the side file to a writable store's instance as
// stage, creates its tables, and settles what an earlier run left there.
func (s *Store) openSideFile(ctx context.Context) error {
	var current bool
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) > 0 FROM duckdb_tables() WHERE database_name = current_database()
		AND table_name = 'snapshot_floor'`).Scan(&current); err != nil || !current {
		// A schema older than row versions (only tests open one): no
		// staging until it is migrated.
		return err
	}
	if err := ensureStagingDir(s.path); err != nil {
		return err
	}
	// plan may be peeking at it (read-only) for a moment: wait as for the
	// warehouse.
	if err := retryLocked(ctx, stagingFile(s.path), s.opts.lockWait(), func() error {
		_, err := s.db.ExecContext(ctx, `ATTACH '`+sqlString(stagingFile(s.path))+`' AS stage`)
		return err
	}); err != nil {
		return err
	}
	s.stageCatalog = "stage"
	if err := s.nameCatalogs(ctx, ""); err != nil {
		return err
	}
	if err := s.createStageTables(ctx); err != nil {
		return err
	}
	protectSideFile(s.path)
	return s.settle(ctx)
}

func sqlString(v string) string { return strings.ReplaceAll(v, "'", "''") }

// sqlList renders values as a list of SQL string literals: 'a', 'b'.
func sqlList[T ~string](vs ...T) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = "'" + sqlString(string(v)) + "'"
	}
	return strings.Join(parts, ", ")
}

// createStageTables creates the side file's tables, typed after the
// warehouse's.
func (s *Store) createStageTables(ctx context.Context) error {
	// The CHECK constraints are those of the migration whose tables these
	// were (002_work_queue.sql), the modes' lists made from their Go
	// names (TestSideFileChecks). A side file made before they were added
	// keeps its tables without them.
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS @s.stage_runs (run_id VARCHAR PRIMARY KEY,
			state VARCHAR NOT NULL CHECK (state IN ('staging', 'ready')),
			mode VARCHAR NOT NULL CHECK (mode IN (` + sqlList(ModeFull, ModeIncremental) + `)),
			planned BOOLEAN NOT NULL DEFAULT false, prepared_seq BIGINT, prepared JSON)`,
		`CREATE TABLE IF NOT EXISTS @s.work_items (run_id VARCHAR NOT NULL, seq BIGINT NOT NULL,
			status VARCHAR NOT NULL CHECK (status IN ('pending', 'done')), stream VARCHAR NOT NULL, campaign_id BIGINT,
			day VARCHAR, "offset" INTEGER NOT NULL, since TIMESTAMPTZ, item JSON NOT NULL, done_at TIMESTAMPTZ,
			PRIMARY KEY (run_id, seq))`,
		`CREATE TABLE IF NOT EXISTS @s.run_carry (run_id VARCHAR NOT NULL, stream VARCHAR NOT NULL,
			campaign_id BIGINT NOT NULL, from_run VARCHAR NOT NULL,
			mode VARCHAR NOT NULL CHECK (mode IN (` + sqlList(CarryAll, CarryMerge) + `)),
			PRIMARY KEY (run_id, stream, campaign_id))`,
		`CREATE TABLE IF NOT EXISTS @s.` + stTotals + ` AS SELECT * FROM @w.reported_totals_rows LIMIT 0`,
		`CREATE TABLE IF NOT EXISTS @s.` + stRejected + ` AS SELECT * FROM @w.rejected_records LIMIT 0`,
		`CREATE TABLE IF NOT EXISTS @s.` + stLedger + ` AS SELECT * FROM @w.api_requests LIMIT 0`,
		`CREATE TABLE IF NOT EXISTS @s.` + tDailyStats.staged + ` AS SELECT run_id, 0::BIGINT AS batch,
			NULL::DATE AS snapshot_date, extracted_at, * EXCLUDE (run_id, extracted_at) FROM @w.campaign_daily_stats LIMIT 0`,
	}
	for _, t := range versioned() {
		stmts = append(stmts,
			`CREATE TABLE IF NOT EXISTS @s.`+t.staged+` AS SELECT ''::VARCHAR AS run_id, 0::BIGINT AS batch,
				NULL::DATE AS snapshot_date, * EXCLUDE (valid_from, valid_to) FROM @w.`+t.physical+` LIMIT 0`,
			`CREATE TABLE IF NOT EXISTS @s.`+t.diff+` AS SELECT ''::VARCHAR AS run_id, ''::VARCHAR AS kind, `+
				t.key[0]+` FROM @w.`+t.physical+` LIMIT 0`)
	}
	for _, q := range stmts {
		if _, err := s.db.ExecContext(ctx, s.sq(q)); err != nil {
			return fmt.Errorf("load: create the side file's tables: %w", err)
		}
	}
	return s.createSignalTables(ctx)
}

// ReleaseWarehouse lets go of the warehouse's write lock for the rest of
// the run: the store's instance moves onto the side file, with the
// warehouse attached read-only, which readers (query, report, export,
// plan, duckdb -readonly) share. Commit and Abort then attach it
// writable only for their transaction, waiting up to Options.CommitWait
// for readers to close it. Call it after BeginRun or Resume, before
// staging.
func (s *Store) ReleaseWarehouse(ctx context.Context) error {
	s.whMu.Lock()
	defer s.whMu.Unlock()
	if s.readOnly || s.released {
		return nil
	}
	if r := s.active; r != nil && r.conn != nil {
		return errors.New("load: ReleaseWarehouse after staging started")
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("load: close %s: %w", s.path, err)
	}
	var connector *duckdb.Connector
	if err := retryLocked(ctx, stagingFile(s.path), s.opts.lockWait(), func() error {
		var err error
		connector, err = duckdb.NewConnector(stagingFile(s.path)+"?"+s.dsnParams(false), nil)
		return err
	}); err != nil {
		return err
	}
	s.db = sql.OpenDB(connector)
	s.released = true
	s.whCatalog = "wh"
	if err := s.nameCatalogs(ctx, "stage"); err != nil {
		return err
	}
	return s.attachWarehouse(ctx, true, s.opts.lockWait())
}

// attachWarehouse (re)attaches the warehouse of a released store as wh,
// read-only or writable, waiting up to wait for a conflicting lock and
// saying every 30 s who holds it.
func (s *Store) attachWarehouse(ctx context.Context, readOnly bool, wait time.Duration) error {
	_, _ = s.db.ExecContext(ctx, `DETACH DATABASE IF EXISTS wh`)
	stmt := `ATTACH '` + sqlString(s.path) + `' AS wh`
	if readOnly {
		stmt += ` (READ_ONLY)`
	}
	var said time.Time
	return retryLocked(ctx, s.path, wait, func() error {
		_, err := s.db.ExecContext(ctx, stmt)
		if le := lockErrorOf(s.path, err); le != nil && time.Since(said) >= 30*time.Second {
			said = time.Now()
			s.log.Warn("waiting for another process to close the warehouse", "pid", le.PID, "program", le.Program,
				"waiting_up_to", wait.String())
		}
		return err
	})
}

func lockErrorOf(path string, err error) *LockedError {
	if err == nil {
		return nil
	}
	return lockError(path, err)
}

// writable makes the warehouse writable for one write (a no-op unless the
// store was released); done puts it back to read-only.
func (s *Store) writable(ctx context.Context, wait time.Duration) (done func(), err error) {
	if !s.released {
		return func() {}, nil
	}
	s.whMu.Lock()
	if err := s.attachWarehouse(ctx, false, wait); err != nil {
		// Back to read-only, so that the store stays usable for reads.
		_ = s.attachWarehouse(context.WithoutCancel(ctx), true, s.opts.lockWait())
		s.whMu.Unlock()
		return nil, err
	}
	return func() {
		_ = s.attachWarehouse(context.WithoutCancel(ctx), true, s.opts.lockWait())
		s.whMu.Unlock()
	}, nil
}

// dsnParams renders the instance's settings.
func (s *Store) dsnParams(readOnly bool) string {
	return dsnValues(s.opts, readOnly).Encode()
}

// peekSideFile attaches the side file read-only to a read-only store, so
// that plan sees the request ledger and resume state of runs that ended
// or died (a run in progress holds the file: then it is left out). It
// never waits, and tries once per store.
func (s *Store) peekSideFile(ctx context.Context) {
	if !s.readOnly {
		return
	}
	s.whMu.Lock()
	defer s.whMu.Unlock()
	if s.peeked {
		return
	}
	s.peeked = true
	f := stagingFile(s.path)
	if _, err := os.Stat(f); err != nil {
		return
	}
	if _, err := s.db.ExecContext(ctx, `ATTACH '`+sqlString(f)+`' AS stage (READ_ONLY)`); err != nil {
		s.log.Debug("side file not readable; reading the warehouse alone", "error", err)
		return
	}
	var ok bool
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) = 2 FROM duckdb_tables() WHERE database_name = 'stage'
		AND table_name IN ('work_items', '`+stLedger+`')`).Scan(&ok); err != nil || !ok {
		_, _ = s.db.ExecContext(ctx, `DETACH stage`)
		return
	}
	s.stageCatalog = "stage"
	_ = s.nameCatalogs(ctx, "")
}
