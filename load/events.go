package load

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smartlead-etl/smartlead-etl/internal/spool"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// EventsDir is the webhook spool directory of the warehouse at dbPath:
// the receiver appends there, and merges move its records into
// email_events and webhook_rejects.
func EventsDir(dbPath string) string { return dbPath + ".events" }

// mergeCap bounds the records one merge transaction takes, so that a
// large backlog is merged in steps of bounded memory.
var mergeCap = 50_000

// eventCols are email_events' columns in insert order.
var eventCols = []string{"event_id", "event_type", "event_at", "received_at", "campaign_id", "campaign_name",
	"campaign_lead_map_id", "lead_id", "lead_email", "sequence_number", "stats_id", "message_id", "from_email",
	"subject", "old_lead_category", "new_lead_category", "payload"}

// MergeResult says what a merge did.
type MergeResult struct {
	Events     int   // events inserted (new event ids)
	Duplicates int   // spooled events whose id was already present (retries, double deliveries)
	Rejects    int   // webhook_rejects rows inserted
	TornBytes  int64 // bytes of unfinished records at the end of sealed segments, skipped
	More       bool  // the cap was reached: records are left for another merge
}

// MergeEvents moves the spooled webhook records in dir that tx has not
// seen yet into email_events (an event id already present is skipped) and
// webhook_rejects, and records in webhook_spool how far each segment is
// merged, all inside tx: whether tx commits or not, every record ends up
// merged exactly once. It merges at most mergeCap records; see
// [Store.MergeEvents] for a loop that drains the spool. A missing dir is
// an empty spool. It is the one call `run`'s commit makes.
//
// Segments that are sealed and were fully merged by an earlier, committed
// merge are deleted first: their position is already durable, so this
// is safe whatever becomes of tx.
func MergeEvents(ctx context.Context, tx *sql.Tx, dir string) (int, error) {
	res, err := mergeEvents(ctx, tx, dir, time.Now(), unqualified)
	return res.Events, err
}

// unqualified drops the @w. catalog marker: tx's default catalog is the
// warehouse.
func unqualified(q string) string { return strings.ReplaceAll(q, "@w.", "") }

// MergeEvents drains the warehouse's webhook spool in transactions of at
// most mergeCap records each.
func (s *Store) MergeEvents(ctx context.Context) (MergeResult, error) {
	var total MergeResult
	for {
		var res MergeResult
		err := inTx(ctx, s.db, func(tx *sql.Tx) error {
			var err error
			res, err = mergeEvents(ctx, tx, EventsDir(s.path), s.opts.now(), s.sq)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("load: merge webhook events: %w", err)
		}
		total.Events += res.Events
		total.Duplicates += res.Duplicates
		total.Rejects += res.Rejects
		total.TornBytes += res.TornBytes
		if !res.More {
			return total, nil
		}
	}
}

// mergeEvents is MergeEvents with q qualifying the warehouse's tables
// (written @w.name in its SQL).
func mergeEvents(ctx context.Context, tx *sql.Tx, dir string, now time.Time, q func(string) string) (MergeResult, error) {
	var res MergeResult
	segs, err := spool.Segments(dir)
	if err != nil || len(segs) == 0 {
		return res, err
	}
	removeMergeFiles(dir)
	pos := map[string]int64{}
	rows, err := tx.QueryContext(ctx, q(`SELECT segment, "offset" FROM @w.webhook_spool`))
	if err != nil {
		return res, fmt.Errorf("read webhook_spool: %w", err)
	}
	for rows.Next() {
		var name string
		var off int64
		if err := rows.Scan(&name, &off); err != nil {
			rows.Close()
			return res, fmt.Errorf("read webhook_spool: %w", err)
		}
		pos[name] = off
	}
	if err := rows.Close(); err != nil {
		return res, fmt.Errorf("read webhook_spool: %w", err)
	}

	present := map[string]bool{}
	var events []transform.EmailEvent
	var rejects []transform.WebhookReject
	seen := map[string]bool{}
	moved := map[string]int64{}
	records := 0
	for _, sg := range segs {
		start := pos[sg.Name]
		if sg.Sealed && start >= sg.Size {
			if err := spool.Remove(dir, sg.Name); err != nil {
				return res, err
			}
			continue
		}
		present[sg.Name] = true
		if records >= mergeCap {
			res.More = true
			continue
		}
		end, err := spool.Read(dir, sg.Name, start, func(rec []byte, end int64) error {
			var r transform.WebhookRecord
			switch err := json.Unmarshal(rec, &r); {
			case err != nil || (r.Event == nil && r.Reject == nil):
				// Not something the receiver writes: keep it as a reject
				// rather than stop every merge (and every run) on it.
				rejects = append(rejects, transform.WebhookReject{ReceivedAt: now,
					Reason: "spool record could not be decoded", BodyExcerpt: transform.RejectExcerpt(rec)})
			case r.Event != nil:
				if seen[r.Event.EventID] {
					res.Duplicates++
				} else {
					seen[r.Event.EventID] = true
					events = append(events, *r.Event)
				}
			default:
				rejects = append(rejects, *r.Reject)
			}
			records++
			if records >= mergeCap {
				return errCapReached
			}
			return nil
		})
		if err != nil && err != errCapReached {
			return res, err
		}
		if err == errCapReached {
			res.More = true
		} else if sg.Sealed && end < sg.Size {
			// The writer died mid-record: the rest was never acknowledged.
			res.TornBytes += sg.Size - end
			end = sg.Size
		}
		if end != start {
			moved[sg.Name] = end
		}
	}

	inserted, err := insertEvents(ctx, tx, dir, events, q)
	if err != nil {
		return res, err
	}
	res.Events = inserted
	res.Duplicates += len(events) - inserted
	for _, r := range rejects {
		if _, err := tx.ExecContext(ctx, q(`INSERT INTO @w.webhook_rejects (received_at, reason, body_excerpt, remote_address)
			VALUES (?, ?, ?, ?)`), r.ReceivedAt, r.Reason, nullEmpty(r.BodyExcerpt), nullEmpty(r.RemoteAddress)); err != nil {
			return res, fmt.Errorf("insert webhook_rejects: %w", err)
		}
	}
	res.Rejects = len(rejects)
	for name, end := range moved {
		if _, err := tx.ExecContext(ctx, q(`INSERT INTO @w.webhook_spool (segment, "offset", merged_at) VALUES (?, ?, ?)
			ON CONFLICT (segment) DO UPDATE SET "offset" = excluded."offset", merged_at = excluded.merged_at`),
			name, end, now); err != nil {
			return res, fmt.Errorf("record spool position: %w", err)
		}
	}
	for name := range pos {
		if !present[name] {
			if _, err := tx.ExecContext(ctx, q(`DELETE FROM @w.webhook_spool WHERE segment = ?`), name); err != nil {
				return res, fmt.Errorf("forget deleted segment: %w", err)
			}
		}
	}
	return res, nil
}

type capError struct{}

func (capError) Error() string { return "merge cap reached" }

var errCapReached error = capError{}

// eventsColumns is the read_json columns struct of a transform.EmailEvent
// as JSON.
var eventsColumns = func() string {
	types := map[string]string{"event_at": "TIMESTAMPTZ", "received_at": "TIMESTAMPTZ", "campaign_id": "BIGINT",
		"campaign_lead_map_id": "BIGINT", "lead_id": "BIGINT", "sequence_number": "BIGINT", "payload": "JSON"}
	parts := make([]string, len(eventCols))
	for i, c := range eventCols {
		t := types[c]
		if t == "" {
			t = "VARCHAR"
		}
		parts[i] = fmt.Sprintf("%s: '%s'", c, t)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}()

// mergeFile names the NDJSON file a merge hands to DuckDB.
const mergeFilePrefix = "merge-"

// insertEvents inserts events whose id is not yet in email_events and
// returns how many it inserted. The events go to DuckDB as one
// newline-delimited JSON file in the spool directory, read with read_json:
// binding 17 parameters per row, or one large JSON parameter, costs
// several times more. Only one process merges at a time (it holds the
// warehouse), so a file left by a killed merge is simply removed.
func insertEvents(ctx context.Context, tx *sql.Tx, dir string, events []transform.EmailEvent, q func(string) string) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	f, err := os.CreateTemp(dir, mergeFilePrefix+"*.ndjson") // 0600
	if err != nil {
		return 0, fmt.Errorf("insert email_events: %w", err)
	}
	defer os.Remove(f.Name())
	bw := bufio.NewWriterSize(f, 1<<20)
	enc := json.NewEncoder(bw)
	for i := range events {
		if err := enc.Encode(&events[i]); err != nil {
			f.Close()
			return 0, fmt.Errorf("insert email_events: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return 0, fmt.Errorf("insert email_events: %w", err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("insert email_events: %w", err)
	}
	cols := strings.Join(eventCols, ", ")
	r, err := tx.ExecContext(ctx, q(`INSERT INTO @w.email_events (`+cols+`) SELECT `+cols+`
		FROM read_json(?, format := 'newline_delimited', columns := `+eventsColumns+`, maximum_object_size := 16777216)
		ON CONFLICT (event_id) DO NOTHING`), f.Name())
	if err != nil {
		return 0, fmt.Errorf("insert email_events: %w", err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("insert email_events: %w", err)
	}
	return int(n), nil
}

// removeMergeFiles deletes files left by a merge that was killed.
func removeMergeFiles(dir string) {
	stale, _ := filepath.Glob(filepath.Join(dir, mergeFilePrefix+"*.ndjson"))
	for _, f := range stale {
		_ = os.Remove(f)
	}
}
