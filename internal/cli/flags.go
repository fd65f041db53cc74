package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/pflag"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/webhook"
)

// Variables the commands read besides their flags'. The API key and the
// webhook secret are never flags: a command line is visible in ps.
const (
	envPrefix        = "SMARTLEAD_"
	apiKeyEnv        = extract.APIKeyEnv
	apiKeyFileEnv    = envPrefix + "API_KEY_FILE" // --api-key-file's variable
	webhookSecretEnv = webhook.SecretEnv
)

// flagSet is one command's flags. Each flag can also be set by a variable,
// the set's prefix and the flag's name in upper case with "_" for "-"
// (SMARTLEAD_DB for --db); a flag given on the command line wins. A
// command reads the variables of its own flags and no others, so a
// variable meant for one command cannot change another.
type flagSet struct {
	*pflag.FlagSet
	cmd      string // "run", "webhooks register"
	synopsis string // "run [flags]"
	about    string
	prefix   string // "" reads no variable
	// ignored are flags the command accepted before each command had
	// flags of its own, without honouring them: old command lines keep
	// working, with a warning; help does not list them.
	ignored []string
}

// newFlags makes the flag set of command cmd ("run", "webhooks register");
// args shows what else it takes, e.g. "--out DIR [flags]".
func newFlags(cmd, args, about, prefix string) *flagSet {
	fs := &flagSet{FlagSet: pflag.NewFlagSet(cmd, pflag.ContinueOnError), cmd: cmd, synopsis: cmd + " " + args, about: about, prefix: prefix}
	fs.SortFlags = false
	return fs
}

// envName is the variable that sets flag name.
func (fs *flagSet) envName(name string) string {
	return fs.prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// printUsage writes the command's help: exactly the flags it honours,
// and where else each can be set.
func (fs *flagSet) printUsage(w io.Writer) {
	src := "Flags (this command reads no " + envPrefix + " variables):"
	var first string
	fs.VisitAll(func(f *pflag.Flag) {
		if first == "" && !f.Hidden {
			first = f.Name
		}
	})
	if fs.prefix != "" && first != "" {
		src = fmt.Sprintf("Flags (each also read from %s<FLAG>, e.g. %s; a flag given on the command line wins):", fs.prefix, fs.envName(first))
	}
	fmt.Fprintf(w, "Usage: smartlead-etl %s\n\n%s\n\n", fs.synopsis, fs.about)
	if first != "" {
		fmt.Fprintf(w, "%s\n%s", src, fs.FlagUsages())
	}
}

// ignore accepts the flags names of from (a set that defines them)
// without honouring them (see flagSet.ignored).
func (fs *flagSet) ignore(from *pflag.FlagSet, names ...string) {
	for _, n := range names {
		f := from.Lookup(n)
		if f == nil || fs.Lookup(n) != nil {
			continue
		}
		c := *f
		c.Hidden = true
		fs.AddFlag(&c)
		fs.ignored = append(fs.ignored, n)
	}
}

func (fs *flagSet) isIgnored(name string) bool {
	for _, n := range fs.ignored {
		if n == name {
			return true
		}
	}
	return false
}

// pick adds the flags names of from to fs (demo takes a few of run's).
func (fs *flagSet) pick(from *pflag.FlagSet, names ...string) {
	for _, n := range names {
		if f := from.Lookup(n); f != nil {
			fs.AddFlag(f)
		}
	}
}

// parse parses args, then fills every flag the user did not give from its
// variable. --help prints the command's help to stdout and returns
// errHelp.
func (e *env) parse(fs *flagSet, args []string) error {
	fs.Usage = func() {} // pflag would print it to its output on -h; printUsage does
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fs.printUsage(e.stdout)
			return errHelp
		}
		return usageErrorf("%s (see smartlead-etl %s --help)", err, fs.cmd)
	}
	for _, n := range fs.ignored {
		if fs.Changed(n) {
			fmt.Fprintf(e.stderr, "smartlead-etl: warning: --%s has no effect on %s; ignored\n", n, fs.cmd)
		}
	}
	if fs.prefix == "" {
		return nil
	}
	var envErr error
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed || envErr != nil || fs.isIgnored(f.Name) {
			return
		}
		name := fs.envName(f.Name)
		if v, ok := e.LookupEnv(name); ok {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = usageErrorf("%s=%q (--%s): %s", name, v, f.Name, err)
				return
			}
			_ = fs.SetAnnotation(f.Name, envAnnotation, []string{name})
		}
	})
	return envErr
}
