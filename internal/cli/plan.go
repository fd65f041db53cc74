package cli

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/pipeline"
)

func (e *env) cmdPlan(ctx context.Context, args []string) error {
	var cfg runConfig
	fs := newFlags("plan", "[flags]", "Size the next run from what the warehouse knows plus the few requests a night starts with (the campaign list and the account-wide change signals: the leads with activity since the last run, the overall-stats ranges): how many campaigns each signal flagged, requests per stream, the total, and the earliest finish under the configured rate limits, counting what the last hour already spent. Before the first run (no snapshot yet) it reads every overall-stats range instead (a dozen requests for a year of campaigns, whatever their number) to size leads and statistics. It takes no lock and writes only the request journal beside the warehouse (the next run moves its requests to the ledger), so it works while a run goes on.", envPrefix)
	cfg.dbFlags.register(fs)
	cfg.logFlags.register(fs)
	cfg.apiFlags.register(fs)
	cfg.fetchFlags.register(fs)
	// plan once took every flag of run; those that do not shape a plan
	// are still accepted, with a warning.
	fs.ignore(runFlagSet(&runConfig{}), "commit-wait", "retain", "max-requests", "deadline", "dry-run", "export", "dashboard", "progress")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("plan: unexpected argument %q (plan takes only flags)", fs.Arg(0))
	}
	if err := e.resolve(fs, &cfg, true); err != nil {
		return err
	}
	log, err := e.newLogger(cfg.logFlags, e.stderr)
	if err != nil {
		return err
	}
	cfg.logKeySource(log)
	return e.printPlan(ctx, cfg, log)
}

func (e *env) printPlan(ctx context.Context, cfg runConfig, log *slog.Logger) error {
	f, err := pipeline.Plan(ctx, e.pipelineConfig(cfg, log))
	if err != nil {
		return err
	}
	w := e.stdout
	fmt.Fprintf(w, "mode:        %s\n", f.Mode)
	switch {
	case f.First:
		fmt.Fprintf(w, "campaigns:   %d from the %s (first run: no snapshot yet)\n", f.Campaigns, f.CampaignsFrom)
	case f.Mode == pipeline.ModeResume:
	case f.Flagged == nil:
		fmt.Fprintf(w, "campaigns:   %d from the %s; %d carried over, no requests\n", f.Campaigns, f.CampaignsFrom, f.Frozen)
	default:
		fmt.Fprintf(w, "campaigns:   %d from the %s; %d that no signal flagged: carried over, no requests\n", f.Campaigns, f.CampaignsFrom, f.Frozen)
	}
	if f.Flagged != nil {
		var parts []string
		for i, name := range pipeline.FlagNames() {
			parts = append(parts, fmt.Sprintf("%s %d", name, f.Flagged[pipeline.Flag(1<<i)]))
		}
		fmt.Fprintf(w, "flagged:     %s (campaigns; one may have several flags)\n", strings.Join(parts, ", "))
		if f.Derived > 0 {
			fmt.Fprintf(w, "derived:     %d rows instead of requests (today's daily stats of campaigns that sent nothing)\n", f.Derived)
		}
	}
	for _, ep := range slices.Sorted(maps.Keys(f.Fallbacks)) {
		fmt.Fprintf(w, "fallback:    %s %s: the night reads every campaign instead\n", ep, f.Fallbacks[ep])
	}
	if f.Mode != pipeline.ModeResume {
		if f.SignalRequests > 0 {
			fmt.Fprintf(w, "  %-22s %6d requests\n", "change signals", f.SignalRequests)
		}
		for _, s := range extract.AllStreams {
			if n, ok := f.PerStream[s]; ok {
				fmt.Fprintf(w, "  %-22s %6d requests\n", s, n)
			}
		}
	}
	fmt.Fprintf(w, "requests:    %d (the last hour already spent %d; this plan spent %d)\n", f.Requests, f.AlreadySpent, f.SpentPlanning)
	fmt.Fprintf(w, "earliest finish: %s (in %s, at %s)\n", f.Finish.Local().Format("2006-01-02 15:04:05"),
		f.Duration().Round(time.Second), cfg.limitsDescription())
	return nil
}
