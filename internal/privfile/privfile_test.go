package privfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func perm(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Mode().Perm()
}

// TestPrivateUnderUmask022: what the package creates has no group or
// other bits under the usual umask, and Umask makes plain os calls (as C
// code would make them) private too.
func TestPrivateUnderUmask022(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	dir := t.TempDir()

	require.NoError(t, MkdirAll(filepath.Join(dir, "a", "b")))
	require.Equal(t, DirMode, perm(t, filepath.Join(dir, "a")))
	require.Equal(t, DirMode, perm(t, filepath.Join(dir, "a", "b")))
	f, err := OpenFile(filepath.Join(dir, "f"), os.O_CREATE|os.O_WRONLY)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Equal(t, FileMode, perm(t, filepath.Join(dir, "f")))

	other := filepath.Join(dir, "duck")
	require.NoError(t, os.WriteFile(other, nil, 0o666))
	require.Equal(t, os.FileMode(0o644), perm(t, other))
	require.NoError(t, Restrict(other))
	require.Equal(t, FileMode, perm(t, other))
	require.NoError(t, Restrict(filepath.Join(dir, "missing")))
	exposed, mode, err := Exposed(filepath.Join(dir, "f"))
	require.NoError(t, err)
	require.False(t, exposed, "mode %v", mode)

	require.Equal(t, 0o022, Umask())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "g"), nil, 0o666))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "d"), 0o777))
	require.Equal(t, os.FileMode(0o600), perm(t, filepath.Join(dir, "g")))
	require.Equal(t, os.FileMode(0o700), perm(t, filepath.Join(dir, "d")))
	exposed, _, err = Exposed(other)
	require.NoError(t, err)
	require.False(t, exposed)
	require.NoError(t, os.Chmod(other, 0o640))
	exposed, mode, err = Exposed(other)
	require.NoError(t, err)
	require.True(t, exposed)
	require.Equal(t, os.FileMode(0o640), mode)
}

// TestWriteFileReplacesPrivately: WriteFile replaces a file someone made
// 0644 with a 0600 one holding exactly the new bytes, under umask 022,
// and leaves no temporary file; a missing directory is an error.
func TestWriteFileReplacesPrivately(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	dir := t.TempDir()
	path := filepath.Join(dir, "manifest.json")
	require.NoError(t, os.WriteFile(path, []byte("old contents, longer than the new"), 0o644))
	require.NoError(t, WriteFile(path, []byte("new")))
	require.Equal(t, FileMode, perm(t, path))
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "new", string(b))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left")
	require.NoError(t, SyncDir(dir))
	require.Error(t, WriteFile(filepath.Join(dir, "missing", "f"), nil))
}
