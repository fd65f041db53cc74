package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/internal/lockfile"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/pipeline"
	"github.com/smartlead-etl/smartlead-etl/report"
)

// Exit codes. They are a public contract (README "Exit codes"): cron
// wrappers and scripts branch on them.
const (
	exitOK          = 0   // success
	exitFailure     = 1   // the run failed; the warehouse is as it was
	exitUsage       = 2   // bad flags, missing or rejected API key, bad configuration
	exitPartial     = 3   // finished, but with rejected records or failed data checks
	exitLocked      = 4   // another run holds the lock (or the DuckDB file)
	exitIncomplete  = 5   // stopped cleanly at --max-requests or --deadline; the next run continues
	exitDeferred    = 6   // complete and staged, but a reader held the warehouse past the commit wait; the next run publishes it
	exitInterrupted = 130 // SIGINT/SIGTERM: the run was rolled back and marked cancelled
)

var (
	// errPartial marks a run that succeeded with rejected records or
	// warnings; the summary has already said so.
	errPartial = pipeline.ErrPartial
	// errHelp is --help: not an error, exit 0.
	errHelp = errors.New("help requested")
)

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...)}
}

func exitCode(err error) int {
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.Is(err, errPartial):
		return exitPartial
	case errors.Is(err, pipeline.ErrIncomplete):
		return exitIncomplete
	case errors.Is(err, load.ErrCommitDeferred):
		return exitDeferred
	case errors.As(err, &ue), errors.Is(err, extract.ErrUnauthorized),
		errors.Is(err, report.ErrNotQuery), errors.Is(err, report.ErrReportFilter):
		return exitUsage
	case errors.Is(err, lockfile.ErrHeld), errors.Is(err, load.ErrLocked):
		return exitLocked
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	return exitFailure
}
