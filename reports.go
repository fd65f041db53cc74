package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"time"

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
	if err := parseFlags(fs, args, stderr); err != nil {
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
		return usageErrorf("unknown report %q; run `smartlead-etl report` to list them", fs.Arg(0))
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
	return report.WriteResult(stdout, res, *format)
}

func cmdQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet(`query "SQL" [flags]`, "Run SQL against the warehouse, read-only.")
	c.register(fs)
	format := fs.String("format", "table", "output format: table, csv, json or markdown")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageErrorf(`query takes one SQL argument, e.g. smartlead-etl query "SELECT count(*) FROM leads"`)
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
		return err
	}
	return report.WriteResult(stdout, res, *format)
}

func cmdExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("export --out DIR [flags]", "Write the warehouse as Hive-partitioned Parquet files (ZSTD) with a manifest.json.")
	c.register(fs)
	out := fs.String("out", "", "output directory")
	all := fs.Bool("all-snapshots", false, "export every snapshot of the history tables, not only the latest")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if *out == "" {
		return usageErrorf("export: --out DIR is required")
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

func openReadOnly(ctx context.Context, c common) (*load.Store, error) {
	if _, err := os.Stat(c.db); err != nil {
		return nil, usageErrorf("database %s: %s (run `smartlead-etl run` or `smartlead-etl demo` first)", c.db, err)
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
