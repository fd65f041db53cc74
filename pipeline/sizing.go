package pipeline

import (
	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// A campaign the warehouse knows nothing about (every campaign of a first
// run) is planned at one page of leads and one of statistics. Its
// analytics, fetched first, say how many there will be: the progress
// estimate grows by the following pages as soon as they arrive, instead
// of discovering them one page at a time near the end.

// unsizedCampaigns lists the campaigns whose leads or statistics the plan
// could size only as one page.
func unsizedCampaigns(in PlanInput) map[int64]bool {
	out := map[int64]bool{}
	for _, c := range in.Campaigns {
		if _, ok := in.States[c.CampaignID]; !ok {
			out[c.CampaignID] = true
		}
	}
	return out
}

// sizeFromAnalytics grows the progress estimate by the following pages
// that an unsized campaign's fresh analytics predict.
func (j *job) sizeFromAnalytics(b transform.Batch) {
	for _, a := range b.CampaignAnalytics {
		if !j.unsized[a.CampaignID] {
			continue
		}
		delete(j.unsized, a.CampaignID)
		more := 0
		if j.wants(extract.StreamLeads) {
			more += int(a.LeadsTotal) / extract.MaxListLimit
		}
		if j.wants(extract.StreamLeadEmailStats) {
			more += int(a.SentCount) / extract.DefaultStatsPageSize
		}
		j.track.grow(more)
		if len(j.unsized) == 0 {
			// Now the estimate is what `plan` printed for this run.
			j.log.Info("plan sized from the campaigns' analytics", "requests_estimated", j.track.expectedTotal())
		}
	}
}
