package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/report"
	"github.com/smartlead-etl/smartlead-etl/webhook"
)

// demoWebhookSecret signs the simulated API's deliveries in the demo.
const demoWebhookSecret = "demo-webhook-secret-0000"

// demoEvents shows webhooks end to end after the demo's run: a receiver
// on loopback, a webhook registered with the simulated API through the
// same client, limiter and ledger as run, an hour of simulated activity
// delivered to it, and the events merged into the warehouse.
func (e *env) demoEvents(ctx context.Context, cfg runConfig, srv *fakeapi.Server, log *slog.Logger) error {
	stdout := e.stdout
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hookURL := "http://" + ln.Addr().String() + webhook.Path
	fmt.Fprintf(stdout, "\n== webhooks: a receiver at %s\n", hookURL)
	spec := extract.WebhookSpec{Name: "smartlead-etl demo", URL: hookURL, EventTypes: webhookEvents}
	if err := e.registerWebhook(ctx, cfg, log, spec); err != nil {
		ln.Close()
		return err
	}
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- webhook.Serve(rctx, ln, webhook.Config{DB: cfg.db, Schema: e.schema(), Secret: demoWebhookSecret,
			Logger: log, MergeEvery: time.Hour}) // merged when it stops
	}()
	// Two rounds of activity: sends, then opens, clicks and replies to them.
	var rep fakeapi.DeliveryReport
	for _, nc := range []fakeapi.NightChange{{ChangedLeadFrac: 0.05, NewSendsFrac: 0.1}, {ChangedLeadFrac: 0.2}} {
		srv.Night(nc)
		r := srv.DeliverWebhooks(ctx, fakeapi.DeliveryOptions{Backoff: 200 * time.Millisecond})
		rep.Events, rep.Attempts, rep.Failed = rep.Events+r.Events, rep.Attempts+r.Attempts, rep.Failed+r.Failed
	}
	fmt.Fprintf(stdout, "simulated activity: SmartLead delivered %d events (%d POSTs, %d failed)\n", rep.Events, rep.Attempts, rep.Failed)
	stop()
	if err := <-done; err != nil {
		return err
	}
	store, err := openReadOnly(ctx, cfg.dbFlags)
	if err != nil {
		return err
	}
	defer store.Close()
	res, err := report.Query(ctx, store, `SELECT event_type, count(*) AS events, count(DISTINCT campaign_id) AS campaigns,
		min(event_at) AS first, max(event_at) AS last FROM email_events GROUP BY ALL ORDER BY events DESC`)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "email_events, merged from the receiver's spool:")
	return report.WriteResult(stdout, res, "table")
}
