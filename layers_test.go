package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestLayers keeps data flowing one way: no stage imports a later one, and
// the read side imports no stage. It asks `go list` for every package's
// full dependency set, so an indirect import counts too.
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
		"pipeline":  {"report", "export", "dashboard"},
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
	require.GreaterOrEqual(t, seen, 5, "the layer rules matched too few packages: were they renamed?")
}
