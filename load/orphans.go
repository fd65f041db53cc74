package load

import (
	"context"
	"database/sql/driver"
	"fmt"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/smartlead-etl/smartlead-etl/load/journal"
)

// LogOrphans writes to the api_requests ledger the requests of processes
// that died before writing them (see package journal), each under the run
// that sent it. A request whose answer was never recorded gets status 0
// and the error journal.NoAnswer: it counts as sent, which it may have
// been.
func (s *Store) LogOrphans(ctx context.Context, orphans []journal.Entry) error {
	if len(orphans) == 0 {
		return nil
	}
	if s.readOnly {
		return fmt.Errorf("load: LogOrphans on a read-only store")
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("load: log orphaned requests: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		a, err := duckdb.NewAppender(dc.(driver.Conn), s.whCatalog, "main", "api_requests")
		if err != nil {
			return fmt.Errorf("load: log orphaned requests: %w", err)
		}
		v := make([]driver.Value, 10)
		for _, e := range orphans {
			at := e.Attempt
			if !e.Answered {
				at.Status, at.Err, at.RateRemaining = 0, journal.NoAnswer, -1
			}
			run := e.RunID
			if run == "" {
				run = "(outside a run)"
			}
			v[0], v[1], v[2], v[3], v[4] = run, at.At, redact(at.Endpoint), nullZero(at.CampaignID), int32(at.Status)
			v[5], v[6], v[7], v[8], v[9] = ms(at.Duration), int32(at.Attempt), ms(at.Waited), nullNeg(at.RateRemaining), nullEmpty(redact(at.Err))
			if err := a.AppendRow(v...); err != nil {
				_ = a.Clear()
				_ = a.Close()
				return fmt.Errorf("load: log orphaned request %s of run %s: %w", at.Endpoint, run, err)
			}
		}
		if err := a.Close(); err != nil {
			return fmt.Errorf("load: log orphaned requests: %w", err)
		}
		return nil
	})
}
