package fakeapi

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// NightChange describes one night of account activity.
type NightChange struct {
	ChangedLeadFrac     float64 // share of leads in changeable campaigns that get one new event
	NewLeadsPerCampaign int     // leads added to each ACTIVE campaign
	NewSendsFrac        float64 // share of leads in ACTIVE campaigns sent their next step (capped by those who have one)
	DeletedLeads        int     // leads removed, with their rows, round-robin over changeable campaigns

	// EngagementMaxAge bounds which rows an open, click, reply or
	// unsubscribe can land on: only a lead's latest row, and only if it
	// was sent at most this long ago (default 24h). Older rows never
	// change, so a reader that re-reads statistics (and daily analytics)
	// sent since the previous night minus this age sees every change.
	// Leads without such a row get a status or category change instead.
	EngagementMaxAge time.Duration
}

// NightReport says what a Night did.
type NightReport struct {
	At           time.Time // the stamp of every change (Night) or the latest (RealisticNight)
	ChangedLeads int       // leads with a new event (RealisticNight: new leads included)
	NewLeads     int
	NewSends     int
	DeletedLeads int

	// RealisticNight only.
	Events          int     // opens, clicks, replies, unsubscribes and category changes
	Campaigns       []int64 // campaigns whose leads or emails changed, ascending
	SettingsChanged []int64 // campaigns whose settings (updated_at) changed, ascending
}

// Night applies one night of activity, stamped at time.Now() (or 1 ms
// after the account's previous change if the clock is behind it). Only
// campaigns that are not COMPLETED or STOPPED change; new leads and new
// sends go to ACTIVE campaigns only. That is the simple model the
// incremental tests were built on; RealisticNight is how agency accounts
// really change. Cumulative counters only grow, except through deleted
// leads. The choice of leads is deterministic for a given Seed and night
// number.
func (s *Server) Night(nc NightChange) NightReport {
	s.dataMu.Lock()
	defer s.dataMu.Unlock()
	acc := s.acc
	now, r := s.beginNight(1 << 40)
	maxAge := nc.EngagementMaxAge
	if maxAge <= 0 {
		maxAge = 24 * time.Hour
	}
	rep := NightReport{At: now}
	rows, cats := s.activitySnapshot() // nil unless webhooks are registered
	defer s.queueActivity(rows, cats, now)
	touched := make([]bool, len(acc.Campaigns))

	var open []int // changeable campaigns
	for i := range acc.Campaigns {
		if !acc.Campaigns[i].Frozen() {
			open = append(open, i)
		}
	}

	// Deletions, round-robin from a random campaign.
	if len(open) > 0 {
		start := r.IntN(len(open))
		for k, misses := 0, 0; rep.DeletedLeads < nc.DeletedLeads && misses < len(open); k++ {
			c := &acc.Campaigns[open[(start+k)%len(open)]]
			if len(c.Leads) == 0 {
				misses++
				continue
			}
			misses = 0
			acc.deleteLead(c, r.IntN(len(c.Leads)), now)
			rep.DeletedLeads++
		}
	}

	// Each lead's latest row and row count, for the changeable campaigns.
	type ref struct{ c, l int }
	lastRow := make([]map[int64]int, len(acc.Campaigns))
	sends := make([]map[int64]int, len(acc.Campaigns))
	var eligible []ref
	for _, ci := range open {
		c := &acc.Campaigns[ci]
		lastRow[ci] = make(map[int64]int, len(c.Leads))
		sends[ci] = make(map[int64]int, len(c.Leads))
		for ri := range c.Stats {
			lastRow[ci][c.Stats[ri].CampaignLeadMapID] = ri // ascending sent time: the last one wins
			sends[ci][c.Stats[ri].CampaignLeadMapID]++
		}
		for li := range c.Leads {
			eligible = append(eligible, ref{ci, li})
		}
	}

	// Events on distinct, randomly chosen leads.
	k := min(int(math.Round(nc.ChangedLeadFrac*float64(len(eligible)))), len(eligible))
	for i := range k {
		j := i + r.IntN(len(eligible)-i)
		eligible[i], eligible[j] = eligible[j], eligible[i]
		e := eligible[i]
		c := &acc.Campaigns[e.c]
		l := &c.Leads[e.l]
		var row *StatRow
		if ri, ok := lastRow[e.c][l.CampaignLeadMapID]; ok {
			row = &c.Stats[ri]
		}
		event(r, l, row, now, maxAge)
		rep.ChangedLeads++
	}

	// New sends: the next step for leads in ACTIVE campaigns that have one.
	var active []int
	var canSend []ref
	activeLeads := 0
	for _, ci := range open {
		c := &acc.Campaigns[ci]
		if c.Status != "ACTIVE" {
			continue
		}
		active = append(active, ci)
		activeLeads += len(c.Leads)
		for li := range c.Leads {
			l := &c.Leads[li]
			if (l.Status == "STARTED" || l.Status == "INPROGRESS") && !l.IsUnsubscribed && sends[ci][l.CampaignLeadMapID] < len(c.Sequences) {
				canSend = append(canSend, ref{ci, li})
			}
		}
	}
	k = min(int(math.Round(nc.NewSendsFrac*float64(activeLeads))), len(canSend))
	for i := range k {
		j := i + r.IntN(len(canSend)-i)
		canSend[i], canSend[j] = canSend[j], canSend[i]
		e := canSend[i]
		c := &acc.Campaigns[e.c]
		l := &c.Leads[e.l]
		step := sends[e.c][l.CampaignLeadMapID]
		row := s.gen.newRow(r, c, l, l.Name(), step, now)
		if r.IntN(1000) < 20 {
			row.IsBounced = true
			l.Status = "BLOCKED"
		} else if step+1 == len(c.Sequences) {
			l.Status = "COMPLETED"
		} else {
			l.Status = "INPROGRESS"
		}
		l.LastSentAt, l.LastEventAt = row.SentTime, now
		c.Stats = append(c.Stats, row)
		touched[e.c] = true
		rep.NewSends++
	}

	// New leads, created now.
	for _, ci := range active {
		c := &acc.Campaigns[ci]
		for range max(nc.NewLeadsPerCampaign, 0) {
			c.Leads = append(c.Leads, s.gen.newLead(r, now))
			rep.NewLeads++
		}
	}

	for ci, t := range touched {
		if t {
			slices.SortFunc(acc.Campaigns[ci].Stats, compareRows)
		}
	}
	acc.Now = now
	return rep
}

// event gives one lead one new event at now. row is its latest row or nil.
func event(r *rand.Rand, l *Lead, row *StatRow, now time.Time, maxAge time.Duration) {
	l.LastEventAt = now
	at := func() time.Time { return stamp(now, row.Micro) }
	recent := row != nil && !row.IsBounced && !row.SentTime.Before(now.Add(-maxAge))
	if recent {
		switch p := r.IntN(100); {
		case p < 45:
			row.OpenCount++
			if row.OpenTime.IsZero() {
				row.OpenTime = at()
			}
			row.LeadCategory = categoryName(l.CategoryID)
			return
		case p < 60:
			row.ClickCount++
			if row.ClickTime.IsZero() {
				row.ClickTime = at()
			}
			if row.OpenCount == 0 { // a click implies an open
				row.OpenCount, row.OpenTime = 1, at()
			}
			row.LeadCategory = categoryName(l.CategoryID)
			return
		case p < 80 && row.ReplyTime.IsZero():
			row.ReplyTime = at()
			l.Status = "COMPLETED" // stop_lead_settings: REPLY_TO_AN_EMAIL
			l.CategoryID = pick(r, []int64{1, 1, 2, 3, 5, 6})
			row.LeadCategory = categoryName(l.CategoryID)
			return
		case p < 85 && !l.IsUnsubscribed:
			row.IsUnsubscribed, l.IsUnsubscribed = true, true
			l.Status = "STOPPED"
			row.LeadCategory = categoryName(l.CategoryID)
			return
		}
	}
	// A status change where one makes sense, else a category change.
	if r.IntN(2) == 0 {
		switch l.Status {
		case "STARTED", "INPROGRESS":
			l.Status = "PAUSED"
			return
		case "PAUSED":
			l.Status = "INPROGRESS"
			if l.LastSentAt.IsZero() {
				l.Status = "STARTED"
			}
			return
		}
	}
	old := l.CategoryID
	for l.CategoryID == old {
		l.CategoryID = categories[r.IntN(len(categories))].ID
	}
	if recent {
		row.LeadCategory = categoryName(l.CategoryID)
	}
}

// deleteLead removes lead j of campaign c (one of the account's) with its
// statistics rows, and records the deletion for the deleted-leads view.
func (acc *Account) deleteLead(c *Campaign, j int, at time.Time) {
	l := c.Leads[j]
	c.Leads = slices.Delete(c.Leads, j, j+1)
	c.Stats = slices.DeleteFunc(c.Stats, func(row StatRow) bool { return row.CampaignLeadMapID == l.CampaignLeadMapID })
	acc.Deleted = append(acc.Deleted, DeletedLead{CampaignID: c.ID, CampaignLeadMapID: l.CampaignLeadMapID, LeadID: l.ID, At: at})
}
