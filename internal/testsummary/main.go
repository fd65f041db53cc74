package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// event is one line of `go test -json` (see `go doc test2json`).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// skip is a test skipped for want of something the machine lacks.
type skip struct{ pkg, test, reason string }

func main() {
	failed, skips, err := summarize(os.Stdin, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	report(os.Stdout, skips)
	if failed {
		os.Exit(1)
	}
}

// summarize copies package lines and failing tests' output to w, and
// collects the skipped browser tests.
func summarize(r io.Reader, w io.Writer) (failed bool, skips []skip, err error) {
	type key struct{ pkg, test string }
	held := map[key][]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			fmt.Fprintln(w, sc.Text()) // the go command's own lines (build errors)
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "output":
			if e.Test == "" {
				if e.Output != "PASS\n" { // go test prints it only with -v or -json
					fmt.Fprint(w, e.Output)
				}
			} else {
				held[k] = append(held[k], e.Output)
			}
		case "fail":
			failed = true
			for _, line := range held[k] {
				fmt.Fprint(w, line)
			}
			delete(held, k)
		case "skip":
			if e.Test != "" {
				if reason := browserReason(held[k]); reason != "" {
					skips = append(skips, skip{e.Package, e.Test, reason})
				}
			}
			delete(held, k)
		case "pass":
			delete(held, k)
		}
	}
	return failed, skips, sc.Err()
}

// browserReason is the skip message of a test that needs a browser, or "".
func browserReason(lines []string) string {
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if i := strings.Index(l, ": "); i >= 0 && strings.Contains(strings.ToLower(l), "chromium") {
			return l[i+2:]
		}
	}
	return ""
}

func report(w io.Writer, skips []skip) {
	if len(skips) == 0 {
		return
	}
	sort.Slice(skips, func(a, b int) bool { return skips[a].pkg+skips[a].test < skips[b].pkg+skips[b].test })
	fmt.Fprintf(w, "\nSKIPPED %d browser test(s), not checked on this machine:\n", len(skips))
	for _, s := range skips {
		fmt.Fprintf(w, "  %s %s: %s\n", s.pkg, s.test, s.reason)
	}
}
