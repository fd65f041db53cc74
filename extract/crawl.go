package extract

import (
	"context"
	"fmt"

	"github.com/sourcegraph/conc/pool"
)

// EmitError wraps an error returned by Crawl's emit callback, so callers
// can tell "the sink failed" from "the API failed". errors.Is and
// errors.As see through it to the sink's own error.
type EmitError struct {
	Item Item
	Err  error
}

func (e *EmitError) Error() string {
	return fmt.Sprintf("emit %s page (campaign %d, offset %d): %v", e.Item.Stream, e.Item.CampaignID, e.Item.Offset, e.Err)
}

func (e *EmitError) Unwrap() error { return e.Err }

// Crawl fetches every item and every page after it with at most workers
// concurrent chains (DefaultWorkers if workers < 1), all sharing the
// client's one limiter. Items start in slice order; each item's pages are
// fetched in order by one worker, and each page is handed to emit before
// the next is requested, so nothing is buffered beyond one page per
// worker.
//
// emit is called from one goroutine at a time (the sink behind it can own
// a DuckDB appender), but not always the same goroutine. The first error,
// from the API or from emit, cancels the crawl and is returned; a
// cancelled ctx returns the context's error.
func (c *Client) Crawl(ctx context.Context, items []Item, workers int, emit func(Page) error) error {
	if workers < 1 {
		workers = DefaultWorkers
	}
	// A one-slot channel, not a sync.Mutex, serialises emit: a worker
	// waiting for its turn must still see the crawl being cancelled, and
	// channel waits are what testing/synctest counts as durably blocked.
	emitTurn := make(chan struct{}, 1)
	p := pool.New().WithContext(ctx).WithMaxGoroutines(workers).WithCancelOnError().WithFirstError()
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		// Go blocks while all workers are busy, which is what keeps items
		// starting in slice order.
		p.Go(func(ctx context.Context) error {
			if err := ctx.Err(); err != nil {
				return err // the crawl is already over; start nothing
			}
			for page, err := range c.Pages(ctx, it) {
				if err != nil {
					return err
				}
				select {
				case emitTurn <- struct{}{}:
				case <-ctx.Done():
					return ctx.Err()
				}
				err = emit(page)
				<-emitTurn
				if err != nil {
					return &EmitError{Item: page.Item, Err: err}
				}
			}
			return nil
		})
	}
	err := p.Wait()
	if cerr := ctx.Err(); cerr != nil {
		// The caller cancelled: report that, not whichever worker noticed
		// first and how.
		return fmt.Errorf("smartlead: crawl: %w", cerr)
	}
	return err
}
