package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
)

// fakeAPIPrefix: fake-api's flags have variables of their own, so that
// SMARTLEAD_LIMITS meant for run does not change the simulated server's
// limits, and SMARTLEAD_ADDR meant for listen does not move it.
const fakeAPIPrefix = envPrefix + "FAKE_API_"

func (e *env) cmdFakeAPI(ctx context.Context, args []string) error {
	fs := newFlags("fake-api", "[flags]", "Serve the simulated SmartLead API, for pointing a test cron setup at. It accepts the key in "+apiKeyEnv+" when that is set (so a shell exporting your real key makes the real key the simulated one), else "+demoKey+"; give the same key to run. It signs webhook deliveries with "+webhookSecretEnv+".", fakeAPIPrefix)
	addr := fs.String("addr", "127.0.0.1:8787", "listen address")
	campaigns := fs.Int("campaigns", 20, "campaigns in the simulated account")
	leads := fs.Int("leads", 150, "average leads per campaign")
	seed := fs.Int64("seed", 1, "seed of the simulated account")
	limits := fs.String("limits", ratelimit.Format(ratelimit.MustPreset(ratelimit.DefaultTier)), "server-side rate-limit windows")
	errRate := fs.Float64("error-rate", 0, "share of requests answered with a 5xx")
	foreign := fs.Int("foreign-per-minute", 0, "requests per minute another program spends on the same key")
	activity := fs.Duration("activity-every", 0, "simulate activity this often and deliver it to registered webhooks (0 = never)")
	if err := e.parse(fs, args); err != nil {
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
	if k, _ := e.LookupEnv(apiKeyEnv); k != "" {
		key = k
	}
	// The simulated API's webhook secret is the receiver's own, so that
	// a local receiver accepts its deliveries.
	secret, _ := e.LookupEnv(webhookSecretEnv)
	srv := fakeapi.New(fakeapi.Config{
		Seed: *seed, APIKey: key, Campaigns: *campaigns, LeadsPerCampaign: *leads, Windows: windows,
		Faults: fakeapi.Faults{ErrorRate: *errRate, ForeignPerMinute: *foreign}, WebhookSecret: secret,
	})
	base, shutdown, err := serveLoopback(srv, *addr)
	if err != nil {
		return err
	}
	defer shutdown()
	fmt.Fprintf(e.stdout, "simulated SmartLead API at %s (limits %s); stop with Ctrl-C\n", base, ratelimit.Format(windows))
	fakeActivity(ctx, srv, *activity, e.stderr)
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

// fakeActivity makes the standalone simulated API (fake-api) produce a
// little activity every interval and deliver it to the webhooks
// registered with it, until ctx ends.
func fakeActivity(ctx context.Context, srv *fakeapi.Server, every time.Duration, stderr io.Writer) {
	if every <= 0 {
		return
	}
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				srv.Night(fakeapi.NightChange{ChangedLeadFrac: 0.01, NewSendsFrac: 0.01})
				rep := srv.DeliverWebhooks(ctx, fakeapi.DeliveryOptions{})
				if rep.Events > 0 {
					fmt.Fprintf(stderr, "fake-api: delivered %d webhook events (%d POSTs, %d failed)\n", rep.Events, rep.Attempts, rep.Failed)
				}
			}
		}
	}()
}
