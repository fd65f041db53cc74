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
