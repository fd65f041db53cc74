package journal

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/internal/diskfull"
	"github.com/smartlead-etl/smartlead-etl/internal/tmpfs"
)

// On a full disk (a real tmpfs) Sending fails with one line naming the
// journal, so the request is not sent. A full disk takes the part of a
// line that fits in the file's last page: the next record, by this
// process or by another one that never saw the failure, must not be
// swallowed by that torn line once there is space again.
func TestSendingOnFullDisk(t *testing.T) {
	dir := tmpfs.Mount(t, 256<<10)
	path := filepath.Join(dir, "w.duckdb.requests")
	j, err := Open(path)
	require.NoError(t, err)
	defer j.Close()
	other, err := Open(path) // another process's journal on the same file
	require.NoError(t, err)
	defer other.Close()
	var recorded []string
	id, err := j.Sending(attempt(time.Now()))
	require.NoError(t, err)
	recorded = append(recorded, id)

	filler := tmpfs.Fill(t, dir)
	var refused error
	for range 200 { // the file's last page takes a few lines, then part of one
		id, err := j.Sending(attempt(time.Now()))
		if err != nil {
			refused = err
			break
		}
		recorded = append(recorded, id)
	}
	require.Error(t, refused, "a full disk refuses the journal line")
	require.ErrorIs(t, refused, syscall.ENOSPC)
	var de *diskfull.Error
	require.ErrorAs(t, refused, &de)
	assert.Equal(t, "request journal: disk full: no space left on the device for "+path+"; the request was not sent", refused.Error())
	// Read as it stands: what was recorded, nothing of the refused line.
	st, err := Read(path)
	require.NoError(t, err)
	require.Len(t, st.Entries, len(recorded))

	require.NoError(t, os.Remove(filler))
	// The other process, which wrote nothing while the disk was full,
	// appends first: its line is glued to the torn part.
	id, err = other.Sending(attempt(time.Now()))
	require.NoError(t, err)
	recorded = append(recorded, id)
	id, err = j.Sending(attempt(time.Now()))
	require.NoError(t, err)
	recorded = append(recorded, id)
	st, err = Read(path)
	require.NoError(t, err)
	var got []string
	for _, e := range st.Entries {
		got = append(got, e.ID)
	}
	assert.ElementsMatch(t, recorded, got, "every recorded request, and only those")
}

// TestRecordGluedToTornLine, without root: a full disk took the first
// part of a line (the write failed, so its request was not sent), and
// another process that never saw the failure appended its record right
// after it once space was back. The reader skips the torn part and keeps
// the record glued to it.
func TestRecordGluedToTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.duckdb.requests")
	j, err := Open(path)
	require.NoError(t, err)
	defer j.Close()
	first, err := j.Sending(attempt(time.Now()))
	require.NoError(t, err)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(`{"t":"s","i":"refused.1","p":1,"at":17`) // no newline: torn
	require.NoError(t, err)
	require.NoError(t, f.Close())
	glued, err := j.Sending(attempt(time.Now()))
	require.NoError(t, err)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(b), `"at":17{"t":"s"`, "the test glues the record to the torn part")
	st, err := Read(path)
	require.NoError(t, err)
	var ids []string
	for _, e := range st.Entries {
		ids = append(ids, e.ID)
	}
	assert.Equal(t, []string{first, glued}, ids)
}
