package load

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLockedByAnotherProcess: while a child process holds the warehouse,
// Open and OpenReadOnly fail with a *LockedError naming the holder's PID;
// once it exits, Open succeeds.
func TestLockedByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wh.duckdb")
	h := startHelper(t, "hold-lock", "LOAD_DB="+path)
	h.await(t, "locked")

	_, err := Open(t.Context(), path, schemaDir(), Options{LockWait: -1})
	var le *LockedError
	require.ErrorAs(t, err, &le)
	require.ErrorIs(t, err, ErrLocked)
	assert.Equal(t, path, le.Path)
	assert.Equal(t, h.cmd.Process.Pid, le.PID)
	assert.Contains(t, err.Error(), fmt.Sprintf("database %s is locked by another process (PID %d, ", path, h.cmd.Process.Pid))

	_, err = OpenReadOnly(t.Context(), path, Options{LockWait: -1})
	require.ErrorIs(t, err, ErrLocked)

	require.NoError(t, h.stdin.Close()) // the holder closes the warehouse and exits
	require.NoError(t, h.cmd.Wait(), h.stderr.String())
	s, err := Open(t.Context(), path, schemaDir(), Options{LockWait: -1})
	require.NoError(t, err)
	require.NoError(t, s.Close())
}

// TestRetryLockedWaits: Open retries a held lock until LockWait has passed
// (in virtual time), returns at once on other errors, and succeeds as soon
// as the lock is free.
func TestRetryLockedWaits(t *testing.T) {
	held := errors.New(`IO Error: Could not set lock on file "/x/wh.duckdb": Conflicting lock is held in /usr/bin/smartlead-etl (PID 4242) by user etl. See also https://duckdb.org/docs/stable/connect/concurrency`)
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		tries := 0
		err := retryLocked(t.Context(), "/x/wh.duckdb", 10*time.Second, func() error { tries++; return held })
		var le *LockedError
		require.ErrorAs(t, err, &le)
		assert.Equal(t, LockedError{Path: "/x/wh.duckdb", PID: 4242, Program: "/usr/bin/smartlead-etl", Waited: 10 * time.Second}, *le)
		assert.Equal(t, 10*time.Second, time.Since(start))
		assert.Equal(t, 15, tries, "backoff 50ms doubling to 1s, then every second")
		assert.Equal(t, "database /x/wh.duckdb is locked by another process (PID 4242, /usr/bin/smartlead-etl); gave up after waiting 10s", err.Error())
	})
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		tries := 0
		err := retryLocked(t.Context(), "/x/wh.duckdb", time.Minute, func() error {
			if tries++; tries < 4 {
				return held
			}
			return nil
		})
		require.NoError(t, err)
		assert.Equal(t, 350*time.Millisecond, time.Since(start), "50+100+200ms of backoff")
	})
	synctest.Test(t, func(t *testing.T) {
		other := errors.New("IO Error: Cannot open file: permission denied")
		tries := 0
		err := retryLocked(t.Context(), "/x/wh.duckdb", time.Minute, func() error { tries++; return other })
		require.ErrorIs(t, err, other)
		require.NotErrorIs(t, err, ErrLocked)
		assert.Equal(t, 1, tries)
	})
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		err := retryLocked(ctx, "/x/wh.duckdb", time.Minute, func() error { return held })
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
	// A message without the holder still says the file is locked.
	le := lockError("/x", errors.New(`IO Error: Could not set lock on file "/x": Resource temporarily unavailable`))
	require.NotNil(t, le)
	assert.Zero(t, le.PID)
	assert.Equal(t, "database /x is locked by another process; gave up after waiting 0s", le.Error())
}
