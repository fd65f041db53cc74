package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"github.com/smartlead-etl/smartlead-etl/webhook"
)

// webhookSecretEnv holds the webhook secret; like the API key it is never
// a flag (a command line is visible in ps).
const webhookSecretEnv = "SMARTLEAD_WEBHOOK_SECRET"

func cmdListen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("listen --addr HOST:PORT [flags]",
		"Receive SmartLead webhook deliveries on "+webhook.Path+" (and GET "+webhook.HealthPath+") in the foreground.\n"+
			"Each event is acknowledged once it is durable in the spool beside the warehouse (<db>.events/) and\n"+
			"merged into email_events whenever the warehouse is free; `run` merges at its commit. Stops cleanly on\n"+
			"SIGTERM. The secret is read from "+webhookSecretEnv+" or --webhook-secret-file.")
	c.register(fs)
	addr := fs.String("addr", "127.0.0.1:8788", "listen address (put a TLS reverse proxy in front; see README)")
	secretFile := fs.String("webhook-secret-file", "", "file holding the webhook secret (else "+webhookSecretEnv+")")
	mergeEvery := fs.Duration("merge-every", webhook.DefaultMergeEvery, "how often to merge new events into the warehouse when it is free")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErrorf("listen: unexpected argument %q", fs.Arg(0))
	}
	if *mergeEvery < 100*time.Millisecond {
		return usageErrorf("--merge-every %s: must be at least 100ms", *mergeEvery)
	}
	secret, err := webhookSecret(*secretFile)
	if err != nil {
		return err
	}
	log, err := newLogger(c, stderr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return webhook.Serve(ctx, ln, webhook.Config{DB: c.db, Schema: schemaFS(), Secret: secret, Logger: log,
		MergeEvery: *mergeEvery,
		Ready: func(a net.Addr) {
			fmt.Fprintf(stdout, "receiving SmartLead webhooks at http://%s%s (warehouse %s); stop with SIGTERM or Ctrl-C\n", a, webhook.Path, c.db)
		}})
}

// webhookSecret reads the secret from file, else the environment, and
// registers it for scrubbing.
func webhookSecret(file string) (string, error) {
	s := os.Getenv(webhookSecretEnv)
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", usageErrorf("--webhook-secret-file: %s", err)
		}
		s = string(b)
	}
	s = strings.TrimSpace(s)
	registerSecret(s)
	return s, nil
}
