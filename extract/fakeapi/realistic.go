package fakeapi

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// RealisticNight describes a night as an agency account lives it, unlike
// NightChange (whose nights touch only campaigns that still send, and
// only emails sent the day before):
//   - campaigns that no longer send (COMPLETED, STOPPED, PAUSED) still get
//     opens, clicks, replies, unsubscribes and category changes on
//     emails sent days or weeks ago;
//   - some ACTIVE campaigns send next steps, get new leads and engagement;
//   - a campaign's updated_at moves only when its settings change;
//   - the night's events are spread over the hours before it, so they
//     fall on yesterday and today (the send-date axis of the analytics).
//
// A lead's category is the lead's current one on every email of it, as
// an API that joins it at read time shows it.
type RealisticNight struct {
	LateFrac     float64 // share of campaigns that no longer send with late activity
	ActiveFrac   float64 // share of ACTIVE campaigns with the day's activity
	SettingsFrac float64 // share of all campaigns whose settings change
	LateEvents   int     // a late campaign gets 1 to LateEvents events (default 2)
	ActiveEvents int     // engagement events in an active campaign (default 3)
	SendFrac     float64 // share of an active campaign's leads due their next step that get it
	NewLeads     int     // leads added to each active campaign with activity
	DeletedLeads int     // leads removed, with their emails, from random campaigns
	// MaxAge bounds how old an email engagement can land on (default 42
	// days); a campaign that sent nothing that recent has no late
	// activity.
	MaxAge time.Duration
	// Window is how long before the night its events are spread over
	// (default 20h), never before the previous change: run the night
	// after the previous run started, as cron does.
	Window time.Duration
}

// AgencyNight is the realistic night: late activity on 3% of the
// campaigns that no longer send, the day's activity in 40% of the ACTIVE
// ones, settings changed on 1%.
var AgencyNight = RealisticNight{LateFrac: 0.03, ActiveFrac: 0.40, SettingsFrac: 0.01,
	LateEvents: 2, ActiveEvents: 3, SendFrac: 1, NewLeads: 1}

// beginNight counts a night and returns its instant (now, or 1 ms after
// the previous change if the clock is behind it) and its random source,
// one stream per kind of night. Call with dataMu held.
func (s *Server) beginNight(kind uint64) (time.Time, *rand.Rand) {
	now := time.Now().UTC().Round(0).Truncate(time.Millisecond)
	if !now.After(s.acc.Now) {
		now = s.acc.Now.Add(time.Millisecond)
	}
	s.nights++
	return now, newRand(s.cfg.Seed, kind+uint64(s.nights))
}

// RealisticNight applies one realistic night, deterministic for a given
// Seed and night number. The report's At is the night's stamp, the
// latest of its events; Campaigns lists the campaigns whose leads or
// emails changed and SettingsChanged those whose updated_at moved.
func (s *Server) RealisticNight(rn RealisticNight) NightReport {
	s.dataMu.Lock()
	defer s.dataMu.Unlock()
	acc := s.acc
	now, r := s.beginNight(1 << 41)
	if rn.LateEvents <= 0 {
		rn.LateEvents = 2
	}
	if rn.ActiveEvents <= 0 {
		rn.ActiveEvents = 3
	}
	if rn.MaxAge <= 0 {
		rn.MaxAge = 42 * day
	}
	if rn.Window <= 0 {
		rn.Window = 20 * time.Hour
	}
	lo := latest(acc.Now, now.Add(-rn.Window))
	// times returns n instants in (lo, now], ascending, at millisecond
	// precision.
	times := func(n int) []time.Time {
		span := max(now.Sub(lo)/time.Millisecond, 1)
		out := make([]time.Time, n)
		for i := range out {
			out[i] = lo.Add(time.Duration(1+r.Int64N(int64(span))) * time.Millisecond)
		}
		slices.SortFunc(out, time.Time.Compare)
		return out
	}
	rep := NightReport{At: now}
	rows, cats := s.activitySnapshot() // nil unless webhooks are registered
	defer s.queueActivity(rows, cats, now)
	touched := map[int]bool{}
	oldest := now.Add(-rn.MaxAge)

	var late, active []int
	for i := range acc.Campaigns {
		c := &acc.Campaigns[i]
		switch c.Status {
		case "COMPLETED", "STOPPED", "PAUSED":
			late = append(late, i)
		case "ACTIVE":
			active = append(active, i)
		}
	}

	// Late activity, on campaigns that have an email recent enough.
	want := int(math.Round(rn.LateFrac * float64(len(late))))
	var eligible []int
	for _, ci := range late {
		c := &acc.Campaigns[ci]
		if n := len(c.Stats); n > 0 && !c.Stats[n-1].SentTime.Before(oldest) {
			eligible = append(eligible, ci)
		}
	}
	for _, ci := range choose(r, eligible, want) {
		c := &acc.Campaigns[ci]
		for _, at := range times(1 + r.IntN(rn.LateEvents)) {
			if engage(r, c, at, oldest) {
				rep.Events++
				touched[ci] = true
			}
		}
	}

	// The day's activity in active campaigns: next steps to leads due
	// them, new leads, engagement.
	for _, ci := range choose(r, active, int(math.Round(rn.ActiveFrac*float64(len(active))))) {
		c := &acc.Campaigns[ci]
		n := s.sendDue(r, c, rn.SendFrac, times, now)
		rep.NewSends += n
		for _, at := range times(max(rn.NewLeads, 0)) {
			c.Leads = append(c.Leads, s.gen.newLead(r, at))
			rep.NewLeads++
			n++
		}
		for _, at := range times(rn.ActiveEvents) {
			if engage(r, c, at, oldest) {
				rep.Events++
				n++
			}
		}
		if n > 0 {
			touched[ci] = true
		}
	}

	// Settings: updated_at moves, and sometimes a step's text changes.
	all := make([]int, len(acc.Campaigns))
	for i := range all {
		all[i] = i
	}
	for _, ci := range choose(r, all, int(math.Round(rn.SettingsFrac*float64(len(all))))) {
		c := &acc.Campaigns[ci]
		at := times(1)[0]
		c.UpdatedAt = at
		c.MaxLeadsPerDay = []int{50, 100, 200}[(slices.Index([]int{50, 100, 200}, c.MaxLeadsPerDay)+1)%3]
		if len(c.Sequences) > 0 && r.IntN(2) == 0 {
			sq := &c.Sequences[r.IntN(len(c.Sequences))]
			sq.EmailBody, sq.UpdatedAt = sq.EmailBody+"<p>P.S. Happy to send a short case study.</p>", at
		}
		rep.SettingsChanged = append(rep.SettingsChanged, c.ID)
	}

	// Deletions, from random campaigns that have leads.
	for tries := 0; rep.DeletedLeads < rn.DeletedLeads && tries < 100*max(rn.DeletedLeads, 1); tries++ {
		ci := r.IntN(max(len(acc.Campaigns), 1))
		if ci >= len(acc.Campaigns) || len(acc.Campaigns[ci].Leads) == 0 {
			continue
		}
		c := &acc.Campaigns[ci]
		acc.deleteLead(c, r.IntN(len(c.Leads)), now)
		rep.DeletedLeads++
		touched[ci] = true
	}

	for ci := range touched {
		slices.SortFunc(acc.Campaigns[ci].Stats, compareRows)
		rep.Campaigns = append(rep.Campaigns, acc.Campaigns[ci].ID)
	}
	slices.Sort(rep.Campaigns)
	slices.Sort(rep.SettingsChanged)
	rep.ChangedLeads = changedLeads(acc, lo)
	acc.Now = now
	return rep
}

// choose returns k distinct elements of xs (all if k >= len), ascending.
func choose(r *rand.Rand, xs []int, k int) []int {
	xs = slices.Clone(xs)
	k = min(max(k, 0), len(xs))
	for i := range k {
		j := i + r.IntN(len(xs)-i)
		xs[i], xs[j] = xs[j], xs[i]
	}
	out := xs[:k]
	slices.Sort(out)
	return out
}

// changedLeads counts the leads with an event after lo.
func changedLeads(acc *Account, lo time.Time) int {
	n := 0
	for i := range acc.Campaigns {
		for j := range acc.Campaigns[i].Leads {
			if acc.Campaigns[i].Leads[j].LastEventAt.After(lo) {
				n++
			}
		}
	}
	return n
}

// sendDue sends, at random times of the night, the next step to a share
// of the campaign's leads whose step is due (its delay since the previous
// email has passed). It returns how many it sent.
func (s *Server) sendDue(r *rand.Rand, c *Campaign, frac float64, times func(int) []time.Time, now time.Time) int {
	sent := map[int64]int{}
	last := map[int64]time.Time{}
	for i := range c.Stats {
		sent[c.Stats[i].CampaignLeadMapID]++
		last[c.Stats[i].CampaignLeadMapID] = c.Stats[i].SentTime
	}
	n := 0
	for li := range c.Leads {
		l := &c.Leads[li]
		step := sent[l.CampaignLeadMapID]
		if (l.Status != "STARTED" && l.Status != "INPROGRESS") || l.IsUnsubscribed || step >= len(c.Sequences) || r.Float64() >= frac {
			continue
		}
		at := times(1)[0]
		if step > 0 {
			due := last[l.CampaignLeadMapID].Add(time.Duration(c.Sequences[step].DelayInDays) * day)
			if due.After(now) {
				continue
			}
			at = latest(at, due.Truncate(time.Millisecond).Add(time.Millisecond))
		}
		row := s.gen.newRow(r, c, l, l.Name(), step, earliest(at, now))
		row.LeadCategory = categoryName(l.CategoryID)
		switch {
		case r.IntN(1000) < 20:
			row.IsBounced, l.Status = true, "BLOCKED"
		case step+1 == len(c.Sequences):
			l.Status = "COMPLETED"
		default:
			l.Status = "INPROGRESS"
		}
		l.LastSentAt, l.LastEventAt = row.SentTime, latest(l.LastEventAt, row.SentTime)
		c.Stats = append(c.Stats, row)
		n++
	}
	slices.SortFunc(c.Stats, compareRows)
	return n
}

// engage gives one email of the campaign, sent between oldest and a
// minute before at, one event at at: an open, a click, a reply, a
// category change or an unsubscribe. It reports false when no email
// qualifies.
func engage(r *rand.Rand, c *Campaign, at, oldest time.Time) bool {
	lo, hi := c.statsSentBetween(oldest, at.Add(-time.Minute))
	var row *StatRow
	for range 8 {
		if hi <= lo {
			return false
		}
		if x := &c.Stats[lo+r.IntN(hi-lo)]; !x.IsBounced {
			row = x
			break
		}
	}
	if row == nil {
		return false
	}
	l := c.lead(row.CampaignLeadMapID)
	if l == nil {
		return false
	}
	t := stamp(at, row.Micro)
	open := func() {
		row.OpenCount++
		if row.OpenTime.IsZero() {
			row.OpenTime = t
		}
	}
	switch p := r.IntN(100); {
	case p < 50:
		open()
	case p < 65:
		row.ClickCount++
		if row.ClickTime.IsZero() {
			row.ClickTime = t
		}
		if row.OpenCount == 0 { // a click implies an open
			open()
		}
	case p < 82 && row.ReplyTime.IsZero():
		row.ReplyTime = t
		l.Status = "COMPLETED" // stop_lead_settings: REPLY_TO_AN_EMAIL
		l.CategoryID = pick(r, []int64{1, 1, 2, 3, 3, 5, 6, 7})
	case p < 94:
		old := l.CategoryID
		for l.CategoryID == old {
			l.CategoryID = categories[r.IntN(len(categories))].ID
		}
	case !l.IsUnsubscribed:
		row.IsUnsubscribed, l.IsUnsubscribed, l.Status = true, true, "STOPPED"
	default:
		open()
	}
	l.LastEventAt = latest(l.LastEventAt, at)
	cat := categoryName(l.CategoryID)
	for i := range c.Stats {
		if c.Stats[i].CampaignLeadMapID == l.CampaignLeadMapID {
			c.Stats[i].LeadCategory = cat
		}
	}
	return true
}
