package pipeline

import (
	"sort"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// Defaults of the incremental planner.
const (
	// DefaultOverlap is subtracted from the previous run's start before it
	// is used as an event_time_gt filter: clocks differ, and an event
	// stamped while that run was reading the campaign must not fall
	// between two runs.
	DefaultOverlap = time.Hour
	// DefaultStatsLookback is how far behind the previous run statistics
	// are re-read. The statistics endpoint filters only by send time, yet
	// opens, clicks and replies update rows after they are sent; re-reading
	// two days catches engagement on recent sends, and the weekly full
	// refresh catches the rare late open on an old email.
	DefaultStatsLookback = 48 * time.Hour
)

// WorkPlan is what a run will request after the campaign list, and which
// rows it carries over unchanged from the previous snapshot.
type WorkPlan struct {
	Mode    load.Mode
	Items   []extract.Item  // first pages, in priority order
	Carries []load.CarrySet // one set per stream and mode
	Frozen  int             // campaigns carried whole (no flag, or nothing can have moved)

	// Estimate is the predicted number of requests per stream, following
	// pages included; the campaign list (already fetched) and the
	// signals are not in it.
	Estimate map[extract.Stream]int

	// With change signals (PlanInput.Signals): why each campaign is read
	// (campaigns without a flag are carried), the rows derived instead of
	// read (today's daily stats of a campaign that sent nothing since the
	// previous run), what the run must verify once the pages are in, and
	// the checks the signals already call for (a signal that could not be
	// used, and the per-campaign path that replaces it).
	Flags   map[int64]Flag
	Derived transform.Batch
	Notes   planNotes
	Checks  []load.Check
}

// Carried is the number of (stream, campaign) carries of the plan.
func (p WorkPlan) Carried() int {
	n := 0
	for _, c := range p.Carries {
		n += len(c.Campaigns)
	}
	return n
}

// Requests is the plan's estimated request total.
func (p WorkPlan) Requests() int {
	n := 0
	for _, v := range p.Estimate {
		n += v
	}
	return n
}

// Flagged counts the campaigns that carry each flag (a campaign with two
// flags counts under both).
func (p WorkPlan) Flagged() map[Flag]int {
	out := map[Flag]int{}
	for _, f := range p.Flags {
		for i := range flagNames {
			if b := Flag(1 << i); f&b != 0 {
				out[b]++
			}
		}
	}
	return out
}

// PlanInput is what the planner knows: the fresh campaign list and what
// the warehouse holds from the previous successful run.
type PlanInput struct {
	Now          time.Time
	Campaigns    []transform.Campaign
	Streams      []extract.Stream // nil: all
	Days         int              // daily-stats lookback ending today
	BackfillDays int              // fill missing days this far back
	FullRefresh  bool

	Prev     *load.RunInfo // nil: no successful run yet, so a full refresh
	States   map[int64]load.CampaignState
	DaysHeld map[int64]map[string]bool
	// PrevRequests counts the previous run's requests per endpoint
	// template and campaign, to estimate how many pages changes take.
	PrevRequests map[string]map[int64]int64
	PrevMode     load.Mode

	// Signals are the account-wide change signals of an incremental
	// night; nil plans without them (every campaign that can still
	// change is read).
	Signals *Signals
	// SampleSeed chooses the night's verification sample (the run id).
	SampleSeed string
	// ProbeLive: see Config.ProbeLive.
	ProbeLive bool
	// Sizes are leads and statistics row counts of campaigns the
	// snapshot does not hold, from the overall-stats ranges (see
	// sizesFromOverall): what their full reads are estimated from.
	Sizes map[int64]load.CampaignState

	Overlap       time.Duration
	StatsLookback time.Duration
	LeadsPageSize int
	StatsPageSize int
}

// final statuses: a campaign in one of them sends nothing more.
func final(status string) bool { return status == "COMPLETED" || status == "STOPPED" }

// planBuilder accumulates a plan.
type planBuilder struct {
	in       PlanInput
	p        WorkPlan
	full     bool
	prevRun  string
	byStream map[extract.Stream][]extract.Item
	setOf    map[[2]string]int
	days     []string
	recent   map[string]bool
	today    string
}

func (b *planBuilder) wants(s extract.Stream) bool { return s.Selected(b.in.Streams) }

func (b *planBuilder) add(it extract.Item, pages int) {
	b.byStream[it.Stream] = append(b.byStream[it.Stream], it)
	b.p.Estimate[it.Stream] += max(pages, 1)
}

// carry puts a campaign's rows of stream s in the set of its mode:
// carries are sets, one per stream and mode, however many campaigns.
func (b *planBuilder) carry(s extract.Stream, id int64, mode load.CarryMode) {
	if !b.wants(s) {
		return
	}
	k := [2]string{string(s), string(mode)}
	i, ok := b.setOf[k]
	if !ok {
		i = len(b.p.Carries)
		b.setOf[k] = i
		b.p.Carries = append(b.p.Carries, load.CarrySet{Stream: string(s), FromRun: b.prevRun, Mode: mode})
	}
	b.p.Carries[i].Campaigns = append(b.p.Carries[i].Campaigns, id)
}

// BuildPlan decides, campaign by campaign, what to fetch: everything on a
// full refresh; on an incremental night with change signals, only what
// the signals say changed (see planSignals), carrying the rest; without
// them, nothing for campaigns that cannot have changed, and for the
// others analytics, the daily stats it lacks or that can still move, and
// only the leads and statistics that changed since the previous run.
func BuildPlan(in PlanInput) WorkPlan {
	if in.Overlap == 0 {
		in.Overlap = DefaultOverlap
	}
	if in.StatsLookback == 0 {
		in.StatsLookback = DefaultStatsLookback
	}
	if in.LeadsPageSize == 0 {
		in.LeadsPageSize = extract.MaxListLimit
	}
	if in.StatsPageSize == 0 {
		in.StatsPageSize = extract.DefaultStatsPageSize
	}
	b := &planBuilder{in: in, full: in.FullRefresh || in.Prev == nil, byStream: map[extract.Stream][]extract.Item{},
		setOf: map[[2]string]int{}, recent: map[string]bool{}}
	b.p = WorkPlan{Mode: load.ModeIncremental, Estimate: map[extract.Stream]int{}}
	if b.full {
		b.p.Mode = load.ModeFull
	}
	if in.Prev != nil {
		b.prevRun = in.Prev.RunID
	}
	for _, s := range []extract.Stream{extract.StreamClients, extract.StreamEmailAccounts} {
		if b.wants(s) {
			pages := 1
			if s == extract.StreamEmailAccounts {
				pages = int(in.PrevRequests[extract.StreamEmailAccounts.Template()][0])
			}
			b.add(extract.Item{Stream: s}, pages)
		}
	}
	b.days = dayWindow(in.Now, in.Days, in.BackfillDays)
	for _, d := range LookbackDays(in.Now, 2) { // yesterday and today can still move
		b.recent[d] = true
	}
	b.today = in.Now.UTC().Format(time.DateOnly)
	if !b.full && in.Signals != nil {
		b.planSignals()
	} else {
		for _, c := range in.Campaigns {
			b.planCampaign(c)
		}
	}
	// Priority: analytics first (cheap, what dashboards read), then the
	// account lists, sequences, daily stats, statistics, and leads last
	// (the most pages), so a run stopped by a budget has the valuable part.
	for _, s := range []extract.Stream{
		extract.StreamCampaignAnalytics, extract.StreamClients, extract.StreamEmailAccounts, extract.StreamSequences,
		extract.StreamCampaignDailyStats, extract.StreamLeadEmailStats, extract.StreamLeads,
	} {
		b.p.Items = append(b.p.Items, b.byStream[s]...)
	}
	return b.p
}

// planCampaign plans one campaign without change signals.
func (b *planBuilder) planCampaign(c transform.Campaign) {
	in, full := b.in, b.full
	var leadsSince, statsSince time.Time
	if in.Prev != nil {
		leadsSince = in.Prev.StartedAt.Add(-in.Overlap).UTC()
		statsSince = in.Prev.StartedAt.Add(-in.StatsLookback).UTC()
	}
	// Pages a changed-rows request took last time, when the last run was
	// incremental too; one page otherwise.
	prevPages := func(endpoint string, id int64) int {
		if in.PrevMode != load.ModeIncremental {
			return 1
		}
		return int(in.PrevRequests[endpoint][id])
	}
	st, had := in.States[c.CampaignID]
	if !had {
		st = in.Sizes[c.CampaignID]
	}
	sameSettings := had && sameTime(st.UpdatedAt, c.UpdatedAt)
	if !full && had && final(c.Status) && st.Status == c.Status && sameSettings && st.Analytics != nil {
		// Nothing can have moved: the whole campaign comes from the
		// previous snapshot and costs no request.
		b.p.Frozen++
		for _, s := range []extract.Stream{extract.StreamCampaignAnalytics, extract.StreamSequences, extract.StreamLeads, extract.StreamLeadEmailStats} {
			b.carry(s, c.CampaignID, load.CarryAll)
		}
		return
	}
	id := c.CampaignID
	if b.wants(extract.StreamCampaignAnalytics) {
		b.add(extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: id}, 1)
	}
	if b.wants(extract.StreamSequences) {
		if full || !sameSettings {
			b.add(extract.Item{Stream: extract.StreamSequences, CampaignID: id}, 1)
		} else {
			b.carry(extract.StreamSequences, id, load.CarryAll)
		}
	}
	if b.wants(extract.StreamCampaignDailyStats) {
		for _, d := range b.days {
			if b.recent[d] || !in.DaysHeld[id][d] {
				b.add(extract.Item{Stream: extract.StreamCampaignDailyStats, CampaignID: id, Day: d}, 1)
			}
		}
	}
	if b.wants(extract.StreamLeadEmailStats) {
		if full || !had {
			b.add(extract.Item{Stream: extract.StreamLeadEmailStats, CampaignID: id}, int(st.Stats)/in.StatsPageSize+1)
		} else {
			b.add(extract.Item{Stream: extract.StreamLeadEmailStats, CampaignID: id, Since: statsSince}, prevPages(extract.StreamLeadEmailStats.Template(), id))
			b.carry(extract.StreamLeadEmailStats, id, load.CarryMerge)
		}
	}
	if b.wants(extract.StreamLeads) {
		if full || !had {
			b.add(extract.Item{Stream: extract.StreamLeads, CampaignID: id}, int(st.Leads)/in.LeadsPageSize+1)
		} else {
			b.add(extract.Item{Stream: extract.StreamLeads, CampaignID: id, Since: leadsSince}, prevPages(extract.StreamLeads.Template(), id))
			b.carry(extract.StreamLeads, id, load.CarryMerge)
		}
	}
}

// dayWindow lists the days daily stats are wanted for: the lookback
// window ending today, widened to the backfill window, oldest first.
func dayWindow(now time.Time, days, backfill int) []string {
	return LookbackDays(now, max(days, backfill))
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// sortedIDs returns map keys in ascending order, for stable output.
func sortedIDs[V any](m map[int64]V) []int64 {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}
