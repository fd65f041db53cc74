package load

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// RunInfo is one etl_runs row.
type RunInfo struct {
	RunID        string
	Status       Status
	SnapshotDate time.Time
	StartedAt    time.Time
	FinishedAt   time.Time // zero while running
	Counters     Counters
	Rejected     int64
	Warnings     int64
	Rows         map[string]int64 // per table (view name)
	Error        string
	Mode         Mode
	Resumed      int // times the run was resumed after an interruption
}

// LatestSucceeded returns the run whose snapshot the views show, or nil
// when no run has succeeded yet.
func (s *Store) LatestSucceeded(ctx context.Context) (*RunInfo, error) {
	rs, err := s.queryRuns(ctx, s.sq(`WHERE run_id = (SELECT run_id FROM @w.latest_run)`), 1)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return &rs[0], nil
}

func (s *Store) queryRuns(ctx context.Context, where string, n int, args ...any) ([]RunInfo, error) {
	cols := make([]string, len(tables))
	for i, t := range tables {
		cols[i] = "coalesce(rows_" + t.name + ", 0)"
	}
	rows, err := s.db.QueryContext(ctx, s.sq(`SELECT run_id, status, snapshot_date, started_at, finished_at,
		coalesce(requests, 0), coalesce(throttled, 0), coalesce(retries, 0), coalesce(wait_seconds, 0),
		coalesce(rejected, 0), coalesce(warnings, 0), coalesce(error, ''), coalesce(mode, 'full'), coalesce(resumed, 0),
		`+strings.Join(cols, ", ")+`
		FROM @w.etl_runs `+where+` ORDER BY started_at DESC, run_id DESC LIMIT ?`), append(args, n)...)
	if err != nil {
		return nil, fmt.Errorf("load: read etl_runs: %w", err)
	}
	defer rows.Close()
	var out []RunInfo
	for rows.Next() {
		var ri RunInfo
		var finished sql.NullTime
		var waited float64
		counts := make([]int64, len(tables))
		dest := []any{&ri.RunID, &ri.Status, &ri.SnapshotDate, &ri.StartedAt, &finished,
			&ri.Counters.Requests, &ri.Counters.Throttled, &ri.Counters.Retries, &waited,
			&ri.Rejected, &ri.Warnings, &ri.Error, &ri.Mode, &ri.Resumed}
		for i := range counts {
			dest = append(dest, &counts[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("load: read etl_runs: %w", err)
		}
		ri.FinishedAt = finished.Time
		ri.Counters.Waited = time.Duration(waited * float64(time.Second))
		ri.Rows = make(map[string]int64, len(tables))
		for i, t := range tables {
			ri.Rows[t.name] = counts[i]
		}
		out = append(out, ri)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load: read etl_runs: %w", err)
	}
	return out, nil
}

// RecentAttempts returns the send times of every HTTP attempt logged since
// since, oldest first, whatever run made it (in the warehouse or still in
// the side file): the quota already spent in the rate-limit windows that
// are still open.
func (s *Store) RecentAttempts(ctx context.Context, since time.Time) ([]time.Time, error) {
	s.peekSideFile(ctx)
	rows, err := s.db.QueryContext(ctx, `SELECT "at" FROM `+s.ledgerSource()+` WHERE "at" >= ? ORDER BY "at"`, since)
	if err != nil {
		return nil, fmt.Errorf("load: read api_requests: %w", err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var t time.Time
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("load: read api_requests: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
