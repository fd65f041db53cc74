package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/internal/privfile"
)

// Main is the process's entry point: it runs the command os.Args names,
// stops it on SIGINT or SIGTERM, and returns the exit code. files holds
// the sql directory (schema/ and reports/).
func Main(files fs.FS, version string) int {
	// Everything this program creates holds people's data or their key:
	// private, whatever the umask (DuckDB creates its WAL and Parquet
	// files itself, so only the umask reaches those).
	privfile.Umask()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := App{SQL: files, Version: version, Name: os.Args[0], LookupEnv: os.LookupEnv}
	return app.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
}

// App is the command line with what the binary gives it.
type App struct {
	SQL     fs.FS  // the sql directory: schema/ and reports/
	Version string // printed by version, recorded in etl_runs
	// Name is the program as invoked (os.Args[0]), so that the hints it
	// prints can be pasted; "" is "smartlead-etl".
	Name string
	// LookupEnv reads the environment (nil: nothing is set).
	LookupEnv func(string) (string, bool)
	// HTTPClient carries the API requests (nil: one sized to
	// --concurrency); tests serve the simulated API through it.
	HTTPClient *http.Client
}

// Run runs one command with args, printing its error (once) to stderr,
// and returns the exit code.
func (a App) Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{App: a, stdout: stdout, stderr: stderr}
	if e.Name == "" {
		e.Name = program
	}
	if e.LookupEnv == nil {
		e.LookupEnv = func(string) (string, bool) { return "", false }
	}
	return e.exit(e.dispatch(ctx, args))
}

// program is the command's name in help and messages.
const program = "smartlead-etl"

// env is one invocation: where it writes, the environment it reads, and
// the secrets its output must never show.
type env struct {
	App
	stdout, stderr io.Writer
	secrets        secrets
}

func (e *env) schema() fs.FS  { return e.sub("sql/schema") }
func (e *env) reports() fs.FS { return e.sub("sql/reports") }

func (e *env) sub(dir string) fs.FS {
	sub, err := fs.Sub(e.SQL, dir)
	if err != nil {
		panic(err) // fs.Sub fails only on an invalid path, and these are constants
	}
	return sub
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
` + apiKeyFileEnv + `) or from ` + apiKeyEnv + `, never from a flag; when
both are set, the file wins. The webhook secret is read from
` + webhookSecretEnv + ` or --webhook-secret-file.
`

// commands are the sub-commands, for help and "did you mean".
var commands = []string{"run", "plan", "demo", "fake-api", "report", "query", "export", "dashboard", "listen", "webhooks", "version", "help"}

func (e *env) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, usage)
		return usageErrorf("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "run":
		return e.cmdRun(ctx, rest)
	case "plan":
		return e.cmdPlan(ctx, rest)
	case "demo":
		return e.cmdDemo(ctx, rest)
	case "fake-api":
		return e.cmdFakeAPI(ctx, rest)
	case "report":
		return e.cmdReport(ctx, rest)
	case "query":
		return e.cmdQuery(ctx, rest)
	case "export":
		return e.cmdExport(ctx, rest)
	case "dashboard":
		return e.cmdDashboard(ctx, rest)
	case "listen":
		return e.cmdListen(ctx, rest)
	case "webhooks":
		return e.cmdWebhooks(ctx, rest)
	case "version", "--version":
		return e.cmdVersion(rest)
	case "help", "-h", "--help":
		// "help CMD" is "CMD --help": that command's flags, on stdout.
		if len(rest) == 0 || rest[0] == "help" {
			fmt.Fprint(e.stdout, usage)
			return nil
		}
		if !slices.Contains(commands, rest[0]) {
			return unknownCommand(rest[0])
		}
		return e.dispatch(ctx, []string{rest[0], "--help"})
	}
	return unknownCommand(cmd)
}

func (e *env) cmdVersion(args []string) error {
	if len(args) > 0 {
		if args[0] == "--help" || args[0] == "-h" {
			fmt.Fprint(e.stdout, "Usage: smartlead-etl version\n\nPrint the version.\n")
			return nil
		}
		return usageErrorf("version takes no arguments")
	}
	fmt.Fprintf(e.stdout, "smartlead-etl %s\n", e.Version)
	return nil
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

// exit prints a failed command's error once and returns its exit code.
func (e *env) exit(err error) int {
	code := exitCode(err)
	if err != nil && !errors.Is(err, errPartial) && !errors.Is(err, errHelp) {
		fmt.Fprintf(e.stderr, "smartlead-etl: %s\n", e.scrub(err.Error()))
		if errors.Is(err, extract.ErrUnauthorized) {
			fmt.Fprintln(e.stderr, "smartlead-etl: the API rejected the key: check "+apiKeyEnv+" or the file given to --api-key-file")
		}
	}
	return code
}
