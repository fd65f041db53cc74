package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/pipeline"
)

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg runConfig
	fs := newFlagSet("run [flags]", "Extract every stream from the SmartLead API, transform it and load one snapshot into the DuckDB file.")
	cfg.register(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("run: unexpected argument %q (run takes only flags)", fs.Arg(0))
	}
	if err := cfg.resolve(fs, true); err != nil {
		return err
	}
	con := newConsole(stderr)
	log, err := newLogger(cfg.common, con)
	if err != nil {
		return err
	}
	cfg.logKeySource(log)
	if cfg.dryRun {
		return printPlan(ctx, cfg, log, stdout)
	}
	_, err = runPipeline(ctx, cfg, log, con)
	return err
}

func cmdPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg runConfig
	fs := newFlagSet("plan [flags]", "Size the next run from what the warehouse knows plus one request (the campaign list): requests per stream, the total, and the earliest finish under the configured rate limits, counting what the last hour already spent. Before the first run (no snapshot yet) it also reads each campaign's analytics, one request per campaign, to size leads and statistics; it creates the warehouse and records those requests in its ledger. Takes the same flags as run.")
	cfg.register(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("plan: unexpected argument %q (plan takes only flags)", fs.Arg(0))
	}
	if err := cfg.resolve(fs, true); err != nil {
		return err
	}
	log, err := newLogger(cfg.common, stderr)
	if err != nil {
		return err
	}
	cfg.logKeySource(log)
	return printPlan(ctx, cfg, log, stdout)
}

// logKeySource says at start where the API key came from (never the
// key), and which source lost when two were set.
func (c runConfig) logKeySource(log *slog.Logger) {
	if c.key.ignored != "" {
		log.Info("API key from the "+c.key.from+"; "+c.key.ignored+" is also set and ignored: the key file wins", "source", c.key.from)
		return
	}
	log.Info("API key from "+c.key.from, "source", c.key.from)
}

func printPlan(ctx context.Context, cfg runConfig, log *slog.Logger, stdout io.Writer) error {
	f, err := pipeline.Plan(ctx, cfg.pipelineConfig(log, nil))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "mode:        %s\n", f.Mode)
	switch {
	case f.First:
		fmt.Fprintf(stdout, "campaigns:   %d from the %s (first run: no snapshot yet)\n", f.Campaigns, f.CampaignsFrom)
	case f.Mode != "resume":
		fmt.Fprintf(stdout, "campaigns:   %d from the %s; %d unchanged and final: carried over, no requests\n", f.Campaigns, f.CampaignsFrom, f.Frozen)
	}
	if f.Mode != "resume" {
		for _, s := range extract.AllStreams {
			if n, ok := f.PerStream[s]; ok {
				fmt.Fprintf(stdout, "  %-22s %6d requests\n", s, n)
			}
		}
	}
	fmt.Fprintf(stdout, "requests:    %d (the last hour already spent %d; this plan spent %d)\n", f.Requests, f.AlreadySpent, f.SpentPlanning)
	fmt.Fprintf(stdout, "earliest finish: %s (in %s, at %s)\n", f.Finish.Local().Format("2006-01-02 15:04:05"),
		f.Duration().Round(time.Second), cfg.limitsDescription())
	return nil
}

func schemaFS() fs.FS {
	sub, err := fs.Sub(sqlFiles, "sql/schema")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

// runPipeline turns the flags into a pipeline run, then exports if asked.
func runPipeline(ctx context.Context, cfg runConfig, log *slog.Logger, con *console) (*load.Summary, error) {
	prog := newProgress(cfg.progress, con, log)
	sum, err := pipeline.Run(ctx, cfg.pipelineConfig(log, prog))
	prog.stop(err == nil || errors.Is(err, pipeline.ErrPartial))
	if err != nil && !errors.Is(err, pipeline.ErrPartial) {
		return sum, err
	}
	if cfg.exportDir != "" {
		store, oerr := openReadOnly(ctx, cfg.common)
		if oerr != nil {
			return sum, oerr
		}
		defer store.Close()
		if xerr := exportParquet(ctx, store, cfg.exportDir, false, log, io.Discard); xerr != nil {
			return sum, xerr
		}
	}
	if derr := runDashboard(ctx, cfg, log); derr != nil {
		return sum, derr
	}
	return sum, err
}

// pipelineConfig turns resolved flags into a pipeline configuration.
func (c runConfig) pipelineConfig(log *slog.Logger, prog pipeline.Progress) pipeline.Config {
	raw, scaled, _ := c.windows() // validated by resolve
	var streams []extract.Stream
	for _, s := range c.streams {
		streams = append(streams, extract.Stream(s))
	}
	resume := c.resumeWithin
	if resume == 0 {
		resume = -1 // the flag's 0 means never
	}
	return pipeline.Config{
		DB: c.db, Schema: schemaFS(), LockWait: c.lockWait, Retain: c.retain, CommitWait: c.commitWait,
		APIKey: c.apiKey, BaseURL: c.baseURL,
		Windows: scaled, ServerWindows: raw, Concurrency: c.concurrency, Streams: streams, Days: c.days,
		Retries: c.retries, RetryBase: c.retryBase, RetryCap: c.retryCap,
		AttemptTimeout: c.attemptTO, MaxRetryAfter: c.maxRetryAfter,
		FullRefresh: c.fullRefresh, MaxRequests: c.maxRequests, Deadline: c.deadlineAt,
		BackfillDays: c.backfillDays, ResumeWithin: resume,
		Logger: log, Progress: prog, Public: c.public(),
	}
}

func (c runConfig) limitsDescription() string {
	_, scaled, _ := c.windows()
	return "limits " + ratelimit.Format(scaled)
}

// public is the run's configuration as recorded in etl_runs: no secrets.
func (c runConfig) public() map[string]any {
	return map[string]any{
		"tier": c.tier, "limits": c.limits, "headroom": c.headroom, "concurrency": c.concurrency,
		"base_url": c.baseURL, "streams": c.streams, "days": c.days, "version": version,
		"full_refresh": c.fullRefresh, "max_requests": c.maxRequests, "deadline": c.deadline, "backfill_days": c.backfillDays,
	}
}
