package tmpfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Mount mounts a tmpfs of size bytes at a new directory under
// t.TempDir() and returns it. See [MountAt].
func Mount(t testing.TB, size int64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	return MountAt(t, dir, size)
}

// MountAt mounts a tmpfs of size bytes at dir (created, 0700, if missing;
// it must be inside a test's temporary directory) and unmounts it when
// the test ends, before its temporary directory is removed. It skips the
// test when the process is not root or the mount fails.
func MountAt(t testing.TB, dir string, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a small tmpfs needs root; the injected-failure tests cover this behaviour")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("skipped: cannot mount a tmpfs at %s (%v); the injected-failure tests cover this behaviour", dir, err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, 0); err != nil {
			// A file still open (a process the test killed, a DuckDB
			// handle): detach now, freed when the last one closes.
			_ = unix.Unmount(dir, unix.MNT_DETACH)
		}
	})
	return dir
}

// Fill writes a file in dir until the filesystem refuses more and returns
// its path: the disk is then full. Removing the file frees the space.
func Fill(t testing.TB, dir string) string {
	t.Helper()
	f, err := os.CreateTemp(dir, ".filler-*")
	if err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return "" // full already (a tmpfs counts inodes too)
		}
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Write(buf)
		if err == nil {
			continue
		}
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatal(err)
		}
		if n == 0 && len(buf) == 1 {
			return f.Name()
		}
		if n == 0 {
			buf = buf[:len(buf)/2] // the last pages, down to the last byte
		}
	}
}

// Free returns the bytes dir's filesystem still has for an unprivileged
// writer (a tmpfs has no reserve: root gets the same).
func Free(t testing.TB, dir string) int64 {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}
