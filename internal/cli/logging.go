package cli

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

// secrets holds values that must never be printed (the API key, the
// webhook secret). Every log attribute and every error an invocation
// prints passes through scrub, as a last line of defence behind extract's
// own redaction.
type secrets struct {
	mu     sync.RWMutex
	values []string
}

func (s *secrets) add(v string) {
	if len(v) < 4 { // too short to scrub without mangling ordinary text
		return
	}
	s.mu.Lock()
	s.values = append(s.values, v)
	s.mu.Unlock()
}

func (e *env) scrub(s string) string {
	e.secrets.mu.RLock()
	defer e.secrets.mu.RUnlock()
	for _, v := range e.secrets.values {
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
func (e *env) newLogger(c logFlags, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, usageErrorf("--log-level %q: want debug, info, warn or error", c.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: e.scrubAttr}
	switch c.logFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, e.textOpts(opts))), nil
	case "auto":
		if isTerminal(w) {
			return slog.New(slog.NewTextHandler(w, e.textOpts(opts))), nil
		}
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageErrorf("--log-format %q: want auto, text or json", c.logFormat)
}

// textOpts: in text logs, per-table counts read as in the run summary
// (campaigns=20 leads=3000), not as Go's map[campaigns:20 ...]. JSON logs
// keep them as objects.
func (e *env) textOpts(o *slog.HandlerOptions) *slog.HandlerOptions {
	t := *o
	t.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if a.Value.Kind() == slog.KindAny {
			if m, ok := a.Value.Any().(map[string]int64); ok {
				a.Value = slog.StringValue(pipeline.FormatRows(m))
			}
		}
		return e.scrubAttr(groups, a)
	}
	return &t
}

func (e *env) scrubAttr(_ []string, a slog.Attr) slog.Attr {
	switch a.Value.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(e.scrub(a.Value.String()))
	case slog.KindDuration:
		// One form for every duration, as the summary writes them
		// ("5s", "1m30s"), not JSON's nanosecond integers.
		a.Value = slog.StringValue(a.Value.Duration().String())
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok {
			a.Value = slog.StringValue(e.scrub(err.Error()))
		} else if s, ok := a.Value.Any().(fmt.Stringer); ok {
			a.Value = slog.StringValue(e.scrub(s.String()))
		}
	}
	return a
}
