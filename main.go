// Command smartlead-etl loads SmartLead cold-email analytics into a DuckDB
// warehouse. This file only dispatches sub-commands and maps errors to exit
// codes; the work lives in extract, transform and load.
package main

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/smartlead-etl/smartlead-etl/extract"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

//go:embed sql
var sqlFiles embed.FS

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(reportExit(err, os.Stderr))
}

const usage = `smartlead-etl: SmartLead analytics into a DuckDB warehouse.

Usage:
  smartlead-etl run       extract, transform and load one snapshot (the nightly job)
  smartlead-etl plan      size the next run: requests per stream and earliest finish
  smartlead-etl demo      run the whole pipeline against the built-in simulated API
  smartlead-etl fake-api  serve the simulated SmartLead API on loopback
  smartlead-etl report    list reports, or run one: report NAME
  smartlead-etl query     run read-only SQL: query "SELECT ..."
  smartlead-etl export    write Parquet files: export --out DIR
  smartlead-etl listen    receive SmartLead webhook events: listen --addr HOST:PORT
  smartlead-etl webhooks  register, list or delete webhooks: webhooks register --url URL
  smartlead-etl version   print the version

Run "smartlead-etl COMMAND --help" for a command's flags. The API key is read
from SMARTLEAD_API_KEY or --api-key-file, never from a flag; the webhook
secret from SMARTLEAD_WEBHOOK_SECRET or --webhook-secret-file.
`

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageErrorf("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return cmdRun(ctx, rest, stdout, stderr)
	case "plan":
		return cmdPlan(ctx, rest, stdout, stderr)
	case "demo":
		return cmdDemo(ctx, rest, stdout, stderr)
	case "fake-api":
		return cmdFakeAPI(ctx, rest, stdout, stderr)
	case "report":
		return cmdReport(ctx, rest, stdout, stderr)
	case "query":
		return cmdQuery(ctx, rest, stdout, stderr)
	case "export":
		return cmdExport(ctx, rest, stdout, stderr)
	case "listen":
		return cmdListen(ctx, rest, stdout, stderr)
	case "webhooks":
		return cmdWebhooks(ctx, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintf(stdout, "smartlead-etl %s\n", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageErrorf("unknown command %q", cmd)
}

// reportExit prints a failed run's error once and returns its exit code.
func reportExit(err error, stderr io.Writer) int {
	code := exitCode(err)
	if err != nil && !errors.Is(err, errPartial) && !errors.Is(err, errHelp) {
		fmt.Fprintf(stderr, "smartlead-etl: %s\n", scrub(err.Error()))
		if errors.Is(err, extract.ErrUnauthorized) {
			fmt.Fprintln(stderr, "smartlead-etl: the API rejected the key: check SMARTLEAD_API_KEY or the file given to --api-key-file")
		}
	}
	return code
}
