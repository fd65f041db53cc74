package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// Forecast is what `plan` (and `run --dry-run`) prints: the requests the
// next run will make, per stream, and when it can finish at the earliest
// under the configured windows, given what the last hour already spent.
type Forecast struct {
	Mode          load.Mode // load.ModeFull, load.ModeIncremental, or ModeResume
	Campaigns     int
	Frozen        int
	PerStream     map[extract.Stream]int
	Requests      int           // total, the campaign list included
	AlreadySpent  int           // requests in the ledger still inside the longest window
	Latency       time.Duration // typical request latency, from the ledger
	Start         time.Time
	Finish        time.Time // earliest finish
	SpentPlanning int64     // requests the forecast itself made
	CampaignsFrom string    // "API", or the last snapshot when the quota is spent
	First         bool      // no snapshot yet: sized from the overall-stats ranges (see planFirst)

	// Change detection. SignalRequests are the account-wide signals'
	// pages (the activities, the overall-stats ranges), which the run
	// reads again; Flagged counts the campaigns each signal flagged (one
	// campaign may count under several flags; FlagSample is the
	// verification sample); Fallbacks names each signal that could not be
	// used and why (the run then probes every campaign instead); Derived
	// counts the rows the run derives instead of reading (today's daily
	// stats of campaigns that sent nothing since the previous run).
	SignalRequests int
	Flagged        map[Flag]int
	Fallbacks      map[string]string
	Derived        int
}

// ModeResume is the Forecast.Mode of a run that continues an interrupted
// one (which keeps its own mode in etl_runs).
const ModeResume load.Mode = "resume"

// planWaitMax is how long plan waits for a rate-limit slot to read the
// campaign list before it plans from the last snapshot's list instead.
const planWaitMax = 10 * time.Second

// Duration is the forecast run time.
func (f Forecast) Duration() time.Duration { return f.Finish.Sub(f.Start) }

// Plan sizes the next run without running it: it reads the warehouse and
// the request ledger and makes one request (the campaign list). It takes
// no lock and writes nothing but the request journal (the next run moves
// its requests to the ledger), so it works while a run goes on. A first
// run (no snapshot yet) is sized by planFirst instead.
func Plan(ctx context.Context, cfg Config) (*Forecast, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var store *load.Store
	if _, err := os.Stat(cfg.DB); err == nil {
		if store, err = load.OpenReadOnly(ctx, cfg.DB, load.Options{LockWait: cfg.LockWait, Logger: log}); err != nil {
			return nil, fmt.Errorf("open warehouse: %w", err)
		}
		defer store.Close()
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	first, err := isFirstRun(ctx, cfg, store)
	if err != nil {
		return nil, err
	}
	sess, err := NewSession(ctx, cfg, SessionOptions{Store: store, Label: "plan", Logger: log})
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	var latency time.Duration
	if store != nil {
		if latency, err = store.TypicalLatency(ctx); err != nil {
			return nil, err
		}
	}
	if first {
		return planFirst(ctx, cfg, store, sess, latency)
	}
	now := time.Now()
	past := sess.Limiter.Sent()
	f := &Forecast{Start: now, AlreadySpent: sess.Spent, Latency: latency, PerStream: map[extract.Stream]int{}}

	if from, ok := cfg.resumeFrom(now); ok {
		n, err := store.ResumablePending(ctx, from)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			f.Mode, f.Requests = ModeResume, int(n)
			f.Finish = finish(cfg.Windows, past, now, f.Requests, latency)
			return f, nil
		}
	}

	var campaigns []transform.Campaign
	if slot := sess.Limiter.NextSlot(); slot.After(now.Add(planWaitMax)) {
		// The quota is spent for a while: rather than make the user wait,
		// plan from the campaign list of the last snapshot.
		prev, err := store.LatestSucceeded(ctx)
		if err != nil {
			return nil, err
		}
		if prev == nil {
			return nil, fmt.Errorf("the rate limit allows no request before %s and there is no snapshot to plan from", slot.Local().Format(time.TimeOnly))
		}
		states, err := store.Held().CampaignStates(ctx, prev.RunID)
		if err != nil {
			return nil, err
		}
		for _, id := range sortedIDs(states) {
			st := states[id]
			campaigns = append(campaigns, transform.Campaign{CampaignID: id, Status: st.Status, UpdatedAt: st.UpdatedAt})
		}
		f.CampaignsFrom = "last snapshot (the rate limit allows no request before " + slot.Local().Format(time.TimeOnly) + ")"
	} else {
		err = sess.Client.Crawl(ctx, []extract.Item{{Stream: extract.StreamCampaigns}}, 1, func(p extract.Page) error {
			campaigns = append(campaigns, transform.FromPage(p).Campaigns...)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read the campaign list: %w", err)
		}
		f.SpentPlanning = sess.Client.Stats().Requests
		f.CampaignsFrom = "API"
		past = sess.Limiter.Sent()
	}

	in, err := planInput(ctx, store, cfg, now, campaigns)
	if err != nil {
		return nil, err
	}
	if f.CampaignsFrom == "API" {
		in.SampleSeed = "plan"
		sig, err := gatherSignals(ctx, sess.Client, store, in)
		if err != nil {
			return nil, fmt.Errorf("read the account-wide change signals: %w", err)
		}
		in.Signals = sig
		f.SignalRequests = sig.Requests
		f.SpentPlanning = sess.Client.Stats().Requests
		past = sess.Limiter.Sent()
	} else {
		// No request to spare: the signals' pages are estimated (one page
		// of activities, the overall-stats ranges a night reads).
		cells, _, err := store.Held().OverallStats(ctx)
		if err != nil {
			return nil, err
		}
		f.SignalRequests = 1 + len(overallItems(campaigns, now, cells, false))
	}
	wp := BuildPlan(in)
	f.Mode, f.Campaigns, f.Frozen = wp.Mode, len(campaigns), wp.Frozen
	f.PerStream = wp.Estimate
	f.PerStream[extract.StreamCampaigns] = 1
	f.Flagged, f.Fallbacks, f.Derived = wp.Flagged(), wp.Notes.Probes, len(wp.Derived.DailyStats)
	f.Requests = wp.Requests() + 1 + f.SignalRequests
	// The run fetches the campaign list and the signals again; the
	// forecast's own requests are already in past (the limiter's sends).
	f.Finish = finish(cfg.Windows, past, time.Now(), f.Requests, latency)
	return f, nil
}

// finish is when n requests sent as early as the windows allow, after
// past, are answered.
func finish(ws []ratelimit.Window, past []time.Time, start time.Time, n int, latency time.Duration) time.Time {
	if n == 0 {
		return start
	}
	return ratelimit.FinishTime(ws, past, start, n).Add(latency)
}
