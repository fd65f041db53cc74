package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

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
	var cfg runConfig
	fs := newFlagSet("demo [flags]", "Serve the simulated SmartLead API on a free loopback port, run the whole pipeline against it, and print a report.")
	cfg.register(fs)
	campaigns := fs.Int("campaigns", 20, "campaigns in the simulated account")
	leads := fs.Int("leads", 150, "average leads per campaign")
	seed := fs.Int64("seed", 1, "seed of the simulated account")
	_ = fs.Set("db", "smartlead-demo.duckdb")
	_ = fs.Set("limits", demoLimits)
	fs.Lookup("db").DefValue = "smartlead-demo.duckdb"
	fs.Lookup("limits").DefValue = demoLimits
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if err := cfg.resolve(false); err != nil {
		return err
	}
	log, err := newLogger(cfg.common, stderr)
	if err != nil {
		return err
	}
	serverLimits, err := ratelimit.Parse(cfg.limits)
	if err != nil {
		return usageErrorf("--limits: %s", err)
	}
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
	sum, err := runPipeline(ctx, cfg, log, stderr)
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
	fmt.Fprintf(stdout, "\nNext: smartlead-etl report --db %s   (list the reports)\n      duckdb %s \"SELECT * FROM campaigns LIMIT 5\"\n", cfg.db, cfg.db)
	return err
}

func cmdFakeAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fake-api [flags]", "Serve the simulated SmartLead API, for pointing a test cron setup at. The key is SMARTLEAD_API_KEY if set, else "+demoKey+".")
	addr := fs.String("addr", "127.0.0.1:8787", "listen address")
	campaigns := fs.Int("campaigns", 20, "campaigns in the simulated account")
	leads := fs.Int("leads", 150, "average leads per campaign")
	seed := fs.Int64("seed", 1, "seed of the simulated account")
	limits := fs.String("limits", "10/1s,60/1m,1000/1h", "server-side rate-limit windows")
	errRate := fs.Float64("error-rate", 0, "share of requests answered with a 5xx")
	foreign := fs.Int("foreign-per-minute", 0, "requests per minute another program spends on the same key")
	activity := fs.Duration("activity-every", 0, "simulate activity this often and deliver it to registered webhooks, signed with SMARTLEAD_WEBHOOK_SECRET (0 = never)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	windows, err := ratelimit.Parse(*limits)
	if err != nil {
		return usageErrorf("--limits: %s", err)
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
