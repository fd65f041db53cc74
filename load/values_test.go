package load

import (
	"regexp"
	"slices"
	"testing"

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
	require.Equal(t, strs(SeverityOK, SeverityInfo, SeverityWarning, SeverityError),
		sorted(schemaValues(t, s, "data_checks", "severity")))
}
