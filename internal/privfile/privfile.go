package privfile

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Modes of what this program creates.
const (
	FileMode fs.FileMode = 0o600
	DirMode  fs.FileMode = 0o700
)

// Umask adds group and other bits to the process umask, so that every
// file and directory created from now on, by Go or by C code in the same
// process, is private. It returns the previous umask. Call it before
// starting goroutines that create files: the umask is process-wide.
func Umask() int {
	old := unix.Umask(0o077)
	unix.Umask(old | 0o077)
	return old
}

// MkdirAll is os.MkdirAll with DirMode: directories it creates are
// private, existing ones keep their mode.
func MkdirAll(path string) error { return os.MkdirAll(path, DirMode) }

// Mkdir is os.Mkdir with DirMode.
func Mkdir(path string) error { return os.Mkdir(path, DirMode) }

// OpenFile is os.OpenFile with FileMode for a file it creates.
func OpenFile(path string, flag int) (*os.File, error) { return os.OpenFile(path, flag, FileMode) }

// Restrict makes a file someone else created (DuckDB) private: it clears
// the group and other bits. A missing file is not an error.
func Restrict(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	return os.Chmod(path, fi.Mode().Perm()&^0o077)
}

// Exposed reports whether group or others may read path, with its mode:
// for warning about a secret file (the API key's).
func Exposed(path string) (bool, fs.FileMode, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return false, 0, err
	}
	return fi.Mode().Perm()&0o044 != 0, fi.Mode().Perm(), nil
}
