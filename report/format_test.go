package report

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/stretchr/testify/require"
)

func sampleResult() *Result {
	ts := time.Date(2026, 11, 27, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	return &Result{
		Columns: []string{"id", "name", "rate_pct", "day", "at", "note"},
		Types:   []string{"BIGINT", "VARCHAR", "DOUBLE", "DATE", "TIMESTAMPTZ", "VARCHAR"},
		Rows: [][]any{
			{int64(101), "Q4 Outreach", 45.83, time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), ts, nil},
			{int64(7), `say "hi", | pipe`, nil, nil, nil, "two\nlines"},
		},
	}
}

func writeString(t *testing.T, r *Result, format string) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, WriteResult(&b, r, format))
	return b.String()
}

func TestCheckFormat(t *testing.T) {
	for _, f := range []string{"table", "csv", "json", "markdown"} {
		require.NoError(t, CheckFormat(f))
	}
	require.EqualError(t, CheckFormat("xml"), `unknown output format "xml" (want table, csv, json, markdown)`)
	require.Error(t, WriteResult(&bytes.Buffer{}, sampleResult(), "TABLE"))
}

func TestWriteTable(t *testing.T) {
	require.Equal(t, ""+
		" id  name              rate_pct  day         at                    note\n"+
		"---  ----------------  --------  ----------  --------------------  ----------\n"+
		"101  Q4 Outreach          45.83  2026-11-27  2026-11-27T09:00:00Z  NULL\n"+
		"  7  say \"hi\", | pipe      NULL  NULL        NULL                  two\\nlines\n"+
		"(2 rows)\n", writeString(t, sampleResult(), FormatTable))
	require.Equal(t, "n\n-\n(0 rows)\n", writeString(t, &Result{Columns: []string{"n"}, Types: []string{"VARCHAR"}}, FormatTable))
}

func TestWriteCSV(t *testing.T) {
	out := writeString(t, sampleResult(), FormatCSV)
	require.Equal(t, "id,name,rate_pct,day,at,note\n"+
		"101,Q4 Outreach,45.83,2026-11-27,2026-11-27T09:00:00Z,\n"+
		"7,\"say \"\"hi\"\", | pipe\",,,,\"two\nlines\"\n", out)
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"7", `say "hi", | pipe`, "", "", "", "two\nlines"}, recs[2])
}

func TestWriteMarkdown(t *testing.T) {
	require.Equal(t, ""+
		"| id | name | rate_pct | day | at | note |\n"+
		"|---:|---|---:|---|---|---|\n"+
		"| 101 | Q4 Outreach | 45.83 | 2026-11-27 | 2026-11-27T09:00:00Z |  |\n"+
		"| 7 | say \"hi\", \\| pipe |  |  |  | two<br>lines |\n", writeString(t, sampleResult(), FormatMarkdown))
}

func TestWriteJSON(t *testing.T) {
	out := writeString(t, sampleResult(), FormatJSON)
	require.Equal(t, `[
  {"id": 101, "name": "Q4 Outreach", "rate_pct": 45.83, "day": "2026-11-27", "at": "2026-11-27T09:00:00Z", "note": null},
  {"id": 7, "name": "say \"hi\", | pipe", "rate_pct": null, "day": null, "at": null, "note": "two\nlines"}
]
`, out)
	var v []map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	require.Equal(t, "[]\n", writeString(t, &Result{Columns: []string{"a"}}, FormatJSON))

	// Repeated column names keep every value; exact numbers stay exact;
	// what JSON cannot hold is a string rather than invalid output.
	r := &Result{
		Columns: []string{"a", "a", "dec", "big", "nan", "iv", "list", "uuid"},
		Types:   []string{"INTEGER", "INTEGER", "DECIMAL(20,3)", "HUGEINT", "DOUBLE", "INTERVAL", "DATE[]", "UUID"},
		Rows: [][]any{{int32(1), int32(2),
			duckdb.Decimal{Width: 20, Scale: 3, Value: big.NewInt(-5)},
			new(big.Int).Lsh(big.NewInt(1), 100),
			math.NaN(),
			duckdb.Interval{Months: 14, Days: 1, Micros: 3723_500000},
			[]any{time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)},
			[]byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0},
		}},
	}
	require.Equal(t, `[
  {"a": 1, "a_2": 2, "dec": -0.005, "big": 1267650600228229401496703205376, "nan": "nan", "iv": "1 year 2 months 1 day 01:02:03.5", "list": ["2026-01-02T00:00:00Z"], "uuid": "12345678-9abc-def0-1234-56789abcdef0"}
]
`, writeString(t, r, FormatJSON))

	_, err := jsonValue(struct{}{}, "X")
	require.ErrorContains(t, err, "cannot format a value of Go type struct {}")
	require.ErrorContains(t, WriteResult(&bytes.Buffer{}, &Result{Columns: []string{"a"}, Rows: [][]any{{1, 2}}}, FormatCSV),
		"row 1 has 2 values for 1 columns")
}
