package diskfull

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIsAndPath(t *testing.T) {
	pathErr := &fs.PathError{Op: "write", Path: "/d/.x.tmp", Err: syscall.ENOSPC}
	duck := errors.New("load: flush: TransactionContext Error: Failed to commit: Could not write file \"/d/w.duckdb.staging/stage.duckdb.wal\": No space left on device")
	for _, c := range []struct {
		name     string
		err      error
		is       bool
		path     string // given to Wrap
		wantPath string
	}{
		{"nil", nil, false, "/d", ""},
		{"other errno", &fs.PathError{Op: "write", Path: "/d/x", Err: syscall.EIO}, false, "/d", ""},
		{"ENOSPC in a PathError: the writer's path wins", fmt.Errorf("dashboard: %w", pathErr), true, "/d/page.html", "/d/page.html"},
		{"ENOSPC, no path given: the PathError's", pathErr, true, "", "/d/.x.tmp"},
		{"EDQUOT", os.NewSyscallError("write", syscall.EDQUOT), true, "/d/j", "/d/j"},
		{"DuckDB text names its file", fmt.Errorf("stage page: %w", duck), true, "/d/w.duckdb", "/d/w.duckdb.staging/stage.duckdb.wal"},
		{"DuckDB COPY", errors.New(`IO Error: Could not write file "/e/.export-tmp-1/x.parquet": No space left on device`), true, "/e", "/e/.export-tmp-1/x.parquet"},
		{"inner Error wins", fmt.Errorf("not sent: %w", &Error{Op: "request journal", Path: "/d/w.duckdb.requests", Err: pathErr}), true, "/d/w.duckdb", "/d/w.duckdb.requests"},
	} {
		t.Run(c.name, func(t *testing.T) {
			assert.Equal(t, c.is, Is(c.err))
			got := Wrap("run", c.path, "the warehouse keeps its last snapshot", c.err)
			if !c.is {
				assert.Equal(t, c.err, got, "not disk full: unchanged")
				return
			}
			var de *Error
			require.ErrorAs(t, got, &de)
			assert.Equal(t, c.wantPath, de.Path)
			assert.ErrorIs(t, got, syscall.ENOSPC, "errors.Is finds ENOSPC even in DuckDB's text")
			assert.ErrorIs(t, got, c.err, "the cause stays in the chain")
			msg := got.Error()
			assert.Equal(t, "run: disk full: no space left on the device for "+c.wantPath+"; the warehouse keeps its last snapshot", msg)
			assert.NotContains(t, msg, "\n")
		})
	}
	assert.False(t, strings.Contains((&Error{Op: "x", Path: "/p"}).Error(), ";"), "no kept: nothing after the path")
}
