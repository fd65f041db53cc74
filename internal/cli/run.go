package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/pipeline"
)

func (e *env) cmdRun(ctx context.Context, args []string) error {
	var cfg runConfig
	fs := newFlags("run", "[flags]", "Extract every stream from the SmartLead API, transform it and load one snapshot into the DuckDB file.\n"+
		"--max-requests and --deadline bound each invocation: a run stopped at either is continued by the next\n"+
		"invocation with a fresh budget, and etl_runs.requests counts the requests of all its invocations.", envPrefix)
	cfg.registerRun(fs)
	if err := e.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("run: unexpected argument %q (run takes only flags)", fs.Arg(0))
	}
	if err := e.resolve(fs, &cfg, true); err != nil {
		return err
	}
	con := newConsole(e.stderr)
	log, err := e.newLogger(cfg.logFlags, con)
	if err != nil {
		return err
	}
	cfg.logKeySource(log)
	if cfg.dryRun {
		return e.printPlan(ctx, cfg, log)
	}
	_, err = e.runPipeline(ctx, cfg, log, con)
	return err
}

// logKeySource says at start where the API key came from (never the
// key), and which source lost when two were set.
func (c *apiFlags) logKeySource(log *slog.Logger) {
	if c.key.ignored != "" {
		log.Info("API key from the "+c.key.from+"; "+c.key.ignored+" is also set and ignored: the key file wins", "source", c.key.from)
		return
	}
	log.Info("API key from "+c.key.from, "source", c.key.from)
}

// runPipeline turns the flags into a pipeline run, then exports and
// writes the dashboard if asked.
func (e *env) runPipeline(ctx context.Context, cfg runConfig, log *slog.Logger, con *console) (*load.Summary, error) {
	prog := newProgress(cfg.progress, con, log)
	pcfg := e.pipelineConfig(cfg, log)
	pcfg.Progress = prog // it ends before the run's summary line (pipeline.Ended)
	sum, err := pipeline.Run(ctx, pcfg)
	prog.stop(err == nil || errors.Is(err, pipeline.ErrPartial))
	if err != nil && !errors.Is(err, pipeline.ErrPartial) {
		return sum, err
	}
	if cfg.exportDir != "" {
		if xerr := e.exportTo(ctx, cfg.dbFlags, cfg.exportDir, false, log, io.Discard); xerr != nil {
			return sum, xerr
		}
	}
	if derr := e.runDashboard(ctx, cfg, log); derr != nil {
		return sum, derr
	}
	return sum, err
}

// pipelineConfig turns resolved flags into a pipeline configuration.
func (e *env) pipelineConfig(c runConfig, log *slog.Logger) pipeline.Config {
	raw, scaled, _ := c.windows() // validated by resolve
	var streams []extract.Stream
	for _, s := range c.streams {
		streams = append(streams, extract.Stream(s))
	}
	return pipeline.Config{
		DB: c.db, Schema: e.schema(), LockWait: c.lockWait, Retain: c.retain, CommitWait: c.commitWait,
		APIKey: c.apiKey, BaseURL: c.baseURL, HTTPClient: e.HTTPClient,
		Windows: scaled, ServerWindows: raw, Concurrency: c.concurrency, Streams: streams, Days: c.days,
		Retries: c.retries, RetryBase: c.retryBase, RetryCap: c.retryCap,
		AttemptTimeout: c.attemptTO, MaxRetryAfter: c.maxRetryAfter,
		FullRefresh: c.fullRefresh, MaxRequests: c.maxRequests, Deadline: c.deadlineAt,
		BackfillDays: c.backfillDays, ResumeWithin: c.resumeWithin,
		Logger: log, Public: e.public(c),
	}
}

func (c *apiFlags) limitsDescription() string {
	_, scaled, _ := c.windows()
	return "limits " + ratelimit.Format(scaled)
}

// public is the run's configuration as recorded in etl_runs: no secrets.
func (e *env) public(c runConfig) map[string]any {
	return map[string]any{
		"tier": c.tier, "limits": c.limits, "headroom": c.headroom, "concurrency": c.concurrency,
		"base_url": c.baseURL, "streams": c.streams, "days": c.days, "version": e.Version,
		"full_refresh": c.fullRefresh, "max_requests": c.maxRequests, "deadline": c.deadline, "backfill_days": c.backfillDays,
	}
}
