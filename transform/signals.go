package transform

import (
	"strconv"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
)

// The account-wide change signals (extract.SignalStreams) decode into
// rows that change detection compares with the warehouse. They are not
// warehouse tables, so they have their own result type, Signals, and
// FromPage does not take them.

// OverallStat is one campaign's row of GET /analytics/campaign/overall-stats
// over the UTC days Start through End (from the request): events on the
// emails sent in that range, wherever the events fell later (the
// send-date axis). Sent, opened, replied, bounced and unsubscribed add
// up across ranges; the unique counts and positive_replied do not.
type OverallStat struct {
	CampaignID      int64
	Start, End      time.Time // midnight UTC, inclusive
	Name            *string
	Sent            int64
	Opened          int64
	Replied         int64
	Bounced         int64
	Unsubscribed    int64
	PositiveReplied int64
	UniqueLeads     int64 // unique_lead_count
	UniqueOpens     int64 // unique_open_count
	// Rates in percent ("50%" and 50 are both 50); nil when not sent.
	OpenRate, ReplyRate, BounceRate, PositiveReplyRate *float64
}

// LeadActivity is one lead of GET /campaigns/all-leads-activities: a lead
// with an event in the window asked, and every email sent to it.
type LeadActivity struct {
	CampaignID        int64
	CampaignLeadMapID int64 // email_lead_map_id
	LeadID            int64
	CampaignName      *string
	Status            *string
	CurrentSeqNum     *int64
	Emails            []EmailActivity
}

// EmailActivity is one email of a LeadActivity, with its engagement so far.
type EmailActivity struct {
	StatsID        string
	SequenceNumber *int64 // email_seq_number (sent as a string)
	SentTime       *time.Time
	OpenCount      int64
	ClickCount     int64
	Replied        bool       // reply_details is an object
	ReplyTime      *time.Time // reply_details.reply_time (or .time), when sent
	ThreadReplies  int64      // elements of thread_replies
}

// Signals is what one page of a signal stream becomes. As with Batch,
// every record is a row or a Rejected, never dropped.
type Signals struct {
	OverallStats   []OverallStat
	LeadActivities []LeadActivity
	Rejected       []Rejected
}

// SignalsFromPage converts one page of a signal stream. Records of any
// other stream are rejected.
func SignalsFromPage(p extract.Page) Signals {
	var s Signals
	var b Batch // decodeAll reports rejections into a Batch
	switch p.Item.Stream {
	case extract.StreamOverallStats:
		s.OverallStats = decodeAll(&b, p, func(raw []byte) (OverallStat, string, *FieldError) {
			o, ok, err := decodeOverallStat(p.Item.Day, p.Item.EndDay, raw)
			return o, keyString(ok, o.CampaignID), err
		})
	case extract.StreamLeadActivities:
		s.LeadActivities = decodeAll(&b, p, func(raw []byte) (LeadActivity, string, *FieldError) {
			a, ok, err := decodeLeadActivity(raw)
			key := ""
			if ok {
				key = "campaign=" + strconv.FormatInt(a.CampaignID, 10) + " email_lead_map_id=" + strconv.FormatInt(a.CampaignLeadMapID, 10)
			}
			return a, key, err
		})
	default:
		reason := "not a signal stream: " + strconv.Quote(truncate(string(p.Item.Stream), maxShown))
		for i, raw := range p.Records {
			b.Rejected = append(b.Rejected, reject(p, i, "", raw, &FieldError{Reason: reason}))
		}
	}
	s.Rejected = b.Rejected
	return s
}

// DecodeOverallStat converts one element of data.campaign_wise_performance
// of an overall-stats answer for the range start..end (YYYY-MM-DD).
func DecodeOverallStat(start, end string, raw []byte) (OverallStat, error) {
	return public(decodeOverallStat(start, end, raw))
}

// overallCounters are the counters change detection compares; a row
// without them is not the shape we know, and comparing zeros would call
// every campaign unchanged.
var overallCounters = []string{"sent", "replied"}

func decodeOverallStat(start, end string, raw []byte) (o OverallStat, keyOK bool, _ *FieldError) {
	s, err1 := time.Parse(time.DateOnly, start)
	e, err2 := time.Parse(time.DateOnly, end)
	switch {
	case err1 != nil:
		return o, false, &FieldError{Reason: "request start_date " + strconv.Quote(truncate(start, maxShown)) + " is not YYYY-MM-DD"}
	case err2 != nil || e.Before(s):
		return o, false, &FieldError{Reason: "request end_date " + strconv.Quote(truncate(end, maxShown)) + " is not a YYYY-MM-DD on or after start_date"}
	}
	o.Start, o.End = s, e
	var d decoder
	it := d.record(raw)
	var seen [2]bool
	for k, ok := d.next(&it); ok; k, ok = d.next(&it) {
		switch key := string(k); key {
		case "id":
			o.CampaignID, keyOK = d.key("id")
		case "campaign_name":
			o.Name = d.optString("campaign_name")
		case "sent":
			o.Sent, seen[0] = d.counter("sent")
		case "replied":
			o.Replied, seen[1] = d.counter("replied")
		case "opened":
			o.Opened = d.count("opened")
		case "bounced":
			o.Bounced = d.count("bounced")
		case "unsubscribed":
			o.Unsubscribed = d.count("unsubscribed")
		case "positive_replied":
			o.PositiveReplied = d.count("positive_replied")
		case "unique_lead_count":
			o.UniqueLeads = d.count("unique_lead_count")
		case "unique_open_count":
			o.UniqueOpens = d.count("unique_open_count")
		case "open_rate":
			o.OpenRate = d.optFloat("open_rate", true)
		case "reply_rate":
			o.ReplyRate = d.optFloat("reply_rate", true)
		case "bounce_rate":
			o.BounceRate = d.optFloat("bounce_rate", true)
		case "positive_reply_rate":
			o.PositiveReplyRate = d.optFloat("positive_reply_rate", true)
		default:
			d.skip()
		}
	}
	d.requireKey(it, keyOK, "id")
	for i, f := range overallCounters {
		if !seen[i] && it.n > 0 {
			d.fail(f, "required counter is missing")
		}
	}
	return o, keyOK, d.finish(it, "id")
}

// counter reads a count that must be present: a number or a numeric
// string, not null or "".
func (d *decoder) counter(field string) (int64, bool) {
	n, ok := d.int(field)
	if !ok && d.first == nil && d.fatal == nil {
		d.fail(field, "required counter is null or empty")
	}
	if n < 0 {
		d.fail(field, "negative count "+strconv.FormatInt(n, 10))
	}
	return n, true
}

// DecodeLeadActivity converts one element of data of an
// all-leads-activities answer.
func DecodeLeadActivity(raw []byte) (LeadActivity, error) {
	return public(decodeLeadActivity(raw))
}

func decodeLeadActivity(raw []byte) (a LeadActivity, keyOK bool, _ *FieldError) {
	var d decoder
	it := d.record(raw)
	var haveCampaign, haveMap, haveLead bool
	for k, ok := d.next(&it); ok; k, ok = d.next(&it) {
		switch string(k) {
		case "campaign_id":
			a.CampaignID, haveCampaign = d.key("campaign_id")
		case "email_lead_map_id":
			a.CampaignLeadMapID, haveMap = d.key("email_lead_map_id")
		case "lead_id":
			a.LeadID, haveLead = d.key("lead_id")
		case "campaign_name":
			a.CampaignName = d.optString("campaign_name")
		case "status":
			if s, ok := d.enum("status"); ok {
				a.Status = &s
			}
		case "current_seq_num":
			a.CurrentSeqNum = d.optInt("current_seq_num")
		case "activities":
			arr, ok := d.array("activities")
			if !ok {
				continue
			}
			for i := 0; d.elem(&arr); i++ {
				a.Emails = append(a.Emails, d.emailActivity("activities["+strconv.Itoa(i)+"]."))
			}
			d.endNested()
		default:
			d.skip()
		}
	}
	d.requireKey(it, haveCampaign, "campaign_id")
	d.requireKey(it, haveMap, "email_lead_map_id")
	d.requireKey(it, haveLead, "lead_id")
	keyOK = haveCampaign && haveMap
	return a, keyOK, d.finish(it, "email_lead_map_id")
}

// emailActivity reads one element of activities; prefix is its path.
func (d *decoder) emailActivity(prefix string) EmailActivity {
	var e EmailActivity
	in, ok := d.nested(prefix[:len(prefix)-1])
	if !ok {
		if d.first == nil && d.fatal == nil {
			d.fail(prefix[:len(prefix)-1], "expected an object, got null")
		}
		return e
	}
	haveStats := false
	for k, ok := d.next(&in); ok; k, ok = d.next(&in) {
		switch string(k) {
		case "stats_id":
			haveStats = d.requiredString(prefix+"stats_id", &e.StatsID)
		case "email_seq_number":
			e.SequenceNumber = d.optInt(prefix + "email_seq_number")
		case "sent_time":
			e.SentTime = d.optTime(prefix + "sent_time")
		case "open_count":
			e.OpenCount = d.count(prefix + "open_count")
		case "click_count":
			e.ClickCount = d.count(prefix + "click_count")
		case "reply_details":
			r, ok := d.nested(prefix + "reply_details")
			if !ok {
				continue
			}
			e.Replied = true
			for k, ok := d.next(&r); ok; k, ok = d.next(&r) {
				switch string(k) {
				case "reply_time", "time":
					if t := d.optTime(prefix + "reply_details." + string(k)); t != nil {
						e.ReplyTime = t
					}
				default:
					d.skip()
				}
			}
			d.endNested()
		case "thread_replies":
			arr, ok := d.array(prefix + "thread_replies")
			if !ok {
				continue
			}
			for d.elem(&arr) {
				d.skip()
				e.ThreadReplies++
			}
			d.endNested()
		default:
			d.skip()
		}
	}
	d.endNested()
	if !haveStats && d.first == nil && d.fatal == nil {
		d.fail(prefix+"stats_id", "required field is missing")
	}
	return e
}
