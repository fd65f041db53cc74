package pipeline

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
)

// The crash test re-executes this test binary as a child that runs the
// pipeline and reports every checkpointed page on stdout; the parent kills
// it with SIGKILL at a random page and resumes in-process.
func TestMain(m *testing.M) {
	if os.Getenv("PIPELINE_CRASH_CHILD") == "1" {
		os.Exit(crashChild())
	}
	os.Exit(m.Run())
}

// crashAccount is the simulated account of the crash test. Its clock is
// fixed so that every instance (parent and reference) serves the same data.
func crashAccount() fakeapi.Config {
	return fakeapi.Config{Seed: 21, APIKey: testKey, Campaigns: 12, LeadsPerCampaign: 260,
		Now: time.Now().UTC().Truncate(24 * time.Hour).Add(time.Hour)}
}

func crashConfig(db, base string, hc *http.Client) Config {
	raw, _ := ratelimit.Parse("1000/1s,60000/1m,1000000/1h")
	return Config{
		DB: db, Schema: os.DirFS("../sql/schema"), APIKey: testKey, BaseURL: base, HTTPClient: hc,
		Windows: raw, ServerWindows: raw, Concurrency: 4, Days: 2,
	}
}

// linePrinter reports each checkpointed page.
type linePrinter struct{ w *bufio.Writer }

func (p linePrinter) Planned(int) {}
func (p linePrinter) Page(int64, extract.Stats) {
	fmt.Fprintln(p.w, "page")
	p.w.Flush()
}

func crashChild() int {
	cfg := crashConfig(os.Getenv("CRASH_DB"), os.Getenv("CRASH_BASE"), nil)
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
func TestKilledRunResumesToTheSameSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns child processes")
	}
	dir := t.TempDir()
	ref := fakeapi.New(crashAccount())
	whole := filepath.Join(dir, "whole.duckdb")
	_, err := Run(context.Background(), crashConfig(whole, "http://localhost"+fakeapi.BasePath, &http.Client{Transport: ref.Transport()}))
	require.NoError(t, err)
	want := ref.Stats().Requests
	inFlight := crashConfig("", "", nil).Concurrency + 1 // workers fetching, plus the page being staged

	for seed := uint64(1); seed <= 3; seed++ {
		t.Run("seed"+strconv.FormatUint(seed, 10), func(t *testing.T) {
			fake := fakeapi.New(crashAccount())
			srv := httptest.NewServer(fake)
			defer srv.Close()
			db := filepath.Join(dir, fmt.Sprintf("crash%d.duckdb", seed))
			killAt := 2 + rand.New(rand.NewPCG(seed, 7)).IntN(want-4)

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
