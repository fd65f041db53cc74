package pipeline

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
)

// Issue 19 measures a night against its activity floor: the account-wide
// pages plus, per changed campaign, the pages of what changed. The floor
// is computed from the simulated account before and after the night, so
// it depends on nothing the pipeline does.

// activityFloor is the fewest requests a night needs, by route.
type activityFloor struct {
	PerRoute  map[string]int
	Changed   int // campaigns with any change
	Late      int // of those, COMPLETED, STOPPED or PAUSED
	Settings  int // campaigns whose settings changed
	Leads     int // lead rows that changed or are new
	Rows      int // statistics rows that changed or are new
	Activity  int // leads with an event in the night (all-leads-activities records)
	Deletions int // campaigns that lost leads: read in full
}

func (f activityFloor) total() int {
	n := 0
	for _, v := range f.PerRoute {
		n += v
	}
	return n
}

// agencyFloor compares the account before and after a night. days are
// the daily-stats days a run keeps current (yesterday and today); a day
// counts when its counters moved, or, for a day the warehouse cannot
// hold yet (today), when they are not all zero.
func agencyFloor(before, after *fakeapi.Account, days []time.Time) activityFloor {
	f := activityFloor{PerRoute: map[string]int{
		"/campaigns": 1, "/client": 1, "/email-accounts": pages(len(after.EmailAccounts), extract.MaxListLimit),
	}}
	lost := map[int64]bool{}
	for _, d := range after.Deleted {
		if d.At.After(before.Now) {
			lost[d.CampaignID] = true
		}
	}
	for i := range after.Campaigns {
		a := &after.Campaigns[i]
		b := before.Campaign(a.ID)
		for j := range a.Leads {
			if a.Leads[j].LastEventAt.After(before.Now) {
				f.Activity++
			}
		}
		if b == nil {
			continue // a new campaign is read in full; none in these nights
		}
		leads, rows := changedLeadRows(b, a), changedStatRows(b, a)
		analytics := b.Analytics() != a.Analytics() || b.LeadStats() != a.LeadStats()
		settings := !b.UpdatedAt.Equal(a.UpdatedAt)
		sequences := !slices.EqualFunc(b.Sequences, a.Sequences, func(x, y fakeapi.Sequence) bool {
			return x.UpdatedAt.Equal(y.UpdatedAt) && x.EmailBody == y.EmailBody
		})
		nDays := 0
		for k, d := range days {
			was, now := b.AnalyticsByDate(d, d), a.AnalyticsByDate(d, d)
			if (k < len(days)-1 && was != now) || (k == len(days)-1 && now != (fakeapi.Analytics{})) {
				nDays++
			}
		}
		if leads == 0 && rows == 0 && !analytics && !settings && !sequences && nDays == 0 && !lost[a.ID] {
			continue
		}
		f.Changed++
		if a.Status != "ACTIVE" {
			f.Late++
		}
		if settings {
			f.Settings++
		}
		f.Leads += leads
		f.Rows += rows
		if analytics {
			f.PerRoute["/campaigns/{id}/analytics"]++
		}
		if sequences {
			f.PerRoute["/campaigns/{id}/sequences"]++
		}
		f.PerRoute["/campaigns/{id}/analytics-by-date"] += nDays
		switch {
		case lost[a.ID]: // no filter shows a deletion: the campaign is read whole
			f.Deletions++
			f.PerRoute["/campaigns/{id}/leads"] += pages(len(a.Leads), extract.MaxListLimit)
			f.PerRoute["/campaigns/{id}/statistics"] += pages(len(a.Stats), extract.DefaultStatsPageSize)
		default:
			if leads > 0 {
				f.PerRoute["/campaigns/{id}/leads"] += pages(leads, extract.MaxListLimit)
			}
			if rows > 0 {
				f.PerRoute["/campaigns/{id}/statistics"] += pages(rows, extract.DefaultStatsPageSize)
			}
		}
	}
	f.PerRoute[fakeapi.PathLeadActivities] = pages(f.Activity, extract.SignalPageSize)
	return f
}

// changedLeadRows counts the leads whose warehouse row differs or is new
// (an open changes no column of the leads table).
func changedLeadRows(b, a *fakeapi.Campaign) int {
	old := make(map[int64]fakeapi.Lead, len(b.Leads))
	for _, l := range b.Leads {
		old[l.CampaignLeadMapID] = l
	}
	n := 0
	for _, l := range a.Leads {
		o, ok := old[l.CampaignLeadMapID]
		o.LastEventAt, o.LastSentAt = l.LastEventAt, l.LastSentAt // not columns
		if !ok || o != l {
			n++
		}
	}
	return n
}

// changedStatRows counts the statistics rows that differ or are new.
func changedStatRows(b, a *fakeapi.Campaign) int {
	old := make(map[string]fakeapi.StatRow, len(b.Stats))
	for _, r := range b.Stats {
		old[r.StatsID] = r
	}
	n := 0
	for _, r := range a.Stats {
		o, ok := old[r.StatsID]
		if !ok || o != r { // pointers into shared tables: equal when unchanged
			n++
		}
	}
	return n
}

// TestAgencyNightFloor sizes the realistic nights with the floor
// alone (no run): the activity floor of the 3,000-campaign night must
// leave room under 800 requests, or the target cannot be met by any
// pipeline; the 1,000-campaign night's floor is what its 1.25 ratio is
// measured against.
func TestAgencyNightFloor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		campaigns int
		most      int
	}{{1000, 300}, {3000, 720}} {
		var before, after fakeapi.Account
		var rep fakeapi.NightReport
		synctest.Test(t, func(t *testing.T) {
			time.Sleep(2 * time.Hour) // the previous run, at 02:00
			fake := fakeapi.New(fakeapi.AgencyConfig(19, tc.campaigns))
			before = fake.Truth()
			time.Sleep(23 * time.Hour)
			rep = fake.RealisticNight(fakeapi.AgencyNight)
			after = fake.Truth()
		})
		today := rep.At.UTC().Truncate(24 * time.Hour)
		f := agencyFloor(&before, &after, []time.Time{today.AddDate(0, 0, -1), today})
		t.Logf("%d campaigns: floor %d requests %v; %d campaigns changed (%d no longer sending, %d settings), %d lead rows, %d statistics rows, %d leads with activity",
			tc.campaigns, f.total(), f.PerRoute, f.Changed, f.Late, f.Settings, f.Leads, f.Rows, f.Activity)
		require.Equal(t, len(rep.Campaigns)+len(rep.SettingsChanged), f.Changed+overlap(rep.Campaigns, rep.SettingsChanged))
		require.LessOrEqual(t, f.total(), tc.most)
		require.Positive(t, f.Late)
	}
}

func overlap(a, b []int64) int {
	n := 0
	for _, x := range a {
		if slices.Contains(b, x) {
			n++
		}
	}
	return n
}
