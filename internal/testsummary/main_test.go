package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSummaryNamesSkippedBrowserTests(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"run","Package":"m/dashboard","Test":"TestPage"}`,
		`{"Action":"output","Package":"m/dashboard","Test":"TestPage","Output":"    browser_test.go:43: chromium is not installed; skipping the browser test\n"}`,
		`{"Action":"output","Package":"m/dashboard","Test":"TestPage","Output":"--- SKIP: TestPage (0.00s)\n"}`,
		`{"Action":"skip","Package":"m/dashboard","Test":"TestPage"}`,
		`{"Action":"output","Package":"m/dashboard","Test":"TestOK","Output":"noise\n"}`,
		`{"Action":"pass","Package":"m/dashboard","Test":"TestOK"}`,
		`{"Action":"output","Package":"m/dashboard","Output":"PASS\n"}`,
		`{"Action":"output","Package":"m/dashboard","Output":"ok  \tm/dashboard\t1.0s\n"}`,
		`{"Action":"output","Package":"m/load","Test":"TestBad","Output":"    x_test.go:1: broken\n"}`,
		`{"Action":"fail","Package":"m/load","Test":"TestBad"}`,
		`{"Action":"output","Package":"m/load","Output":"FAIL\tm/load\t2.0s\n"}`,
	}, "\n")
	var out strings.Builder
	failed, skips, err := summarize(strings.NewReader(in), &out)
	require.NoError(t, err)
	require.True(t, failed)
	report(&out, skips)
	require.Equal(t, "ok  \tm/dashboard\t1.0s\n    x_test.go:1: broken\nFAIL\tm/load\t2.0s\n"+
		"\nSKIPPED 1 browser test(s), not checked on this machine:\n  m/dashboard TestPage: chromium is not installed; skipping the browser test\n", out.String())
}
