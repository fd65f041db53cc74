package cli

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
)

// readmeFlagRow is a row of the README's table of run's flags:
// | `--flag` | default | meaning |.
var readmeFlagRow = regexp.MustCompile("(?m)^\\| `--([a-z0-9-]+)` \\|([^|]*)\\|")

// TestREADMEFlagTableIsHelpRun: the README's table of run's flags lists
// exactly the flags `help run` shows, each with the default run has, and
// the README mentions `version`; so the two cannot drift apart.
func TestREADMEFlagTableIsHelpRun(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	readme := string(b)
	assert.Contains(t, readme, "`smartlead-etl version`")

	r := runCLI(t, []string{"help", "run"})
	require.Equal(t, 0, r.code, r.all())
	var shown []string
	for _, m := range flagRe.FindAllStringSubmatch(r.stdout, -1) {
		shown = append(shown, m[1])
	}
	require.NotEmpty(t, shown)

	defaults := map[string]string{}
	var listed []string
	for _, m := range readmeFlagRow.FindAllStringSubmatch(readme, -1) {
		listed = append(listed, m[1])
		defaults[m[1]] = strings.Trim(strings.TrimSpace(m[2]), "`")
	}
	assert.ElementsMatch(t, shown, listed, "README's flag table and `help run`")

	fs := runFlagSet(&runConfig{})
	for _, name := range shown {
		f := fs.Lookup(name)
		require.NotNil(t, f, name)
		got, ok := defaults[name]
		if !ok {
			continue // reported above
		}
		assert.Equal(t, readmeDefault(t, f), got, "README's default of --%s", name)
	}

	// The tiers' windows, as the README gives them, are ratelimit's.
	tier := regexp.MustCompile("(?m)^\\| `--tier` \\|[^|]*\\|([^|]*)\\|").FindStringSubmatch(readme)
	require.NotNil(t, tier, "no --tier row")
	meaning := regexp.MustCompile(`(\d),(\d{3})`).ReplaceAllString(strings.ReplaceAll(strings.TrimSpace(tier[1]), "`", ""), "$1$2")
	assert.Equal(t, ratelimit.DescribeTiers(), meaning, "README's tiers")
	assert.Contains(t, readme, "`--limits` | | explicit windows, e.g. `"+ratelimit.Format(ratelimit.MustPreset(ratelimit.DefaultTier))+"`")
}

// readmeDefault is how the README writes flag f's default: durations as
// written by hand (15m, not 15m0s), booleans as off, the streams as all.
func readmeDefault(t *testing.T, f *pflag.Flag) string {
	switch f.Value.Type() {
	case "bool":
		if f.DefValue == "false" {
			return "off"
		}
	case "stringSlice":
		if f.Name == "streams" {
			return "all"
		}
	case "duration":
		d, err := time.ParseDuration(f.DefValue)
		require.NoError(t, err)
		s := d.String() // 15m0s -> 15m, 24h0m0s -> 24h
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		return s
	}
	return f.DefValue
}
