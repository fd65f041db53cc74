package report

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Output formats accepted by [WriteResult].
const (
	FormatTable    = "table"
	FormatCSV      = "csv"
	FormatJSON     = "json"
	FormatMarkdown = "markdown"
)

var formats = []string{FormatTable, FormatCSV, FormatJSON, FormatMarkdown}

// CheckFormat returns an error unless f is one of table, csv, json or
// markdown.
func CheckFormat(f string) error {
	if slices.Contains(formats, f) {
		return nil
	}
	return fmt.Errorf("unknown output format %q (want %s)", f, strings.Join(formats, ", "))
}

// WriteResult writes r to w in format:
//
//   - table: aligned columns for a terminal, numbers right-aligned, NULL
//     shown as NULL, then a row count;
//   - csv: RFC 4180 quoting (a field holding a comma, quote, line break
//     or edge space is quoted, quotes doubled) with a header row, each
//     record ending in \n as the DuckDB CLI writes it (shell scripts
//     compare the last line); NULL is an empty field;
//   - json: an array of objects keyed by column name in column order;
//     numbers stay numbers (DECIMAL and HUGEINT exactly), timestamps are
//     RFC 3339 in UTC, dates YYYY-MM-DD, JSON columns are embedded as JSON,
//     NULL is null;
//   - markdown: a GitHub table, numbers right-aligned, NULL an empty cell.
//
// In the text formats timestamps, dates and nested values (lists,
// structs, maps, JSON) are written as in json.
func WriteResult(w io.Writer, r *Result, format string) error {
	if err := CheckFormat(format); err != nil {
		return err
	}
	if r == nil {
		return fmt.Errorf("write result: no result")
	}
	bw := bufio.NewWriter(w)
	var err error
	switch format {
	case FormatTable:
		err = writeTable(bw, r)
	case FormatCSV:
		err = writeCSV(bw, r)
	case FormatJSON:
		err = writeJSON(bw, r)
	case FormatMarkdown:
		err = writeMarkdown(bw, r)
	}
	if err != nil {
		return err
	}
	return bw.Flush()
}

// typeOf returns column i's DuckDB type name, "" when unknown.
func (r *Result) typeOf(i int) string {
	if i < len(r.Types) {
		return r.Types[i]
	}
	return ""
}

// numericType reports whether a DuckDB type holds numbers (for alignment).
func numericType(t string) bool {
	switch {
	case strings.HasPrefix(t, "DECIMAL"):
		return true
	}
	switch t {
	case "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
		"UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE", "BIGNUM", "VARINT":
		return true
	}
	return false
}

// text renders one value for the text formats; null reports NULL.
func text(v any, typ string) (s string, null bool, err error) {
	if v == nil {
		return "", true, nil
	}
	j, err := jsonValue(v, typ)
	if err != nil {
		return "", false, err
	}
	switch x := j.(type) {
	case string:
		return x, false, nil
	case json.Number:
		return string(x), false, nil
	case bool:
		return strconv.FormatBool(x), false, nil
	case nil:
		return "", true, nil
	}
	b, err := json.Marshal(j)
	if err != nil {
		return "", false, err
	}
	return string(b), false, nil
}

// JSONValue is jsonValue for other read-side packages (the dashboard),
// so that a value means the same in every JSON the warehouse produces.
func JSONValue(v any, typ string) (any, error) { return jsonValue(v, typ) }

// jsonValue converts a value read from DuckDB into what encoding/json
// writes the way the formats promise: exact numbers as json.Number, times
// as RFC 3339 UTC strings (dates as YYYY-MM-DD), blobs as base64, nested
// values recursively. typ is the column's DuckDB type ("" inside nested
// values, where times are written in full).
func jsonValue(v any, typ string) (any, error) {
	switch x := v.(type) {
	case nil, bool, string:
		return x, nil
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, uint:
		return json.Number(fmt.Sprint(x)), nil
	case float32:
		return floatValue(float64(x), 32), nil
	case float64:
		return floatValue(x, 64), nil
	case *big.Int:
		if x == nil {
			return nil, nil
		}
		return json.Number(x.String()), nil
	case duckdb.Decimal:
		return json.Number(decimalString(x)), nil
	case time.Time:
		return timeString(x, typ), nil
	case duckdb.Interval:
		return intervalString(x), nil
	case duckdb.UUID:
		return x.String(), nil
	case []byte:
		if typ == "UUID" && len(x) == 16 {
			var u duckdb.UUID
			copy(u[:], x)
			return u.String(), nil
		}
		return base64.StdEncoding.EncodeToString(x), nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = jsonValue(e, ""); err != nil {
				return nil, err
			}
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			var err error
			if out[k], err = jsonValue(e, ""); err != nil {
				return nil, err
			}
		}
		return out, nil
	case duckdb.Map:
		out := make(map[string]any, len(x))
		for k, e := range x {
			var err error
			if out[fmt.Sprint(k)], err = jsonValue(e, ""); err != nil {
				return nil, err
			}
		}
		return out, nil
	case duckdb.Union:
		return jsonValue(x.Value, "")
	case json.Marshaler:
		return x, nil
	case fmt.Stringer:
		return x.String(), nil
	}
	return nil, fmt.Errorf("cannot format a value of Go type %T (DuckDB type %s)", v, typ)
}

// floatValue keeps finite floats as numbers (shortest exact form); NaN and
// infinities, which JSON cannot hold, become the strings DuckDB prints.
func floatValue(f float64, bits int) any {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return json.Number(strconv.FormatFloat(f, 'f', -1, bits))
}

func decimalString(d duckdb.Decimal) string {
	if d.Value == nil {
		return "0"
	}
	s := new(big.Int).Abs(d.Value).String()
	sign := ""
	if d.Value.Sign() < 0 {
		sign = "-"
	}
	scale := int(d.Scale)
	if scale == 0 {
		return sign + s
	}
	if len(s) <= scale {
		s = strings.Repeat("0", scale-len(s)+1) + s
	}
	return sign + s[:len(s)-scale] + "." + s[len(s)-scale:]
}

func timeString(t time.Time, typ string) string {
	switch typ {
	case "DATE":
		return t.Format(time.DateOnly)
	case "TIME":
		return t.Format("15:04:05.999999")
	case "TIMETZ":
		return t.Format("15:04:05.999999Z07:00")
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// intervalString writes an INTERVAL the way DuckDB prints it, e.g.
// "1 month 2 days 03:04:05".
func intervalString(iv duckdb.Interval) string {
	var parts []string
	unit := func(n int64, one string) {
		switch {
		case n == 1 || n == -1:
			parts = append(parts, fmt.Sprintf("%d %s", n, one))
		case n != 0:
			parts = append(parts, fmt.Sprintf("%d %ss", n, one))
		}
	}
	unit(int64(iv.Months)/12, "year")
	unit(int64(iv.Months)%12, "month")
	unit(int64(iv.Days), "day")
	if us := iv.Micros; us != 0 || len(parts) == 0 {
		sign := ""
		if us < 0 {
			sign, us = "-", -us
		}
		d := time.Duration(us) * time.Microsecond
		h, m := int64(d/time.Hour), int64(d%time.Hour/time.Minute)
		s := d % time.Minute
		clock := fmt.Sprintf("%s%02d:%02d:%02d", sign, h, m, int64(s/time.Second))
		if frac := int64(s % time.Second / time.Microsecond); frac != 0 {
			clock += strings.TrimRight(fmt.Sprintf(".%06d", frac), "0")
		}
		parts = append(parts, clock)
	}
	return strings.Join(parts, " ")
}

// cells renders every value of r for a text format.
func cells(r *Result, null string) ([][]string, error) {
	out := make([][]string, len(r.Rows))
	for i, row := range r.Rows {
		if len(row) != len(r.Columns) {
			return nil, fmt.Errorf("write result: row %d has %d values for %d columns", i+1, len(row), len(r.Columns))
		}
		out[i] = make([]string, len(row))
		for j, v := range row {
			s, isNull, err := text(v, r.typeOf(j))
			if err != nil {
				return nil, fmt.Errorf("write result: row %d, column %s: %w", i+1, r.Columns[j], err)
			}
			if isNull {
				s = null
			}
			out[i][j] = s
		}
	}
	return out, nil
}

// oneLine keeps a cell on one line of a table: control characters are
// written as Go escapes.
func oneLine(s string) string {
	if !strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return s
	}
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

func writeTable(w *bufio.Writer, r *Result) error {
	rows, err := cells(r, "NULL")
	if err != nil {
		return err
	}
	width := make([]int, len(r.Columns))
	right := make([]bool, len(r.Columns))
	header := make([]string, len(r.Columns))
	for j, c := range r.Columns {
		header[j] = oneLine(c)
		width[j] = utf8.RuneCountInString(header[j])
		right[j] = numericType(r.typeOf(j))
	}
	for _, row := range rows {
		for j := range row {
			row[j] = oneLine(row[j])
			width[j] = max(width[j], utf8.RuneCountInString(row[j]))
		}
	}
	line := func(vals []string, alignRight func(int) bool) {
		for j, v := range vals {
			if j > 0 {
				w.WriteString("  ")
			}
			pad := strings.Repeat(" ", width[j]-utf8.RuneCountInString(v))
			switch {
			case alignRight(j):
				w.WriteString(pad + v)
			case j == len(vals)-1:
				w.WriteString(v) // no trailing blanks
			default:
				w.WriteString(v + pad)
			}
		}
		w.WriteByte('\n')
	}
	line(header, func(j int) bool { return right[j] })
	rule := make([]string, len(width))
	for j, n := range width {
		rule[j] = strings.Repeat("-", n)
	}
	line(rule, func(int) bool { return false })
	for _, row := range rows {
		line(row, func(j int) bool { return right[j] })
	}
	if len(rows) == 1 {
		w.WriteString("(1 row)\n")
	} else {
		fmt.Fprintf(w, "(%d rows)\n", len(rows))
	}
	return nil
}

func writeCSV(w *bufio.Writer, r *Result) error {
	rows, err := cells(r, "")
	if err != nil {
		return err
	}
	// Written by hand rather than with encoding/csv, to quote a field
	// with edge spaces too (a value the reader would otherwise trim).
	record := func(fields []string) {
		for i, f := range fields {
			if i > 0 {
				w.WriteByte(',')
			}
			if f == "" || !strings.ContainsAny(f, ",\"\r\n") && f[0] != ' ' && f[len(f)-1] != ' ' {
				w.WriteString(f)
				continue
			}
			w.WriteByte('"')
			w.WriteString(strings.ReplaceAll(f, `"`, `""`))
			w.WriteByte('"')
		}
		w.WriteByte('\n')
	}
	record(r.Columns)
	for _, row := range rows {
		record(row)
	}
	return nil
}

func writeJSON(w *bufio.Writer, r *Result) error {
	keys := jsonKeys(r.Columns)
	if len(r.Rows) == 0 {
		_, err := w.WriteString("[]\n")
		return err
	}
	w.WriteString("[\n")
	for i, row := range r.Rows {
		if len(row) != len(r.Columns) {
			return fmt.Errorf("write result: row %d has %d values for %d columns", i+1, len(row), len(r.Columns))
		}
		w.WriteString("  {")
		for j, v := range row {
			if j > 0 {
				w.WriteString(", ")
			}
			jv, err := jsonValue(v, r.typeOf(j))
			if err != nil {
				return fmt.Errorf("write result: row %d, column %s: %w", i+1, r.Columns[j], err)
			}
			b, err := marshalNoEscape(jv)
			if err != nil {
				return fmt.Errorf("write result: row %d, column %s: %w", i+1, r.Columns[j], err)
			}
			w.Write(keys[j])
			w.WriteString(": ")
			w.Write(b)
		}
		if i < len(r.Rows)-1 {
			w.WriteString("},\n")
		} else {
			w.WriteString("}\n")
		}
	}
	_, err := w.WriteString("]\n")
	return err
}

// jsonKeys returns the encoded object keys for columns; a repeated column
// name (SELECT 1 AS a, 2 AS a) gets a suffix so that no value is lost.
func jsonKeys(cols []string) [][]byte {
	seen := make(map[string]bool, len(cols))
	keys := make([][]byte, len(cols))
	for i, c := range cols {
		k := c
		for n := 2; seen[k]; n++ {
			k = c + "_" + strconv.Itoa(n)
		}
		seen[k] = true
		keys[i], _ = marshalNoEscape(k)
	}
	return keys
}

// marshalNoEscape is json.Marshal without HTML escaping (<, >, & stay as
// they are: this output is data, not HTML).
func marshalNoEscape(v any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(strings.TrimSuffix(b.String(), "\n")), nil
}

func writeMarkdown(w *bufio.Writer, r *Result) error {
	rows, err := cells(r, "")
	if err != nil {
		return err
	}
	esc := func(s string) string {
		s = strings.ReplaceAll(s, `\`, `\\`)
		s = strings.ReplaceAll(s, "|", `\|`)
		s = strings.ReplaceAll(s, "\r\n", "<br>")
		s = strings.ReplaceAll(s, "\n", "<br>")
		return oneLine(s)
	}
	w.WriteString("|")
	for _, c := range r.Columns {
		w.WriteString(" " + esc(c) + " |")
	}
	w.WriteString("\n|")
	for j := range r.Columns {
		if numericType(r.typeOf(j)) {
			w.WriteString("---:|")
		} else {
			w.WriteString("---|")
		}
	}
	w.WriteString("\n")
	for _, row := range rows {
		w.WriteString("|")
		for _, v := range row {
			w.WriteString(" " + esc(v) + " |")
		}
		w.WriteString("\n")
	}
	return nil
}
