package load

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/smartlead-etl/smartlead-etl/extract"
)

// LogPlanAttempts records in the request ledger attempts made outside any
// run, such as the requests `plan` spends sizing a first run, under id
// (not an etl_runs row). They count against the rate limit like a run's:
// the next run reads the last hour of the ledger before its first request.
func (s *Store) LogPlanAttempts(ctx context.Context, id string, attempts []extract.Attempt) error {
	if s.readOnly {
		return fmt.Errorf("load: log plan requests: the store is read-only")
	}
	if len(attempts) == 0 {
		return nil
	}
	return inTx(ctx, s.db, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO api_requests (run_id, "at", endpoint, campaign_id, status, duration_ms,
			attempt, waited_ms, rate_remaining, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return fmt.Errorf("load: log plan requests: %w", err)
		}
		defer st.Close()
		for _, at := range attempts {
			if _, err := st.ExecContext(ctx, id, at.At, redact(at.Endpoint), nullZero(at.CampaignID), int32(at.Status),
				ms(at.Duration), int32(at.Attempt), ms(at.Waited), nullNeg(at.RateRemaining), nullEmpty(redact(at.Err))); err != nil {
				return fmt.Errorf("load: log plan request %s at %s: %w", at.Endpoint, at.At, err)
			}
		}
		return nil
	})
}
