package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/load/journal"
)

// QuotaMemory is quotaMemory for commands outside a run that spend
// requests (the webhook commands): the journal to record them in and the
// sends the limiter must be preloaded with.
func QuotaMemory(ctx context.Context, store *load.Store, db string, from time.Time, log *slog.Logger) (*journal.Journal, []time.Time, error) {
	return quotaMemory(ctx, store, db, from, log)
}

// JournalIDs lists the journal ids of attempts just written to the ledger,
// for [journal.Journal.Flushed].
func JournalIDs(as []extract.Attempt) []string { return journalIDs(as) }

// quotaMemory opens the warehouse's request journal and returns the send
// time of every request made since from, by any process: the journal's
// (which holds even those of a process killed mid-request) and, before the
// journal's start, the ledger's. Requests of dead processes missing from
// the ledger are written to it first, so that it stays complete, and the
// journal is compacted to the window.
func quotaMemory(ctx context.Context, store *load.Store, db string, from time.Time, log *slog.Logger) (*journal.Journal, []time.Time, error) {
	path := journal.Path(db)
	jr, err := journal.Open(path)
	if err != nil {
		return nil, nil, err
	}
	past, err := recoverSends(ctx, store, jr, path, from, log)
	if err != nil {
		_ = jr.Close()
		return nil, nil, err
	}
	return jr, past, nil
}

func recoverSends(ctx context.Context, store *load.Store, jr *journal.Journal, path string, from time.Time, log *slog.Logger) ([]time.Time, error) {
	st, err := journal.Read(path)
	if err != nil {
		return nil, err
	}
	if orphans := st.Orphans(); len(orphans) > 0 {
		if err := store.LogOrphans(ctx, orphans); err != nil {
			return nil, fmt.Errorf("write orphaned requests to the ledger: %w", err)
		}
		ids := make([]string, len(orphans))
		unanswered := 0
		for i, e := range orphans {
			ids[i] = e.ID
			if !e.Answered {
				unanswered++
			}
		}
		if err := jr.Flushed(ids); err != nil {
			return nil, err
		}
		log.Warn("a process stopped before recording its requests; they are in the ledger now and count against the rate limit",
			"requests", len(orphans), "unanswered", unanswered)
	}
	past, err := sentSince(ctx, store, st, from)
	if err != nil {
		return nil, err
	}
	if err := jr.Compact(from); err != nil {
		return nil, err
	}
	return past, nil
}

// sentSince merges the journal's requests since from with the ledger's
// from before the journal's start (from then on the journal has them all,
// and a request in both is counted once).
func sentSince(ctx context.Context, store *load.Store, st *journal.State, from time.Time) ([]time.Time, error) {
	ledger, err := store.RecentAttempts(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("read request ledger: %w", err)
	}
	var past []time.Time
	for _, t := range ledger {
		if t.Before(st.Since) {
			past = append(past, t)
		}
	}
	past = append(past, st.SentSince(from)...)
	// A time from the future (the clock was stepped back since, and the
	// journal had no boot-time reading to date it) is moved back as the
	// limiter's Preload does, so that plan predicts what run will do.
	past = ratelimit.PastSends(past, time.Now())
	slices.SortFunc(past, func(a, b time.Time) int { return a.Compare(b) })
	return past, nil
}

// readOnlyQuotaMemory is quotaMemory for a process that must not write the
// warehouse (plan): it reads the journal and the ledger, and opens the
// journal so that its own requests are recorded there; the next run
// writes them to the ledger (they are orphans once this process exits).
func readOnlyQuotaMemory(ctx context.Context, store *load.Store, db string, from time.Time) (*journal.Journal, []time.Time, error) {
	path := journal.Path(db)
	st, err := journal.Read(path)
	if err != nil {
		return nil, nil, err
	}
	past, err := sentSince(ctx, store, st, from)
	if err != nil {
		return nil, nil, err
	}
	jr, err := journal.Open(path)
	if err != nil {
		return nil, nil, err
	}
	return jr, past, nil
}
