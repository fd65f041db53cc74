package pipeline

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/load"
)

// Issue 12, "What must be shown": the warehouse's size and commit time
// over 30 nights of a 200-campaign account, and readers during a full run.

var (
	storageNights    = flag.Int("storage.nights", 30, "nights BenchmarkStorageNights simulates")
	storageCampaigns = flag.Int("storage.campaigns", 200, "campaigns of BenchmarkStorageNights' account")
	storageLeads     = flag.Int("storage.leads", 1000, "average leads per campaign of BenchmarkStorageNights' account")
)

// nightStorage is what one night left in the warehouse.
type nightStorage struct {
	Bytes  int64            // warehouse file plus WAL after the run
	Commit time.Duration    // how long the commit held the write lock (real time)
	Rows   map[string]int64 // rows stored per _rows table
	Leads  int64            // leads in the snapshot
}

// BenchmarkStorageNights runs the first (full) night and then an
// incremental run after each of -storage.nights-1 nights in which 2% of
// the leads change (plus new sends, new and deleted leads), in virtual
// time, and prints per night the file size, the commit window and the
// rows stored per table. During the first night a reader process opens
// the warehouse read-only every second (real time) with a 5 s lock wait;
// its success rate and longest wait are printed.
func BenchmarkStorageNights(b *testing.B) {
	nights, campaigns, leads := *storageNights, *storageCampaigns, *storageLeads
	if testing.Short() {
		nights, campaigns, leads = 4, 10, 100
	}
	var res []nightStorage
	var reader readerReport
	for b.Loop() {
		dir := b.TempDir()
		// The reader lives outside the bubble: a goroutine reading a pipe
		// is never durably blocked, and would stop virtual time.
		rp := startReader(b, filepath.Join(dir, "smartlead.duckdb"))
		ok := testing.RunTests(func(string, string) (bool, error) { return true, nil }, []testing.InternalTest{{
			Name: "BenchmarkStorageNightsBubble",
			F: func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					res = runStorageNights(t, dir, nights, campaigns, leads)
				})
			},
		}})
		if !ok {
			b.Fatal("storage scenario failed")
		}
		reader = rp.wait()
	}
	first, last := res[0], res[len(res)-1]
	var longest time.Duration
	fmt.Printf("\nstorage over %d nights, %d campaigns, %d leads in the first snapshot, %d in the last\n",
		len(res), campaigns, first.Leads, last.Leads)
	fmt.Printf("%5s %12s %12s %12s %14s\n", "night", "file MB", "commit ms", "leads_rows", "lead_email_stats_rows")
	for i, n := range res {
		fmt.Printf("%5d %12.1f %12.0f %12d %14d\n", i+1, float64(n.Bytes)/(1<<20), float64(n.Commit)/float64(time.Millisecond),
			n.Rows["leads_rows"], n.Rows["lead_email_stats_rows"])
		if i > 0 {
			longest = max(longest, n.Commit)
		}
	}
	names := make([]string, 0, len(last.Rows))
	for k := range last.Rows {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Print("rows stored after the last night:")
	for _, k := range names {
		fmt.Printf(" %s=%d", k, last.Rows[k])
	}
	fmt.Printf("\nfile night %d / night 1: %.2fx (target <= 2x); longest incremental commit %s (target < 2s)\n",
		len(res), float64(last.Bytes)/float64(first.Bytes), longest.Round(time.Millisecond))
	fmt.Printf("reader during the full run: %d of %d opens succeeded within 5 s (%.1f%%, target >= 95%%); longest wait %s; full run's commit window %s\n",
		reader.OK, reader.Tries, 100*reader.rate(), reader.Longest.Round(time.Millisecond), first.Commit.Round(time.Millisecond))
	b.ReportMetric(float64(last.Bytes)/float64(first.Bytes), "x-file-last-vs-first")
	b.ReportMetric(float64(longest)/float64(time.Millisecond), "max-incr-commit-ms")
	b.ReportMetric(float64(first.Commit)/float64(time.Millisecond), "full-commit-ms")
	b.ReportMetric(100*reader.rate(), "reader-ok-%")
}

func runStorageNights(t *testing.T, dir string, nights, campaigns, leads int) []nightStorage {
	t.Helper()
	raw, err := ratelimit.Preset("standard")
	require.NoError(t, err)
	scaled, err := ratelimit.Scale(raw, 0.8)
	require.NoError(t, err)
	time.Sleep(2 * time.Hour)
	fake := fakeapi.New(fakeapi.Config{Seed: 12, APIKey: testKey, Campaigns: campaigns, LeadsPerCampaign: leads, Windows: raw})
	cfg := Config{
		DB: filepath.Join(dir, "smartlead.duckdb"), Schema: os.DirFS("../sql/schema"), APIKey: testKey,
		BaseURL: "http://localhost" + fakeapi.BasePath, HTTPClient: &http.Client{Transport: fake.Transport()},
		Windows: scaled, ServerWindows: raw, Concurrency: 4, Days: 2,
		ResumeWithin: DefaultResumeWithin,
	}
	var out []nightStorage
	start := time.Now()
	for n := 0; n < nights; n++ {
		if n > 0 {
			time.Sleep(time.Until(start.Add(time.Duration(n)*24*time.Hour - time.Hour)))
			fake.Night(fakeapi.NightChange{ChangedLeadFrac: 0.02, NewLeadsPerCampaign: 2, NewSendsFrac: 0.02, DeletedLeads: 20})
			time.Sleep(time.Until(start.Add(time.Duration(n) * 24 * time.Hour)))
		}
		sum, err := Run(context.Background(), cfg)
		if errors.Is(err, ErrPartial) {
			err = nil // deleted leads lower counters: a warning
		}
		require.NoError(t, err, "night %d", n+1)
		if n == 0 { // the reader watches the full run only
			require.NoError(t, os.WriteFile(cfg.DB+".reader-stop", nil, 0o600))
		}
		out = append(out, measureStorage(t, cfg.DB, sum))
	}
	return out
}

func measureStorage(t *testing.T, db string, sum *load.Summary) nightStorage {
	t.Helper()
	ns := nightStorage{Commit: sum.CommitWindow, Leads: sum.Rows["leads"], Rows: map[string]int64{}}
	for _, f := range []string{db, db + ".wal"} {
		if fi, err := os.Stat(f); err == nil {
			ns.Bytes += fi.Size()
		}
	}
	st, err := load.OpenReadOnly(context.Background(), db, load.Options{})
	require.NoError(t, err)
	defer st.Close()
	for _, tb := range []string{"campaigns", "campaign_analytics", "leads", "lead_email_stats", "sequences", "email_accounts", "clients"} {
		var n int64
		require.NoError(t, st.DB().QueryRow(`SELECT count(*) FROM `+tb+`_rows`).Scan(&n))
		ns.Rows[tb+"_rows"] = n
	}
	return ns
}

// readerReport is what the reader process saw.
type readerReport struct {
	Tries, OK int
	Longest   time.Duration
}

func (r readerReport) rate() float64 {
	if r.Tries == 0 {
		return 0
	}
	return float64(r.OK) / float64(r.Tries)
}

type readerProc struct {
	cmd    *exec.Cmd
	lines  chan string
	report readerReport
}

// startReader starts a process that opens db read-only every second
// until db.reader-stop exists.
func startReader(t testing.TB, db string) *readerProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PIPELINE_READER_CHILD="+db)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &readerProc{cmd: cmd, lines: make(chan string, 1<<16)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return p
}

// wait waits for the reader to end and tallies its lines: "ok <ms>" or
// "fail <ms> <error>".
func (p *readerProc) wait() readerReport {
	for line := range p.lines {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		ms, _ := strconv.ParseFloat(f[1], 64)
		p.report.Tries++
		if f[0] == "ok" {
			p.report.OK++
		}
		p.report.Longest = max(p.report.Longest, time.Duration(ms*float64(time.Millisecond)))
	}
	_ = p.cmd.Wait()
	return p.report
}

// readerChild opens db read-only every second (once it exists) with a
// 5 s lock wait, reads the leads view, and prints "ok <ms>" or
// "fail <ms> <error>", until db.reader-stop exists.
func readerChild(db string) int {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for range tick.C {
		if _, err := os.Stat(db + ".reader-stop"); err == nil {
			return 0
		}
		if _, err := os.Stat(db); err != nil {
			continue
		}
		start := time.Now()
		st, err := load.OpenReadOnly(context.Background(), db, load.Options{LockWait: 5 * time.Second})
		if err == nil {
			var n int64
			err = st.DB().QueryRow(`SELECT count(*) FROM leads`).Scan(&n)
			st.Close()
		}
		ms := float64(time.Since(start)) / float64(time.Millisecond)
		if err != nil {
			if strings.Contains(err.Error(), "no schema_migrations") || strings.Contains(err.Error(), "does not exist") {
				continue // created but not migrated yet: nothing to read
			}
			fmt.Printf("fail %.0f %s\n", ms, strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		fmt.Printf("ok %.0f\n", ms)
	}
	return 0
}
