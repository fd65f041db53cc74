package journal

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
)

func TestMain(m *testing.M) {
	if os.Getenv("JOURNAL_HELPER") != "" {
		os.Exit(helper(os.Getenv("JOURNAL_HELPER")))
	}
	os.Exit(m.Run())
}

// helper records five requests, answers three, says so, and blocks until
// it is killed: the requests in flight of a process that died.
func helper(path string) int {
	j, err := Open(path)
	if err != nil {
		return 1
	}
	j.SetRun("run-killed")
	at := time.Now()
	for i := range 5 {
		a := extract.Attempt{At: at.Add(time.Duration(i) * time.Millisecond), Endpoint: "/campaigns/{id}/leads", CampaignID: 7, Attempt: 1}
		id, err := j.Sending(a)
		if err != nil {
			return 1
		}
		if i < 3 {
			a.Status, a.RateRemaining = 200, 50-i
			j.Answered(id, a)
		}
	}
	os.Stdout.WriteString("ready\n")
	select {}
}

func attempt(at time.Time) extract.Attempt {
	return extract.Attempt{At: at, Endpoint: "/campaigns/", Attempt: 1, RateRemaining: -1}
}

func TestRoundTrip(t *testing.T) {
	defer SetBootClock(func() (string, int64) { return "", 0 })() // it dates a request a second ahead
	path := filepath.Join(t.TempDir(), "w.duckdb.requests")
	j, err := Open(path)
	require.NoError(t, err)
	defer j.Close()
	j.SetRun("r1")
	t0 := time.Now().Truncate(time.Microsecond)
	id1, err := j.Sending(attempt(t0))
	require.NoError(t, err)
	id2, err := j.Sending(attempt(t0.Add(time.Second)))
	require.NoError(t, err)
	require.NotEqual(t, id1, id2)
	a := attempt(t0)
	a.Status, a.Duration, a.RateRemaining = 200, 120*time.Millisecond, 42
	j.Answered(id1, a)
	require.NoError(t, j.Flushed([]string{id1}))

	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "the journal is private whatever the umask")

	st, err := Read(path)
	require.NoError(t, err)
	require.Len(t, st.Entries, 2)
	require.False(t, st.Since.After(t0), "a new journal covers everything since it was made")
	e := st.Entries[0]
	require.Equal(t, "r1", e.RunID)
	require.True(t, e.Answered)
	require.True(t, e.Flushed)
	require.Equal(t, 200, e.Attempt.Status)
	require.Equal(t, 42, e.Attempt.RateRemaining)
	require.True(t, e.Attempt.At.Equal(t0))
	require.False(t, st.Entries[1].Answered)
	require.Equal(t, -1, st.Entries[1].Attempt.RateRemaining)
	require.Len(t, st.SentSince(t0.Add(time.Millisecond)), 1)
	require.Empty(t, st.Orphans(), "this process is alive: its requests are not orphans")

	// Closed, the journal will never mark its second request as in the
	// ledger: an orphan, although this process lives on.
	require.NoError(t, j.Close())
	orphans := st.Orphans()
	require.Len(t, orphans, 1)
	require.Equal(t, id2, orphans[0].ID)
}

// TestKilledProcess: a process killed with SIGKILL after Sending returned
// has left every one of those requests in the journal, answered or not;
// they are orphans for the next start to write to the ledger.
func TestKilledProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.duckdb.requests")
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "JOURNAL_HELPER="+path)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(out).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "ready\n", line)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()

	st, err := Read(path)
	require.NoError(t, err)
	require.Len(t, st.Entries, 5)
	orphans := st.Orphans()
	require.Len(t, orphans, 5)
	answered := 0
	for _, e := range orphans {
		require.Equal(t, "run-killed", e.RunID)
		require.Equal(t, cmd.Process.Pid, e.PID)
		if e.Answered {
			answered++
		}
	}
	require.Equal(t, 3, answered)

	// Once written to the ledger, they are orphans no more.
	j, err := Open(path)
	require.NoError(t, err)
	defer j.Close()
	ids := []string{}
	for _, e := range orphans {
		ids = append(ids, e.ID)
	}
	require.NoError(t, j.Flushed(ids))
	st, err = Read(path)
	require.NoError(t, err)
	require.Empty(t, st.Orphans())
	require.Len(t, st.Entries, 5)
}

// TestCompact, with only wall-clock times (no boot-time clock, as across a
// reboot) so that the test can date requests in the past.
func TestCompact(t *testing.T) {
	defer SetBootClock(func() (string, int64) { return "", 0 })()
	path := filepath.Join(t.TempDir(), "w.duckdb.requests")
	now := time.Now()
	// A journal started three hours ago.
	require.NoError(t, os.WriteFile(path, mustLine(record{Kind: "h", Since: now.Add(-3 * time.Hour).UnixNano()}), 0o600))
	j, err := Open(path)
	require.NoError(t, err)
	defer j.Close()
	other, err := Open(path) // another process's handle on the same file
	require.NoError(t, err)
	defer other.Close()

	old, err := j.Sending(attempt(now.Add(-2 * time.Hour)))
	require.NoError(t, err)
	oldUnflushed, err := j.Sending(attempt(now.Add(-90 * time.Minute)))
	require.NoError(t, err)
	recent, err := j.Sending(attempt(now.Add(-time.Minute)))
	require.NoError(t, err)
	a := attempt(now.Add(-time.Minute))
	a.Status = 200
	j.Answered(recent, a)
	require.NoError(t, j.Flushed([]string{old, recent}))

	keep := now.Add(-time.Hour)
	require.NoError(t, j.Compact(keep))
	st, err := Read(path)
	require.NoError(t, err)
	var ids []string
	for _, e := range st.Entries {
		ids = append(ids, e.ID)
	}
	require.Equal(t, []string{oldUnflushed, recent}, ids, "old flushed requests go; unflushed ones stay whatever their age")
	require.True(t, st.Entries[1].Answered && st.Entries[1].Flushed)
	require.True(t, st.Since.Equal(time.Unix(0, now.Add(-90*time.Minute).UnixNano())),
		"Since moves up, but not past a request the journal keeps (the ledger would count it again): %s", st.Since)

	// The other handle still points at the replaced file: its next record
	// must land in the new one.
	late, err := other.Sending(attempt(now))
	require.NoError(t, err)
	st, err = Read(path)
	require.NoError(t, err)
	require.Len(t, st.Entries, 3)
	require.Equal(t, late, st.Entries[2].ID)

	// Once every request is in the ledger, compacting past them all moves
	// Since there: older requests are the ledger's to count.
	require.NoError(t, j.Flushed([]string{oldUnflushed, late}))
	later := time.Now().Add(time.Minute)
	require.NoError(t, other.Compact(later))
	st, err = Read(path)
	require.NoError(t, err)
	require.True(t, st.Since.Equal(time.Unix(0, later.UnixNano())))
	require.Empty(t, st.Entries)
	// Since never moves back.
	require.NoError(t, other.Compact(now.Add(-time.Hour)))
	st, err = Read(path)
	require.NoError(t, err)
	require.True(t, st.Since.Equal(time.Unix(0, later.UnixNano())))
}

// TestClockSteps: requests recorded by an earlier process of this boot
// whose wall clock was an hour ahead (stepped back since) or an hour
// behind (stepped forward since) are dated by the boot-time clock: a
// reader sees when they were really sent, counts them in the windows they
// are still in, and compaction keeps them. Without a boot-time reading
// (another boot) only the recorded wall-clock time is known.
func TestClockSteps(t *testing.T) {
	boot, mono := "boot-a", int64(5*time.Hour)
	defer SetBootClock(func() (string, int64) { return boot, mono })()
	path := filepath.Join(t.TempDir(), "w.duckdb.requests")
	j, err := Open(path)
	require.NoError(t, err)
	defer j.Close()
	now := time.Now()
	ahead, err := j.Sending(attempt(now.Add(time.Hour)))
	require.NoError(t, err)
	mono += int64(time.Second)
	behind, err := j.Sending(attempt(now.Add(-time.Hour + time.Second)))
	require.NoError(t, err)
	require.NoError(t, j.Flushed([]string{ahead, behind}))
	mono += int64(10 * time.Second) // read 11 s after the first

	st, err := Read(path)
	require.NoError(t, err)
	require.Len(t, st.Entries, 2)
	readAt := time.Now()
	sent := map[string]time.Duration{}
	for _, e := range st.Entries {
		sent[e.ID] = readAt.Sub(e.Sent)
	}
	assert.InDelta(t, float64(11*time.Second), float64(sent[ahead]), float64(time.Second), "really sent 11 s ago")
	assert.InDelta(t, float64(10*time.Second), float64(sent[behind]), float64(time.Second), "really sent 10 s ago")
	assert.Len(t, st.SentSince(readAt.Add(-time.Minute)), 2, "both in the last minute")
	assert.True(t, st.Since.Equal(time.Unix(0, now.Add(-time.Hour+time.Second).UnixNano())),
		"the ledger does not count again a request recorded before the header")
	require.NoError(t, j.Compact(readAt.Add(-time.Hour)))
	st, err = Read(path)
	require.NoError(t, err)
	require.Len(t, st.Entries, 2, "compaction keeps what the windows still count")
	assert.Equal(t, int64(5*time.Hour), st.Entries[0].mono, "the boot-time reading survives compaction")

	boot = "boot-b" // after a reboot: the wall-clock times as recorded
	st, err = Read(path)
	require.NoError(t, err)
	for _, e := range st.Entries {
		assert.True(t, e.Sent.Equal(e.Attempt.At))
	}
}

// TestTornTail: a line torn by a power cut is skipped, and does not
// swallow the record written after it.
func TestTornTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.duckdb.requests")
	j, err := Open(path)
	require.NoError(t, err)
	_, err = j.Sending(attempt(time.Now()))
	require.NoError(t, err)
	require.NoError(t, j.Close())
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"t":"s","i":"torn","at":17`)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	j, err = Open(path)
	require.NoError(t, err)
	defer j.Close()
	id, err := j.Sending(attempt(time.Now()))
	require.NoError(t, err)
	st, err := Read(path)
	require.NoError(t, err)
	require.Len(t, st.Entries, 2)
	require.Equal(t, id, st.Entries[1].ID)
}

func TestMissingJournalCoversNothing(t *testing.T) {
	st, err := Read(filepath.Join(t.TempDir(), "none.requests"))
	require.NoError(t, err)
	require.Empty(t, st.Entries)
	require.True(t, st.Since.After(time.Now().AddDate(100, 0, 0)), "every request must come from the warehouse's ledger")
}

// BenchmarkSending is the cost the journal adds to every request: one
// write and one fdatasync before the request goes out. Beside a rate
// limit of a few requests a second it must stay a few milliseconds.
func BenchmarkSending(b *testing.B) {
	path := filepath.Join(b.TempDir(), "w.duckdb.requests")
	j, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	j.SetRun("bench")
	a := extract.Attempt{At: time.Now(), Endpoint: "/campaigns/{id}/leads", CampaignID: 123456789012, Attempt: 1}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		id, err := j.Sending(a)
		if err != nil {
			b.Fatal(err)
		}
		a.Status = 200
		j.Answered(id, a)
		_ = strconv.Itoa(i)
	}
}

// BenchmarkReadAfterFullRun reads the journal a night opens with after a
// first full run of a 3,000-campaign account: 18,000 requests, answered
// and flushed, all sent before the longest window. It reports the heap
// the State keeps per request, for Read (all of them) and ReadSince the
// window (what a night reads), and with -benchmem what reading
// allocates: a journal's length follows the previous run's requests, so
// what a night keeps of it must not.
func BenchmarkReadAfterFullRun(b *testing.B) {
	const n = 18_000
	path := filepath.Join(b.TempDir(), "w.duckdb.requests")
	var buf bytes.Buffer
	at := time.Now().Add(-2 * time.Hour)
	buf.Write(mustLine(record{Kind: "h", Since: at.UnixNano()}))
	ids := make([]string, 0, n)
	for i := range n {
		id := "7f3a9c.12345." + strconv.FormatUint(uint64(i+1), 36)
		ids = append(ids, id)
		buf.Write(mustLine(record{Kind: "s", ID: id, PID: 12345, Run: "20261207T020000Z-abcdef", At: at.Add(time.Duration(i) * 100 * time.Millisecond).UnixNano(),
			EP: "/campaigns/{id}/leads", Camp: 3_000_000_000 + int64(i%3000), N: 1, Boot: "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", Mono: int64(i) * 1e8}))
		rr := 10
		buf.Write(mustLine(record{Kind: "a", ID: id, St: 200, Dur: int64(80 * time.Millisecond), RR: &rr}))
		if len(ids) == 500 {
			buf.Write(mustLine(record{Kind: "f", IDs: ids}))
			ids = ids[:0]
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		from time.Time
		want int
	}{{"all", time.Time{}, n}, {"window", time.Now().Add(-time.Hour), 0}} {
		b.Run(c.name, func(b *testing.B) {
			var kept int64
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				st, err := ReadSince(path, c.from)
				if err != nil {
					b.Fatal(err)
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				if len(st.Entries) != c.want {
					b.Fatalf("read %d requests, want %d", len(st.Entries), c.want)
				}
				kept = int64(after.HeapAlloc) - int64(before.HeapAlloc)
				runtime.KeepAlive(st)
			}
			b.ReportMetric(float64(kept)/n, "kept-B/request")
		})
	}
}

// TestReadSinceDropsOnlyWhatTheLedgerHolds: ReadSince leaves out the
// requests that are both flushed and sent before the cutoff, and keeps
// the rest as Read does: unflushed ones of any age (orphans to recover),
// flushed ones since the cutoff (they count against the windows). A
// dropped request recorded before the header still lowers Since, so that
// the ledger does not count it a second time.
func TestReadSinceDropsOnlyWhatTheLedgerHolds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.duckdb.requests")
	now := time.Now()
	header := now.Add(-3 * time.Hour)
	var buf bytes.Buffer
	buf.Write(mustLine(record{Kind: "h", Since: header.UnixNano()}))
	sent := func(id string, at time.Time) {
		buf.Write(mustLine(record{Kind: "s", ID: id, PID: 1, Run: "r", At: at.UnixNano(), EP: "/campaigns"}))
	}
	answered := func(id string) { buf.Write(mustLine(record{Kind: "a", ID: id, St: 200})) }
	send := func(id string, at time.Time) { sent(id, at); answered(id) }
	// One request answered only after 3,000 flushed old ones, which are
	// dropped while reading: its answer must still find it.
	sent("old-unflushed", now.Add(-2*time.Hour))
	for i := range 3000 {
		id := "bulk-" + strconv.Itoa(i)
		send(id, now.Add(-2*time.Hour))
		buf.Write(mustLine(record{Kind: "f", IDs: []string{id}}))
	}
	answered("old-unflushed")
	send("old-flushed", now.Add(-2*time.Hour))
	send("stepped-back", header.Add(-time.Hour)) // recorded before the header: the clock was stepped back
	send("new-flushed", now.Add(-time.Minute))
	send("new-unflushed", now.Add(-time.Second))
	buf.Write(mustLine(record{Kind: "f", IDs: []string{"old-flushed", "stepped-back", "new-flushed"}}))
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))

	all, err := Read(path)
	require.NoError(t, err)
	require.Len(t, all.Entries, 3005)
	st, err := ReadSince(path, now.Add(-time.Hour))
	require.NoError(t, err)
	var ids []string
	flushed := map[string]bool{}
	for _, e := range st.Entries {
		ids = append(ids, e.ID)
		flushed[e.ID] = e.Flushed
		assert.True(t, e.Answered, e.ID)
	}
	assert.Equal(t, []string{"old-unflushed", "new-flushed", "new-unflushed"}, ids)
	assert.Equal(t, map[string]bool{"old-unflushed": false, "new-flushed": true, "new-unflushed": false}, flushed)
	assert.True(t, st.Since.Equal(time.Unix(0, header.Add(-time.Hour).UnixNano())), "Since %v", st.Since)
	assert.Equal(t, all.Since, st.Since)
	assert.Equal(t, all.SentSince(now.Add(-time.Hour)), st.SentSince(now.Add(-time.Hour)))
}
