package lockfile

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/internal/tmpfs"
)

func TestAcquireExcludesAndNamesHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.lock")
	l, err := Acquire(path)
	require.NoError(t, err)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(os.Getpid()), strings.TrimSpace(string(b)))

	// flock locks belong to the open file description, so a second open in
	// this process conflicts just as another process would.
	_, err = Acquire(path)
	var held *HeldError
	require.ErrorAs(t, err, &held)
	require.True(t, errors.Is(err, ErrHeld))
	require.Equal(t, os.Getpid(), held.PID)
	require.Contains(t, err.Error(), strconv.Itoa(os.Getpid()))

	require.NoError(t, l.Release())
	l2, err := Acquire(path)
	require.NoError(t, err)
	require.NoError(t, l2.Release())
}

func TestStaleLockFromDeadProcessIsTakenOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.lock")
	// A dead holder leaves its PID behind but no flock.
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	require.NoError(t, os.WriteFile(path, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644))
	l, err := Acquire(path)
	require.NoError(t, err)
	b, _ := os.ReadFile(path)
	require.Equal(t, strconv.Itoa(os.Getpid()), strings.TrimSpace(string(b)))
	require.NoError(t, l.Release())
	_, err = os.Stat(path)
	require.True(t, os.IsNotExist(err))
}

// TestLockFileIsPrivate: the lock file is 0600 under umask 022. Not
// parallel: the umask is process-wide.
func TestLockFileIsPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	path := filepath.Join(t.TempDir(), "db.lock")
	l, err := Acquire(path)
	require.NoError(t, err)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	require.NoError(t, l.Release())
}

// On a full disk the lock cannot even take its PID: Acquire fails with a
// disk-full error naming the lock file and leaves no file behind, and
// succeeds once there is space again.
func TestAcquireOnFullDisk(t *testing.T) {
	dir := tmpfs.Mount(t, 256<<10)
	path := filepath.Join(dir, "db.lock")
	filler := tmpfs.Fill(t, dir)
	_, err := Acquire(path)
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.Equal(t, "lock file: disk full: no space left on the device for "+path, err.Error())
	_, statErr := os.Stat(path)
	require.ErrorIs(t, statErr, os.ErrNotExist, "no empty lock file left behind")
	require.NoError(t, os.Remove(filler))
	l, err := Acquire(path)
	require.NoError(t, err)
	require.NoError(t, l.Release())
}
