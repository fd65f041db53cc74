package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	"golang.org/x/term"

	"github.com/smartlead-etl/smartlead-etl/pipeline"
)

// secrets holds values that must never be printed (the API key). Every
// log attribute and every error printed by main passes through scrub, as
// a last line of defence behind extract's own redaction.
var secrets struct {
	sync.RWMutex
	values []string
}

func registerSecret(s string) {
	if len(s) < 4 { // too short to scrub without mangling ordinary text
		return
	}
	secrets.Lock()
	secrets.values = append(secrets.values, s)
	secrets.Unlock()
}

func scrub(s string) string {
	secrets.RLock()
	defer secrets.RUnlock()
	for _, v := range secrets.values {
		s = strings.ReplaceAll(s, v, "REDACTED")
	}
	return s
}

func isTerminal(w io.Writer) bool {
	if c, ok := w.(*console); ok {
		w = c.w
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newLogger builds the process logger: text for people, JSON for cron and
// log shippers.
func newLogger(c common, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, usageErrorf("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: scrubAttr}
	switch c.logFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, textOpts(opts))), nil
	case "auto":
		if isTerminal(w) {
			return slog.New(slog.NewTextHandler(w, textOpts(opts))), nil
		}
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageErrorf("--log-format %q: want auto, text or json", c.logFormat)
}

// textOpts: in text logs, per-table counts read as in the run summary
// (campaigns=20 leads=3000), not as Go's map[campaigns:20 ...]. JSON logs
// keep them as objects.
func textOpts(o *slog.HandlerOptions) *slog.HandlerOptions {
	t := *o
	t.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindAny {
			if m, ok := a.Value.Any().(map[string]int64); ok {
				a.Value = slog.StringValue(pipeline.FormatRows(m))
			}
		}
		return scrubAttr(groups, a)
	}
	return &t
}

func scrubAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(scrub(a.Value.String()))
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			a.Value = slog.StringValue(scrub(err.Error()))
		} else if s, ok := a.Value.Any().(fmt.Stringer); ok {
			a.Value = slog.StringValue(scrub(s.String()))
		}
	}
	return a
}
