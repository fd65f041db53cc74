package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// Account-wide change signals (issue 19; smartlead-api.md §1.14, §1.14a).
// An incremental night reads, after the campaign list and before any
// per-campaign request: every lead with activity since the previous run
// (GET /campaigns/all-leads-activities), every campaign's overall-stats
// counters over the cells of a fixed date grid (GET
// /analytics/campaign/overall-stats), compared like with like with the
// rows the previous night read (overall_stats_seen), and the campaigns of
// webhook events merged since (email_events). A campaign is read only
// when a signal says it changed; everything else is carried from the
// previous snapshot. A signal that answers an error or a shape that does
// not decode is replaced, for that night, by the per-campaign path for
// what it would have vouched for (see verify.go).

// Endpoint names of the signals, as data_checks subjects and log lines
// name them.
var (
	endpointActivities = extract.StreamLeadActivities.Template()
	endpointOverall    = extract.StreamOverallStats.Template()
)

// recentCellDays is how far back the overall-stats cells are read every
// night: late opens and replies land on emails of the last weeks.
const recentCellDays = 60

// Signals is what the account-wide signals said, with what the warehouse
// held of the leads and emails they name.
type Signals struct {
	// Activities are the leads with an event since the previous run, nil
	// when ActivitiesFailed says why the endpoint could not be used.
	Activities       []transform.LeadActivity
	ActivitiesFailed string
	ActivitiesSince  time.Time

	// Overall are tonight's overall-stats rows of Cells; OverallFailed
	// says why they could not be used.
	Overall       []transform.OverallStat
	Cells         []load.OverallCell
	OverallFailed string
	// Seen and SeenCells are what overall_stats_seen holds.
	Seen      []transform.OverallStat
	SeenCells []load.OverallCell
	// AllCells: every range since the oldest campaign was read, because
	// the memory is not the previous night's (its overall-stats could
	// not be used): a difference may then be activity an earlier night
	// already read, so the counters are also compared with each flagged
	// campaign's own analytics, summed over all ranges.
	AllCells bool

	// Hooks are the campaigns of webhook events received since the
	// previous run.
	Hooks []int64

	// What the previous snapshot holds of the leads with activity:
	// the leads by campaign_lead_map_id, and every statistics row of
	// those leads.
	HeldLeads  map[int64]load.LeadState
	HeldEmails []load.EmailState
	// HeldSince counts, per campaign with activity, the held statistics
	// rows a read from its activity's earliest email brings again (set
	// once the activity is analysed, see sizeActivity).
	HeldSince map[int64]int64

	// Requests the signals took (pages).
	Requests int

	acts map[int64]*campaignActivity
}

// signalError turns a signal endpoint's failure into the reason the night
// falls back: an answer the API gave (an error status, a body that does
// not decode). Anything else (the budget, a cancellation, a network that
// is down) is the run's own error.
func signalError(err error) (string, bool) {
	var ae *extract.APIError
	var de *extract.DecodeError
	switch {
	case errors.As(err, &ae):
		return fmt.Sprintf("answered %d", ae.Status), true
	case errors.As(err, &de):
		return "answer does not decode: " + de.Error(), true
	}
	return "", false
}

// gridStart is the first day of the overall-stats grid cell holding t
// (cells of extract.DefaultOverallStatsDays days counted from the Unix
// epoch, as extract.OverallStatsItems cuts them).
func gridStart(t time.Time) time.Time {
	const cell = int64(extract.DefaultOverallStatsDays) * 86400
	return time.Unix(t.UTC().Unix()/cell*cell, 0).UTC()
}

// overallItems lists the overall-stats cells since the oldest campaign's
// creation, on the fixed grid (aligned to cell starts, so that each cell
// is asked with the same first day night after night). With all false, it
// keeps the cells touching the last recentCellDays days and one older
// cell, in rotation by date; all cells when the memory knows none.
func overallItems(campaigns []transform.Campaign, now time.Time, seenCells []load.OverallCell, all bool) []extract.Item {
	oldest := now.AddDate(0, 0, -365)
	for _, c := range campaigns {
		if c.CreatedAt != nil && c.CreatedAt.Before(oldest) {
			oldest = *c.CreatedAt
		}
	}
	items := extract.OverallStatsItems(gridStart(oldest), now, extract.DefaultOverallStatsDays)
	if all || len(seenCells) == 0 {
		return items
	}
	recent := now.UTC().AddDate(0, 0, -recentCellDays).Format(time.DateOnly)
	var keep, older []extract.Item
	for _, it := range items {
		if it.EndDay >= recent {
			keep = append(keep, it)
		} else {
			older = append(older, it)
		}
	}
	if len(older) > 0 {
		day := now.UTC().Unix() / 86400
		keep = append([]extract.Item{older[int(day%int64(len(older)))]}, keep...)
	}
	return keep
}

// memoryStale reports whether the overall-stats memory holds ranges but
// none the previous night (prevRun) read.
func memoryStale(cells []load.OverallCell, prevRun string) bool {
	for _, c := range cells {
		if c.RunID == prevRun {
			return false
		}
	}
	return len(cells) > 0
}

// overallTotals sums, per campaign, the emails sent and replied over the
// rows.
func overallTotals(rows []transform.OverallStat) map[int64][2]int64 {
	out := map[int64][2]int64{}
	for _, o := range rows {
		t := out[o.CampaignID]
		t[0] += o.Sent
		t[1] += o.Replied
		out[o.CampaignID] = t
	}
	return out
}

// readActivities reads every lead with an event in [since, until].
func readActivities(ctx context.Context, c *extract.Client, since, until time.Time) ([]transform.LeadActivity, string, int, error) {
	var out []transform.LeadActivity
	pages, complete := 0, false
	for p, err := range c.Pages(ctx, extract.Item{Stream: extract.StreamLeadActivities, Since: since, Until: until}) {
		if err != nil {
			if why, ok := signalError(err); ok {
				return nil, why, pages + 1, nil
			}
			return nil, "", pages, err
		}
		pages++
		s := transform.SignalsFromPage(p)
		if len(s.Rejected) > 0 {
			r := s.Rejected[0]
			return nil, fmt.Sprintf("%d records do not decode (record %s, field %s: %s)", len(s.Rejected), r.RecordKey, r.Field, r.Reason), pages, nil
		}
		out = append(out, s.LeadActivities...)
		complete = p.Next == nil
	}
	if !complete {
		return nil, "", pages, extract.ErrNotAdmitted
	}
	return out, "", pages, nil
}

// readOverall reads the overall-stats cells of items.
func readOverall(ctx context.Context, c *extract.Client, items []extract.Item) ([]transform.OverallStat, []load.OverallCell, string, int, error) {
	var rows []transform.OverallStat
	var why string
	pages := 0
	_, err := c.CrawlOverallStats(ctx, items, func(p extract.Page) error {
		pages++
		s := transform.SignalsFromPage(p)
		if len(s.Rejected) > 0 && why == "" {
			r := s.Rejected[0]
			why = fmt.Sprintf("%d records do not decode (record %s, field %s: %s)", len(s.Rejected), r.RecordKey, r.Field, r.Reason)
		}
		rows = append(rows, s.OverallStats...)
		return nil
	})
	if err != nil {
		if w, ok := signalError(err); ok {
			return nil, nil, w, pages + 1, nil
		}
		return nil, nil, "", pages, err
	}
	if why != "" {
		return nil, nil, why, pages, nil
	}
	// A refused range was read as shorter ones: the memory keeps the
	// grid's cells, so each cell's parts are summed back (the additive
	// counters add up; the unique ones are then an upper bound, the same
	// every night).
	cells := make([]load.OverallCell, 0, len(items))
	for _, it := range items {
		s, _ := time.Parse(time.DateOnly, it.Day)
		e, _ := time.Parse(time.DateOnly, it.EndDay)
		cells = append(cells, load.OverallCell{Start: s, End: e})
	}
	return mergeIntoCells(rows, cells), cells, "", pages, nil
}

// mergeIntoCells sums rows read over parts of a cell into one row per
// campaign and cell.
func mergeIntoCells(rows []transform.OverallStat, cells []load.OverallCell) []transform.OverallStat {
	type key struct {
		id    int64
		start time.Time
	}
	at := map[key]int{}
	var out []transform.OverallStat
	for _, r := range rows {
		i := slices.IndexFunc(cells, func(c load.OverallCell) bool { return !r.Start.Before(c.Start) && !r.Start.After(c.End) })
		if i < 0 {
			continue // a range outside the cells asked: not the grid's
		}
		k := key{r.CampaignID, cells[i].Start}
		j, ok := at[k]
		if !ok {
			r.Start, r.End = cells[i].Start, cells[i].End
			at[k] = len(out)
			out = append(out, r)
			continue
		}
		o := &out[j]
		o.Sent += r.Sent
		o.Opened += r.Opened
		o.Replied += r.Replied
		o.Bounced += r.Bounced
		o.Unsubscribed += r.Unsubscribed
		o.PositiveReplied += r.PositiveReplied
		o.UniqueLeads += r.UniqueLeads
		o.UniqueOpens += r.UniqueOpens
	}
	return out
}

// activity is the activities signal analysed against the previous
// snapshot (see analyzeActivity), per campaign.
func (s *Signals) activity() map[int64]*campaignActivity {
	if s.acts == nil {
		s.acts = analyzeActivity(s.Activities, s.HeldLeads, s.HeldEmails)
	}
	return s.acts
}

// gatherSignals reads the account-wide signals for the night planned by
// in (through client) and what the warehouse holds of what they name. A
// full refresh or first run reads every overall-stats cell only, to start
// the memory the next night compares with. A signal endpoint that cannot
// be used is reported in the Signals (ActivitiesFailed, OverallFailed);
// the error is the run's own (the budget, a cancellation).
func gatherSignals(ctx context.Context, client *extract.Client, store *load.Store, in PlanInput) (*Signals, error) {
	sig := &Signals{}
	full := in.FullRefresh || in.Prev == nil
	if !full && store != nil {
		var err error
		if sig.SeenCells, sig.Seen, err = store.Held().OverallStats(ctx); err != nil {
			return nil, err
		}
	}
	sig.AllCells = !full && memoryStale(sig.SeenCells, in.Prev.RunID)
	items := overallItems(in.Campaigns, in.Now, sig.SeenCells, full || sig.AllCells)
	rows, cells, why, n, err := readOverall(ctx, client, items)
	sig.Requests += n
	if err != nil {
		return nil, err
	}
	sig.Overall, sig.Cells, sig.OverallFailed = rows, cells, why
	if full {
		return sig, nil
	}

	overlap := in.Overlap
	if overlap == 0 {
		overlap = DefaultOverlap
	}
	sig.ActivitiesSince = in.Prev.StartedAt.Add(-overlap).UTC()
	acts, why, n, err := readActivities(ctx, client, sig.ActivitiesSince, in.Now.UTC())
	sig.Requests += n
	if err != nil {
		return nil, err
	}
	sig.Activities, sig.ActivitiesFailed = acts, why
	if store == nil {
		return sig, nil
	}
	if sig.Hooks, err = store.Held().EventCampaigns(ctx, sig.ActivitiesSince); err != nil {
		return nil, err
	}

	// What the snapshot holds of the leads with activity and their emails.
	mapIDs := make([]int64, 0, len(acts))
	for _, a := range acts {
		mapIDs = append(mapIDs, a.CampaignLeadMapID)
	}
	if sig.HeldLeads, err = store.Held().Leads(ctx, in.Prev.RunID, mapIDs); err != nil {
		return nil, err
	}
	campaigns := map[int64]bool{}
	var ids []int64
	var emails []string
	for _, l := range sig.HeldLeads {
		if !campaigns[l.CampaignID] {
			campaigns[l.CampaignID] = true
			ids = append(ids, l.CampaignID)
		}
		emails = append(emails, l.Email)
	}
	if len(emails) > 0 {
		if sig.HeldEmails, err = store.Held().Emails(ctx, in.Prev.RunID, ids, emails); err != nil {
			return nil, err
		}
	}
	// How many held rows each statistics re-read brings again.
	var since []time.Time
	ids = ids[:0]
	for id, ca := range sig.activity() {
		if ca.NeedStats && !ca.FullStats {
			ids = append(ids, id)
			since = append(since, ca.statsSince())
		}
	}
	if sig.HeldSince, err = store.Held().EmailsSince(ctx, in.Prev.RunID, ids, since); err != nil {
		return nil, err
	}
	return sig, nil
}
