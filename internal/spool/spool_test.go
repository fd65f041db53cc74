package spool

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/internal/lockfile"
)

func readAll(t *testing.T, dir string) (recs []string, ends map[string]int64) {
	t.Helper()
	segs, err := Segments(dir)
	require.NoError(t, err)
	ends = map[string]int64{}
	for _, s := range segs {
		end, err := Read(dir, s.Name, 0, func(rec []byte, _ int64) error {
			recs = append(recs, string(rec))
			return nil
		})
		require.NoError(t, err)
		ends[s.Name] = end
	}
	return recs, ends
}

func TestAppendConcurrentGroupCommit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db.events")
	w, err := Open(dir, Options{})
	require.NoError(t, err)
	const n = 2000
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			for j := i; j < n; j += 50 {
				require.NoError(t, w.Append(context.Background(), fmt.Appendf(nil, "rec-%05d", j)))
			}
		})
	}
	wg.Wait()
	st := w.Stats()
	require.NoError(t, w.Close())
	assert.EqualValues(t, n, st.Records)
	assert.Less(t, st.Syncs, int64(n), "concurrent appends share fsyncs")

	recs, _ := readAll(t, dir)
	require.Len(t, recs, n)
	seen := map[string]bool{}
	for _, r := range recs {
		seen[r] = true
	}
	assert.Len(t, seen, n)

	// Modes: the directory and the segments are private.
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	segs, err := Segments(dir)
	require.NoError(t, err)
	for _, s := range segs {
		fi, err := os.Stat(filepath.Join(dir, s.Name))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), s.Name)
	}
	require.ErrorIs(t, w.Append(context.Background(), []byte("late")), ErrClosed)
}

func TestRotateSealsAndReopenStartsNewSegment(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, Options{SegmentSize: 100})
	require.NoError(t, err)
	for i := range 10 {
		require.NoError(t, w.Append(t.Context(), fmt.Appendf(nil, "record number %d", i)))
	}
	require.NoError(t, w.Close())
	segs, err := Segments(dir)
	require.NoError(t, err)
	require.Greater(t, len(segs), 2)
	for i, s := range segs {
		assert.Equal(t, i < len(segs)-1, s.Sealed)
	}
	w, err = Open(dir, Options{})
	require.NoError(t, err)
	defer w.Close()
	segs2, err := Segments(dir)
	require.NoError(t, err)
	require.Len(t, segs2, len(segs)+1)
	assert.True(t, segs2[len(segs)-1].Sealed, "a new writer never appends to an old segment")
	recs, _ := readAll(t, dir)
	assert.Len(t, recs, 10)
}

func TestOneWriterPerDirectory(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, Options{})
	require.NoError(t, err)
	_, err = Open(dir, Options{})
	require.ErrorIs(t, err, lockfile.ErrHeld)
	require.NoError(t, w.Close())
	w, err = Open(dir, Options{})
	require.NoError(t, err)
	require.NoError(t, w.Close())
}

// A record torn by a crash mid-write, or one being written, is never
// read; Read stops before it and a later Read continues from there.
func TestReadStopsAtTornRecord(t *testing.T) {
	dir := t.TempDir()
	w, err := Open(dir, Options{})
	require.NoError(t, err)
	require.NoError(t, w.Append(t.Context(), []byte("one")))
	require.NoError(t, w.Append(t.Context(), []byte("two")))
	name := w.Stats().Segment
	require.NoError(t, w.Close())
	path := filepath.Join(dir, name)
	whole, err := os.ReadFile(path)
	require.NoError(t, err)

	full := appendRecord(nil, []byte("three"))
	for cut := 1; cut < len(full); cut++ {
		require.NoError(t, os.WriteFile(path, append(append([]byte{}, whole...), full[:cut]...), 0o600))
		var got []string
		end, err := Read(dir, name, 0, func(rec []byte, _ int64) error { got = append(got, string(rec)); return nil })
		require.NoError(t, err)
		assert.Equal(t, []string{"one", "two"}, got, "cut %d", cut)
		assert.EqualValues(t, len(whole), end)
	}
	// A flipped bit fails the checksum.
	bad := append(append([]byte{}, whole...), full...)
	bad[len(bad)-1] ^= 1
	require.NoError(t, os.WriteFile(path, bad, 0o600))
	end, err := Read(dir, name, 0, func([]byte, int64) error { return nil })
	require.NoError(t, err)
	assert.EqualValues(t, len(whole), end)
	// Completed, the record is read from where the last Read stopped.
	require.NoError(t, os.WriteFile(path, append(append([]byte{}, whole...), full...), 0o600))
	var got []string
	end, err = Read(dir, name, end, func(rec []byte, _ int64) error { got = append(got, string(rec)); return nil })
	require.NoError(t, err)
	assert.Equal(t, []string{"three"}, got)
	assert.EqualValues(t, len(whole)+len(full), end)
}

func TestMissingDirIsEmpty(t *testing.T) {
	segs, err := Segments(filepath.Join(t.TempDir(), "nope"))
	require.NoError(t, err)
	assert.Empty(t, segs)
}
