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
	Frozen  int             // campaigns carried whole (final status, nothing moved)

	// Estimate is the predicted number of requests per stream, following
	// pages included; the campaign list (already fetched) is not in it.
	Estimate map[extract.Stream]int
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

	Overlap       time.Duration
	StatsLookback time.Duration
	LeadsPageSize int
	StatsPageSize int
}

// final statuses: a campaign in one of them sends nothing more.
func final(status string) bool { return status == "COMPLETED" || status == "STOPPED" }

// BuildPlan decides, campaign by campaign, what to fetch: everything on a
// full refresh; on an incremental run, nothing for campaigns that cannot
// have changed, and for the others analytics, the daily stats it lacks or
// that can still move, and only the leads and statistics that changed
// since the previous run, carrying the rest forward.
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
	wants := func(s extract.Stream) bool { return s.Selected(in.Streams) }
	full := in.FullRefresh || in.Prev == nil
	p := WorkPlan{Mode: load.ModeIncremental, Estimate: map[extract.Stream]int{}}
	if full {
		p.Mode = load.ModeFull
	}
	var prevRun string
	var leadsSince, statsSince time.Time
	if in.Prev != nil {
		prevRun = in.Prev.RunID
		leadsSince = in.Prev.StartedAt.Add(-in.Overlap).UTC()
		statsSince = in.Prev.StartedAt.Add(-in.StatsLookback).UTC()
	}
	byStream := map[extract.Stream][]extract.Item{}
	add := func(it extract.Item, pages int) {
		byStream[it.Stream] = append(byStream[it.Stream], it)
		p.Estimate[it.Stream] += max(pages, 1)
	}
	// Carries are sets: one per stream and mode, however many campaigns.
	setOf := map[[2]string]int{}
	carry := func(s extract.Stream, id int64, mode load.CarryMode) {
		k := [2]string{string(s), string(mode)}
		i, ok := setOf[k]
		if !ok {
			i = len(p.Carries)
			setOf[k] = i
			p.Carries = append(p.Carries, load.CarrySet{Stream: string(s), FromRun: prevRun, Mode: mode})
		}
		p.Carries[i].Campaigns = append(p.Carries[i].Campaigns, id)
	}
	// Pages a changed-rows request took last time, when the last run was
	// incremental too; one page otherwise.
	prevPages := func(endpoint string, id int64) int {
		if in.PrevMode != load.ModeIncremental {
			return 1
		}
		return int(in.PrevRequests[endpoint][id])
	}

	for _, s := range []extract.Stream{extract.StreamClients, extract.StreamEmailAccounts} {
		if wants(s) {
			pages := 1
			if s == extract.StreamEmailAccounts {
				pages = int(in.PrevRequests[extract.StreamEmailAccounts.Template()][0])
			}
			add(extract.Item{Stream: s}, pages)
		}
	}

	days := dayWindow(in.Now, in.Days, in.BackfillDays)
	recent := map[string]bool{}
	for _, d := range LookbackDays(in.Now, 2) { // yesterday and today can still move
		recent[d] = true
	}
	for _, c := range in.Campaigns {
		st, had := in.States[c.CampaignID]
		sameSettings := had && sameTime(st.UpdatedAt, c.UpdatedAt)
		if !full && had && final(c.Status) && st.Status == c.Status && sameSettings && st.Analytics != nil {
			// Nothing can have moved: the whole campaign comes from the
			// previous snapshot and costs no request.
			p.Frozen++
			for _, s := range []extract.Stream{extract.StreamCampaignAnalytics, extract.StreamSequences, extract.StreamLeads, extract.StreamLeadEmailStats} {
				if wants(s) {
					carry(s, c.CampaignID, load.CarryAll)
				}
			}
			continue
		}
		id := c.CampaignID
		if wants(extract.StreamCampaignAnalytics) {
			add(extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: id}, 1)
		}
		if wants(extract.StreamSequences) {
			if full || !sameSettings {
				add(extract.Item{Stream: extract.StreamSequences, CampaignID: id}, 1)
			} else {
				carry(extract.StreamSequences, id, load.CarryAll)
			}
		}
		if wants(extract.StreamCampaignDailyStats) {
			for _, d := range days {
				if recent[d] || !in.DaysHeld[id][d] {
					add(extract.Item{Stream: extract.StreamCampaignDailyStats, CampaignID: id, Day: d}, 1)
				}
			}
		}
		if wants(extract.StreamLeadEmailStats) {
			if full || !had {
				add(extract.Item{Stream: extract.StreamLeadEmailStats, CampaignID: id}, int(st.Stats)/in.StatsPageSize+1)
			} else {
				add(extract.Item{Stream: extract.StreamLeadEmailStats, CampaignID: id, Since: statsSince}, prevPages(extract.StreamLeadEmailStats.Template(), id))
				carry(extract.StreamLeadEmailStats, id, load.CarryMerge)
			}
		}
		if wants(extract.StreamLeads) {
			if full || !had {
				add(extract.Item{Stream: extract.StreamLeads, CampaignID: id}, int(st.Leads)/in.LeadsPageSize+1)
			} else {
				add(extract.Item{Stream: extract.StreamLeads, CampaignID: id, Since: leadsSince}, prevPages(extract.StreamLeads.Template(), id))
				carry(extract.StreamLeads, id, load.CarryMerge)
			}
		}
	}
	// Priority: analytics first (cheap, what dashboards read), then the
	// account lists, sequences, daily stats, statistics, and leads last
	// (the most pages), so a run stopped by a budget has the valuable part.
	for _, s := range []extract.Stream{
		extract.StreamCampaignAnalytics, extract.StreamClients, extract.StreamEmailAccounts, extract.StreamSequences,
		extract.StreamCampaignDailyStats, extract.StreamLeadEmailStats, extract.StreamLeads,
	} {
		p.Items = append(p.Items, byStream[s]...)
	}
	return p
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
