package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// Trust, but verify. Once the pages of a night planned from the change
// signals are in, the run checks what it read against what the signals
// said, and falls back to the per-campaign path for whatever it cannot
// vouch for:
//
//   - the verification sample (campaigns the signals call unchanged,
//     re-read) must equal the snapshot: a mismatch probes every campaign
//     (analytics and changed leads) and re-reads those that changed;
//   - a campaign probed (a signal unusable, a webhook hint, counters
//     that moved without activity) is read in full where the probe shows
//     a change;
//   - an activity entry must not show more opens, clicks or replies than
//     the statistics row re-read for it: otherwise every campaign's
//     changed leads are probed;
//   - overall-stats counters that moved on campaigns whose analytics did
//     not move, on more than 1% of the account, mean the endpoint
//     disagrees: every campaign's analytics are probed, and its rows are
//     not remembered;
//   - a lead's category that moved shows on every statistics row of it:
//     rows not re-read are (see load.Run.CategoryDrift);
//   - analytics carried for a settings change must keep the step count
//     the sequences re-read shows.
//
// Each fallback is one warning line and one data_checks row (severity
// info: the per-campaign path completes, so the snapshot is exact);
// nothing is remembered, and the next night trusts the signals again.
// Every decision is made from the run's notes, its queue and what it
// staged, so a resumed run verifies as an uninterrupted one would, and
// nothing is queued twice.

// verifyRounds bounds the rounds of verification; beyond them the
// snapshot is committed with a warning.
const verifyRounds = 4

// verifyState is what one verification round reads.
type verifyState struct {
	notes    planNotes
	held     map[int64]load.CampaignState
	analytic map[int64]transform.CampaignAnalytics // staged
	leads    map[int64]int64                       // staged leads per campaign
	seqs     map[int64]int64                       // staged sequences per campaign
	today    map[int64]transform.CampaignDailyStat
	has      map[extract.Stream]map[int64]bool // first pages queued
	fullStat map[int64]bool                    // a statistics read without Since queued
	probed   bool                              // a statistics read of one row (Until set) queued
	// fullNow: the full statistics reads this round queued (their rows
	// are not in yet: what they will show is for the next round).
	fullNow map[int64]bool
	ready   bool // the queue as it was is read: what queue sees now is this round's
}

// queue notes that it (the first page of a new item) is queued.
func (v *verifyState) queue(it extract.Item) {
	if v.has[it.Stream] == nil {
		v.has[it.Stream] = map[int64]bool{}
	}
	v.has[it.Stream][it.CampaignID] = true
	if it.Stream == extract.StreamLeadEmailStats && it.Since.IsZero() {
		v.fullStat[it.CampaignID] = true
		if v.ready {
			v.fullNow[it.CampaignID] = true
		}
	}
	if it.Stream == extract.StreamLeadEmailStats && !it.Until.IsZero() {
		v.probed = true
	}
}

// loadNotes reads the run's plan notes once (nil: planned without
// signals).
func (j *job) loadNotes(ctx context.Context) (*planNotes, error) {
	if j.notes != nil || j.noNotes {
		return j.notes, nil
	}
	doc, err := j.run.Notes(ctx)
	if err != nil || doc == nil {
		j.noNotes = doc == nil
		return nil, err
	}
	var n planNotes
	if err := json.Unmarshal(doc, &n); err != nil {
		return nil, fmt.Errorf("read the plan's notes: %w", err)
	}
	j.notes = &n
	return j.notes, nil
}

func (j *job) verifyState(ctx context.Context, n *planNotes) (*verifyState, error) {
	v := &verifyState{notes: *n, has: map[extract.Stream]map[int64]bool{}, fullStat: map[int64]bool{}, fullNow: map[int64]bool{}}
	var err error
	if j.held == nil {
		if j.held, err = j.store.Held().CampaignStates(ctx, n.PrevRun); err != nil {
			return nil, err
		}
	}
	v.held = j.held
	if v.analytic, err = j.run.Staged().Analytics(ctx); err != nil {
		return nil, err
	}
	if v.leads, err = j.run.Staged().Counts(ctx, string(extract.StreamLeads)); err != nil {
		return nil, err
	}
	if v.seqs, err = j.run.Staged().Counts(ctx, string(extract.StreamSequences)); err != nil {
		return nil, err
	}
	today, err := time.Parse(time.DateOnly, n.Today)
	if err != nil {
		return nil, fmt.Errorf("plan notes: today %q: %w", n.Today, err)
	}
	if v.today, err = j.run.Staged().Daily(ctx, today); err != nil {
		return nil, err
	}
	items, err := j.run.Staged().Items(ctx)
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if it.Offset == 0 && it.CampaignID != 0 {
			v.queue(it)
		}
	}
	v.ready = true
	return v, nil
}

// verify checks the night's pages against its signals (see above) and
// queues what it finds missing; it returns how many campaigns it queued
// work for (0: the snapshot is as the signals and the sample say).
func (j *job) verify(ctx context.Context, round int) (int, error) {
	n, err := j.loadNotes(ctx)
	if err != nil || n == nil {
		return 0, err
	}
	v, err := j.verifyState(ctx, n)
	if err != nil {
		return 0, err
	}
	var checks []load.Check
	promote := map[int64]bool{}
	fallback := map[string]string{} // endpoint (or "sample") -> why
	ids := sortedIDs(n.Flags)

	// The sample, and every probe: what changed is read in full.
	var sampleDiffs []string
	for _, id := range ids {
		f := n.Flags[id]
		if f&(FlagNew|FlagActivity) != 0 || v.fullStat[id] {
			continue
		}
		held := v.held[id].Analytics
		var why []string
		if a, ok := v.analytic[id]; ok && held != nil {
			if d := analyticsDiff(*held, a, f&FlagSample != 0 && f&FlagSettings == 0); d != "" {
				why = append(why, "analytics "+d)
			}
		}
		if m := v.leads[id]; m > 0 {
			why = append(why, fmt.Sprintf("%d leads with activity since %s", m, n.LeadsSince.Format(time.RFC3339)))
		}
		if d, ok := v.today[id]; ok && f&FlagSample != 0 && !zeroDay(d) {
			why = append(why, fmt.Sprintf("%d emails sent today", d.SentCount))
		}
		if len(why) == 0 {
			continue
		}
		promote[id] = true
		// A probed campaign's difference is what the probe is for (a
		// live campaign probed by Config.ProbeLive, or every campaign
		// while a signal is unusable): the signals did not vouch for it.
		if f&FlagSample != 0 && f&FlagProbe == 0 {
			detail := "verification sample: the signals call it unchanged, but " + strings.Join(why, "; ")
			sampleDiffs = append(sampleDiffs, fmt.Sprintf("campaign %d: %s", id, strings.Join(why, "; ")))
			checks = append(checks, load.Check{Name: checkSignals, Subject: fmt.Sprintf("campaign %d", id), Detail: detail, Severity: load.SeverityInfo})
		}
	}
	if len(sampleDiffs) > 0 {
		fallback["verification sample"] = strings.Join(sampleDiffs, "; ")
	}

	// Overall-stats that moved where nothing did.
	if _, probing := n.Probes[endpointOverall]; !probing {
		var lies []int64
		for _, id := range ids {
			f := n.Flags[id]
			if f&FlagCounters == 0 || f&(FlagNew|FlagActivity|FlagHook) != 0 {
				continue
			}
			a, ok := v.analytic[id]
			if held := v.held[id].Analytics; !ok || held == nil || analyticsDiff(*held, a, false) != "" {
				continue
			}
			// Rows of an older night may differ by activity a night in
			// between read: then only the totals over every range, set
			// against the campaign's own analytics, can tell.
			if _, stale := slices.BinarySearch(n.Stale, id); stale {
				if t, ok := n.Totals[id]; !ok || (t[0] == a.SentCount && t[1] == a.ReplyCount) {
					continue
				}
			}
			lies = append(lies, id)
		}
		if len(lies)*100 > n.Campaigns { // more than 1% of the account
			fallback[endpointOverall] = fmt.Sprintf("counters moved for %d campaigns whose analytics did not (e.g. campaign %d)", len(lies), lies[0])
		}
	}

	// Activities that say more than the statistics rows re-read for them.
	if _, probing := n.Probes[endpointActivities]; !probing {
		var want []string
		for _, es := range n.Expect {
			for _, e := range es {
				want = append(want, e.StatsID)
			}
		}
		rows, err := j.run.Staged().Emails(ctx, want)
		if err != nil {
			return 0, err
		}
		got := make(map[string]load.EmailState, len(rows))
		for _, r := range rows {
			got[r.StatsID] = r
		}
		bad, example := 0, ""
		for _, id := range sortedIDs(n.Expect) {
			for _, e := range n.Expect[id] {
				r, ok := got[e.StatsID]
				if !ok {
					continue
				}
				if e.Open > r.OpenCount || e.Click > r.ClickCount || (e.Replied && r.ReplyTime == nil) {
					bad++
					if example == "" {
						example = fmt.Sprintf("campaign %d stats_id %s: activity opens %d clicks %d replied %t, statistics row %d, %d, %t",
							id, e.StatsID, e.Open, e.Click, e.Replied, r.OpenCount, r.ClickCount, r.ReplyTime != nil)
					}
				}
			}
		}
		if bad > 0 {
			fallback[endpointActivities] = fmt.Sprintf("%d emails show more activity than their statistics rows (%s)", bad, example)
		}
	}

	queued, err := j.applyFallbacks(ctx, v, fallback, promote, &checks)
	if err != nil {
		return 0, err
	}

	// Settings carried analytics: the step count must hold; quiet
	// activity whose leads moved after all: the analytics too.
	var more []extract.Item
	if len(n.Quiet) > 0 {
		moved, err := j.run.Staged().ChangedLeads(ctx, n.PrevRun)
		if err != nil {
			return 0, err
		}
		for _, id := range moved {
			if _, quiet := slices.BinarySearch(n.Quiet, id); quiet && !v.has[extract.StreamCampaignAnalytics][id] &&
				j.wants(extract.StreamCampaignAnalytics) {
				it := extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: id}
				more = append(more, it)
				v.queue(it)
			}
		}
	}
	for _, id := range ids {
		if n.Flags[id]&FlagSettings == 0 || v.has[extract.StreamCampaignAnalytics][id] {
			continue
		}
		held := v.held[id].Analytics
		if steps, ok := v.seqs[id]; ok && held != nil && (held.SequenceCount == nil || *held.SequenceCount != steps) {
			it := extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: id}
			more = append(more, it)
			v.queue(it)
		}
	}
	// A category that moved: read the lead rows, or every email of it.
	drift, err := j.run.Staged().CategoryDrift(ctx, n.PrevRun)
	if err != nil {
		return 0, err
	}
	for _, id := range drift.NeedLeads {
		if !v.has[extract.StreamLeads][id] && j.wants(extract.StreamLeads) {
			it := extract.Item{Stream: extract.StreamLeads, CampaignID: id, Since: n.LeadsSince}
			more = append(more, it)
			v.queue(it)
		}
	}
	// A moved category makes older rows stale only where the API joins
	// it live: rows re-read tonight say which it does (a row of such a
	// lead that kept its category means the API keeps it per row); with
	// no evidence either way, they are read again.
	stale := drift.UnsubscribeRows
	switch {
	case len(drift.CategoryRows) == 0 || drift.Live > 0:
		stale = append(stale, drift.CategoryRows...)
	case drift.PerRow > 0:
		// Kept per row: the rows not re-read are as they were.
	case drift.Probe.SentTime != nil && v.fullNow[drift.Probe.CampaignID]:
		// The probe's campaign is read again in full this round (its
		// staged rows were just discarded): its rows say which it is
		// next round, and a one-row read now would stage a row twice.
	case drift.Probe.SentTime != nil && !v.probed && j.wants(extract.StreamLeadEmailStats):
		// No evidence yet: one row of such a lead, read again, says.
		t := drift.Probe.SentTime.Truncate(time.Millisecond)
		it := extract.Item{Stream: extract.StreamLeadEmailStats, CampaignID: drift.Probe.CampaignID, Since: t, Until: t.Add(time.Millisecond)}
		more = append(more, it)
		j.log.Info("a lead's category moved: reading one of its older statistics rows to learn whether the API moves it on every row",
			"campaign_id", it.CampaignID, "stats_id", drift.Probe.StatsID)
	default:
		stale = append(stale, drift.CategoryRows...)
	}
	if len(more) > 0 {
		if _, err := j.run.Enqueue(ctx, more); err != nil {
			return 0, err
		}
		queued += len(more)
	}
	var stats []int64
	for _, id := range stale {
		if !v.fullStat[id] && !slices.Contains(stats, id) {
			stats = append(stats, id)
		}
	}
	if len(stats) > 0 && j.wants(extract.StreamLeadEmailStats) {
		slices.Sort(stats)
		items := make([]extract.Item, len(stats))
		for i, id := range stats {
			items[i] = extract.Item{Stream: extract.StreamLeadEmailStats, CampaignID: id}
			v.queue(items[i])
		}
		if _, err := j.run.Refetch(ctx, stats, []string{string(extract.StreamLeadEmailStats)}, items); err != nil {
			return 0, err
		}
		j.log.Info("a lead's category or unsubscribe moved: re-reading its campaign's statistics in full", "campaigns", len(stats),
			"category_joined_live", drift.Live > 0 || drift.PerRow == 0, "evidence_live", drift.Live, "evidence_per_row", drift.PerRow)
		queued += len(stats)
	}
	if queued > 0 && round >= verifyRounds {
		checks = append(checks, load.Check{Name: checkSignals, Subject: "verification", Severity: load.SeverityWarning,
			Detail: fmt.Sprintf("still finding work after %d rounds: the snapshot may miss changes; run a --full-refresh", round)})
		queued = 0
	}
	if len(checks) > 0 {
		if err := j.run.AddChecks(ctx, checks...); err != nil {
			return 0, err
		}
	}
	return queued, nil
}

// applyFallbacks probes every campaign for what an untrusted signal would
// have vouched for, and reads in full the campaigns whose probe (or
// sample) showed a change. It returns the campaigns it queued work for.
func (j *job) applyFallbacks(ctx context.Context, v *verifyState, fallback map[string]string, promote map[int64]bool, checks *[]load.Check) (int, error) {
	n := v.notes
	leadsProbe := fallback[endpointActivities] != "" || fallback["verification sample"] != ""
	analyticsProbe := fallback[endpointOverall] != "" || fallback["verification sample"] != ""
	var probes []extract.Item
	probed := map[int64]bool{}
	for _, id := range sortedIDs(v.held) {
		if _, listed := slices.BinarySearch(n.Listed, id); !listed {
			continue // held, but no longer in the account
		}
		f := n.Flags[id]
		if f&(FlagNew|FlagActivity) != 0 || promote[id] || v.fullStat[id] {
			continue
		}
		if analyticsProbe && !v.has[extract.StreamCampaignAnalytics][id] && j.wants(extract.StreamCampaignAnalytics) {
			probes = append(probes, extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: id})
			probed[id] = true
		}
		if leadsProbe && !v.has[extract.StreamLeads][id] && j.wants(extract.StreamLeads) {
			probes = append(probes, extract.Item{Stream: extract.StreamLeads, CampaignID: id, Since: n.LeadsSince})
			probed[id] = true
		}
	}
	for _, endpoint := range sortedKeys(fallback) {
		why := fallback[endpoint]
		if !j.warned[endpoint] {
			j.warned[endpoint] = true
			j.log.Warn("change signal unusable", "endpoint", endpoint, "reason", why, "fallback_campaigns", len(probed))
		}
		*checks = append(*checks, load.Check{Name: checkSignals, Subject: endpoint, Severity: load.SeverityInfo,
			Detail: fmt.Sprintf("%s; fell back to the per-campaign path: %d campaigns probed", why, len(probed))})
		if endpoint == endpointOverall {
			// Its rows are not remembered: the next night compares with
			// the last rows that could be trusted.
			if err := j.run.StageOverallStats(ctx, nil, nil); err != nil {
				return 0, err
			}
		}
	}
	if len(probes) > 0 {
		if _, err := j.run.Enqueue(ctx, probes); err != nil {
			return 0, err
		}
		for _, it := range probes {
			v.queue(it)
		}
	}

	// Promotions: analytics, changed leads, all statistics, the window's
	// days (the derived today row is replaced).
	var ids []int64
	var items []extract.Item
	for _, id := range sortedIDs(promote) {
		ids = append(ids, id)
		if !v.has[extract.StreamCampaignAnalytics][id] && j.wants(extract.StreamCampaignAnalytics) {
			items = append(items, extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: id})
		}
		if !v.has[extract.StreamLeads][id] && j.wants(extract.StreamLeads) {
			items = append(items, extract.Item{Stream: extract.StreamLeads, CampaignID: id, Since: n.LeadsSince})
		}
		if j.wants(extract.StreamLeadEmailStats) {
			items = append(items, extract.Item{Stream: extract.StreamLeadEmailStats, CampaignID: id})
		}
		if j.wants(extract.StreamCampaignDailyStats) {
			for _, d := range n.Days {
				items = append(items, extract.Item{Stream: extract.StreamCampaignDailyStats, CampaignID: id, Day: d})
			}
		}
	}
	if len(ids) > 0 {
		if _, err := j.run.Refetch(ctx, ids, []string{string(extract.StreamLeadEmailStats), string(extract.StreamCampaignDailyStats)}, items); err != nil {
			return 0, err
		}
		for _, it := range items {
			v.queue(it)
		}
		j.log.Info("changes the signals did not name: re-reading the campaigns", "campaigns", len(ids))
	}
	return len(probed) + len(ids), nil
}
