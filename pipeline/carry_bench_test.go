package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/load"
)

// Issue 19, "carrying scales with the account": two nights of an account
// of 1,000 and 3,000 campaigns at the default memory limit, the second
// incremental, and the peak RSS of each night.

var (
	carrySizes = flag.String("carry.campaigns", "1000,3000", "account sizes BenchmarkCarryNights runs, in campaigns")
	carryLeads = flag.Int("carry.leads", 30, "average leads per campaign of BenchmarkCarryNights' accounts")
	// Issue 19's accounts: fakeapi.AgencyConfig (seed 19) and its
	// realistic night, fakeapi.AgencyNight, instead of the simple
	// account and fakeapi.NightChange (-carry.leads is then the agency's
	// ~30).
	carryAgency = flag.Bool("carry.agency", false, "BenchmarkCarryNights on agency accounts with a realistic night (issue 19)")
)

// nightResult is what a night's process reports.
type nightReport struct {
	Seconds      float64          `json:"seconds"`
	MaxRSS       int64            `json:"max_rss_bytes"`
	GoSys        uint64           `json:"go_sys_bytes"` // what the Go runtime obtained: the rest of MaxRSS is DuckDB's
	Rows         map[string]int64 `json:"rows"`
	Carried      map[string]int64 `json:"carried"`
	CommitWindow time.Duration    `json:"commit_window"`
	Partial      bool             `json:"partial"` // succeeded with warnings (deleted leads lower counters)
	Requests     int              `json:"-"`       // counted by the simulated server
}

// carryNights is one account's two nights.
type carryNights struct {
	Campaigns   int
	First, Incr nightReport
}

// BenchmarkCarryNights runs, for each -carry.campaigns size, a full night
// and, after a night of activity (2% of the leads of changeable campaigns
// change, new leads and sends, deleted leads), an incremental night, each
// in a process of its own so that its peak RSS is its own; the simulated
// API serves them from this process on loopback, without rate limits
// (the nights take their real time: minutes). A night that fails, an out
// of memory error included, fails the benchmark. It prints per size each
// night's requests, time, peak RSS, rows and rows carried, and the
// incremental night's peak RSS against the smallest size's (target at
// 3,000 campaigns: at most 1.2x that of 1,000).
func BenchmarkCarryNights(b *testing.B) {
	var sizes []int
	for _, f := range strings.Split(*carrySizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		require.NoError(b, err, "-carry.campaigns")
		sizes = append(sizes, n)
	}
	leads := *carryLeads
	if testing.Short() {
		sizes, leads = []int{20, 60}, 10
	}
	var res []carryNights
	for b.Loop() {
		res = res[:0]
		for _, n := range sizes {
			res = append(res, runCarryNights(b, n, leads))
		}
	}
	mb := func(v int64) float64 { return float64(v) / (1 << 20) }
	fmt.Printf("\ntwo nights per account (~%d leads per campaign), default memory limit %s\n", leads, load.DefaultMemoryLimit)
	fmt.Printf("%9s %6s %9s %8s %9s %9s | %9s %8s %9s %9s %14s %10s\n", "campaigns", "night", "requests", "seconds",
		"peak MB", "leads", "requests", "seconds", "peak MB", "Go MB", "leads carried", "commit ms")
	for _, r := range res {
		fmt.Printf("%9d %6s %9d %8.1f %9.1f %9d | %9d %8.1f %9.1f %9.1f %14d %10d\n", r.Campaigns, "1 / 2",
			r.First.Requests, r.First.Seconds, mb(r.First.MaxRSS), r.First.Rows["leads"],
			r.Incr.Requests, r.Incr.Seconds, mb(r.Incr.MaxRSS), mb(int64(r.Incr.GoSys)), r.Incr.Carried["leads"],
			r.Incr.CommitWindow.Milliseconds())
	}
	base := res[0] // the 1,000-campaign account when it ran, else the smallest
	for _, r := range res {
		if r.Campaigns == 1000 {
			base = r
		}
	}
	for _, r := range res {
		if r.Campaigns <= base.Campaigns {
			continue
		}
		x := float64(r.Incr.MaxRSS) / float64(base.Incr.MaxRSS)
		fmt.Printf("incremental night's peak RSS at %d campaigns: %.2fx that at %d (target <= 1.2x)\n", r.Campaigns, x, base.Campaigns)
		b.ReportMetric(x, fmt.Sprintf("x-peak-rss-%d-vs-%d", r.Campaigns, base.Campaigns))
	}
	for _, r := range res {
		b.ReportMetric(mb(r.Incr.MaxRSS), fmt.Sprintf("incr-peak-MB-%d", r.Campaigns))
	}
}

// runCarryNights plays one account's two nights.
func runCarryNights(b *testing.B, campaigns, leads int) carryNights {
	b.Helper()
	dir := b.TempDir()
	fc := fakeapi.Config{Seed: 19, APIKey: testKey, Campaigns: campaigns, LeadsPerCampaign: leads}
	if *carryAgency {
		fc = fakeapi.AgencyConfig(19, campaigns)
		fc.APIKey = testKey
	}
	fake := fakeapi.New(fc)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	out := carryNights{Campaigns: campaigns}
	night := func() nightReport {
		before := fake.Stats().Requests
		r := runNightChild(b, filepath.Join(dir, "w.duckdb"), srv.URL+fakeapi.BasePath)
		r.Requests = fake.Stats().Requests - before
		return r
	}
	out.First = night()
	if *carryAgency {
		fake.RealisticNight(fakeapi.AgencyNight)
	} else {
		fake.Night(fakeapi.NightChange{ChangedLeadFrac: 0.02, NewLeadsPerCampaign: 2, NewSendsFrac: 0.02, DeletedLeads: 5})
	}
	out.Incr = night()
	return out
}

// runNightChild runs one night in a child process and returns its report.
func runNightChild(b *testing.B, db, base string) nightReport {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PIPELINE_NIGHT_CHILD="+db, "PIPELINE_NIGHT_URL="+base)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(b, err, "night on %s: %s", db, stderr.String())
	var r nightReport
	require.NoError(b, json.Unmarshal(out, &r), "%s", out)
	return r
}

// nightChild is the child side of runNightChild: one run at the default
// memory limit, without rate limits (the simulated server has none),
// reported as a nightReport on stdout.
func nightChild(db, base string) int {
	raw, _ := ratelimit.Parse("1000/1s,60000/1m,1000000/1h")
	cfg := Config{
		DB: db, Schema: os.DirFS("../sql/schema"), APIKey: testKey, BaseURL: base,
		Windows: raw, ServerWindows: raw, Concurrency: 4, Days: 2,
		ResumeWithin: DefaultResumeWithin,
	}
	start := time.Now()
	sum, err := Run(context.Background(), cfg)
	var r nightReport
	if errors.Is(err, ErrPartial) { // deleted leads lower counters: a warning
		r.Partial, err = true, nil
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	r.Seconds = time.Since(start).Seconds()
	r.Rows, r.Carried, r.CommitWindow = sum.Rows, sum.Carried, sum.CommitWindow
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	r.MaxRSS = ru.Maxrss * 1024 // kilobytes on Linux
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.GoSys = ms.Sys
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		return 1
	}
	return 0
}
