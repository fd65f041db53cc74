package load

import (
	"context"
	"fmt"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/load/journal"
)

// LogOrphans writes to the api_requests ledger the requests of processes
// that died before writing them (see package journal), each under the run
// that sent it. A request whose answer was never recorded gets status 0
// and the error journal.NoAnswer: it counts as sent, which it may have
// been.
func (s *Store) LogOrphans(ctx context.Context, orphans []journal.Entry) error {
	if s.readOnly {
		return fmt.Errorf("load: LogOrphans on a read-only store")
	}
	attempts := make([]extract.Attempt, len(orphans))
	for i, e := range orphans {
		attempts[i] = e.Attempt
		if !e.Answered {
			attempts[i].Status, attempts[i].Err, attempts[i].RateRemaining = 0, journal.NoAnswer, -1
		}
	}
	// One Appender flush: every orphan lands or none does, so a failed write
	// is simply done again by the next start.
	return s.appendAttempts(ctx, s.whCatalog, "api_requests", attempts, func(i int) string {
		if orphans[i].RunID == "" {
			return "(outside a run)"
		}
		return orphans[i].RunID
	})
}
