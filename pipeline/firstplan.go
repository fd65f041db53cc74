package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/internal/lockfile"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// A first run has no snapshot to size it from, and it is the one that
// matters most: a large account's first full refresh takes half a day.
// The first-run plan reads the campaign list and each campaign's
// analytics (one cheap request each), whose lead total and sent count
// give the pages of leads and statistics; everything else costs a known
// number of requests per campaign. The requests it spends go into the
// ledger, so the run that follows counts them against the rate limit.

// isFirstRun reports whether the next run has no snapshot to plan from
// and no interrupted run to continue: the warehouse does not exist yet,
// or no run of it has succeeded.
func isFirstRun(ctx context.Context, cfg Config) (bool, error) {
	if _, err := os.Stat(cfg.DB); errors.Is(err, os.ErrNotExist) {
		return true, nil
	}
	store, err := load.OpenReadOnly(ctx, cfg.DB, load.Options{LockWait: cfg.LockWait})
	if err != nil {
		return false, fmt.Errorf("open warehouse: %w", err)
	}
	defer store.Close()
	prev, err := store.LatestSucceeded(ctx)
	if err != nil || prev != nil {
		return false, err
	}
	if within := cfg.ResumeWithin; within >= 0 && !cfg.FullRefresh {
		if within == 0 {
			within = DefaultResumeWithin
		}
		n, err := store.ResumablePending(ctx, time.Now().Add(-within))
		if err != nil || n > 0 {
			return false, err // the next run continues that one
		}
	}
	return true, nil
}

// planFirst sizes a first run. It opens the warehouse for writing (it
// creates it when missing) under the run lock, to record its requests.
func planFirst(ctx context.Context, cfg Config) (*Forecast, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lock, err := lockfile.Acquire(cfg.DB + ".lock")
	if err != nil {
		return nil, err
	}
	defer lock.Release()
	store, err := load.Open(ctx, cfg.DB, cfg.Schema, load.Options{LockWait: cfg.LockWait, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open warehouse: %w", err)
	}
	defer store.Close()

	now := time.Now()
	jr, past, err := quotaMemory(ctx, store, cfg.DB, now.Add(-longest(cfg.Windows)), log)
	if err != nil {
		return nil, err
	}
	defer jr.Close()
	latency, err := store.TypicalLatency(ctx)
	if err != nil {
		return nil, err
	}
	lim := ratelimit.New(cfg.Windows,
		ratelimit.WithServerWindows(cfg.ServerWindows),
		ratelimit.WithWaitHook(10*time.Second, waitLogger(log)))
	lim.Preload(past)
	rec := &attemptLog{}
	client, err := newClient(cfg, lim, log, rec.add, nil, extract.WithJournal(jr))
	if err != nil {
		return nil, err
	}
	// The ledger gets every attempt made, even when sizing fails halfway.
	planID := fmt.Sprintf("plan-%s-%04x", now.UTC().Format("20060102T150405Z"), rand.Uint32N(1<<16))
	defer func() {
		as := rec.take()
		if lerr := store.LogAttempts(context.WithoutCancel(ctx), planID, as); lerr != nil {
			log.Error("could not record the plan's requests in the ledger", "err", lerr)
		} else if lerr := jr.Flushed(journalIDs(as)); lerr != nil {
			log.Error("could not record the plan's requests in the journal", "err", lerr)
		}
	}()

	var campaigns []transform.Campaign
	err = client.Crawl(ctx, []extract.Item{{Stream: extract.StreamCampaigns}}, 1, func(p extract.Page) error {
		campaigns = append(campaigns, transform.FromPage(p).Campaigns...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the campaign list: %w", err)
	}
	states, err := sizeCampaigns(ctx, client, cfg, campaigns)
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
		Requests: wp.Requests() + 1, AlreadySpent: len(past), Latency: latency, Start: now,
		SpentPlanning: client.Stats().Requests,
		CampaignsFrom: "API; leads and statistics sized from each campaign's analytics",
	}
	f.PerStream[extract.StreamCampaigns] = 1
	// The run starts when the plan is done, behind the plan's own
	// requests (lim.Sent holds them).
	f.Start = time.Now()
	f.Finish = finish(cfg.Windows, lim.Sent(), f.Start, f.Requests, latency)
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
