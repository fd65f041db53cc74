package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/report"
)

func (e *env) cmdReport(ctx context.Context, args []string) error {
	var c dbFlags
	fs := newFlags("report", "[NAME] [flags]", "Without NAME, list the reports. With NAME, run it against the latest snapshot.", envPrefix)
	c.register(fs)
	format := fs.String("format", "table", "output format: table, csv, json or markdown")
	campaign := fs.Int64("campaign", 0, "only this campaign id")
	since := fs.String("since", "", "from this day (YYYY-MM-DD), for reports over days or runs")
	until := fs.String("until", "", "up to and including this day (YYYY-MM-DD)")
	tz := fs.String("tz", "", "time zone for reports by local time, e.g. Europe/Berlin (default UTC)")
	// report once took --log-format and --log-level; it writes no log.
	fs.ignore(runFlagSet(&runConfig{}), "log-format", "log-level")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	reports, err := report.Reports(e.reports())
	if err != nil {
		return err
	}
	if fs.NArg() == 0 {
		for _, r := range reports {
			fmt.Fprintf(e.stdout, "%-22s %s\n", r.Name, r.Description)
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
	if err := report.WriteResult(e.stdout, res, *format); err != nil {
		return err
	}
	return e.hintNoSnapshot(ctx, store, res)
}

// hintNoSnapshot explains an empty report on a warehouse no run has
// completed yet: "(0 rows)" alone reads as "nothing happened".
func (e *env) hintNoSnapshot(ctx context.Context, store *load.Store, res *report.Result) error {
	if len(res.Rows) > 0 {
		return nil
	}
	prev, err := store.LatestSucceeded(ctx)
	if err != nil || prev != nil {
		return err
	}
	fmt.Fprintln(e.stderr, "smartlead-etl: no snapshot has been loaded into this warehouse yet: run `smartlead-etl run` (or `smartlead-etl demo` to try it on simulated data) first")
	return nil
}

func openReadOnly(ctx context.Context, c dbFlags) (*load.Store, error) {
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
func (e *env) printDemoReport(ctx context.Context, c dbFlags) error {
	reports, err := report.Reports(e.reports())
	if err != nil {
		return err
	}
	store, err := openReadOnly(ctx, c)
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
		fmt.Fprintf(e.stdout, "== %s: %s\n", rep.Name, rep.Description)
		if err := report.WriteResult(e.stdout, res, "table"); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout)
	}
	return nil
}
