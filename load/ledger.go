package load

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/smartlead-etl/smartlead-etl/extract"
)

// LogRequests writes api_requests rows under runID at once, durably. Runs
// use Run.LogAttempts; requests made outside a run (plan's campaign list)
// come here directly, so that the ledger holds every request the key
// spent.
func (s *Store) LogRequests(ctx context.Context, runID string, attempts []extract.Attempt) error {
	if len(attempts) == 0 {
		return nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("load: log attempts: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		a, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "api_requests")
		if err != nil {
			return fmt.Errorf("load: log attempts: %w", err)
		}
		v := make([]driver.Value, 10)
		for _, at := range attempts {
			v[0], v[1], v[2], v[3], v[4] = runID, at.At, redact(at.Endpoint), nullZero(at.CampaignID), int32(at.Status)
			v[5], v[6], v[7], v[8], v[9] = ms(at.Duration), int32(at.Attempt), ms(at.Waited), nullNeg(at.RateRemaining), nullEmpty(redact(at.Err))
			if err := a.AppendRow(v...); err != nil {
				_ = a.Clear()
				_ = a.Close()
				return fmt.Errorf("load: log attempt %s at %s: %w", at.Endpoint, at.At.Format(time.RFC3339Nano), err)
			}
		}
		if err := a.Close(); err != nil {
			return fmt.Errorf("load: log attempts: %w", err)
		}
		return nil
	})
}
