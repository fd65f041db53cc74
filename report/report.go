package report

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Report is a named SQL report: a file NAME.sql of the reports directory.
type Report struct {
	Name        string // the file name without .sql
	Description string // the file's first line, a "-- description" comment
	SQL         string // the whole file
}

// Result is what a report or query returned, every row in memory.
type Result struct {
	Columns []string
	Types   []string // DuckDB type of each column, e.g. BIGINT, DATE, DECIMAL(18,2), JSON
	Rows    [][]any  // values as the driver returns them; nil is NULL
}

// ReportParams filter a report. A nil field means no filter. They are
// bound as the query parameters $campaign (BIGINT), $since and $until
// (DATE, inclusive) and $tz (VARCHAR, an IANA time zone for reports that
// group by local time), never written into the SQL text.
type ReportParams struct {
	Campaign     *int64
	Since, Until *time.Time // only the date is used
	TZ           *string    // e.g. "Europe/Berlin"; the caller checks it names a zone
}

// ErrNotQuery is matched by the error Query and RunReport return for SQL
// that is not exactly one SELECT (or EXPLAIN) statement.
var ErrNotQuery = errors.New("not a single read-only query")

// ErrReportFilter is matched by the error RunReport returns when given a
// filter the report does not take.
var ErrReportFilter = errors.New("filter not supported by this report")

type filterError string

func (e filterError) Error() string        { return string(e) }
func (e filterError) Is(target error) bool { return target == ErrReportFilter }

var reportName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// reportParams are the parameter names a report may use.
var reportParams = []string{"campaign", "since", "until", "tz"}

// Reports reads the reports at the root of fsys (main passes fs.Sub of the
// embedded sql/reports): every NAME.sql file, sorted by name. Each file
// must start with a "-- description" line; other files are ignored.
func Reports(fsys fs.FS) ([]Report, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("report: read reports: %w", err)
	}
	var rs []Report
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".sql")
		if e.IsDir() || !ok {
			continue
		}
		if !reportName.MatchString(name) {
			return nil, fmt.Errorf("report: report file %q: name must be lower_snake_case.sql", e.Name())
		}
		body, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("report: read report %s: %w", e.Name(), err)
		}
		text := strings.TrimPrefix(string(body), "\uFEFF")
		first, _, _ := strings.Cut(text, "\n")
		desc, ok := strings.CutPrefix(strings.TrimSpace(first), "--")
		desc = strings.TrimSpace(desc)
		if !ok || desc == "" {
			return nil, fmt.Errorf("report: report %s: the first line must be a \"-- description\" comment", e.Name())
		}
		if strings.TrimSpace(stripLineComments(text)) == "" {
			return nil, fmt.Errorf("report: report %s: no SQL after the comments", e.Name())
		}
		rs = append(rs, Report{Name: name, Description: desc, SQL: text})
	}
	slices.SortFunc(rs, func(a, b Report) int { return strings.Compare(a.Name, b.Name) })
	return rs, nil
}

// stripLineComments drops whole-line "--" comments (enough to tell a
// report file that holds only its header).
func stripLineComments(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// Source is an open warehouse: the database and whether it was opened
// read-only. *load.Store is one; the package takes the interface so that
// the read side does not depend on the warehouse's writer.
type Source interface {
	DB() *sql.DB
	ReadOnly() bool
}

// Run runs r against the warehouse with p bound as its named
// parameters. A parameter that p sets but r does not use is an error
// (rather than a filter silently ignored), as is a parameter in r other
// than $campaign, $since, $until and $tz.
func Run(ctx context.Context, s Source, r Report, p ReportParams) (*Result, error) {
	if p.Since != nil && p.Until != nil && dateOnly(*p.Since).After(dateOnly(*p.Until)) {
		return nil, fmt.Errorf("report %s: %w", r.Name, filterError(fmt.Sprintf("since %s is after until %s",
			p.Since.Format(time.DateOnly), p.Until.Format(time.DateOnly))))
	}
	given := map[string]any{}
	if p.Campaign != nil {
		given["campaign"] = *p.Campaign
	}
	if p.Since != nil {
		given["since"] = dateOnly(*p.Since)
	}
	if p.Until != nil {
		given["until"] = dateOnly(*p.Until)
	}
	if p.TZ != nil {
		given["tz"] = *p.TZ
	}
	bind := func(st *duckdb.Stmt) ([]driver.NamedValue, error) {
		var args []driver.NamedValue
		used := map[string]bool{}
		for i := 1; i <= st.NumInput(); i++ {
			name, err := st.ParamName(i)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(reportParams, name) {
				return nil, fmt.Errorf("unknown parameter $%s (reports take $%s)", name, strings.Join(reportParams, ", $"))
			}
			used[name] = true
			// The driver matches by name; Ordinal keeps its positional
			// fallback pointing at the same value.
			args = append(args, driver.NamedValue{Name: name, Ordinal: i, Value: given[name]})
		}
		for _, name := range reportParams {
			if _, ok := given[name]; ok && !used[name] {
				return nil, filterError(fmt.Sprintf("this report has no %s filter (it takes: %s)", name, takes(used)))
			}
		}
		return args, nil
	}
	res, err := query(ctx, s, r.SQL, bind)
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", r.Name, err)
	}
	return res, nil
}

func takes(used map[string]bool) string {
	var names []string
	for _, n := range reportParams {
		if used[n] {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// Query runs one ad-hoc SELECT statement (WITH, FROM, VALUES, DESCRIBE,
// SHOW and SUMMARIZE are SELECTs too; EXPLAIN on a read-only store) and
// returns all its rows in memory. Anything else, several statements
// included, is refused with ErrNotQuery before any of it runs: the driver
// would otherwise execute every statement but the last one blindly. The
// CLI also opens the store read-only, so even a statement that slipped
// through could not write.
func Query(ctx context.Context, s Source, text string) (*Result, error) {
	res, err := query(ctx, s, text, func(st *duckdb.Stmt) ([]driver.NamedValue, error) {
		if n := st.NumInput(); n > 0 {
			return nil, fmt.Errorf("the query has %d parameter(s) ($1, ? ...) but ad-hoc queries take none", n)
		}
		return nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	return res, nil
}

// query prepares text as exactly one statement on a connection of its own,
// checks that it only reads, binds the arguments args returns, and reads
// every row.
func query(ctx context.Context, s Source, text string, args func(*duckdb.Stmt) ([]driver.NamedValue, error)) (*Result, error) {
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("%w: the SQL is empty", ErrNotQuery)
	}
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	var res *Result
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*duckdb.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		// Conn.Prepare (unlike PrepareContext) refuses more than one
		// statement instead of executing the leading ones.
		ds, err := c.Prepare(text)
		if err != nil {
			if multiStatement(err) {
				return fmt.Errorf("%w: it holds several statements; run one at a time", ErrNotQuery)
			}
			// On a read-only store DuckDB refuses to bind a write
			// (a Binder Error); say what is refused and why instead.
			if kw := leadingKeyword(text); writingKeywords[kw] {
				return notAQuery(kw)
			}
			return err
		}
		st := ds.(*duckdb.Stmt)
		defer st.Close()
		typ, err := st.StatementType()
		if err != nil {
			return err
		}
		switch {
		case typ == duckdb.STATEMENT_TYPE_SELECT:
		case typ == duckdb.STATEMENT_TYPE_EXPLAIN && s.ReadOnly():
			// EXPLAIN ANALYZE runs the statement it explains, which may
			// write: allowed only where DuckDB refuses writes.
		case typ == duckdb.STATEMENT_TYPE_EXPLAIN:
			return fmt.Errorf("%w: EXPLAIN runs only on a read-only store (EXPLAIN ANALYZE executes its statement)", ErrNotQuery)
		default:
			return notAQuery(statementName(typ))
		}
		named, err := args(st)
		if err != nil {
			return err
		}
		rows, err := st.QueryContext(ctx, named)
		if err != nil {
			return err
		}
		defer rows.Close()
		res, err = readRows(ctx, rows)
		return err
	})
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			return nil, fmt.Errorf("%w (%v)", ctxErr, err)
		}
		return nil, err
	}
	return res, nil
}

// multiStatement reports whether err is the driver's refusal to prepare
// more than one statement in Conn.Prepare. duckdb-go does not export that
// error, so its text is recognised here and only here, and
// TestMultiStatementMessage pins the text of the version in go.mod: an
// upgrade that changes it fails that test instead of changing behaviour.
func multiStatement(err error) bool {
	var de *duckdb.Error // DuckDB's own errors (syntax, binder) are not this
	return !errors.As(err, &de) && strings.Contains(err.Error(), "missing context for multi-statement query")
}

func readRows(ctx context.Context, rows driver.Rows) (*Result, error) {
	cols := rows.Columns()
	res := &Result{Columns: slices.Clone(cols), Types: make([]string, len(cols))}
	if tn, ok := rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		for i := range cols {
			res.Types[i] = tn.ColumnTypeDatabaseTypeName(i)
		}
	}
	dest := make([]driver.Value, len(cols))
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		err := rows.Next(dest)
		if errors.Is(err, io.EOF) {
			return res, nil
		}
		if err != nil {
			return nil, err
		}
		row := make([]any, len(dest))
		for i, v := range dest {
			row[i] = v
		}
		res.Rows = append(res.Rows, row)
	}
}

// statementName names a statement type for an error message.
func statementName(t duckdb.StmtType) string {
	switch t {
	case duckdb.STATEMENT_TYPE_INSERT:
		return "INSERT"
	case duckdb.STATEMENT_TYPE_UPDATE:
		return "UPDATE"
	case duckdb.STATEMENT_TYPE_DELETE:
		return "DELETE"
	case duckdb.STATEMENT_TYPE_CREATE, duckdb.STATEMENT_TYPE_CREATE_FUNC:
		return "CREATE"
	case duckdb.STATEMENT_TYPE_DROP:
		return "DROP"
	case duckdb.STATEMENT_TYPE_ALTER:
		return "ALTER"
	case duckdb.STATEMENT_TYPE_COPY:
		return "COPY"
	case duckdb.STATEMENT_TYPE_EXPORT:
		return "EXPORT"
	case duckdb.STATEMENT_TYPE_ATTACH:
		return "ATTACH"
	case duckdb.STATEMENT_TYPE_DETACH:
		return "DETACH"
	case duckdb.STATEMENT_TYPE_SET, duckdb.STATEMENT_TYPE_VARIABLE_SET:
		return "SET"
	case duckdb.STATEMENT_TYPE_PRAGMA:
		return "PRAGMA"
	case duckdb.STATEMENT_TYPE_CALL:
		return "CALL"
	case duckdb.STATEMENT_TYPE_TRANSACTION:
		return "transaction"
	case duckdb.STATEMENT_TYPE_LOAD:
		return "LOAD/INSTALL"
	}
	return fmt.Sprintf("type %d", t)
}

// notAQuery refuses a statement of kind (INSERT, ATTACH, ...).
func notAQuery(kind string) error {
	article := "a"
	if strings.ContainsRune("AEIOU", rune(kind[0])) {
		article = "an"
	}
	return fmt.Errorf("%w: the warehouse is opened read-only here; only SELECT (and WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) may be run, not %s %s statement",
		ErrNotQuery, article, kind)
}

// writingKeywords start statements that write or change the session.
var writingKeywords = map[string]bool{
	"INSERT": true, "UPDATE": true, "DELETE": true, "MERGE": true, "TRUNCATE": true, "CREATE": true, "DROP": true,
	"ALTER": true, "COPY": true, "EXPORT": true, "IMPORT": true, "ATTACH": true, "DETACH": true, "SET": true, "RESET": true,
	"PRAGMA": true, "CALL": true, "INSTALL": true, "LOAD": true, "CHECKPOINT": true, "VACUUM": true, "USE": true,
	"BEGIN": true, "COMMIT": true, "ROLLBACK": true, "ABORT": true,
}

// leadingKeyword is the first word of a statement, upper case, after
// white space, comments and opening parentheses.
func leadingKeyword(text string) string {
	for {
		text = strings.TrimLeft(text, " \t\r\n(")
		switch {
		case strings.HasPrefix(text, "--"):
			if i := strings.IndexByte(text, '\n'); i >= 0 {
				text = text[i+1:]
				continue
			}
			return ""
		case strings.HasPrefix(text, "/*"):
			if i := strings.Index(text, "*/"); i >= 0 {
				text = text[i+2:]
				continue
			}
			return ""
		}
		end := strings.IndexFunc(text, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') })
		if end < 0 {
			end = len(text)
		}
		return strings.ToUpper(text[:end])
	}
}

// dateOnly drops the time of day, keeping the date as it reads in t's zone.
func dateOnly(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
