package cli

import (
	"bytes"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/pipeline"
)

var leftRe = regexp.MustCompile(`~(?:(\d+)m)?(\d+)s left`)

// shownLeft parses the remaining time the bar shows.
func shownLeft(t *testing.T, line string) time.Duration {
	t.Helper()
	m := leftRe.FindStringSubmatch(line)
	require.NotNil(t, m, "no remaining time in %q", line)
	d, err := time.ParseDuration(m[1] + "m" + m[2] + "s")
	if m[1] == "" {
		d, err = time.ParseDuration(m[2] + "s")
	}
	require.NoError(t, err)
	return d
}

// The bar's remaining time, fed a limiter saturated for a minute, shows at
// least that minute, and counts down through the wait; at the end of a
// successful run it reads 100%.
func TestProgressEstimateShowsTheRateLimitWait(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ws, err := ratelimit.Parse("8/1s,48/1m,800/1h")
		require.NoError(t, err)
		lim := ratelimit.New(ws)
		now := time.Now()
		past := make([]time.Time, 48)
		for i := range past {
			past[i] = now.Add(-time.Duration(48-i) * 10 * time.Millisecond)
		}
		lim.Preload(past) // the minute window is full for the next minute
		tr := pipeline.NewTracker(lim, 0)
		tr.Expect(40) // fits in the window once it frees

		var out bytes.Buffer
		con := newConsole(&out)
		p := newProgress("always", con, slog.New(slog.DiscardHandler))
		p.Track(tr)
		p.Page(10, extract.Stats{Requests: 3})

		line := p.line()
		assert.GreaterOrEqual(t, shownLeft(t, line), time.Minute, line)
		assert.Contains(t, line, "rate limit: next request in")

		time.Sleep(30 * time.Second)
		line = p.line()
		left := shownLeft(t, line)
		assert.GreaterOrEqual(t, left, 30*time.Second, line)
		assert.Less(t, left, time.Minute, line)

		p.stop(true)
		final := lastBar(out.String())
		assert.Contains(t, final, "100%")
		assert.NotContains(t, final, "left")
	})
}

// lastBar is the last line drawn, after the last erase.
func lastBar(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndex(s, eraseLine); i >= 0 {
		s = s[i+len(eraseLine):]
	}
	return s
}

// A log line written while the bar is shown erases the bar first and
// draws it again after itself: the two never share a line.
func TestLogLineNeverGluedOntoTheBar(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	con := newConsole(&out)
	log := slog.New(slog.NewTextHandler(con, nil))
	con.draw("[=====     ] 50% 5/10 pages")
	log.Info("waiting on the rate limit", "reason", "1m window full")
	con.draw("[======    ] 60% 6/10 pages")
	con.keep()

	// What a terminal shows: each \r\x1b[K erases the current line.
	var screen []string
	for _, raw := range strings.SplitAfter(out.String(), "\n") {
		parts := strings.Split(raw, eraseLine)
		shown := parts[len(parts)-1]
		if strings.TrimSpace(shown) != "" {
			screen = append(screen, strings.TrimRight(shown, "\n"))
		}
	}
	require.Len(t, screen, 2, "%q", out.String())
	assert.True(t, strings.HasPrefix(screen[0], "time="), screen[0])
	assert.NotContains(t, screen[0], "pages")
	assert.Equal(t, "[======    ] 60% 6/10 pages", screen[1])
}
