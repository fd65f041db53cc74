package pipeline

import (
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// Flag says why a campaign is read on an incremental night; a campaign
// without one is carried from the previous snapshot.
type Flag uint8

// Campaign flags, one bit each.
const (
	FlagNew      Flag = 1 << iota // not in the previous snapshot: read in full
	FlagSettings                  // status or updated_at moved in the campaign list
	FlagActivity                  // leads with activity (all-leads-activities)
	FlagCounters                  // its overall-stats counters moved since last read
	FlagHook                      // webhook events since the previous run
	FlagSample                    // unflagged, re-read to verify the signals
	FlagProbe                     // a signal could not be trusted: probed per campaign
)

// flagNames name the flags in plan output and notes, in bit order.
var flagNames = []string{"new", "settings", "activity", "counters", "hook", "sample", "probe"}

// FlagNames lists the flags' names in bit order.
func FlagNames() []string { return slices.Clone(flagNames) }

func (f Flag) String() string {
	var parts []string
	for i, n := range flagNames {
		if f&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	return strings.Join(parts, "+")
}

// emailExpect is what the activities signal said of one changed email: a
// re-read statistics row must show at least as much (counts only grow).
type emailExpect struct {
	StatsID string `json:"s"`
	Open    int64  `json:"o,omitempty"`
	Click   int64  `json:"c,omitempty"`
	Replied bool   `json:"r,omitempty"`
}

// campaignActivity is what the activities signal says of one campaign,
// compared with the previous snapshot.
type campaignActivity struct {
	Leads     int  // leads with activity
	NeedLeads bool // a lead row may have changed (new, status, reply, or a change the entry does not show)
	NeedStats bool // an email changed or was sent
	FullStats bool // an email without a send time: read all
	// Quiet: no entry shows a change (the events fell in the overlap
	// with the previous run, or moved what entries do not show, such as
	// a category): the leads are read, and the rest only if they moved.
	Quiet  bool
	Since  time.Time       // earliest email to read again
	New    int             // emails not in the snapshot (new sends)
	Days   map[string]bool // send days (YYYY-MM-DD) of emails that changed or may have
	Expect []emailExpect
}

// analyzeActivity compares each lead with activity with what the previous
// snapshot holds. An email changed when its open or click count or reply
// differs, or it is new: its statistics row is read again, and its send
// day's daily stats. A lead's own row is read again when the lead is new,
// its status differs, it has a new reply, or its entry shows no change at
// all (its category moved, or the event fell in the overlap with the
// previous run). A new reply, or a status that moved without a new email
// (an unsubscribe: the entry does not say on which email), reads every
// email of the lead again: an API that joins the category into
// statistics rows moves it on all of them, and the unsubscribed email is
// one of them. Opens and clicks change no column of leads; a category
// moving unseen is caught once the rows are in (load.Run.CategoryDrift).
func analyzeActivity(acts []transform.LeadActivity, heldLeads map[int64]load.LeadState, heldEmails []load.EmailState) map[int64]*campaignActivity {
	byStats := make(map[string]load.EmailState, len(heldEmails))
	type leadKey struct {
		campaign int64
		email    string
	}
	byLead := map[leadKey][]load.EmailState{}
	for _, e := range heldEmails {
		byStats[e.StatsID] = e
		k := leadKey{e.CampaignID, e.LeadEmail}
		byLead[k] = append(byLead[k], e)
	}
	out := map[int64]*campaignActivity{}
	for _, a := range acts {
		ca := out[a.CampaignID]
		if ca == nil {
			ca = &campaignActivity{Days: map[string]bool{}, Quiet: true}
			out[a.CampaignID] = ca
		}
		ca.Leads++
		reread := func(t *time.Time) {
			ca.NeedStats = true
			if t == nil {
				ca.FullStats = true
				return
			}
			if ca.Since.IsZero() || t.Before(ca.Since) {
				ca.Since = t.UTC()
			}
			ca.Days[t.UTC().Format(time.DateOnly)] = true
		}
		hl, held := heldLeads[a.CampaignLeadMapID]
		held = held && hl.CampaignID == a.CampaignID
		if !held {
			ca.NeedLeads = true
		}
		status := !held || a.Status == nil || hl.Status == nil || *a.Status != *hl.Status
		changed, fresh, reply := 0, 0, false
		for _, e := range a.Emails {
			he, ok := byStats[e.StatsID]
			if !ok || he.CampaignID != a.CampaignID {
				fresh++
				ca.New++
				reread(e.SentTime)
				continue
			}
			replied := he.ReplyTime != nil
			if e.OpenCount == he.OpenCount && e.ClickCount == he.ClickCount && e.Replied == replied {
				continue
			}
			changed++
			reply = reply || e.Replied != replied
			ca.Expect = append(ca.Expect, emailExpect{StatsID: e.StatsID, Open: e.OpenCount, Click: e.ClickCount, Replied: e.Replied})
			reread(e.SentTime)
		}
		if status || reply || changed+fresh > 0 {
			ca.Quiet = false
		}
		if !held {
			continue // a new lead's emails are all new (above)
		}
		if status || reply || changed+fresh == 0 {
			ca.NeedLeads = true
		}
		if !reply && !(status && fresh == 0) {
			continue
		}
		for _, e := range a.Emails {
			reread(e.SentTime)
		}
		for _, e := range byLead[leadKey{a.CampaignID, hl.Email}] {
			reread(e.SentTime)
		}
	}
	return out
}

// statsSince is the sent_time_start_date a statistics read of the
// activity starts at: its earliest email, to the millisecond below (the
// filter's precision).
func (ca *campaignActivity) statsSince() time.Time {
	return ca.Since.Truncate(time.Millisecond)
}

// sampleSize is how many unflagged campaigns a night verifies: 1% of
// them, at least 3 (all, when there are fewer).
func sampleSize(unflagged int) int {
	return min(unflagged, max(3, (unflagged+99)/100))
}

// sampleRank orders campaigns for the verification sample: a hash of the
// night's seed (the run id) and the campaign id, so each night checks
// other campaigns and a resumed run the same ones.
func sampleRank(seed string, id int64) uint64 {
	h := fnv.New64a()
	h.Write([]byte(seed))
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatInt(id, 10)))
	return h.Sum64()
}

// chooseSample picks n of ids by sampleRank.
func chooseSample(seed string, ids []int64, n int) []int64 {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(a, b int64) int {
		ra, rb := sampleRank(seed, a), sampleRank(seed, b)
		switch {
		case ra < rb:
			return -1
		case ra > rb:
			return 1
		}
		return int(a - b)
	})
	out := ids[:min(n, len(ids))]
	slices.Sort(out)
	return out
}

// counterFlag is why overall-stats flagged a campaign; Fresh when the
// rows compared were read by the previous night (a range read in
// rotation compares with rows of an older night, so activity re-read in
// between shows as a difference once).
type counterFlag struct {
	Why   string
	Fresh bool
}

// overallFlags compares tonight's overall-stats rows with the rows seen
// for the same cells, like with like: a campaign whose row differs in any
// counter, appears or disappears in a cell read before is flagged. A
// cell never read before flags nothing (there is nothing to compare
// with); its rows are remembered for the next night. prevRun is the
// previous night's run.
func overallFlags(tonight []transform.OverallStat, cells []load.OverallCell, seen []transform.OverallStat, seenCells []load.OverallCell, prevRun string) map[int64]counterFlag {
	known := map[time.Time]bool{}
	fresh := map[time.Time]bool{}
	for _, c := range seenCells {
		known[c.Start] = true
		fresh[c.Start] = c.RunID == prevRun
	}
	read := map[time.Time]bool{}
	for _, c := range cells {
		read[c.Start] = true
	}
	type key struct {
		id    int64
		start time.Time
	}
	old := map[key]transform.OverallStat{}
	for _, o := range seen {
		if read[o.Start] {
			old[key{o.CampaignID, o.Start}] = o
		}
	}
	out := map[int64]counterFlag{}
	flag := func(id int64, start time.Time, why string) {
		f := out[id]
		if f.Why == "" {
			f.Why = why + " in the range from " + start.Format(time.DateOnly)
		}
		f.Fresh = f.Fresh || fresh[start]
		out[id] = f
	}
	for _, o := range tonight {
		if !known[o.Start] {
			continue
		}
		k := key{o.CampaignID, o.Start}
		p, ok := old[k]
		delete(old, k)
		switch {
		case !ok:
			flag(o.CampaignID, o.Start, "new")
		case p.Sent != o.Sent || p.Opened != o.Opened || p.Replied != o.Replied || p.Bounced != o.Bounced ||
			p.Unsubscribed != o.Unsubscribed || p.PositiveReplied != o.PositiveReplied || p.UniqueLeads != o.UniqueLeads ||
			p.UniqueOpens != o.UniqueOpens:
			flag(o.CampaignID, o.Start, "counters moved")
		}
	}
	for k := range old {
		flag(k.id, k.start, "gone")
	}
	return out
}
