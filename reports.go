package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/smartlead-etl/smartlead-etl/export"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/report"
)

func reportsFS() fs.FS {
	sub, err := fs.Sub(sqlFiles, "sql/reports")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

func cmdReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("report [NAME] [flags]", "Without NAME, list the reports. With NAME, run it against the latest snapshot.")
	c.register(fs)
	format := fs.String("format", "table", "output format: table, csv, json or markdown")
	campaign := fs.Int64("campaign", 0, "only this campaign id")
	since := fs.String("since", "", "from this day (YYYY-MM-DD), for reports over days or runs")
	until := fs.String("until", "", "up to and including this day (YYYY-MM-DD)")
	tz := fs.String("tz", "", "time zone for reports by local time, e.g. Europe/Berlin (default UTC)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	reports, err := report.Reports(reportsFS())
	if err != nil {
		return err
	}
	if fs.NArg() == 0 {
		for _, r := range reports {
			fmt.Fprintf(stdout, "%-22s %s\n", r.Name, r.Description)
		}
		return nil
	}
	if fs.NArg() > 1 {
		return usageErrorf("report: one report name at a time (got %d)", fs.NArg())
	}
	rep, ok := findReport(reports, fs.Arg(0))
	if !ok {
		names := make([]string, len(reports))
		for i, r := range reports {
			names[i] = r.Name
		}
		if best := nearest(fs.Arg(0), names); best != "" {
			return usageErrorf("unknown report %q (did you mean %s?); run `smartlead-etl report` to list them", fs.Arg(0), best)
		}
		return usageErrorf("unknown report %q; run `smartlead-etl report` to list them", fs.Arg(0))
	}
	if err := validate(fs, c.checks(true)); err != nil {
		return err
	}
	var p report.ReportParams
	if *campaign != 0 {
		p.Campaign = campaign
	}
	if p.Since, err = parseDay("--since", *since); err != nil {
		return err
	}
	if p.Until, err = parseDay("--until", *until); err != nil {
		return err
	}
	if *tz != "" {
		if _, err := time.LoadLocation(*tz); err != nil || *tz == "Local" {
			return usageErrorf("--tz %q: want an IANA time zone such as Europe/Berlin or America/New_York", *tz)
		}
		p.TZ = tz
	}
	if err := report.CheckFormat(*format); err != nil {
		return usageErrorf("--format: %s", err)
	}
	store, err := openReadOnly(ctx, c)
	if err != nil {
		return err
	}
	defer store.Close()
	res, err := report.Run(ctx, store, rep, p)
	if err != nil {
		return err
	}
	if err := report.WriteResult(stdout, res, *format); err != nil {
		return err
	}
	return hintNoSnapshot(ctx, store, res, stderr)
}

// hintNoSnapshot explains an empty report on a warehouse no run has
// completed yet: "(0 rows)" alone reads as "nothing happened".
func hintNoSnapshot(ctx context.Context, store *load.Store, res *report.Result, stderr io.Writer) error {
	if len(res.Rows) > 0 {
		return nil
	}
	prev, err := store.LatestSucceeded(ctx)
	if err != nil || prev != nil {
		return err
	}
	fmt.Fprintln(stderr, "smartlead-etl: no snapshot has been loaded into this warehouse yet: run `smartlead-etl run` (or `smartlead-etl demo` to try it on simulated data) first")
	return nil
}

func cmdQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet(`query "SQL" [flags]`, "Run SQL against the warehouse, read-only.")
	c.register(fs)
	format := fs.String("format", "table", "output format: table, csv, json or markdown")
	if err := parseFlags(fs, args, stdout); err != nil {
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
	return report.WriteResult(stdout, res, *format)
}

func cmdExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("export --out DIR [flags]", "Write the warehouse as Hive-partitioned Parquet files (ZSTD) with a manifest.json.")
	c.register(fs)
	out := fs.String("out", "", "output directory")
	all := fs.Bool("all-snapshots", false, "export every snapshot of the history tables, not only the latest")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *out == "" {
		return usageErrorf("export: --out DIR is required")
	}
	if err := validate(fs, append(c.checks(true), flagCheck{"out", func() error { return checkExportDir(*out) }})); err != nil {
		return err
	}
	log, err := newLogger(c, stderr)
	if err != nil {
		return err
	}
	store, err := openReadOnly(ctx, c)
	if err != nil {
		return err
	}
	defer store.Close()
	return exportParquet(ctx, store, *out, *all, log, stdout)
}

func exportParquet(ctx context.Context, store *load.Store, dir string, all bool, log *slog.Logger, stdout io.Writer) error {
	m, err := export.Export(ctx, store.DB(), dir, export.Options{AllSnapshots: all})
	if err != nil {
		return err
	}
	var rows int64
	for _, t := range m.Tables {
		rows += t.Rows
	}
	log.Info("parquet export written", "dir", dir, "tables", len(m.Tables), "rows", rows, "run_id", m.RunID)
	fmt.Fprintf(stdout, "exported %d tables (%d rows) to %s\n", len(m.Tables), rows, dir)
	return nil
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

func openReadOnly(ctx context.Context, c common) (*load.Store, error) {
	if _, err := os.Stat(c.db); err != nil {
		return nil, usageErrorf("--db %q: no such file (run `smartlead-etl run` or `smartlead-etl demo` first)", c.db)
	}
	return load.OpenReadOnly(ctx, c.db, load.Options{LockWait: c.lockWait})
}

func findReport(rs []report.Report, name string) (report.Report, bool) {
	for _, r := range rs {
		if r.Name == name {
			return r, true
		}
	}
	return report.Report{}, false
}

func parseDay(flag, v string) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return nil, usageErrorf("%s %q: want YYYY-MM-DD", flag, v)
	}
	return &t, nil
}

// printDemoReport shows what the demo loaded, through the same report
// machinery users run.
func printDemoReport(ctx context.Context, cfg runConfig, stdout io.Writer) error {
	reports, err := report.Reports(reportsFS())
	if err != nil {
		return err
	}
	store, err := openReadOnly(ctx, cfg.common)
	if err != nil {
		return err
	}
	defer store.Close()
	for _, name := range []string{"campaign_performance", "run_history"} {
		rep, ok := findReport(reports, name)
		if !ok {
			continue
		}
		res, err := report.Run(ctx, store, rep, report.ReportParams{})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "== %s: %s\n", rep.Name, rep.Description)
		if err := report.WriteResult(stdout, res, "table"); err != nil {
			return err
		}
		fmt.Fprintln(stdout)
	}
	return nil
}
