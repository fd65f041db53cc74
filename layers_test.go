package main

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLayers keeps data flowing one way: no stage imports a later one, and
// the read side imports no stage. The webhook receiver writes through
// load only. The commands (internal/cli) may import everything, and
// nothing but package main imports them. It asks `go list` for every
// package's full dependency set, so an indirect import counts too.
func TestLayers(t *testing.T) {
	const mod = "github.com/smartlead-etl/smartlead-etl/"
	// forbidden[pkg] lists what pkg must not depend on (a prefix: a
	// package and everything below it).
	forbidden := map[string][]string{
		"extract":   {"transform", "load", "pipeline", "report", "export", "dashboard", "webhook"},
		"transform": {"load", "pipeline", "report", "export", "dashboard", "webhook"},
		"load":      {"pipeline", "report", "export", "dashboard"},
		"report":    {"extract", "transform", "load", "pipeline"},
		"export":    {"extract", "transform", "load", "pipeline"},
		"dashboard": {"extract", "transform", "load", "pipeline"},
		"pipeline":  {"report", "export", "dashboard", "webhook"},
		"webhook":   {"pipeline", "report", "export", "dashboard"},
	}
	// Nothing below the command line imports it.
	for _, pkg := range []string{"extract", "transform", "load", "report", "export", "dashboard", "pipeline", "webhook"} {
		forbidden[pkg] = append(forbidden[pkg], "internal/cli")
	}
	for _, pkg := range []string{"internal/spool", "internal/privfile", "internal/lockfile", "internal/fixture", "internal/diskfull", "internal/tmpfs"} {
		forbidden[pkg] = []string{"internal/cli", "pipeline"}
	}
	out, err := exec.Command("go", "list", "-deps=false", "-json=ImportPath,Deps", "./...").Output()
	require.NoError(t, err)
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for dec.More() {
		var p struct {
			ImportPath string
			Deps       []string
		}
		require.NoError(t, dec.Decode(&p))
		rel := strings.TrimPrefix(p.ImportPath, mod)
		// Nothing but package main imports the commands, whatever the
		// package (a new one too).
		if p.ImportPath+"/" != mod && rel != "internal/cli" && !strings.HasPrefix(rel, "internal/cli/") &&
			(slices.Contains(p.Deps, mod+"internal/cli")) {
			t.Errorf("%s depends on internal/cli: only package main hands over to the commands", rel)
		}
		for pkg, bad := range forbidden {
			if rel != pkg && !strings.HasPrefix(rel, pkg+"/") {
				continue
			}
			seen++
			for _, d := range p.Deps {
				dr, ok := strings.CutPrefix(d, mod)
				if !ok {
					continue
				}
				for _, b := range bad {
					if (dr == b || strings.HasPrefix(dr, b+"/")) && !strings.HasPrefix(dr, pkg+"/") {
						t.Errorf("%s depends on %s: data flows extract -> transform -> load, and the read side imports no stage", rel, dr)
					}
				}
			}
		}
	}
	require.GreaterOrEqual(t, seen, 12, "the layer rules matched too few packages: were they renamed?")
	// The commands live in internal/cli and import every stage; package
	// main is only the entry point.
	cli, err := exec.Command("go", "list", "-f", "{{join .Imports \" \"}}", "./internal/cli").Output()
	require.NoError(t, err)
	for _, p := range []string{"pipeline", "report", "export", "dashboard", "webhook"} {
		require.Contains(t, strings.Fields(string(cli)), mod+p, "internal/cli wires %s", p)
	}
	root, err := exec.Command("go", "list", "-f", "{{join .Imports \" \"}}", ".").Output()
	require.NoError(t, err)
	for _, p := range strings.Fields(string(root)) {
		if strings.HasPrefix(p, mod) {
			require.Equal(t, mod+"internal/cli", p, "package main only hands over to internal/cli")
		}
	}
}
