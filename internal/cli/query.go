package cli

import (
	"context"
	"errors"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/smartlead-etl/smartlead-etl/report"
)

func (e *env) cmdQuery(ctx context.Context, args []string) error {
	var c dbFlags
	fs := newFlags("query", `"SQL" [flags]`, "Run SQL against the warehouse, read-only.", envPrefix)
	c.register(fs)
	format := fs.String("format", "table", "output format: table, csv, json or markdown")
	// query once took --log-format and --log-level; it writes no log.
	fs.ignore(runFlagSet(&runConfig{}), "log-format", "log-level")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErrorf(`query takes one SQL argument, e.g. smartlead-etl query "SELECT count(*) FROM leads"`)
	}
	if err := validate(fs, c.checks(true)); err != nil {
		return err
	}
	if err := report.CheckFormat(*format); err != nil {
		return usageErrorf("--format: %s", err)
	}
	store, err := openReadOnly(ctx, c)
	if err != nil {
		return err
	}
	defer store.Close()
	res, err := report.Query(ctx, store, fs.Arg(0))
	if err != nil {
		return sqlUsageError(err)
	}
	return report.WriteResult(e.stdout, res, *format)
}

// sqlUsageError makes a mistake in the user's SQL (syntax, an unknown
// table or column, a type mismatch) a usage error, exit 2, keeping
// DuckDB's message; a failure of the database itself stays exit 1.
func sqlUsageError(err error) error {
	var de *duckdb.Error
	if !errors.As(err, &de) {
		return err
	}
	switch de.Type {
	case duckdb.ErrorTypeParser, duckdb.ErrorTypeSyntax, duckdb.ErrorTypeBinder, duckdb.ErrorTypeCatalog,
		duckdb.ErrorTypeConversion, duckdb.ErrorTypeMismatchType, duckdb.ErrorTypeInvalidType, duckdb.ErrorTypeInvalidInput,
		duckdb.ErrorTypeOutOfRange, duckdb.ErrorTypeDivideByZero, duckdb.ErrorTypeParameterNotResolved,
		duckdb.ErrorTypeParameterNotAllowed, duckdb.ErrorTypeNotImplemented, duckdb.ErrorTypePermission:
		return &usageError{msg: err.Error()}
	}
	return err
}
