package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// A first run has no snapshot to size it from, and it is the one that
// matters most: a large account's first full refresh takes half a day.
// The first-run plan reads the campaign list and the overall-stats ranges
// since the oldest campaign (a dozen requests for a year, whatever the
// number of campaigns): per campaign, the emails sent give the statistics
// rows and the most leads one range reached the leads; everything else
// costs a known number of requests per campaign. It keeps no cache (it
// writes nothing but the request journal), so each plan pays those
// requests again. The requests it spends go into the request journal, so
// the run that follows counts them against the rate limit (and writes
// them to the ledger).

// isFirstRun reports whether the next run has no snapshot to plan from
// and no interrupted run to continue: there is no warehouse yet (store is
// nil), or no run of it has succeeded.
func isFirstRun(ctx context.Context, cfg Config, store *load.Store) (bool, error) {
	if store == nil {
		return true, nil
	}
	prev, err := store.LatestSucceeded(ctx)
	if err != nil || prev != nil {
		return false, err
	}
	if from, ok := cfg.resumeFrom(time.Now()); ok {
		n, err := store.ResumablePending(ctx, from)
		if err != nil || n > 0 {
			return false, err // the next run continues that one
		}
	}
	return true, nil
}

// planFirst sizes a first run through sess, reading store (nil: there is
// no warehouse yet). Like every plan it writes nothing but the request
// journal: the run that follows moves its requests to the ledger.
func planFirst(ctx context.Context, cfg Config, store *load.Store, sess *Session, latency time.Duration) (*Forecast, error) {
	now := time.Now()
	var campaigns []transform.Campaign
	err := sess.Client.Crawl(ctx, []extract.Item{{Stream: extract.StreamCampaigns}}, 1, func(p extract.Page) error {
		campaigns = append(campaigns, transform.FromPage(p).Campaigns...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the campaign list: %w", err)
	}
	in, err := planInput(ctx, store, cfg, now, campaigns)
	if err != nil {
		return nil, err
	}
	sig, err := gatherSignals(ctx, sess.Client, store, in)
	if err != nil {
		return nil, fmt.Errorf("read the overall-stats ranges to size the first run: %w", err)
	}
	from := fmt.Sprintf("API; leads and statistics sized from %d overall-stats ranges", len(sig.Cells))
	if sig.OverallFailed != "" {
		from = "API; overall-stats could not size leads and statistics (" + sig.OverallFailed + "): one page each assumed"
	}
	in.Sizes = sizesFromOverall(sig.Overall)
	wp := BuildPlan(in)
	f := &Forecast{
		Mode: wp.Mode, First: true, Campaigns: len(campaigns), PerStream: wp.Estimate,
		Requests: wp.Requests() + 1 + sig.Requests, AlreadySpent: sess.Spent, Latency: latency, Start: now,
		SpentPlanning: sess.Client.Stats().Requests, SignalRequests: sig.Requests, CampaignsFrom: from,
	}
	if sig.OverallFailed != "" {
		f.Fallbacks = map[string]string{endpointOverall: sig.OverallFailed}
	}
	f.PerStream[extract.StreamCampaigns] = 1
	// The run starts when the plan is done, behind the plan's own
	// requests (the limiter holds them).
	f.Start = time.Now()
	f.Finish = finish(cfg.Windows, sess.Limiter.Sent(), f.Start, f.Requests, latency)
	return f, nil
}
