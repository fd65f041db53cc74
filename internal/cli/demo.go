package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/pipeline"
)

// demoKey is the simulated API's key: not a secret, but treated as one so
// the demo exercises the same redaction as a real run.
const demoKey = "demo-key-0000"

// demoLimits speed the standard tier up tenfold so the demo finishes in
// seconds while still being rate limited (the server enforces them too).
const demoLimits = "100/1s,600/1m,10000/1h"

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	// The demo takes a few of run's flags and reads no environment: a
	// SMARTLEAD_DB or SMARTLEAD_API_KEY meant for the real warehouse must
	// not leak into it. run's flag set supplies the defaults of the rest.
	var cfg runConfig
	all := pflag.NewFlagSet("run", pflag.ContinueOnError)
	cfg.register(all)
	fs := newFlagSetEnv("demo [flags]", "Serve the simulated SmartLead API on a free loopback port, run the whole pipeline against it, and print a report. It needs no API key.", false)
	for _, name := range []string{"db", "dashboard", "export", "limits", "headroom", "concurrency", "streams", "days", "progress", "log-format", "log-level", "lock-wait"} {
		if f := all.Lookup(name); f != nil {
			fs.AddFlag(f)
		}
	}
	campaigns := fs.Int("campaigns", 20, "campaigns in the simulated account")
	leads := fs.Int("leads", 150, "average leads per campaign")
	seed := fs.Int64("seed", 1, "seed of the simulated account")
	cfg.db, cfg.limits = "smartlead-demo.duckdb", demoLimits
	fs.Lookup("db").DefValue = cfg.db
	fs.Lookup("limits").DefValue = demoLimits
	fs.Lookup("dashboard").DefValue = "the --db file with .html, e.g. smartlead-demo.html"
	fs.Lookup("limits").Usage = "rate-limit windows of the simulated API, which the client also keeps to (ten times the standard tier, so the demo takes seconds)"
	if err := parseFlags(fs, args, stdout); err != nil {
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
	if err := cfg.resolve(fs, false); err != nil {
		return err
	}
	con := newConsole(stderr)
	log, err := newLogger(cfg.common, con)
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
	registerSecret(demoKey)
	sum, err := runPipeline(ctx, cfg, log, con)
	if err != nil && !errors.Is(err, errPartial) {
		return err
	}
	fmt.Fprintf(stdout, "\nDemo snapshot %s loaded into %s (%s).\n\n", sum.RunID, cfg.db, pipeline.FormatRows(sum.Rows))
	if rerr := printDemoReport(ctx, cfg, stdout); rerr != nil {
		return rerr
	}
	if werr := demoEvents(ctx, cfg, srv, log, stdout); werr != nil {
		return werr
	}
	// Again, now that the events are in: the page's replies-by-hour chart.
	if derr := runDashboard(ctx, cfg, log); derr != nil {
		return derr
	}
	if cfg.dashboard != "" {
		if abs, aerr := filepath.Abs(cfg.dashboard); aerr == nil {
			fmt.Fprintf(stdout, "Dashboard: %s (open it in a browser)\n", abs)
		}
	}
	fmt.Fprintf(stdout, "\nNext: smartlead-etl report --db %s   (list the reports)\n"+
		"      smartlead-etl query --db %s \"SELECT status, count(*) FROM leads GROUP BY ALL\"\n"+
		"      duckdb %s   (the DuckDB CLI, if you have it)\n", cfg.db, cfg.db, cfg.db)
	return err
}

func cmdFakeAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fake-api [flags]", "Serve the simulated SmartLead API, for pointing a test cron setup at. It accepts the key in SMARTLEAD_API_KEY when that is set (so a shell exporting your real key makes the real key the simulated one), else "+demoKey+"; give the same key to run.")
	addr := fs.String("addr", "127.0.0.1:8787", "listen address")
	campaigns := fs.Int("campaigns", 20, "campaigns in the simulated account")
	leads := fs.Int("leads", 150, "average leads per campaign")
	seed := fs.Int64("seed", 1, "seed of the simulated account")
	limits := fs.String("limits", "10/1s,60/1m,1000/1h", "server-side rate-limit windows")
	errRate := fs.Float64("error-rate", 0, "share of requests answered with a 5xx")
	foreign := fs.Int("foreign-per-minute", 0, "requests per minute another program spends on the same key")
	activity := fs.Duration("activity-every", 0, "simulate activity this often and deliver it to registered webhooks, signed with SMARTLEAD_WEBHOOK_SECRET (0 = never)")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("fake-api: unexpected argument %q (fake-api takes only flags)", fs.Arg(0))
	}
	windows, err := ratelimit.Parse(*limits)
	if err != nil {
		return badFlag(fs, "limits", err)
	}
	key := demoKey
	if k := os.Getenv("SMARTLEAD_API_KEY"); k != "" {
		key = k
	}
	srv := fakeapi.New(fakeapi.Config{
		Seed: *seed, APIKey: key, Campaigns: *campaigns, LeadsPerCampaign: *leads, Windows: windows,
		Faults: fakeapi.Faults{ErrorRate: *errRate, ForeignPerMinute: *foreign}, WebhookSecret: fakeWebhookSecret(),
	})
	base, shutdown, err := serveLoopback(srv, *addr)
	if err != nil {
		return err
	}
	defer shutdown()
	fmt.Fprintf(stdout, "simulated SmartLead API at %s (limits %s); stop with Ctrl-C\n", base, ratelimit.Format(windows))
	fakeActivity(ctx, srv, *activity, stderr)
	<-ctx.Done()
	return nil
}

// serveLoopback serves h on addr and returns the API base URL.
func serveLoopback(h http.Handler, addr string) (string, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	shutdown := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	}
	return "http://" + ln.Addr().String() + "/api/v1", shutdown, nil
}
