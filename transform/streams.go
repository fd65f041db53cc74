package transform

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// DecodeCampaign converts one element of GET /campaigns/.
func DecodeCampaign(raw []byte) (Campaign, error) {
	return public(decodeCampaign(raw))
}

// public adapts an internal decoder's result to the exported form: a nil
// *FieldError must become a nil error, not a typed nil inside one.
func public[T any](v T, _ bool, err *FieldError) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

func decodeCampaign(raw []byte) (c Campaign, keyOK bool, _ *FieldError) {
	var d decoder
	it := d.record(raw)
	for k, ok := d.next(&it); ok; k, ok = d.next(&it) {
		switch string(k) {
		case "id":
			c.CampaignID, keyOK = d.key("id")
		case "user_id":
			c.UserID = d.optInt("user_id")
		case "name":
			c.Name, _ = d.str("name")
		case "status":
			c.Status, _ = d.enum("status")
		case "created_at":
			c.CreatedAt = d.optTime("created_at")
		case "updated_at":
			c.UpdatedAt = d.optTime("updated_at")
		case "client_id":
			c.ClientID = d.optInt("client_id")
		case "parent_campaign_id":
			c.ParentCampaignID = d.optInt("parent_campaign_id")
		case "track_settings":
			c.TrackSettings = d.json()
		case "scheduler_cron_value":
			c.SchedulerCronValue = d.json()
		case "min_time_btwn_emails":
			c.MinTimeBtwnEmails = d.optInt("min_time_btwn_emails")
		case "max_leads_per_day":
			c.MaxLeadsPerDay = d.optInt("max_leads_per_day")
		case "stop_lead_settings":
			c.StopLeadSettings = d.optString("stop_lead_settings")
		case "follow_up_percentage":
			c.FollowUpPercentage = d.optPercentInt("follow_up_percentage")
		case "send_as_plain_text":
			c.SendAsPlainText = d.optBool("send_as_plain_text")
		case "tags":
			c.Tags = d.json()
		default:
			d.skip()
		}
	}
	d.requireKey(it, keyOK, "id")
	return c, keyOK, d.finish(it, "id")
}

// requireKey reports a key that never appeared.
func (d *decoder) requireKey(it objIter, have bool, field string) {
	// A field error already found (such as the enclosing object having
	// the wrong type) explains the record better than the missing key.
	if !have && d.first == nil && d.fatal == nil && it.n > 0 {
		d.failKey(field, "required key is missing")
	}
}

// optPercentInt reads an integer percentage: 20, "20" or "20%".
func (d *decoder) optPercentInt(field string) *int64 {
	v, ok := d.val()
	if !ok {
		return nil
	}
	if v.kind == kindString {
		if b := trimSpace(v.bytes()); len(b) > 0 && b[len(b)-1] == '%' {
			num := trimSpace(b[:len(b)-1])
			if len(num) == 0 || numberLen(num) != len(num) {
				d.fail(field, "not a percentage: "+describe(v))
				return nil
			}
			v = value{kind: kindNumber, raw: num}
		}
	}
	n, null, reason := parseInt(v)
	if reason != "" {
		d.fail(field, reason)
		return nil
	}
	if null {
		return nil
	}
	return &n
}

// DecodeCampaignAnalytics converts the body of
// GET /campaigns/{id}/analytics. Its counters arrive as strings and its
// campaign_lead_stats as numbers; both are accepted either way.
func DecodeCampaignAnalytics(raw []byte) (CampaignAnalytics, error) {
	return public(decodeCampaignAnalytics(raw))
}

func decodeCampaignAnalytics(raw []byte) (a CampaignAnalytics, keyOK bool, _ *FieldError) {
	var d decoder
	it := d.record(raw)
	for k, ok := d.next(&it); ok; k, ok = d.next(&it) {
		switch string(k) {
		case "id":
			a.CampaignID, keyOK = d.key("id")
		case "name":
			a.Name = d.optString("name")
		case "status":
			if s, ok := d.enum("status"); ok {
				a.Status = &s
			}
		case "client_id":
			a.ClientID = d.optInt("client_id")
		case "sequence_count":
			a.SequenceCount = d.optInt("sequence_count")
		case "sent_count":
			a.SentCount = d.count("sent_count")
		case "unique_sent_count":
			a.UniqueSentCount = d.count("unique_sent_count")
		case "open_count":
			a.OpenCount = d.count("open_count")
		case "unique_open_count":
			a.UniqueOpenCount = d.count("unique_open_count")
		case "click_count":
			a.ClickCount = d.count("click_count")
		case "unique_click_count":
			a.UniqueClickCount = d.count("unique_click_count")
		case "reply_count":
			a.ReplyCount = d.count("reply_count")
		case "bounce_count":
			a.BounceCount = d.count("bounce_count")
		case "unsubscribed_count":
			a.UnsubscribedCount = d.count("unsubscribed_count")
		case "block_count":
			a.BlockCount = d.count("block_count")
		case "total_count":
			a.TotalCount = d.count("total_count")
		case "drafted_count":
			a.DraftedCount = d.count("drafted_count")
		case "campaign_lead_stats":
			in, ok := d.nested("campaign_lead_stats")
			if !ok {
				continue
			}
			for k, ok := d.next(&in); ok; k, ok = d.next(&in) {
				switch string(k) {
				case "total":
					a.LeadsTotal = d.count("campaign_lead_stats.total")
				case "notStarted":
					a.LeadsNotStarted = d.count("campaign_lead_stats.notStarted")
				case "inprogress":
					a.LeadsInProgress = d.count("campaign_lead_stats.inprogress")
				case "completed":
					a.LeadsCompleted = d.count("campaign_lead_stats.completed")
				case "paused":
					a.LeadsPaused = d.count("campaign_lead_stats.paused")
				case "stopped":
					a.LeadsStopped = d.count("campaign_lead_stats.stopped")
				case "blocked":
					a.LeadsBlocked = d.count("campaign_lead_stats.blocked")
				case "interested":
					a.LeadsInterested = d.count("campaign_lead_stats.interested")
				case "revenue":
					a.Revenue = d.optFloat("campaign_lead_stats.revenue", false)
				default:
					d.skip()
				}
			}
			d.endNested()
		default:
			d.skip()
		}
	}
	d.requireKey(it, keyOK, "id")
	return a, keyOK, d.finish(it, "id")
}

// DecodeDailyStat converts the body of
// GET /campaigns/{id}/analytics-by-date asked for the single day day
// (YYYY-MM-DD). The campaign and day come from the request; the body's
// own id and start_date/end_date, when present, must agree with them.
func DecodeDailyStat(campaignID int64, day string, raw []byte) (CampaignDailyStat, error) {
	s, err := decodeDailyStat(campaignID, day, raw)
	if err != nil {
		return CampaignDailyStat{}, err
	}
	return s, nil
}

func decodeDailyStat(campaignID int64, day string, raw []byte) (s CampaignDailyStat, _ *FieldError) {
	s.CampaignID = campaignID
	dayT, ok := parseTime(day)
	if !ok || len(day) != 10 {
		return s, &FieldError{Field: "day", Reason: "requested day is not YYYY-MM-DD: " + strconv.Quote(truncate(day, maxShown))}
	}
	if err := checkCampaignID(campaignID); err != nil {
		return s, err
	}
	s.Day = dayT
	var d decoder
	it := d.record(raw)
	sameDay := func(field string) {
		t := d.optTime(field)
		if t != nil && !t.Equal(dayT) {
			d.fail(field, field+" "+t.Format(time.DateOnly)+" does not match the requested day "+day)
		}
	}
	for k, ok := d.next(&it); ok; k, ok = d.next(&it) {
		switch string(k) {
		case "id":
			if id, ok := d.int("id"); ok && id != campaignID {
				d.fail("id", "campaign id "+strconv.FormatInt(id, 10)+" does not match the requested campaign "+strconv.FormatInt(campaignID, 10))
			}
		case "start_date":
			sameDay("start_date")
		case "end_date":
			sameDay("end_date")
		case "sent_count":
			s.SentCount = d.count("sent_count")
		case "unique_sent_count":
			s.UniqueSentCount = d.count("unique_sent_count")
		case "open_count":
			s.OpenCount = d.count("open_count")
		case "unique_open_count":
			s.UniqueOpenCount = d.count("unique_open_count")
		case "click_count":
			s.ClickCount = d.count("click_count")
		case "unique_click_count":
			s.UniqueClickCount = d.count("unique_click_count")
		case "reply_count":
			s.ReplyCount = d.count("reply_count")
		case "bounce_count":
			s.BounceCount = d.count("bounce_count")
		case "unsubscribed_count":
			s.UnsubscribedCount = d.count("unsubscribed_count")
		default:
			d.skip()
		}
	}
	return s, d.finish(it, "id")
}

// truncate shortens s to at most n bytes on a rune boundary, as valid
// UTF-8, marking a cut with an ellipsis.
// checkCampaignID guards the campaign id that per-campaign decoders take
// from the request: a zero would load rows under campaign 0.
func checkCampaignID(id int64) *FieldError {
	if id <= 0 {
		return &FieldError{Field: "campaign_id", Reason: "requested campaign id must be positive, got " + strconv.FormatInt(id, 10)}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// DecodeLeadEmailStat converts one element of the data array of
// GET /campaigns/{id}/statistics: one email sent to one lead.
func DecodeLeadEmailStat(campaignID int64, raw []byte) (LeadEmailStat, error) {
	return public(decodeLeadEmailStat(campaignID, raw))
}

func decodeLeadEmailStat(campaignID int64, raw []byte) (s LeadEmailStat, keyOK bool, _ *FieldError) {
	if err := checkCampaignID(campaignID); err != nil {
		return s, false, err
	}
	var d decoder
	it := d.record(raw)
	s.CampaignID = campaignID
	var haveEmail bool
	for k, ok := d.next(&it); ok; k, ok = d.next(&it) {
		switch string(k) {
		case "stats_id":
			keyOK = d.stringKey("stats_id", &s.StatsID)
		case "lead_name":
			s.LeadName = d.optString("lead_name")
		case "lead_email":
			haveEmail = d.requiredString("lead_email", &s.LeadEmail)
		case "lead_category":
			s.LeadCategory = d.optTextOrJSON("lead_category")
		case "sequence_number":
			s.SequenceNumber = d.optInt("sequence_number")
		case "email_campaign_seq_id":
			s.EmailCampaignSeqID = d.optInt("email_campaign_seq_id")
		case "seq_variant_id":
			s.SeqVariantID = d.optInt("seq_variant_id")
		case "email_subject":
			s.EmailSubject = d.optString("email_subject")
		case "sent_time":
			s.SentTime = d.optTime("sent_time")
		case "open_time":
			s.OpenTime = d.optTime("open_time")
		case "click_time":
			s.ClickTime = d.optTime("click_time")
		case "reply_time":
			s.ReplyTime = d.optTime("reply_time")
		case "open_count":
			s.OpenCount = d.count("open_count")
		case "click_count":
			s.ClickCount = d.count("click_count")
		case "is_bounced":
			s.IsBounced = d.flag("is_bounced")
		case "is_unsubscribed":
			s.IsUnsubscribed = d.flag("is_unsubscribed")
		default:
			d.skip()
		}
	}
	d.requireKey(it, keyOK, "stats_id")
	if !haveEmail && d.first == nil && d.fatal == nil && it.n > 0 {
		d.fail("lead_email", "required field is missing")
	}
	return s, keyOK, d.finish(it, "stats_id")
}

// stringKey reads a required non-empty text key (a number is taken as
// its digits).
func (d *decoder) stringKey(field string, dst *string) bool {
	v, ok := d.val()
	if !ok {
		return false
	}
	s, null, reason := parseString(v)
	switch {
	case reason != "":
		d.failKey(field, reason)
	case null || len(trimSpace([]byte(s))) == 0:
		d.failKey(field, "required key is "+nullWord(v))
	default:
		*dst = s
		return true
	}
	return false
}
