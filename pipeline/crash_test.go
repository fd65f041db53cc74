package pipeline

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/load/journal"
)

// The crash test re-executes this test binary as a child that runs the
// pipeline and reports every checkpointed page on stdout; the parent kills
// it with SIGKILL at a random page and resumes in-process.
func TestMain(m *testing.M) {
	if os.Getenv("PIPELINE_CRASH_CHILD") == "1" {
		os.Exit(crashChild())
	}
	if db := os.Getenv("PIPELINE_READER_CHILD"); db != "" {
		os.Exit(readerChild(db))
	}
	if db := os.Getenv("PIPELINE_NIGHT_CHILD"); db != "" {
		os.Exit(nightChild(db, os.Getenv("PIPELINE_NIGHT_URL")))
	}
	// Most tests here run several sessions in virtual time (synctest),
	// which the real boot-time clock does not follow: the journal dates
	// requests by the test's clock instead (in real time it reads like
	// the system's). TestClockStepsBetweenRuns sets its own; the children
	// below never get here and keep the system's.
	journal.SetBootClock(func() (string, int64) { return "test", time.Now().UnixNano() })
	os.Exit(m.Run())
}

// crashAccount is the simulated account of the crash tests: six
// campaigns of three lead pages each (about 60 requests), enough for a
// kill to land between the pages of one campaign and for every window of
// the quota test to fill. Its clock is fixed so that every instance
// (parent and reference) serves the same data.
func crashAccount() fakeapi.Config {
	return fakeapi.Config{Seed: 21, APIKey: testKey, Campaigns: 6, LeadsPerCampaign: 260,
		Now: time.Now().UTC().Truncate(24 * time.Hour).Add(time.Hour)}
}

func crashConfig(db, base string, hc *http.Client) Config {
	raw, _ := ratelimit.Parse("1000/1s,60000/1m,1000000/1h")
	return Config{
		DB: db, Schema: os.DirFS("../sql/schema"), APIKey: testKey, BaseURL: base, HTTPClient: hc,
		Windows: raw, ServerWindows: raw, Concurrency: 4, Days: 2,
		ResumeWithin: DefaultResumeWithin,
	}
}

// linePrinter reports each checkpointed page.
type linePrinter struct{ w *bufio.Writer }

func (p linePrinter) Planned(int) {}
func (p linePrinter) Page(int64, extract.Stats) {
	fmt.Fprintln(p.w, "page")
	p.w.Flush()
}

// pageCounter counts checkpointed pages.
type pageCounter struct{ n atomic.Int64 }

func (p *pageCounter) Planned(int)               {}
func (p *pageCounter) Page(int64, extract.Stats) { p.n.Add(1) }

func crashChild() int {
	cfg := crashConfig(os.Getenv("CRASH_DB"), os.Getenv("CRASH_BASE"), nil)
	if l := os.Getenv("CRASH_LIMITS"); l != "" {
		raw, err := ratelimit.Parse(l)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		cfg.ServerWindows = raw
		cfg.Windows, _ = ratelimit.Scale(raw, extract.DefaultHeadroom)
	}
	cfg.Progress = linePrinter{bufio.NewWriter(os.Stdout)}
	if _, err := Run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestKilledRunResumesToTheSameSnapshot: a run killed at random points
// (several seeds) and restarted ends with the snapshot an uninterrupted run
// makes, and both attempts together spend at most the pages in flight at
// the kill more than the uninterrupted run.
//
// It runs in parallel with TestQuotaMemoryAcrossKills, which spends most
// of its time waiting on its windows, as do the package's other tests
// that run the pipeline on an account of their own.
func TestKilledRunResumesToTheSameSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	t.Parallel()
	dir := t.TempDir()
	ref := fakeapi.New(crashAccount())
	whole := filepath.Join(dir, "whole.duckdb")
	cfg := crashConfig(whole, "http://localhost"+fakeapi.BasePath, &http.Client{Transport: ref.Transport()})
	var pages pageCounter
	cfg.Progress = &pages
	_, err := Run(context.Background(), cfg)
	require.NoError(t, err)
	want := ref.Stats().Requests
	// The kill lands after a checkpointed page, never after the last.
	allPages := int(pages.n.Load())
	inFlight := crashConfig("", "", nil).Concurrency + 1 // workers fetching, plus the page being staged

	for seed := uint64(1); seed <= 3; seed++ {
		t.Run("seed"+strconv.FormatUint(seed, 10), func(t *testing.T) {
			fake := fakeapi.New(crashAccount())
			srv := httptest.NewServer(fake)
			defer srv.Close()
			db := filepath.Join(dir, fmt.Sprintf("crash%d.duckdb", seed))
			killAt := 2 + rand.New(rand.NewPCG(seed, 7)).IntN(allPages-4)

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "PIPELINE_CRASH_CHILD=1", "CRASH_DB="+db, "CRASH_BASE="+srv.URL+fakeapi.BasePath)
			out, err := cmd.StdoutPipe()
			require.NoError(t, err)
			require.NoError(t, cmd.Start())
			pages := 0
			sc := bufio.NewScanner(out)
			for pages < killAt && sc.Scan() {
				pages++
			}
			require.NoError(t, cmd.Process.Kill())
			_ = cmd.Wait()
			require.Equal(t, killAt, pages, "the child finished before the kill point")
			before := fake.Stats().Requests

			_, err = Run(context.Background(), crashConfig(db, srv.URL+fakeapi.BasePath, nil))
			require.NoError(t, err)
			total := fake.Stats().Requests
			t.Logf("killed after %d checkpointed pages (%d requests); resumed with %d more; uninterrupted run: %d", pages, before, total-before, want)
			require.LessOrEqual(t, total-want, inFlight, "requests spent twice")
			requireSameSnapshot(t, whole, db, LookbackDays(time.Now(), 2))
		})
	}
}

// TestQuotaMemoryAcrossKills: a run killed with SIGKILL at five points and
// restarted at once each time never puts more than headroom x limit into
// any rolling window at the server, across all its starts: each start
// knows every request the killed one sent, those in flight included
// (package journal). The windows are scaled down so that each of them
// fills within the test: 1 s, 5 s for the minute, 15 s for the hour (the
// last two fill only after several starts, so the memory of earlier
// starts is what holds them). The warehouse ends exactly as an
// uninterrupted run's, and the ledger holds at least every request the
// server saw.
//
// Its ~30 s are mostly waits on those windows: the package's tests that
// run the pipeline on an account of their own are parallel too, so that
// their work fills the waits (virtual-time tests included: on two cores
// they gain little from each other, but a lot from this test's idle
// core). TestClockStepsBetweenRuns is not: it swaps the process-wide
// boot clock.
func TestQuotaMemoryAcrossKills(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	// The children run on the system's boot-time clock (TestMain sets the
	// test clock only in the parent), as a real start would.
	t.Parallel()
	const limits = "20/1s,30/5s,50/15s"
	raw, err := ratelimit.Parse(limits)
	require.NoError(t, err)
	allowed, err := ratelimit.Scale(raw, extract.DefaultHeadroom)
	require.NoError(t, err)

	dir := t.TempDir()
	ref := fakeapi.New(crashAccount())
	whole := filepath.Join(dir, "whole.duckdb")
	_, err = Run(context.Background(), crashConfig(whole, "http://localhost"+fakeapi.BasePath, &http.Client{Transport: ref.Transport()}))
	require.NoError(t, err)
	want := ref.Stats().Requests
	inFlight := crashConfig("", "", nil).Concurrency + 1 // workers fetching, plus the page being staged

	fake := fakeapi.New(crashAccount())
	var seen atomic.Int64
	reached := make(chan struct{}, 1)
	var target atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Once per kill point: a request still in flight when the
		// previous start was killed may reach the server after it.
		if n, k := seen.Add(1), target.Load(); k > 0 && n >= k && target.CompareAndSwap(k, 0) {
			reached <- struct{}{}
		}
		fake.ServeHTTP(w, r)
	}))
	defer srv.Close()
	db := filepath.Join(dir, "killed.duckdb")
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "PIPELINE_CRASH_CHILD=1", "CRASH_DB="+db,
			"CRASH_BASE="+srv.URL+fakeapi.BasePath, "CRASH_LIMITS="+limits)
		cmd.Stdout = io.Discard
		require.NoError(t, cmd.Start())
		return cmd
	}
	// Kill points spread over the run, the first right after the opening
	// burst fills the one-second window.
	first := int(allowed[0].Max)
	kills := []int{first, first + want/8, want / 2, 2 * want / 3, 5 * want / 6}
	require.IsIncreasing(t, kills, "kill points for an account of %d requests", want)
	for i, k := range kills {
		target.Store(int64(k))
		cmd := start()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case <-reached:
			require.NoError(t, cmd.Process.Kill())
			<-exited
		case err := <-exited:
			t.Fatalf("start %d ended (%v) before the server saw %d requests", i+1, err, k)
		}
	}
	target.Store(-1)
	last := start()
	require.NoError(t, last.Wait(), "the last start finishes the run")

	// At the server, arrivals stay within the documented limits and none
	// is refused. A start that forgot its killed predecessors' requests
	// would put a second burst into windows they filled: 16 + 16 in the
	// second, 40 + 40 in the 15 s, past the documented 20 and 50. The 80%
	// headroom itself is not asserted here: an arrival can trail its send
	// by the journal's fsync, taken under the journal's mutex, and under
	// -race on a loaded machine that once passed the limiter's 250 ms
	// guard (17 arrivals in a 1 s window of 16 allowed); the ledger cannot
	// stand in, as it also holds requests killed before they were sent.
	sent := fake.AdmittedOurs()
	for _, w := range raw {
		most := mostInWindow(sent, w.Len)
		t.Logf("window %s: at most %d requests at the server (documented %d, headroom %d)", w.Len, most, w.Max, allowedIn(allowed, w.Len))
		assert.LessOrEqual(t, most, int(w.Max), "window %s overshot at the server across a kill", w.Len)
	}
	total := len(sent)
	t.Logf("%d requests over 6 starts; uninterrupted: %d", total, want)
	require.LessOrEqual(t, total, want+len(kills)*inFlight)
	require.Zero(t, fake.Stats().Throttled)

	requireSameSnapshot(t, whole, db, LookbackDays(time.Now(), 2))
	conn, err := sql.Open("duckdb", db+"?access_mode=read_only")
	require.NoError(t, err)
	defer conn.Close()
	var ledger, noAnswer int
	require.NoError(t, conn.QueryRow(`SELECT count(*), count(*) FILTER (WHERE error = $1) FROM api_requests`, journal.NoAnswer).Scan(&ledger, &noAnswer))
	t.Logf("ledger: %d rows, %d without a recorded answer", ledger, noAnswer)
	require.GreaterOrEqual(t, ledger, total, "the ledger never under-counts")
	require.LessOrEqual(t, ledger, total+len(kills)*inFlight)

}

// mostInWindow is the largest number of times in any rolling window of
// length d (times ascending).
func mostInWindow(ts []time.Time, d time.Duration) int {
	most, lo := 0, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= d {
			lo++
		}
		most = max(most, hi-lo+1)
	}
	return most
}

// allowedIn is the headroom's cap of the window of length d.
func allowedIn(ws []ratelimit.Window, d time.Duration) int64 {
	for _, w := range ws {
		if w.Len == d {
			return int64(w.Max)
		}
	}
	return 0
}
