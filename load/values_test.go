package load

import (
	"context"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// schemaValues returns the values the warehouse's CHECK constraint on
// table.column allows, in the order the migration lists them.
func schemaValues(t *testing.T, s *Store, table, column string) []string {
	t.Helper()
	var expr string
	require.NoError(t, s.DB().QueryRowContext(t.Context(), `SELECT expression FROM duckdb_constraints()
		WHERE database_name = current_database() AND table_name = ? AND constraint_type = 'CHECK'
		AND list_contains(constraint_column_names, ?)`, table, column).Scan(&expr))
	var out []string
	for _, m := range regexp.MustCompile(`'([^']*)'`).FindAllStringSubmatch(expr, -1) {
		out = append(out, m[1])
	}
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
	sorted := func(v []string) []string { slices.Sort(v); return v }
	require.Equal(t, strs(StatusRunning, StatusSucceeded, StatusIncomplete, StatusFailed, StatusCancelled),
		sorted(schemaValues(t, s, "etl_runs", "status")))
	require.Equal(t, strs(SeverityOK, SeverityWarning, SeverityError),
		sorted(schemaValues(t, s, "data_checks", "severity")))
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
