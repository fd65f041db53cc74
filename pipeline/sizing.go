package pipeline

import (
	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/load"
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
		_, held := in.States[c.CampaignID]
		_, sized := in.Sizes[c.CampaignID]
		if !held && !sized {
			out[c.CampaignID] = true
		}
	}
	return out
}

// sizesFromOverall sizes campaigns from their overall-stats rows over
// every range since the account's oldest campaign: one statistics row per
// email sent (the sum of sent), and the sum of each range's distinct
// leads for the leads (a lead emailed in two ranges counts twice, a lead
// never emailed not at all: on the simulated accounts the two about
// cancel out, 223 pages estimated for 215). A campaign that sent nothing
// has no row and no size.
func sizesFromOverall(rows []transform.OverallStat) map[int64]load.CampaignState {
	out := map[int64]load.CampaignState{}
	for _, o := range rows {
		st := out[o.CampaignID]
		st.CampaignID = o.CampaignID
		st.Stats += o.Sent
		st.Leads += o.UniqueLeads
		out[o.CampaignID] = st
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
			// Now the estimate is what `plan` printed for this run (the
			// signals' pages included, as plan counts them).
			j.log.Info("plan sized from the campaigns' analytics", "requests_estimated", j.track.expectedTotal()+j.signalPages)
		}
	}
}
