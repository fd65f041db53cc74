package export

import (
	"io/fs"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/internal/fixture"
)

// TestExportFilesArePrivate: under the usual umask 022, every directory
// and file an export creates (Parquet files hold lead emails, names and
// phone numbers) has no group or other bits, also after a second export
// swaps partitions in. Not parallel: the umask is process-wide.
func TestExportFilesArePrivate(t *testing.T) {
	f := fixture.New(t)
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	root := filepath.Join(t.TempDir(), "new")
	dir := filepath.Join(root, "lake")
	for range 2 {
		_, err := Export(t.Context(), f.Store.DB(), dir, Options{Now: f.Clock.Now, AllSnapshots: true})
		require.NoError(t, err)
	}
	n := 0
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		fi, err := d.Info()
		require.NoError(t, err)
		require.Zero(t, fi.Mode().Perm()&0o077, "%s is %v", path, fi.Mode().Perm())
		n++
		return nil
	}))
	require.Greater(t, n, 10)
}
