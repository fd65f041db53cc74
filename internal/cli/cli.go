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
	"slices"
	"strings"
	"syscall"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/internal/privfile"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

//go:embed sql
var sqlFiles embed.FS

func main() {
	// Everything this program creates holds people's data or their key:
	// private, whatever the umask (DuckDB creates its WAL and Parquet
	// files itself, so only the umask reaches those).
	privfile.Umask()
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
  smartlead-etl dashboard write one self-contained HTML page of charts: dashboard --out FILE.html
  smartlead-etl listen    receive SmartLead webhook events: listen --addr HOST:PORT
  smartlead-etl webhooks  register, list or delete webhooks: webhooks register --url URL
  smartlead-etl version   print the version

Run "smartlead-etl help COMMAND" (or COMMAND --help) for a command's flags.
The API key is read from a file named by --api-key-file (or
SMARTLEAD_API_KEY_FILE) or from SMARTLEAD_API_KEY, never from a flag; when
both are set, the file wins. The webhook secret is read from
SMARTLEAD_WEBHOOK_SECRET or --webhook-secret-file.
`

// commands are the sub-commands, for help and "did you mean".
var commands = []string{"run", "plan", "demo", "fake-api", "report", "query", "export", "dashboard", "listen", "webhooks", "version", "help"}

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
	case "dashboard":
		return cmdDashboard(ctx, rest, stdout, stderr)
	case "listen":
		return cmdListen(ctx, rest, stdout, stderr)
	case "webhooks":
		return cmdWebhooks(ctx, rest, stdout, stderr)
	case "version", "--version":
		if len(rest) > 0 {
			if rest[0] == "--help" || rest[0] == "-h" {
				fmt.Fprint(stdout, "Usage: smartlead-etl version\n\nPrint the version.\n")
				return nil
			}
			return usageErrorf("version takes no arguments")
		}
		fmt.Fprintf(stdout, "smartlead-etl %s\n", version)
		return nil
	case "help", "-h", "--help":
		// "help CMD" is "CMD --help": that command's flags, on stdout.
		if len(rest) == 0 || rest[0] == "help" {
			fmt.Fprint(stdout, usage)
			return nil
		}
		if !slices.Contains(commands, rest[0]) {
			return unknownCommand(rest[0])
		}
		return dispatch(ctx, []string{rest[0], "--help"}, stdout, stderr)
	}
	return unknownCommand(cmd)
}

// unknownCommand is one line naming the nearest command, not the whole
// usage with the error at the end.
func unknownCommand(cmd string) error {
	if best := nearest(cmd, commands); best != "" {
		return usageErrorf("unknown command %q (did you mean %s?); run `smartlead-etl help` for the list", cmd, best)
	}
	return usageErrorf("unknown command %q; run `smartlead-etl help` for the list", cmd)
}

// nearest returns the candidate closest to s by edit distance (or that s
// abbreviates), or "" when none is close enough to be a likely typo.
func nearest(s string, candidates []string) string {
	best, bestD := "", 3 // at most two edits
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), c)
		if len(s) >= 2 && strings.HasPrefix(c, strings.ToLower(s)) {
			d = min(d, 1)
		}
		if d < bestD {
			best, bestD = c, d
		}
	}
	if bestD >= len(s) { // "x" is two edits from everything short
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
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
