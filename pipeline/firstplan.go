package pipeline

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// A first run has no snapshot to size it from, and it is the one that
// matters most: a large account's first full refresh takes half a day.
// The first-run plan reads the campaign list and each campaign's
// analytics (one cheap request each), whose lead total and sent count
// give the pages of leads and statistics; everything else costs a known
// number of requests per campaign. The requests it spends go into the
// request journal, so the run that follows counts them against the rate
// limit (and writes them to the ledger).

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
	states, err := sizeCampaigns(ctx, sess.Client, cfg, campaigns)
	if err != nil {
		return nil, err
	}

	in, err := planInput(ctx, store, cfg, now, campaigns)
	if err != nil {
		return nil, err
	}
	in.States = states
	wp := BuildPlan(in)
	f := &Forecast{
		Mode: wp.Mode, First: true, Campaigns: len(campaigns), PerStream: wp.Estimate,
		Requests: wp.Requests() + 1, AlreadySpent: sess.Spent, Latency: latency, Start: now,
		SpentPlanning: sess.Client.Stats().Requests,
		CampaignsFrom: "API; leads and statistics sized from each campaign's analytics",
	}
	f.PerStream[extract.StreamCampaigns] = 1
	// The run starts when the plan is done, behind the plan's own
	// requests (the limiter holds them).
	f.Start = time.Now()
	f.Finish = finish(cfg.Windows, sess.Limiter.Sent(), f.Start, f.Requests, latency)
	return f, nil
}

// sizeCampaigns fetches each campaign's analytics, when leads or
// statistics are wanted, and returns per campaign the leads and
// statistics rows BuildPlan counts pages from: the analytics' lead total
// and its sent count (one statistics row per email sent).
func sizeCampaigns(ctx context.Context, client *extract.Client, cfg Config, campaigns []transform.Campaign) (map[int64]load.CampaignState, error) {
	states := map[int64]load.CampaignState{}
	wants := func(s extract.Stream) bool { return cfg.Streams == nil || slices.Contains(cfg.Streams, s) }
	if !wants(extract.StreamLeads) && !wants(extract.StreamLeadEmailStats) {
		return states, nil
	}
	items := make([]extract.Item, len(campaigns))
	for i, c := range campaigns {
		items[i] = extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: c.CampaignID}
	}
	workers := max(cfg.Concurrency, 1)
	err := client.Crawl(ctx, items, workers, func(p extract.Page) error {
		for _, a := range transform.FromPage(p).CampaignAnalytics {
			states[a.CampaignID] = load.CampaignState{CampaignID: a.CampaignID, Leads: a.LeadsTotal, Stats: a.SentCount, LeadsTotal: a.LeadsTotal}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read campaign analytics to size the first run: %w", err)
	}
	return states, nil
}
