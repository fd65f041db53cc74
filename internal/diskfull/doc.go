// Package diskfull recognises a write that failed because the filesystem
// is full (ENOSPC, or EDQUOT for a quota) and turns it into one line that
// says so and names the file: the error a user acts on ("free space on the
// disk holding this path"), instead of a chain of wrapped causes or a
// DuckDB message spanning the statement that failed.
//
// Each writer wraps its own failure with [Wrap] at its boundary (run,
// export, dashboard, webhook spool, request journal, lock files) and says
// what it left in place; the command layer only prints the error. The
// cause stays reachable with errors.Is/As (errors.Is(err, syscall.ENOSPC)
// holds for every *Error, DuckDB's included).
package diskfull
