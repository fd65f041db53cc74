package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/pipeline"
)

// demoKey is the simulated API's key: not a secret, but treated as one so
// the demo exercises the same redaction as a real run.
const demoKey = "demo-key-0000"

// demoLimits speed the standard tier up tenfold so the demo finishes in
// seconds while still being rate limited (the server enforces them too).
var demoLimits = ratelimit.Format(ratelimit.Multiply(ratelimit.MustPreset(ratelimit.DefaultTier), 10))

func (e *env) cmdDemo(ctx context.Context, args []string) error {
	// The demo takes a few of run's flags and reads no environment: a
	// SMARTLEAD_DB or SMARTLEAD_API_KEY meant for the real warehouse must
	// not leak into it. run's flag set supplies the defaults of the rest.
	var cfg runConfig
	all := runFlagSet(&cfg)
	fs := newFlags("demo", "[flags]", "Serve the simulated SmartLead API on a free loopback port, run the whole pipeline against it, and print a report. It needs no API key.", "")
	fs.pick(all, "db", "dashboard", "export", "limits", "headroom", "concurrency", "streams", "days", "progress", "log-format", "log-level", "lock-wait")
	campaigns := fs.Int("campaigns", 20, "campaigns in the simulated account")
	leads := fs.Int("leads", 150, "average leads per campaign")
	seed := fs.Int64("seed", 1, "seed of the simulated account")
	cfg.db, cfg.limits = "smartlead-demo.duckdb", demoLimits
	fs.Lookup("db").DefValue = cfg.db
	fs.Lookup("limits").DefValue = demoLimits
	fs.Lookup("dashboard").DefValue = "the --db file with .html, e.g. smartlead-demo.html"
	fs.Lookup("limits").Usage = "rate-limit windows of the simulated API, which the client also keeps to (ten times the standard tier, so the demo takes seconds)"
	if err := e.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("demo: unexpected argument %q (demo takes only flags)", fs.Arg(0))
	}
	if err := validate(fs, []flagCheck{
		{"campaigns", between(*campaigns, 1, 5000)},
		{"leads", between(*leads, 0, 100000)},
	}); err != nil {
		return err
	}
	if cfg.dashboard == "" { // the demo always shows its page, next to its warehouse
		cfg.dashboard = strings.TrimSuffix(cfg.db, filepath.Ext(cfg.db)) + ".html"
	}
	if err := e.resolve(fs, &cfg, false); err != nil {
		return err
	}
	con := newConsole(e.stderr)
	log, err := e.newLogger(cfg.logFlags, con)
	if err != nil {
		return err
	}
	serverLimits, _ := ratelimit.Parse(cfg.limits) // validated by resolve
	srv := fakeapi.New(fakeapi.Config{
		Seed: *seed, APIKey: demoKey, Campaigns: *campaigns, LeadsPerCampaign: *leads,
		Windows: serverLimits, WebhookSecret: demoWebhookSecret,
	})
	base, shutdown, err := serveLoopback(srv, "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer shutdown()
	log.Info("simulated SmartLead API listening", "base_url", base)

	cfg.baseURL = base
	cfg.apiKey = demoKey
	e.secrets.add(demoKey)
	sum, err := e.runPipeline(ctx, cfg, log, con)
	if err != nil && !errors.Is(err, errPartial) {
		return err
	}
	out := e.stdout
	fmt.Fprintf(out, "\nDemo snapshot %s loaded into %s (%s).\n\n", sum.RunID, cfg.db, pipeline.FormatRows(sum.Rows))
	if rerr := e.printDemoReport(ctx, cfg.dbFlags); rerr != nil {
		return rerr
	}
	if nerr := e.demoSecondNight(ctx, cfg, srv, sum, log, con); nerr != nil {
		return nerr
	}
	if werr := e.demoEvents(ctx, cfg, srv, log); werr != nil {
		return werr
	}
	// Again, now that the events are in: the page's replies-by-hour chart.
	if derr := e.runDashboard(ctx, cfg, log); derr != nil {
		return derr
	}
	if cfg.dashboard != "" {
		if abs, aerr := filepath.Abs(cfg.dashboard); aerr == nil {
			fmt.Fprintf(out, "Dashboard: %s (open it in a browser)\n", abs)
		}
	}
	// The hints name the program as it was invoked, so that they can be
	// pasted (./smartlead-etl from a build directory).
	name, db := shellQuote(e.Name), shellQuote(cfg.db)
	fmt.Fprintf(out, "\nNext: %s report --db %s   (list the reports)\n"+
		"      %s query --db %s \"SELECT status, count(*) FROM leads GROUP BY ALL\"\n"+
		"      duckdb %s   (the DuckDB CLI, if you have it)\n", name, db, name, db, db)
	return err
}

// shellQuote quotes s for a POSIX shell when it holds anything but
// plain path characters.
func shellQuote(s string) string {
	plain := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+,:@=%", r)) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
