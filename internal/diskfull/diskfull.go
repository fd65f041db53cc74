package diskfull

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"
	"syscall"
)

// Error is a write that failed because the disk holding Path is full.
type Error struct {
	Op   string // the writer: "run", "export", "dashboard", "webhook spool", ...
	Path string // the file (or directory) that could not be written
	Kept string // what the failure left as it was, e.g. "the previous export is unchanged" ("" to say nothing)
	Err  error  // the underlying error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s: disk full: no space left on the device for %s", e.Op, e.Path)
	if e.Kept != "" {
		msg += "; " + e.Kept
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, syscall.ENOSPC) true for every disk-full error,
// including those DuckDB reports only as text.
func (e *Error) Is(target error) bool { return target == syscall.ENOSPC }

// duckdbFile is the path DuckDB names in its I/O errors, e.g.
// `IO Error: Could not write file "/x/stage.duckdb.wal": No space left on device`.
var duckdbFile = regexp.MustCompile(`(?i)(?:write|create|open|extend|truncate|sync|fsync)\w* (?:to )?(?:the )?file "([^"]+)"`)

// Is reports whether err is a write refused for lack of space: ENOSPC or
// EDQUOT anywhere in its chain, or the strerror text of either in an
// error that carries no errno (DuckDB's, through cgo).
func Is(err error) bool {
	if err == nil {
		return false
	}
	var de *Error
	if errors.As(err, &de) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "no space left on device") || strings.Contains(msg, "disk quota exceeded")
}

// Wrap returns err unchanged unless it is a disk-full error (see [Is]);
// then it returns an *Error for op that says kept. Its Path is the most
// precise one known: that of a disk-full *Error inside err, else the file
// DuckDB's message names, else path, else the path of an *fs.PathError in
// the chain (path wins over that: a writer names the file it replaces, not
// its temporary file).
func Wrap(op, path, kept string, err error) error {
	if !Is(err) {
		return err
	}
	return &Error{Op: op, Path: PathOf(err, path), Kept: kept, Err: err}
}

// PathOf returns the path [Wrap] names for err.
func PathOf(err error, path string) string {
	var de *Error
	if errors.As(err, &de) && de.Path != "" {
		return de.Path
	}
	if m := duckdbFile.FindStringSubmatch(err.Error()); m != nil {
		return m[1]
	}
	var pe *fs.PathError
	if path == "" && errors.As(err, &pe) {
		return pe.Path
	}
	return path
}
