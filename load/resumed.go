package load

import (
	"context"
	"fmt"
	"time"
)

// PriorCounters returns what the earlier invocations of a resumed run
// spent, for the caller to add its own invocation's counters to, so that
// the run's etl_runs row counts all of them. Requests, 429s and retries
// come from the request ledger, which also holds the attempts of an
// invocation killed before it could record its counters; the rate-limit
// wait and the time the invocations ran come from the run's row (a killed
// invocation's are lost: both cover the same invocations). A run that was
// not resumed has none. Call it before the run logs attempts.
func (r *Run) PriorCounters(ctx context.Context) (Counters, error) {
	var c Counters
	if !r.resumed {
		return c, nil
	}
	var waited, ran float64
	// The ledger is the warehouse's and the side file's (where a run's rows
	// wait until it ends).
	ledger := r.s.ledgerSource()
	err := r.s.db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM `+ledger+` l WHERE run_id = $1),
		(SELECT count(*) FROM `+ledger+` l WHERE run_id = $1 AND status = 429),
		(SELECT count(*) FROM `+ledger+` l WHERE run_id = $1 AND attempt > 1),
		(SELECT coalesce(wait_seconds, 0) FROM `+r.s.sq(`@w.etl_runs`)+` WHERE run_id = $1),
		(SELECT coalesce(run_seconds, 0) FROM `+r.s.sq(`@w.etl_runs`)+` WHERE run_id = $1)`, r.id).
		Scan(&c.Requests, &c.Throttled, &c.Retries, &waited, &ran)
	if err != nil {
		return c, fmt.Errorf("load: counters of resumed run %s: %w", r.id, err)
	}
	c.Waited = time.Duration(waited * float64(time.Second))
	c.Elapsed = time.Duration(ran * float64(time.Second))
	return c, nil
}
