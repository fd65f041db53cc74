package export

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/internal/fixture"
	"github.com/smartlead-etl/smartlead-etl/load"
)

// notExported are the warehouse's relations the export leaves out, and
// why. The export holds the data; what derives from it, or keeps the
// tool's own state, stays behind.
var notExported = map[string]string{
	"latest_run":            "derived: the latest succeeded run of etl_runs",
	"succeeded_runs":        "derived: the succeeded runs of etl_runs",
	"snapshots":             "derived: the retained succeeded runs of etl_runs",
	"snapshot_floor":        "bookkeeping of --retain",
	"schema_migrations":     "bookkeeping of the migrations",
	"lead_changes":          "derived from leads_history, which is exported",
	"reported_totals":       "a data check's input (the totals the API stated), reported in data_checks",
	"reported_totals_rows":  "storage of reported_totals",
	"webhook_spool":         "bookkeeping of the receiver's spool",
	"webhook_rejects":       "refused deliveries, kept for debugging the receiver",
	"webhook_registrations": "the tool's own record of the webhooks it registered",
	"overall_stats_seen":    "change detection's memory: the overall-stats rows the last night read, compared with the next night's",
	"overall_stats_cells":   "change detection's memory: which overall-stats ranges overall_stats_seen holds, and which night read them",
}

// TestEverythingReadIsExported holds every table and view of the
// migrated schema to one decision: exported (a <name>_history view with
// its <name> view and <name>_rows storage, or a table exported whole), or
// listed in notExported with a reason. A new history view, or any new
// table, fails here until it is exported or deliberately left out.
func TestEverythingReadIsExported(t *testing.T) {
	s, err := load.Open(t.Context(), filepath.Join(t.TempDir(), "w.duckdb"), fixture.SchemaFS(), load.Options{})
	require.NoError(t, err)
	defer s.Close()
	rows, err := s.DB().QueryContext(t.Context(), `SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()
		UNION ALL SELECT view_name FROM duckdb_views() WHERE database_name = current_database() AND NOT internal`)
	require.NoError(t, err)
	var relations []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		relations = append(relations, n)
	}
	require.NoError(t, rows.Err())
	require.NotEmpty(t, relations)

	covered := map[string]string{}
	for _, spec := range exportSpecs {
		covered[spec.source] = spec.name
		if spec.kind == exportSnapshot {
			require.Equal(t, spec.name+"_history", spec.source, "a snapshot table exports its history view")
			covered[spec.name] = spec.name
			covered[spec.name+"_rows"] = spec.name
		}
	}
	for _, r := range relations {
		_, exported := covered[r]
		reason, left := notExported[r]
		switch {
		case strings.HasSuffix(r, "_history"):
			assert.True(t, exported, "history view %s is not exported", r)
			assert.False(t, left, "history view %s is listed as not exported (%s)", r, reason)
		case exported && left:
			t.Errorf("%s is exported and listed as not exported (%s)", r, reason)
		case !exported && !left:
			t.Errorf("%s is neither exported nor listed in notExported with a reason", r)
		}
	}
	for name := range notExported {
		assert.True(t, slices.Contains(relations, name), "notExported names %s, which the schema does not have", name)
	}
	for src := range covered {
		assert.True(t, slices.Contains(relations, src), "the export reads %s, which the schema does not have", src)
	}
}
