package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/smartlead-etl/smartlead-etl/webhook"
)

func (e *env) cmdListen(ctx context.Context, args []string) error {
	var c dbFlags
	var l logFlags
	fs := newFlags("listen", "--addr HOST:PORT [flags]",
		"Receive SmartLead webhook deliveries on "+webhook.Path+" (and GET "+webhook.HealthPath+") in the foreground.\n"+
			"Each event is acknowledged once it is durable in the spool beside the warehouse (<db>.events/) and\n"+
			"merged into email_events whenever the warehouse is free; `run` merges at its commit. Stops cleanly on\n"+
			"SIGTERM. The secret is read from "+webhookSecretEnv+" or --webhook-secret-file.", envPrefix)
	c.registerPath(fs)
	l.register(fs)
	addr := fs.String("addr", "127.0.0.1:8788", "listen address (put a TLS reverse proxy in front; see README)")
	secretFile := fs.String("webhook-secret-file", "", "file holding the webhook secret (else "+webhookSecretEnv+")")
	mergeEvery := fs.Duration("merge-every", webhook.DefaultMergeEvery, "how often to merge new events into the warehouse when it is free")
	// listen once took --lock-wait: it opens the warehouse only when it
	// is free, so the flag is accepted and ignored.
	fs.ignore(runFlagSet(&runConfig{}), "lock-wait")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("listen: unexpected argument %q", fs.Arg(0))
	}
	if *mergeEvery < 100*time.Millisecond {
		return usageErrorf("--merge-every %s: must be at least 100ms", *mergeEvery)
	}
	secret, err := e.webhookSecret(*secretFile)
	if err != nil {
		return err
	}
	log, err := e.newLogger(l, e.stderr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return webhook.Serve(ctx, ln, webhook.Config{DB: c.db, Schema: e.schema(), Secret: secret, Logger: log,
		MergeEvery: *mergeEvery,
		Ready: func(a net.Addr) {
			fmt.Fprintf(e.stdout, "receiving SmartLead webhooks at http://%s%s (warehouse %s); stop with SIGTERM or Ctrl-C\n", a, webhook.Path, c.db)
		}})
}

// webhookSecret reads the secret from file, else the environment, and
// registers it for scrubbing.
func (e *env) webhookSecret(file string) (string, error) {
	s, _ := e.LookupEnv(webhookSecretEnv)
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", usageErrorf("--webhook-secret-file: %s", err)
		}
		s = string(b)
	}
	s = strings.TrimSpace(s)
	e.secrets.add(s)
	return s, nil
}
