package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// job is one run's extraction: a persisted queue of page-sized items
// drained through the crawler, every page staged and checkpointed as it
// arrives, so that a crash or a budget stop loses at most the pages in
// flight.
type job struct {
	cfg    Config
	log    *slog.Logger
	store  *load.Store
	run    *load.Run
	client *extract.Client
	lim    *ratelimit.Limiter
	sess   *Session
	prog   Progress
	track  *Tracker

	// Written only by emit (one goroutine at a time).
	seqOf     map[string]int64 // queue seq of each item handed to the crawler
	campaigns []transform.Campaign

	// prior is what earlier invocations of a resumed run spent.
	prior load.Counters
	// unsized: campaigns planned at one page of leads and statistics
	// (see sizeFromAnalytics); written only by plan and emit.
	unsized map[int64]bool

	// Change detection (verify.go): the plan's notes, the previous
	// snapshot's campaign states, and the fallbacks already logged.
	notes   *planNotes
	noNotes bool
	held    map[int64]load.CampaignState
	warned  map[string]bool
	// signalPages are the account-wide signals' requests, made before the
	// plan (outside the tracker's pages, inside what plan predicts).
	signalPages int

	admitted atomic.Int64 // requests taken from the budget (MaxRequests)
	stopped  atomic.Bool
	reasonMu sync.Mutex
	reason   string
}

// itemKey identifies an item for the seq map: Item holds a time.Time, whose
// == compares representation, not instant.
func itemKey(it extract.Item) string {
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return strconv.FormatInt(t.UnixNano(), 10)
	}
	return string(it.Stream) + "|" + strconv.FormatInt(it.CampaignID, 10) + "|" + it.Day + "|" + it.EndDay + "|" +
		strconv.Itoa(it.Offset) + "|" + stamp(it.Since) + "|" + stamp(it.Until)
}

func (j *job) wants(s extract.Stream) bool { return s.Selected(j.cfg.Streams) }

// extract plans (unless resuming: the plan is in the queue), drains the
// queue, then re-reads in full any campaign whose incremental leads do not
// add up to what its analytics say (deleted or moved leads).
func (j *job) extract(ctx context.Context) error {
	// A resumed run's plan is in its queue; one interrupted before its plan
	// was saved plans again (the campaign list is one request).
	if !j.run.Planned() {
		if err := j.plan(ctx); err != nil || j.stopped.Load() {
			return err
		}
	}
	mismatches := 0
	for round := 1; ; round++ {
		if err := j.drain(ctx); err != nil || j.stopped.Load() {
			return err
		}
		v, err := j.verify(ctx, round)
		if err != nil {
			return err
		}
		if v > 0 {
			continue
		}
		n, err := j.refreshMismatches(ctx)
		if err != nil || n == 0 {
			return err
		}
		if mismatches++; mismatches > 3 {
			return fmt.Errorf("leads of %d campaigns still disagree with their analytics after a full re-read", n)
		}
	}
}

// plan fetches the campaign list (one request), then queues the rest.
func (j *job) plan(ctx context.Context) error {
	pending, err := j.run.PendingItems(ctx)
	if err != nil {
		return err
	}
	if len(pending) == 0 { // a resumed, unplanned run may have it queued already
		if _, err := j.run.Enqueue(ctx, []extract.Item{{Stream: extract.StreamCampaigns}}); err != nil {
			return err
		}
	}
	if err := j.drain(ctx); err != nil || j.stopped.Load() {
		return err
	}
	in, err := planInput(ctx, j.store, j.cfg, time.Now(), j.campaigns)
	if err != nil {
		return err
	}
	in.SampleSeed = j.run.ID()
	sig, err := gatherSignals(ctx, j.client, j.store, in)
	if err != nil {
		if errors.Is(err, extract.ErrNotAdmitted) {
			return nil // the budget or deadline stopped it (j.stopped)
		}
		return fmt.Errorf("read the account-wide change signals: %w", err)
	}
	in.Signals = sig
	j.signalPages = sig.Requests
	in.Sizes = sizesFromOverall(sig.Overall)
	if sig.OverallFailed != "" && (in.FullRefresh || in.Prev == nil) {
		j.log.Warn("overall-stats unusable; the next night reads every range again", "reason", sig.OverallFailed)
	}
	j.held = in.States
	wp := BuildPlan(in)
	if err := j.recordPlan(ctx, in, wp); err != nil {
		return err
	}
	j.track.Expect(wp.Requests())
	j.unsized = unsizedCampaigns(in)
	// requests_estimated counts the campaign list and the signals, as
	// `plan` does.
	attrs := []any{"mode", wp.Mode, "campaigns", len(j.campaigns), "frozen_campaigns", wp.Frozen,
		"requests_estimated", wp.Requests() + 1 + sig.Requests, "unsized_campaigns", len(j.unsized), "carried", wp.Carried(),
		"signal_requests", sig.Requests}
	if wp.Flags != nil {
		fl := wp.Flagged()
		for i, name := range flagNames {
			attrs = append(attrs, "flagged_"+name, fl[Flag(1<<i)])
		}
	}
	j.log.Info("plan", attrs...)
	return nil
}

// recordPlan stages what the plan derived and what the night's signals
// leave for the commit and for verify, then the plan itself: a run
// resumed before SetPlan plans again from a clean slate, so all of it is
// written before.
func (j *job) recordPlan(ctx context.Context, in PlanInput, wp WorkPlan) error {
	sig := in.Signals
	if len(wp.Derived.DailyStats) > 0 {
		if err := j.run.Write(ctx, wp.Derived); err != nil {
			return err
		}
	}
	if sig != nil && sig.OverallFailed == "" && len(sig.Cells) > 0 {
		if err := j.run.StageOverallStats(ctx, sig.Cells, sig.Overall); err != nil {
			return err
		}
	}
	if len(wp.Checks) > 0 {
		probed := 0
		for _, f := range wp.Flags {
			if f&FlagProbe != 0 {
				probed++
			}
		}
		for _, c := range wp.Checks {
			j.warned[c.Subject] = true
			j.log.Warn("change signal unusable", "endpoint", c.Subject, "reason", wp.Notes.Probes[c.Subject],
				"fallback_campaigns", probed)
		}
		if err := j.run.AddChecks(ctx, wp.Checks...); err != nil {
			return err
		}
	}
	if wp.Flags != nil {
		doc, err := json.Marshal(wp.Notes)
		if err != nil {
			return err
		}
		if err := j.run.SetNotes(ctx, doc); err != nil {
			return err
		}
		j.notes = &wp.Notes
	} else {
		j.noNotes = true
	}
	return j.run.SetPlan(ctx, wp.Mode, wp.Items, wp.Carries)
}

// planInput gathers what BuildPlan needs from the warehouse.
func planInput(ctx context.Context, store *load.Store, cfg Config, now time.Time, campaigns []transform.Campaign) (PlanInput, error) {
	in := PlanInput{
		Now: now, Campaigns: campaigns, Streams: cfg.Streams, Days: cfg.Days, BackfillDays: cfg.BackfillDays,
		FullRefresh: cfg.FullRefresh, Overlap: cfg.Overlap, StatsLookback: cfg.StatsLookback, ProbeLive: cfg.ProbeLive,
	}
	if store == nil { // a first plan before there is a warehouse
		return in, nil
	}
	prev, err := store.LatestSucceeded(ctx)
	if err != nil {
		return in, err
	}
	if in.DaysHeld, err = store.Held().Days(ctx, now.AddDate(0, 0, -max(cfg.Days, cfg.BackfillDays)), now); err != nil {
		return in, err
	}
	if prev == nil {
		return in, nil
	}
	in.Prev, in.PrevMode = prev, prev.Mode
	if in.States, err = store.Held().CampaignStates(ctx, prev.RunID); err != nil {
		return in, err
	}
	if in.PrevRequests, err = store.RequestCounts(ctx, prev.RunID); err != nil {
		return in, err
	}
	return in, nil
}

// drain crawls every pending item of the queue.
func (j *job) drain(ctx context.Context) error {
	pending, err := j.run.PendingItems(ctx)
	if err != nil || len(pending) == 0 {
		return err
	}
	items := make([]extract.Item, len(pending))
	for i, w := range pending {
		items[i] = w.Item
		j.seqOf[itemKey(w.Item)] = w.Seq
	}
	j.prog.Planned(len(items))
	j.track.queued(len(items))
	return j.client.Crawl(ctx, items, j.cfg.Concurrency, j.emit)
}

// emit is called by the crawler from one goroutine at a time: it owns the
// run's appenders.
func (j *job) emit(p extract.Page) error {
	ctx := context.Background() // the crawl's context governs cancellation; a started write finishes
	key := itemKey(p.Item)
	seq, ok := j.seqOf[key]
	if !ok {
		return fmt.Errorf("page of an item the queue does not hold: %s", key)
	}
	delete(j.seqOf, key)
	b := transform.FromPage(p)
	if p.Item.Stream == extract.StreamCampaigns {
		j.campaigns = append(j.campaigns, b.Campaigns...)
		if !j.wants(extract.StreamCampaigns) {
			b.Campaigns = nil // fetched only to plan
		}
	}
	if p.Item.Stream == extract.StreamCampaignAnalytics {
		j.sizeFromAnalytics(b)
	}
	for _, r := range b.Rejected {
		j.log.Warn("record rejected", "stream", r.Stream, "key", r.RecordKey, "field", r.Field, "reason", r.Reason)
	}
	next, err := j.run.CompleteItem(ctx, seq, b, p.Next)
	if err != nil {
		return fmt.Errorf("stage %s page (campaign %d, offset %d): %w", p.Item.Stream, p.Item.CampaignID, p.Item.Offset, err)
	}
	if p.Next != nil {
		j.seqOf[itemKey(*p.Next)] = next
		j.prog.Planned(1)
		j.track.queued(1)
	}
	j.track.fetched()
	j.prog.Page(batchRows(b), j.client.Stats())
	return j.flushAttempts(ctx)
}

// refreshMismatches finds campaigns whose merged leads (carried plus
// changed) differ from the leads_total their fresh analytics report: leads
// were deleted or moved, which no filter can show. Their leads and
// statistics are re-read in full. It returns how many it queued.
func (j *job) refreshMismatches(ctx context.Context) (int, error) {
	merged, err := j.run.Staged().MergedCounts(ctx, string(extract.StreamLeads))
	if err != nil {
		return 0, err
	}
	totals, err := j.run.Staged().LeadsTotals(ctx)
	if err != nil {
		return 0, err
	}
	carried, err := j.run.CarriedCampaigns(ctx, string(extract.StreamLeads), load.CarryMerge)
	if err != nil {
		return 0, err
	}
	var ids []int64
	for _, id := range carried {
		want, ok := totals[id]
		if !ok || merged[id] == want {
			continue
		}
		j.log.Info("leads do not add up; re-reading the campaign in full", "campaign_id", id, "merged", merged[id], "leads_total", want)
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return 0, nil
	}
	// Statistics of deleted leads go with them, so both are re-read, for
	// every such campaign in one transaction.
	streams := []string{string(extract.StreamLeads), string(extract.StreamLeadEmailStats)}
	var items []extract.Item
	for _, id := range ids {
		for _, s := range streams {
			if j.wants(extract.Stream(s)) {
				items = append(items, extract.Item{Stream: extract.Stream(s), CampaignID: id})
			}
		}
	}
	if _, err := j.run.Refetch(ctx, ids, streams, items); err != nil {
		return 0, err
	}
	return len(ids), nil
}

// admit keeps the run inside its request budget and deadline: the client
// asks it before every request that would reach the server (first
// attempts, retries, the transport's re-sends), from any worker.
func (j *job) admit(it extract.Item) bool {
	if j.stopped.Load() {
		return false
	}
	if !j.cfg.Deadline.IsZero() {
		// The wait is measured on the monotonic clock, the time left on
		// the wall clock as it reads now (Round(0) drops any monotonic
		// reading): a deadline is a time of day, and follows a clock
		// that NTP stepped during the run.
		now := time.Now()
		if at := j.lim.NextSlot(); at.Sub(now) > j.cfg.Deadline.Round(0).Sub(now) {
			j.stop(fmt.Sprintf("the next request could not be sent before the deadline %s (earliest %s)",
				j.cfg.Deadline.Local().Format(time.TimeOnly), at.Local().Format(time.TimeOnly)))
			return false
		}
	}
	if max := int64(j.cfg.MaxRequests); max > 0 {
		// One atomic step takes the request from the budget: checking
		// then counting would let concurrent workers all pass the check.
		if j.admitted.Add(1) > max {
			j.stop(fmt.Sprintf("request budget of %d reached", max))
			return false
		}
	}
	return true
}

func (j *job) stop(reason string) {
	j.reasonMu.Lock()
	defer j.reasonMu.Unlock()
	if !j.stopped.Swap(true) {
		j.reason = reason
	}
}

func (j *job) stopReason() string {
	j.reasonMu.Lock()
	defer j.reasonMu.Unlock()
	return j.reason
}

func (j *job) flushAttempts(ctx context.Context) error { return j.sess.FlushRun(ctx, j.run) }

// counters are the run's totals, earlier invocations included. Waited is
// the wall-clock time the limiter held every request back, not the sum
// of each worker's waits (see workerWaits).
func (j *job) counters() load.Counters {
	s := j.client.Stats()
	return load.Counters{
		Requests:  j.prior.Requests + s.Requests,
		Throttled: j.prior.Throttled + s.Throttled,
		Retries:   j.prior.Retries + s.Retries,
		Waited:    j.prior.Waited + j.lim.HeldBack(),
	}
}

func batchRows(b transform.Batch) int64 {
	return int64(len(b.Campaigns) + len(b.CampaignAnalytics) + len(b.DailyStats) + len(b.Leads) +
		len(b.LeadEmailStats) + len(b.Sequences) + len(b.EmailAccounts) + len(b.Clients))
}
