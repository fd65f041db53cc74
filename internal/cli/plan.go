package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/pipeline"
)

func (e *env) cmdPlan(ctx context.Context, args []string) error {
	var cfg runConfig
	fs := newFlags("plan", "[flags]", "Size the next run from what the warehouse knows plus one request (the campaign list): requests per stream, the total, and the earliest finish under the configured rate limits, counting what the last hour already spent. Before the first run (no snapshot yet) it also reads each campaign's analytics, one request per campaign, to size leads and statistics. It takes no lock and writes only the request journal beside the warehouse (the next run moves its requests to the ledger), so it works while a run goes on.", envPrefix)
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
	case f.Mode != pipeline.ModeResume:
		fmt.Fprintf(w, "campaigns:   %d from the %s; %d unchanged and final: carried over, no requests\n", f.Campaigns, f.CampaignsFrom, f.Frozen)
	}
	if f.Mode != pipeline.ModeResume {
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
