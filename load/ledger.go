package load

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/smartlead-etl/smartlead-etl/extract"
)

// LogAttempts writes api_requests rows at once, durably, into the side
// file; they move to the warehouse's api_requests when the run ends (or,
// after a crash, when the next run starts), whatever becomes of the run,
// since they are the quota ledger. Safe to call from any goroutine, also
// after the run ended.
func (r *Run) LogAttempts(ctx context.Context, attempts []extract.Attempt) error {
	return r.s.appendAttempts(ctx, r.s.stageCatalog, stLedger, attempts, func(int) string { return r.id })
}

// LogAttempts writes api_requests rows under runID (a label such as
// "webhooks-..." or "plan-..." for calls made outside a run) straight into
// the warehouse, which must be open for writing: the ledger every later
// run reads its spent quota from.
func (s *Store) LogAttempts(ctx context.Context, runID string, attempts []extract.Attempt) error {
	if s.readOnly {
		return fmt.Errorf("load: log requests: the store is read-only")
	}
	return s.appendAttempts(ctx, s.whCatalog, "api_requests", attempts, func(int) string { return runID })
}

// appendAttempts appends ledger rows to catalog.main.table in one
// Appender flush, attempt i under run runOf(i). It is the one place that
// turns an attempt into a ledger row, redacting what it writes.
func (s *Store) appendAttempts(ctx context.Context, catalog, table string, attempts []extract.Attempt, runOf func(i int) string) error {
	if len(attempts) == 0 {
		return nil
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("load: log attempts: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		a, err := duckdb.NewAppender(dc.(driver.Conn), catalog, "main", table)
		if err != nil {
			return fmt.Errorf("load: log attempts: %w", err)
		}
		v := make([]driver.Value, 10)
		for i, at := range attempts {
			v[0], v[1], v[2], v[3], v[4] = runOf(i), at.At, redact(at.Endpoint), nullZero(at.CampaignID), int32(at.Status)
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

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func nullZero(v int64) driver.Value {
	if v == 0 {
		return nil
	}
	return v
}

func nullNeg(v int) driver.Value {
	if v < 0 {
		return nil
	}
	return int32(v)
}

func nullEmpty(s string) driver.Value {
	if s == "" {
		return nil
	}
	return s
}

// ledgerMatch pairs a side-file ledger row s with its copy w in the
// warehouse: an attempt is its run, send time, endpoint, campaign and
// attempt number.
const ledgerMatch = `w.run_id = s.run_id AND w."at" = s."at" AND w.endpoint = s.endpoint
	AND w.campaign_id IS NOT DISTINCT FROM s.campaign_id AND w.attempt = s.attempt AND w.status = s.status`

// publishLedger copies the side file's ledger rows into the warehouse's
// api_requests, in the warehouse transaction tx, skipping those an
// interrupted earlier copy already made.
func (s *Store) publishLedger(ctx context.Context, tx *sql.Tx) error {
	_, err := tx.ExecContext(ctx, s.sq(`INSERT INTO @w.api_requests SELECT * FROM @s.`+stLedger+` s
		WHERE NOT EXISTS (SELECT 1 FROM @w.api_requests w WHERE `+ledgerMatch+`)`))
	if err != nil {
		return fmt.Errorf("publish the request ledger: %w", err)
	}
	return nil
}

// dropPublishedLedger deletes from the side file the ledger rows the
// warehouse holds.
func (s *Store) dropPublishedLedger(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, s.sq(`DELETE FROM @s.`+stLedger+` s
		WHERE EXISTS (SELECT 1 FROM @w.api_requests w WHERE `+ledgerMatch+`)`))
	if err != nil {
		return fmt.Errorf("load: clear the side file's request ledger: %w", err)
	}
	return nil
}

// ledgerSource is the SQL of every ledger row: the warehouse's and, when
// attached, the side file's.
func (s *Store) ledgerSource() string {
	if !s.hasStage() {
		return s.sq(`@w.api_requests`)
	}
	return s.sq(`(SELECT * FROM @w.api_requests UNION ALL SELECT * FROM @s.` + stLedger + `)`)
}
