package pipeline

import (
	"fmt"
	"slices"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// planNotes is what a run keeps of its plan (load.Run.SetNotes), for the
// checks after the pages are in (verify.go), also after a resume.
type planNotes struct {
	Flags      map[int64]Flag          `json:"flags,omitempty"`  // every campaign with a flag
	Expect     map[int64][]emailExpect `json:"expect,omitempty"` // changed emails, as the activities said them
	PrevRun    string                  `json:"prev_run"`
	Today      string                  `json:"today"`
	Days       []string                `json:"days"` // the daily-stats window
	LeadsSince time.Time               `json:"leads_since"`
	Campaigns  int                     `json:"campaigns"`
	Listed     []int64                 `json:"listed"`          // tonight's campaigns, ascending
	Quiet      []int64                 `json:"quiet,omitempty"` // activity that shows no change: leads read, the rest if they moved
	Stale      []int64                 `json:"stale,omitempty"` // counters flagged only by rows of an older night
	// Totals: emails sent and replied over every overall-stats range,
	// per campaign of Stale, when the night read them all (see
	// Signals.AllCells).
	Totals map[int64][2]int64 `json:"totals,omitempty"`
	// Per-campaign probes standing in for a signal that could not be
	// used: endpoint -> why.
	Probes map[string]string `json:"probes,omitempty"`
}

// settingsOnly: a campaign whose settings moved and nothing else.
func derivable(c transform.Campaign, st load.CampaignState) bool {
	a := st.Analytics
	if a == nil || a.Name == nil || a.Status == nil || *a.Name != c.Name || *a.Status != c.Status {
		return false
	}
	return (a.ClientID == nil) == (c.ClientID == nil) && (a.ClientID == nil || *a.ClientID == *c.ClientID)
}

// flags works out why each campaign is read. See Flag.
func (b *planBuilder) flags() map[int64]Flag {
	in, sig := b.in, b.in.Signals
	acts := sig.activity()
	var counters map[int64]counterFlag
	if sig.OverallFailed == "" {
		counters = overallFlags(sig.Overall, sig.Cells, sig.Seen, sig.SeenCells, in.Prev.RunID)
	}
	hooks := map[int64]bool{}
	for _, id := range sig.Hooks {
		hooks[id] = true
	}
	out := map[int64]Flag{}
	var pool []int64
	for _, c := range in.Campaigns {
		id := c.CampaignID
		st, had := in.States[id]
		var f Flag
		switch {
		case !had || st.Analytics == nil:
			f = FlagNew
		default:
			if st.Status != c.Status || !sameTime(st.UpdatedAt, c.UpdatedAt) {
				f |= FlagSettings
			}
			if acts[id] != nil {
				f |= FlagActivity
			}
			if cf, ok := counters[id]; ok {
				f |= FlagCounters
				if !cf.Fresh {
					b.p.Notes.Stale = append(b.p.Notes.Stale, id)
				}
			}
			if hooks[id] {
				f |= FlagHook
			}
			if sig.ActivitiesFailed != "" || sig.OverallFailed != "" || (in.ProbeLive && !final(c.Status) && f == 0) {
				f |= FlagProbe
			}
			if f&^(FlagSettings|FlagProbe) == 0 && (f&FlagSettings == 0 || derivable(c, st)) {
				pool = append(pool, id)
			}
		}
		if f != 0 {
			out[id] = f
		}
	}
	for _, id := range chooseSample(in.SampleSeed, pool, sampleSize(len(pool))) {
		out[id] |= FlagSample
	}
	return out
}

// planSignals plans an incremental night from the change signals: a
// campaign is read only where a flag says it may have changed, and only
// what may have changed; everything else is carried from the previous
// snapshot, and today's daily stats of a campaign that sent nothing since
// the previous run are derived (zero) instead of read.
func (b *planBuilder) planSignals() {
	in, sig := b.in, b.in.Signals
	acts := sig.activity()
	leadsSince := in.Prev.StartedAt.Add(-in.Overlap).UTC()
	b.p.Notes = planNotes{PrevRun: in.Prev.RunID, Today: b.today, Days: b.days, LeadsSince: leadsSince,
		Campaigns: len(in.Campaigns), Expect: map[int64][]emailExpect{}}
	flags := b.flags()
	b.p.Flags, b.p.Notes.Flags = flags, flags
	slices.Sort(b.p.Notes.Stale)
	if sig.AllCells && sig.OverallFailed == "" && len(b.p.Notes.Stale) > 0 {
		totals := overallTotals(sig.Overall)
		b.p.Notes.Totals = map[int64][2]int64{}
		for _, id := range b.p.Notes.Stale {
			b.p.Notes.Totals[id] = totals[id]
		}
	}
	for _, c := range in.Campaigns {
		b.p.Notes.Listed = append(b.p.Notes.Listed, c.CampaignID)
	}
	slices.Sort(b.p.Notes.Listed)
	today, _ := time.Parse(time.DateOnly, b.today)
	for endpoint, why := range map[string]string{endpointActivities: sig.ActivitiesFailed, endpointOverall: sig.OverallFailed} {
		if why == "" {
			continue
		}
		if b.p.Notes.Probes == nil {
			b.p.Notes.Probes = map[string]string{}
		}
		b.p.Notes.Probes[endpoint] = why
	}
	leadsProbe, analyticsProbe := sig.ActivitiesFailed != "", sig.OverallFailed != ""
	probed := 0
	// The sample re-reads, instead of deriving, the daily stats of today
	// of sampleDays of its campaigns.
	var sampled []int64
	for id, f := range flags {
		if f&FlagSample != 0 {
			sampled = append(sampled, id)
		}
	}
	readToday := map[int64]bool{}
	for _, id := range chooseSample(in.SampleSeed, sampled, sampleDays) {
		readToday[id] = true
	}
	for _, c := range in.Campaigns {
		id := c.CampaignID
		f := flags[id]
		if f&FlagNew != 0 {
			b.planCampaign(c)
			continue
		}
		st := in.States[id]
		ca := acts[id]
		before := len(b.byStream[extract.StreamCampaignAnalytics]) + len(b.byStream[extract.StreamSequences]) +
			len(b.byStream[extract.StreamLeads]) + len(b.byStream[extract.StreamLeadEmailStats]) + len(b.byStream[extract.StreamCampaignDailyStats])
		if f&FlagProbe != 0 {
			probed++
		}

		// Analytics: the counters move with any activity; settings alone
		// leave them (the row is carried when the list's name, status
		// and client still match it, and verify checks the step count).
		liveProbe := in.ProbeLive && !final(c.Status) && f&^(FlagProbe|FlagSample|FlagSettings) == 0
		if f&(FlagCounters|FlagHook|FlagSample) != 0 || analyticsProbe || liveProbe || (ca != nil && !ca.Quiet) ||
			(f&FlagSettings != 0 && !derivable(c, st)) {
			b.addStream(extract.Item{Stream: extract.StreamCampaignAnalytics, CampaignID: id}, 1)
		}
		b.carry(extract.StreamCampaignAnalytics, id, load.CarryMerge)

		if f&FlagSettings != 0 {
			b.addStream(extract.Item{Stream: extract.StreamSequences, CampaignID: id}, 1)
		} else {
			b.carry(extract.StreamSequences, id, load.CarryAll)
		}

		// Leads changed since the previous run (the same window as the
		// activities), merged over the held ones.
		switch {
		case ca != nil && ca.NeedLeads:
			b.addStream(extract.Item{Stream: extract.StreamLeads, CampaignID: id, Since: leadsSince}, ca.Leads/in.LeadsPageSize+1)
		case f&(FlagHook|FlagSample) != 0 || leadsProbe:
			b.addStream(extract.Item{Stream: extract.StreamLeads, CampaignID: id, Since: leadsSince}, 1)
		}
		b.carry(extract.StreamLeads, id, load.CarryMerge)

		// Statistics from the earliest email that changed.
		switch {
		case ca != nil && ca.NeedStats && ca.FullStats:
			b.addStream(extract.Item{Stream: extract.StreamLeadEmailStats, CampaignID: id}, int(st.Stats)/in.StatsPageSize+1)
		case ca != nil && ca.NeedStats:
			rows := int(sig.HeldSince[id]) + ca.New
			b.addStream(extract.Item{Stream: extract.StreamLeadEmailStats, CampaignID: id, Since: ca.statsSince()}, rows/in.StatsPageSize+1)
			b.carry(extract.StreamLeadEmailStats, id, load.CarryMerge)
		default:
			// Merged, not copied whole: verify may still read rows of it.
			b.carry(extract.StreamLeadEmailStats, id, load.CarryMerge)
		}
		if ca != nil && len(ca.Expect) > 0 {
			b.p.Notes.Expect[id] = ca.Expect
		}
		if ca != nil && ca.Quiet {
			b.p.Notes.Quiet = append(b.p.Notes.Quiet, id)
		}

		// Daily stats: the days of the window whose emails changed, the
		// days it lacks; today, when nothing was sent since the previous
		// run, is a zero row (the sample reads it, to verify).
		if b.wants(extract.StreamCampaignDailyStats) {
			for _, d := range b.days {
				held := in.DaysHeld[id][d]
				changed := ca != nil && (ca.FullStats || ca.Days[d])
				switch {
				case d == b.today && !held && !changed && !readToday[id]:
					b.p.Derived.DailyStats = append(b.p.Derived.DailyStats, transform.CampaignDailyStat{CampaignID: id, Day: today})
				case !held || (b.recent[d] && changed):
					b.addStream(extract.Item{Stream: extract.StreamCampaignDailyStats, CampaignID: id, Day: d}, 1)
				}
			}
		}
		after := len(b.byStream[extract.StreamCampaignAnalytics]) + len(b.byStream[extract.StreamSequences]) +
			len(b.byStream[extract.StreamLeads]) + len(b.byStream[extract.StreamLeadEmailStats]) + len(b.byStream[extract.StreamCampaignDailyStats])
		if after == before {
			b.p.Frozen++
		}
	}
	slices.Sort(b.p.Notes.Quiet)
	for endpoint, why := range b.p.Notes.Probes {
		b.p.Checks = append(b.p.Checks, load.Check{Name: checkSignals, Subject: endpoint, Severity: load.SeverityInfo,
			Detail: fmt.Sprintf("%s; fell back to the per-campaign path: %d campaigns probed", why, probed)})
	}
}

// addStream adds an item of a wanted stream.
func (b *planBuilder) addStream(it extract.Item, pages int) {
	if b.wants(it.Stream) {
		b.add(it, pages)
	}
}

// sampleDays is how many sampled campaigns have today's daily stats read
// rather than derived.
const sampleDays = 3

// checkSignals names the data checks of change detection.
const checkSignals = "change_signals"
