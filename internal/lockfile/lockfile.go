package lockfile

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/smartlead-etl/smartlead-etl/internal/diskfull"
	"github.com/smartlead-etl/smartlead-etl/internal/privfile"
)

// ErrHeld is matched (errors.Is) by the error Acquire returns when
// another live process holds the lock.
var ErrHeld = errors.New("another run holds the lock")

// HeldError names the lock file and, when it could be read, the PID of
// the process holding it.
type HeldError struct {
	Path string
	PID  int
}

func (e *HeldError) Error() string {
	if e.PID > 0 {
		return fmt.Sprintf("%s: another run (PID %d) holds the lock %s", ErrHeld, e.PID, e.Path)
	}
	return fmt.Sprintf("%s: %s", ErrHeld, e.Path)
}

func (e *HeldError) Is(target error) bool { return target == ErrHeld }

// Path is the lock file of the warehouse at db: every process that
// writes the warehouse for a run takes this one.
func Path(db string) string { return db + ".lock" }

// Lock is a held lock; Release gives it up.
type Lock struct {
	f *os.File
}

// Acquire takes the lock at path without waiting. It fails with a
// *HeldError when another live process holds it.
func Acquire(path string) (*Lock, error) {
	for range 10 {
		f, err := privfile.OpenFile(path, os.O_RDWR|os.O_CREATE)
		if err != nil {
			return nil, fmt.Errorf("open lock file: %w", err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			pid := readPID(f)
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, &HeldError{Path: path, PID: pid}
			}
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		// The previous holder may have removed the file between our open
		// and our flock; then we locked an orphan inode. Retry on the new one.
		if sameFile(f, path) {
			return finish(f, path)
		}
		f.Close()
	}
	return nil, fmt.Errorf("lock %s: file keeps changing under us", path)
}

func sameFile(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

func finish(f *os.File, path string) (*Lock, error) {
	// We hold it: whatever PID the file names is a dead previous holder.
	err := f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	if err != nil {
		// Leave no empty lock file behind (a full disk refuses even the
		// PID's few bytes): removed while we hold it, like Release.
		_ = os.Remove(path)
		f.Close()
		return nil, diskfull.Wrap("lock file", path, "", fmt.Errorf("write lock file: %w", err))
	}
	return &Lock{f: f}, nil
}

// Release unlocks and removes the file. Removing first and unlocking
// second means a waiter never sees our PID in a file it then locks.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := os.Remove(l.f.Name())
	_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	cerr := l.f.Close()
	l.f = nil
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return cerr
}

func readPID(f *os.File) int {
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if err != nil {
		return 0
	}
	return pid
}
