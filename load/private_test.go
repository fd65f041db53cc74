package load

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestWarehouseIsPrivate: under umask 022 a new warehouse is 0600 in a
// directory created 0700; an existing warehouse keeps the mode its owner
// gave it. Not parallel: the umask is process-wide.
func TestWarehouseIsPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	dir := filepath.Join(t.TempDir(), "new")
	path := filepath.Join(dir, "w.duckdb")
	s, err := Open(t.Context(), path, schemaDir(), Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	mode := func(p string) os.FileMode {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		return fi.Mode().Perm()
	}
	require.Equal(t, os.FileMode(0o700), mode(dir))
	require.Equal(t, os.FileMode(0o600), mode(path))

	require.NoError(t, os.Chmod(path, 0o640))
	s, err = Open(t.Context(), path, schemaDir(), Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	require.Equal(t, os.FileMode(0o640), mode(path), "an existing warehouse keeps its mode")
}
