package fakeapi

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// GET /campaigns/all-leads-activities lists, across campaigns, every lead
// whose latest event (creation, a send, an open, a click, a reply, an
// unsubscribe, a status or category change: the event time of
// event_time_gt) falls in [event_time_from, event_time_to], ordered by
// campaign and campaign_lead_map_id, each with all the emails sent to it
// and their engagement so far. It does not say what changed, nor carry
// the lead's category.

type wireReply struct {
	MessageID string `json:"message_id"`
	ReplyTime string `json:"reply_time"`
	FromEmail string `json:"from_email"`
}

type wireActivity struct {
	StatsID        string      `json:"stats_id"`
	MessageID      string      `json:"message_id"`
	Subject        string      `json:"subject"`
	EmailBody      string      `json:"email_body"`
	SentTime       *string     `json:"sent_time"`
	FromEmail      string      `json:"from_email"`
	ToEmail        string      `json:"to_email"`
	EmailSeqNumber string      `json:"email_seq_number"` // a string, as in message history
	OpenCount      int         `json:"open_count"`
	ClickCount     int         `json:"click_count"`
	ReplyDetails   *wireReply  `json:"reply_details"`
	ThreadReplies  []wireReply `json:"thread_replies"`
}

type wireLeadActivity struct {
	LeadID         any            `json:"lead_id"` // a number, or a string for some leads
	EmailLeadMapID int64          `json:"email_lead_map_id"`
	CampaignID     int64          `json:"campaign_id"`
	CampaignName   string         `json:"campaign_name"`
	Status         string         `json:"status"`
	CurrentSeqNum  int            `json:"current_seq_num"`
	Activities     []wireActivity `json:"activities"`
}

type wireActivitiesPage struct {
	Data    []wireLeadActivity `json:"data"`
	HasMore bool               `json:"hasMore"`
}

func (s *Server) leadActivities(q url.Values, disagree bool) (any, *apiError) {
	offset, limit, err := pageParams(q, 100, 1000, 0)
	if err != nil {
		return nil, err
	}
	var from, to time.Time // from <= event <= to; zero = open
	if v := q.Get("event_time_from"); v != "" {
		if from, _, err = parseTimeParam("event_time_from", v); err != nil {
			return nil, err
		}
	}
	if v := q.Get("event_time_to"); v != "" {
		if from.IsZero() {
			return nil, badRequest("event_time_to requires event_time_from")
		}
		t, dateOnly, err := parseTimeParam("event_time_to", v)
		if err != nil {
			return nil, err
		}
		if dateOnly {
			t = t.AddDate(0, 0, 1).Add(-time.Nanosecond) // the whole day
		}
		if t.Before(from) {
			return nil, badRequest("event_time_to is before event_time_from")
		}
		to = t
	}
	page := wireActivitiesPage{Data: []wireLeadActivity{}}
	listed := 0
	for ci := range s.acc.Campaigns {
		c := &s.acc.Campaigns[ci]
		var rows map[int64][]int // lead -> its rows, built when the page needs this campaign
		for li := range c.Leads {
			l := &c.Leads[li]
			if (!from.IsZero() && l.LastEventAt.Before(from)) || (!to.IsZero() && l.LastEventAt.After(to)) {
				continue
			}
			if listed >= offset && len(page.Data) < limit {
				if rows == nil {
					rows = make(map[int64][]int, len(c.Leads))
					for ri := range c.Stats {
						id := c.Stats[ri].CampaignLeadMapID
						rows[id] = append(rows[id], ri)
					}
				}
				page.Data = append(page.Data, s.wireLeadActivity(c, l, rows[l.CampaignLeadMapID], disagree))
			}
			listed++
		}
	}
	page.HasMore = offset+len(page.Data) < listed
	return page, nil
}

func (s *Server) wireLeadActivity(c *Campaign, l *Lead, rows []int, disagree bool) wireLeadActivity {
	h := mix2(uint64(s.cfg.Seed), uint64(l.CampaignLeadMapID)<<3|6)
	w := wireLeadActivity{
		LeadID: l.ID, EmailLeadMapID: l.CampaignLeadMapID, CampaignID: c.ID, CampaignName: c.Name,
		Status: l.Status, CurrentSeqNum: len(rows), Activities: []wireActivity{},
	}
	if h%3 == 1 {
		w.LeadID = strconv.FormatInt(l.ID, 10)
	}
	from := "outreach@" + domains[int(mix(uint64(c.ID))%uint64(len(domains)))]
	if n := len(s.acc.EmailAccounts); n > 0 {
		from = s.acc.EmailAccounts[int(mix(uint64(c.ID))%uint64(n))].FromEmail
	}
	for _, ri := range rows {
		r := &c.Stats[ri]
		msg := "<" + r.StatsID + "@" + from[strings.LastIndexByte(from, '@')+1:] + ">"
		a := wireActivity{
			StatsID: r.StatsID, MessageID: msg, Subject: r.EmailSubject, EmailBody: r.EmailMessage,
			SentTime: fmtTimePtr(r.SentTime, r.Micro), FromEmail: from, ToEmail: r.LeadEmail,
			EmailSeqNumber: strconv.Itoa(r.SequenceNumber), OpenCount: r.OpenCount, ClickCount: r.ClickCount,
			ThreadReplies: []wireReply{},
		}
		if disagree && h%4 == 0 {
			a.OpenCount++
		}
		if !r.ReplyTime.IsZero() {
			a.ReplyDetails = &wireReply{MessageID: "<re-" + r.StatsID + "@mail.example>", ReplyTime: fmtTime(r.ReplyTime, r.Micro), FromEmail: r.LeadEmail}
		}
		w.Activities = append(w.Activities, a)
	}
	return w
}
