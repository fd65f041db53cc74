package pipeline

import (
	"cmp"
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
	"slices"
	"strconv"
	"strings"
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
	carrySizes  = flag.String("carry.campaigns", "1000,3000", "account sizes BenchmarkCarryNights runs, in campaigns")
	carryLeads  = flag.Int("carry.leads", 30, "average leads per campaign of BenchmarkCarryNights' accounts")
	carryRepeat = flag.Int("carry.repeat", 5, "incremental nights BenchmarkCarryNights plays per size (the median's peak RSS counts)")
	// Issue 19's accounts: fakeapi.AgencyConfig (seed 19) and its
	// realistic night, fakeapi.AgencyNight (-carry.leads is then the
	// agency's ~30); -carry.agency=false plays the simple account and
	// fakeapi.NightChange, whose night changes 2% of every changeable
	// campaign's leads (a night that costs in proportion to the account).
	carryAgency = flag.Bool("carry.agency", true, "BenchmarkCarryNights on agency accounts with a realistic night (issue 19)")
)

// nightReport is what a night's process reports.
type nightReport struct {
	Seconds float64 `json:"seconds"`
	// MaxRSS is the process's own peak resident set (VmHWM). Not
	// getrusage's ru_maxrss: os/exec starts the child with vfork, and exec
	// folds the parent's peak (here the simulated API's whole account)
	// into the child's ru_maxrss, which then says nothing of the night.
	MaxRSS       int64            `json:"max_rss_bytes"`
	GoSys        uint64           `json:"go_sys_bytes"` // what the Go runtime obtained: the rest of MaxRSS is DuckDB's
	Rows         map[string]int64 `json:"rows"`
	Carried      map[string]int64 `json:"carried"`
	CommitWindow time.Duration    `json:"commit_window"`
	Partial      bool             `json:"partial"` // succeeded with warnings (deleted leads lower counters)
	Requests     int              `json:"-"`       // counted by the simulated server
}

// carryNights is one account's two nights: Incr is the median, by peak
// RSS, of the incremental nights played (Runs holds them all).
type carryNights struct {
	Campaigns   int
	First, Incr nightReport
	Runs        []nightReport
}

// carryWindows are the nights' rate limits: the simulated server has none,
// and the longest window is short so that the second night, as a real
// one a day later, starts with the first night's requests out of every
// window (its journal still holds them all, as a real night's does).
const carryWindows = "1000/1s,1000000/10s"

// BenchmarkCarryNights runs, for each -carry.campaigns size, a full night
// and, after a night of activity (by default issue 19's agency account
// and realistic night), the incremental night -carry.repeat times, each
// from a copy of the warehouse as the first night left it and each in a
// process of its own so that its peak RSS is its own; the simulated API
// serves them from this process on loopback, without rate limits (the
// nights take their real time: minutes). A night that fails, an out of
// memory error included, fails the benchmark. It prints per size each
// night's requests, time, peak RSS, rows and rows carried, and the
// incremental night's median peak RSS against the smallest size's
// (target at 3,000 campaigns: at most 1.2x that of 1,000).
func BenchmarkCarryNights(b *testing.B) {
	var sizes []int
	for _, f := range strings.Split(*carrySizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		require.NoError(b, err, "-carry.campaigns")
		sizes = append(sizes, n)
	}
	leads, repeat := *carryLeads, max(*carryRepeat, 1)
	if testing.Short() {
		sizes, leads, repeat = []int{20, 60}, 10, 1
	}
	if *carryAgency {
		leads = 30 // fakeapi.AgencyConfig's
	}
	var res []carryNights
	for b.Loop() {
		res = res[:0]
		for _, n := range sizes {
			res = append(res, runCarryNights(b, n, leads, repeat))
		}
	}
	mb := func(v int64) float64 { return float64(v) / (1 << 20) }
	fmt.Printf("\ntwo nights per account (~%d leads per campaign), default memory limit %s; incremental night: median of %d\n",
		leads, load.DefaultMemoryLimit, repeat)
	fmt.Printf("%9s %6s %9s %8s %9s %9s | %9s %8s %9s %13s %9s %14s %10s\n", "campaigns", "night", "requests", "seconds",
		"peak MB", "leads", "requests", "seconds", "peak MB", "(min-max)", "Go MB", "leads carried", "commit ms")
	for _, r := range res {
		lo, hi := r.Incr.MaxRSS, r.Incr.MaxRSS
		for _, x := range r.Runs {
			lo, hi = min(lo, x.MaxRSS), max(hi, x.MaxRSS)
		}
		fmt.Printf("%9d %6s %9d %8.1f %9.1f %9d | %9d %8.1f %9.1f %13s %9.1f %14d %10d\n", r.Campaigns, "1 / 2",
			r.First.Requests, r.First.Seconds, mb(r.First.MaxRSS), r.First.Rows["leads"],
			r.Incr.Requests, r.Incr.Seconds, mb(r.Incr.MaxRSS), fmt.Sprintf("(%.0f-%.0f)", mb(lo), mb(hi)),
			mb(int64(r.Incr.GoSys)), r.Incr.Carried["leads"], r.Incr.CommitWindow.Milliseconds())
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

// runCarryNights plays one account's first night and, repeat times from
// a copy of what it left, the incremental night.
func runCarryNights(b *testing.B, campaigns, leads, repeat int) carryNights {
	b.Helper()
	dir := b.TempDir()
	wh, first := filepath.Join(dir, "wh"), filepath.Join(dir, "first")
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
		r := runNightChild(b, filepath.Join(wh, "w.duckdb"), srv.URL+fakeapi.BasePath)
		r.Requests = fake.Stats().Requests - before
		return r
	}
	require.NoError(b, os.Mkdir(wh, 0o700))
	out.First = night()
	require.NoError(b, os.CopyFS(first, os.DirFS(wh)))
	if *carryAgency {
		fake.RealisticNight(fakeapi.AgencyNight)
	} else {
		fake.Night(fakeapi.NightChange{ChangedLeadFrac: 0.02, NewLeadsPerCampaign: 2, NewSendsFrac: 0.02, DeletedLeads: 5})
	}
	windows, err := ratelimit.Parse(carryWindows)
	require.NoError(b, err)
	time.Sleep(longest(windows) + time.Second) // the first night's requests leave every window
	for i := range repeat {
		if i > 0 { // the same night again, from the first night's warehouse
			require.NoError(b, os.RemoveAll(wh))
			require.NoError(b, os.CopyFS(wh, os.DirFS(first)))
		}
		out.Runs = append(out.Runs, night())
	}
	sorted := slices.Clone(out.Runs)
	slices.SortFunc(sorted, func(x, y nightReport) int { return cmp.Compare(x.MaxRSS, y.MaxRSS) })
	out.Incr = sorted[len(sorted)/2]
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
	raw, _ := ratelimit.Parse(carryWindows)
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
	if r.MaxRSS = procStatusKB("VmHWM:"); r.MaxRSS == 0 {
		fmt.Fprintln(os.Stderr, "no VmHWM in /proc/self/status: the night's peak RSS is unknown")
		return 1
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.GoSys = ms.Sys
	if err := json.NewEncoder(os.Stdout).Encode(r); err != nil {
		return 1
	}
	return 0
}
