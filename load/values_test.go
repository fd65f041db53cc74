package load

import (
	"context"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// schemaValues returns the values the warehouse's CHECK constraint on
// table.column allows, sorted.
func schemaValues(t *testing.T, s *Store, table, column string) []string {
	t.Helper()
	return checkValues(t, s, s.whCatalog, table, column)
}

// checkValues returns the values the CHECK constraint on table.column of
// catalog allows, sorted.
func checkValues(t *testing.T, s *Store, catalog, table, column string) []string {
	t.Helper()
	var expr string
	require.NoError(t, s.DB().QueryRowContext(t.Context(), `SELECT expression FROM duckdb_constraints()
		WHERE database_name = ? AND table_name = ? AND constraint_type = 'CHECK'
		AND list_contains(constraint_column_names, ?)`, catalog, table, column).Scan(&expr), "%s.%s.%s", catalog, table, column)
	return quoted(expr)
}

// quoted returns the SQL string literals in text, sorted.
func quoted(text string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`'([^']*)'`).FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	slices.Sort(out)
	return out
}

func strs[T ~string](vs ...T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	slices.Sort(out)
	return out
}

// TestStatusesMatchSchema: the Go types name exactly the values the
// warehouse's CHECK constraints allow, so neither side can gain one alone.
func TestStatusesMatchSchema(t *testing.T) {
	s, _ := openTest(t, Options{})
	require.Equal(t, strs(StatusRunning, StatusSucceeded, StatusIncomplete, StatusFailed, StatusCancelled),
		schemaValues(t, s, "etl_runs", "status"))
	require.Equal(t, strs(SeverityOK, SeverityInfo, SeverityWarning, SeverityError),
		schemaValues(t, s, "data_checks", "severity"))
}

// TestSideFileChecks: the side file's tables carry the CHECK constraints
// of the migration they came from (002_work_queue.sql: work_items.status,
// run_carry.mode), stage_runs.mode allows exactly the run modes, and a
// bad status or mode is refused in the side file as in the warehouse.
func TestSideFileChecks(t *testing.T) {
	s, _ := openTest(t, Options{})
	ddl, err := os.ReadFile("../sql/schema/002_work_queue.sql")
	require.NoError(t, err)
	migration := func(table, column string) []string {
		m := regexp.MustCompile(`(?s)CREATE TABLE ` + table + ` \(.*?\n\s*` + column + `\s[^\n]*CHECK \(` + column + ` IN \(([^)]*)\)\)`).FindSubmatch(ddl)
		require.NotNil(t, m, "002_work_queue.sql: %s.%s has no CHECK", table, column)
		return quoted(string(m[1]))
	}
	require.Equal(t, migration("work_items", "status"), checkValues(t, s, s.stageCatalog, "work_items", "status"))
	require.Equal(t, migration("run_carry", "mode"), checkValues(t, s, s.stageCatalog, "run_carry", "mode"))
	require.Equal(t, strs(CarryAll, CarryMerge), checkValues(t, s, s.stageCatalog, "run_carry", "mode"))
	require.Equal(t, strs(ModeFull, ModeIncremental), checkValues(t, s, s.stageCatalog, "stage_runs", "mode"))
	require.Equal(t, []string{"ready", "staging"}, checkValues(t, s, s.stageCatalog, "stage_runs", "state"))

	ctx := t.Context()
	for _, q := range []string{
		`INSERT INTO @s.stage_runs (run_id, state, mode) VALUES ('r', 'staging', 'resume')`,
		`INSERT INTO @s.stage_runs (run_id, state, mode) VALUES ('r', 'published', 'full')`,
		`INSERT INTO @s.work_items (run_id, seq, status, stream, "offset", item) VALUES ('r', 1, 'skipped', 'leads', 0, '{}')`,
		`INSERT INTO @s.run_carry (run_id, stream, campaign_id, from_run, mode) VALUES ('r', 'leads', 1, 'p', 'some')`,
		`INSERT INTO @w.etl_runs (run_id, status, snapshot_date, started_at) VALUES ('r', 'done', DATE '2026-11-27', now())`,
		`INSERT INTO @w.data_checks (run_id, "check", subject, detail, severity) VALUES ('r', 'c', 's', 'd', 'fatal')`,
	} {
		_, err := s.DB().ExecContext(ctx, s.sq(q))
		require.ErrorContains(t, err, "CHECK constraint", q)
	}
	_, err = s.DB().ExecContext(ctx, s.sq(`INSERT INTO @s.stage_runs (run_id, state, mode) VALUES ('r', 'staging', 'incremental')`))
	require.NoError(t, err, "a good row goes in")
}

// A stop ends within the 5 s that cron wrappers and systemd allow: Abort,
// called with a context already done, waits for the warehouse only part
// of AbortGrace, the bound its callers put on the whole Abort.
func TestAbortWaitFitsTheStop(t *testing.T) {
	require.Less(t, AbortGrace, 5*time.Second)
	require.Less(t, abortLockWait, AbortGrace)
	require.Equal(t, time.Minute, abortWait(t.Context(), time.Minute), "a live run waits the commit wait")
	done, cancel := context.WithCancel(t.Context())
	cancel()
	require.Equal(t, abortLockWait, abortWait(done, time.Minute))
	bounded, cancel2 := context.WithTimeout(t.Context(), time.Second)
	defer cancel2()
	require.LessOrEqual(t, abortWait(bounded, time.Minute), time.Second)
}
