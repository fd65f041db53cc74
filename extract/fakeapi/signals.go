package fakeapi

import (
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The account-wide change signals (smartlead-api.md §1.14, §1.14a):
// GET /analytics/campaign/overall-stats, every campaign's counters over a
// date range on the send-date axis, and GET /campaigns/all-leads-activities,
// every lead with an event in a time window, across campaigns.

// Route templates of the account-wide endpoints, as Stats.Paths counts
// them.
const (
	PathOverallStats   = "/analytics/campaign/overall-stats"
	PathLeadActivities = "/campaigns/all-leads-activities"
)

// EndpointFault is how a route misbehaves, for the fallback tests.
type EndpointFault int

const (
	FaultNone          EndpointFault = iota
	FaultNotFound                    // 404, as if the route did not exist
	FaultBadRequest                  // 400 with a validation message
	FaultUnprocessable               // 422
	FaultGarbage                     // 200 with an HTML page instead of JSON
	// FaultDisagree answers the documented shape with numbers that
	// disagree with the per-campaign routes: overall-stats over-counts
	// sent and replied for every fourth campaign; all-leads-activities
	// over-counts open_count on every fourth lead's emails.
	FaultDisagree
)

// SetEndpointFault makes the route template misbehave from now on
// (FaultNone heals it).
func (s *Server) SetEndpointFault(template string, f EndpointFault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epFaults == nil {
		s.epFaults = map[string]EndpointFault{}
	}
	s.epFaults[template] = f
}

func (s *Server) endpointFault(template string) EndpointFault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epFaults[template]
}

// writeFault answers for faults that replace the response; false for
// FaultNone and FaultDisagree, which the handler applies itself.
func writeFault(w http.ResponseWriter, path string, f EndpointFault) bool {
	switch f {
	case FaultNotFound:
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Cannot GET " + strings.TrimPrefix(path, BasePath)})
	case FaultBadRequest:
		writeJSON(w, http.StatusBadRequest, map[string]any{"statusCode": 400, "error": "Bad Request", "message": "Invalid query parameters"})
	case FaultUnprocessable:
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"statusCode": 422, "error": "Unprocessable Entity", "message": "analytics are being recomputed for this account"})
	case FaultGarbage:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("<!DOCTYPE html><html><head><title>SmartLead</title></head><body><div id=\"root\"></div></body></html>\n"))
	default:
		return false
	}
	return true
}

// OverallStat is one campaign's overall-stats row over a date range:
// events on the emails sent in it (the send-date axis), wherever the
// events happened later.
type OverallStat struct {
	CampaignID      int64
	Sent            int64 // emails sent
	Opened          int64 // open events (reported even with open tracking off)
	Replied         int64 // emails replied to
	Bounced         int64
	Unsubscribed    int64
	UniqueLeads     int64 // distinct leads sent to
	UniqueOpens     int64 // distinct leads with an opened email
	PositiveReplied int64 // distinct leads that replied, in a positive category now
}

// OverallStats computes the campaign's row over the UTC days start
// through end inclusive; ok is false when it sent nothing then (such a
// campaign is not listed).
func (c *Campaign) OverallStats(start, end time.Time) (OverallStat, bool) {
	lo, hi := c.statsSentBetween(start, end.AddDate(0, 0, 1))
	o := OverallStat{CampaignID: c.ID}
	if lo == hi {
		return o, false
	}
	const opened, positive = 1, 2
	leads := map[int64]uint8{}
	for i := lo; i < hi; i++ {
		r := &c.Stats[i]
		o.Sent++
		f := leads[r.CampaignLeadMapID]
		o.Opened += int64(r.OpenCount)
		if r.OpenCount > 0 {
			f |= opened
		}
		if !r.ReplyTime.IsZero() {
			o.Replied++
			if l := c.lead(r.CampaignLeadMapID); l != nil && positiveCategory(l.CategoryID) {
				f |= positive
			}
		}
		if r.IsBounced {
			o.Bounced++
		}
		if r.IsUnsubscribed {
			o.Unsubscribed++
		}
		leads[r.CampaignLeadMapID] = f
	}
	for _, f := range leads {
		o.UniqueLeads++
		if f&opened != 0 {
			o.UniqueOpens++
		}
		if f&positive != 0 {
			o.PositiveReplied++
		}
	}
	return o, true
}

// lead returns the campaign's lead with that campaign_lead_map_id, or nil.
func (c *Campaign) lead(mapID int64) *Lead {
	i, ok := slices.BinarySearchFunc(c.Leads, mapID, func(l Lead, id int64) int { return cmp64(l.CampaignLeadMapID, id) })
	if !ok {
		return nil
	}
	return &c.Leads[i]
}

type wireOverallStat struct {
	ID                int64  `json:"id"`
	CampaignName      string `json:"campaign_name"`
	Sent              any    `json:"sent"`
	Opened            any    `json:"opened"`
	Replied           any    `json:"replied"`
	Bounced           any    `json:"bounced"`
	Unsubscribed      any    `json:"unsubscribed"`
	OpenRate          string `json:"open_rate"`
	ReplyRate         string `json:"reply_rate"`
	BounceRate        string `json:"bounce_rate"`
	PositiveReplyRate string `json:"positive_reply_rate"`
	PositiveReplied   any    `json:"positive_replied"`
	UniqueLeadCount   any    `json:"unique_lead_count"`
	UniqueOpenCount   any    `json:"unique_open_count"`
}

type wireOverallPage struct {
	OK   bool `json:"ok"`
	Data struct {
		CampaignWisePerformance []wireOverallStat `json:"campaign_wise_performance"`
	} `json:"data"`
}

// rate renders a share as the API does: "50%", "33.33%", "0%".
func rate(num, den int64) string {
	if den == 0 {
		return "0%"
	}
	return strconv.FormatFloat(math.Round(float64(num)*10000/float64(den))/100, 'f', -1, 64) + "%"
}

// idList parses a comma-separated id filter of at most max ids.
func idList(q url.Values, name string, most int) (map[int64]bool, *apiError) {
	v := q.Get(name)
	if v == "" {
		return nil, nil
	}
	out := map[int64]bool{}
	for _, part := range strings.Split(v, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
		if err != nil || n <= 0 {
			return nil, badRequest("%s must be comma-separated positive integers, got %q", name, part)
		}
		out[n] = true
	}
	if len(out) > most {
		return nil, badRequest("%s accepts at most %d ids, got %d", name, most, len(out))
	}
	return out, nil
}

func (s *Server) overallStats(q url.Values, disagree bool) (any, *apiError) {
	start, end, err := dateRange(q, s.cfg.OverallStatsMaxDays)
	if err != nil {
		return nil, err
	}
	if tz := q.Get("timezone"); tz != "" && tz != "UTC" && tz != "Etc/UTC" {
		return nil, badRequest("timezone %q: only UTC is simulated", tz)
	}
	offset, limit, err := pageParams(q, 100, 1000, 0)
	if err != nil {
		return nil, err
	}
	if q.Get("full_data") == "true" {
		offset, limit = 0, math.MaxInt
	}
	clients, err := idList(q, "client_ids", 50)
	if err != nil {
		return nil, err
	}
	ids, err := idList(q, "campaign_ids", 100)
	if err != nil {
		return nil, err
	}
	page := wireOverallPage{OK: true}
	page.Data.CampaignWisePerformance = []wireOverallStat{}
	listed := 0
	for i := range s.acc.Campaigns {
		c := &s.acc.Campaigns[i]
		if (clients != nil && !clients[c.ClientID]) || (ids != nil && !ids[c.ID]) {
			continue
		}
		o, ok := c.OverallStats(start, end)
		if !ok {
			continue
		}
		if listed >= offset && len(page.Data.CampaignWisePerformance) < limit {
			page.Data.CampaignWisePerformance = append(page.Data.CampaignWisePerformance, s.wireOverall(c, o, disagree))
		}
		listed++
	}
	return page, nil
}

func (s *Server) wireOverall(c *Campaign, o OverallStat, disagree bool) wireOverallStat {
	h := mix2(uint64(s.cfg.Seed), uint64(c.ID)<<3|5)
	if disagree && h%4 == 0 {
		o.Sent++
		o.Replied++
	}
	// Counts arrive as numbers for most campaigns and as strings for some.
	num := func(n int64) any {
		if h%3 == 2 {
			return itoa(n)
		}
		return n
	}
	replyBase := o.UniqueOpens
	if !c.OpenTracking() {
		replyBase = o.UniqueLeads
	}
	return wireOverallStat{
		ID: c.ID, CampaignName: c.Name,
		Sent: num(o.Sent), Opened: num(o.Opened), Replied: num(o.Replied), Bounced: num(o.Bounced), Unsubscribed: num(o.Unsubscribed),
		OpenRate: rate(o.UniqueOpens, o.UniqueLeads), ReplyRate: rate(o.Replied, replyBase),
		BounceRate: rate(o.Bounced, o.UniqueLeads), PositiveReplyRate: rate(o.PositiveReplied, o.Replied),
		PositiveReplied: num(o.PositiveReplied), UniqueLeadCount: num(o.UniqueLeads), UniqueOpenCount: num(o.UniqueOpens),
	}
}
