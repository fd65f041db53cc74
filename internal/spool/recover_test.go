package spool

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/internal/diskfull"
	"github.com/smartlead-etl/smartlead-etl/internal/tmpfs"
)

// faulty makes w's writes fail with ENOSPC after writing half of what
// they were given (a full disk takes the pages it still has), and its
// fsyncs fail with EIO, while the switches are on.
type faulty struct{ full, syncFails atomic.Bool }

func (fl *faulty) install(w *Writer) {
	w.write = func(f *os.File, b []byte) (int, error) {
		if fl.full.Load() {
			n, _ := f.Write(b[:len(b)/2])
			return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
		}
		return f.Write(b)
	}
	w.sync = func(f *os.File) error {
		if fl.syncFails.Load() {
			return &os.PathError{Op: "sync", Path: f.Name(), Err: syscall.EIO}
		}
		return f.Sync()
	}
}

// waitHealthy polls Health (in virtual time) until the writer accepts
// appends again, failing after limit.
func waitHealthy(t *testing.T, w *Writer, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if _, err := w.Health(); err == nil {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("still broken after %s", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A failed write makes the writer refuse appends (and say why in Health)
// without touching what it acknowledged; once writes succeed again it
// seals the broken segment at its last synced record, starts a new one
// within RetryEvery, and appends again. Every acknowledged record is read
// back once, no refused one ever, and no torn bytes remain.
func TestWriteFailureRefusesThenRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		var changes []error
		w, err := Open(dir, Options{RetryEvery: 200 * time.Millisecond, OnChange: func(err error) { changes = append(changes, err) }})
		require.NoError(t, err)
		var fl faulty
		fl.install(w)
		ctx := context.Background()
		var acked []string
		appendRec := func(s string) error {
			err := w.Append(ctx, []byte(s))
			if err == nil {
				acked = append(acked, s)
			}
			return err
		}
		for i := range 3 {
			require.NoError(t, appendRec(fmt.Sprintf("before-%d", i)))
		}
		broken := w.Stats().Segment

		fl.full.Store(true)
		err = appendRec("refused-0")
		require.Error(t, err)
		assert.ErrorIs(t, err, syscall.ENOSPC)
		var de *diskfull.Error
		require.ErrorAs(t, err, &de)
		assert.Equal(t, filepath.Join(dir, broken), de.Path)
		assert.Contains(t, err.Error(), "disk full")
		since, herr := w.Health()
		require.Error(t, herr)
		assert.False(t, since.IsZero())
		// Still full: refused at once, and recovery attempts fail too.
		time.Sleep(time.Second)
		require.Error(t, appendRec("refused-1"))
		_, herr = w.Health()
		require.Error(t, herr)

		fl.full.Store(false)
		took := waitHealthy(t, w, 5*time.Second)
		assert.LessOrEqual(t, took, 250*time.Millisecond, "recovers at the next attempt once the disk takes writes")
		require.NoError(t, appendRec("after-0"))
		st := w.Stats()
		assert.NotEqual(t, broken, st.Segment, "a new segment after the failure")
		assert.EqualValues(t, 1, st.Recoveries)
		require.NoError(t, appendRec("after-1"))
		require.NoError(t, w.Close())

		recs, ends := readAll(t, dir)
		assert.Equal(t, acked, recs, "exactly the acknowledged records, in order")
		segs, err := Segments(dir)
		require.NoError(t, err)
		for _, s := range segs {
			assert.Equal(t, s.Size, ends[s.Name], "%s: sealed at its last good record, no torn bytes", s.Name)
		}
		require.Len(t, changes, 2)
		assert.ErrorIs(t, changes[0], syscall.ENOSPC)
		assert.NoError(t, changes[1])
	})
}

// A failed fsync: the batch was written but may not be durable, so it is
// refused, and the seal cuts it off the broken segment: it is never read
// (SmartLead retries it and it is stored then).
func TestFsyncFailureIsNotAcknowledged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		w, err := Open(dir, Options{RetryEvery: 100 * time.Millisecond})
		require.NoError(t, err)
		var fl faulty
		fl.install(w)
		ctx := context.Background()
		require.NoError(t, w.Append(ctx, []byte("one")))
		fl.syncFails.Store(true)
		err = w.Append(ctx, []byte("unsynced"))
		require.ErrorIs(t, err, syscall.EIO)
		assert.False(t, diskfull.Is(err), "an I/O error is not called a full disk")
		fl.syncFails.Store(false)
		waitHealthy(t, w, 5*time.Second)
		require.NoError(t, w.Append(ctx, []byte("unsynced")))
		require.NoError(t, w.Close())
		recs, _ := readAll(t, dir)
		assert.Equal(t, []string{"one", "unsynced"}, recs)
	})
}

// On a real full filesystem (a 1 MB tmpfs): appends fail with a disk-full
// error naming the segment, the writer reports it, and freeing the space
// brings it back within RetryEvery; every acknowledged record is read
// back once.
func TestFullTmpfsRecovers(t *testing.T) {
	dir := tmpfs.Mount(t, 1<<20)
	w, err := Open(dir, Options{RetryEvery: 50 * time.Millisecond})
	require.NoError(t, err)
	defer w.Close()
	ctx := context.Background()
	rec := func(i int) []byte { return fmt.Appendf(nil, "%06d-%s", i, make([]byte, 1000)) }
	var acked []string
	i := 0
	for ; i < 20; i++ {
		require.NoError(t, w.Append(ctx, rec(i)))
		acked = append(acked, string(rec(i)))
	}
	filler := tmpfs.Fill(t, dir)
	var refused error
	for ; i < 100 && refused == nil; i++ { // the segment's last page may still take a few
		if refused = w.Append(ctx, rec(i)); refused == nil {
			acked = append(acked, string(rec(i)))
		}
	}
	require.Error(t, refused, "a full disk refuses appends")
	require.ErrorIs(t, refused, syscall.ENOSPC)
	assert.Contains(t, refused.Error(), "webhook spool: disk full: no space left on the device for "+dir)
	_, herr := w.Health()
	require.Error(t, herr)
	require.Error(t, w.Append(ctx, rec(i)))

	require.NoError(t, os.Remove(filler))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := w.Health(); err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "not healthy 10 s after the space was freed")
		time.Sleep(10 * time.Millisecond)
	}
	for j := range 5 {
		require.NoError(t, w.Append(ctx, rec(1000+j)))
		acked = append(acked, string(rec(1000+j)))
	}
	require.NoError(t, w.Close())
	recs, ends := readAll(t, dir)
	assert.Equal(t, acked, recs)
	segs, err := Segments(dir)
	require.NoError(t, err)
	for _, s := range segs {
		assert.Equal(t, s.Size, ends[s.Name], s.Name)
	}
	_, err = os.Stat(filepath.Join(dir, probeName))
	assert.ErrorIs(t, err, os.ErrNotExist, "no probe file left")
}

// A writer closed while broken (stopped during a full disk, before or
// after its segment was sealed) closes cleanly, and the next writer on
// the directory reads every acknowledged record and appends again.
func TestCloseWhileBroken(t *testing.T) {
	for _, wait := range []time.Duration{0, time.Second} { // before any recovery attempt; after several
		synctest.Test(t, func(t *testing.T) {
			dir := t.TempDir()
			w, err := Open(dir, Options{RetryEvery: 100 * time.Millisecond})
			require.NoError(t, err)
			var fl faulty
			fl.install(w)
			ctx := context.Background()
			require.NoError(t, w.Append(ctx, []byte("acked")))
			fl.full.Store(true)
			require.Error(t, w.Append(ctx, []byte("refused")))
			time.Sleep(wait)
			require.NoError(t, w.Close())

			w, err = Open(dir, Options{})
			require.NoError(t, err)
			require.NoError(t, w.Append(ctx, []byte("next")))
			require.NoError(t, w.Close())
			recs, _ := readAll(t, dir)
			assert.Equal(t, []string{"acked", "next"}, recs, "wait %s", wait)
		})
	}
}
