package fakeapi

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// deprecatedSpelling is the other name some vendor pages use.
var deprecatedSpelling = map[string]string{
	"EMAIL_OPEN": "EMAIL_OPENED", "EMAIL_LINK_CLICK": "EMAIL_CLICKED", "EMAIL_REPLY": "EMAIL_REPLIED",
	"EMAIL_BOUNCE": "EMAIL_BOUNCED", "LEAD_UNSUBSCRIBED": "EMAIL_UNSUBSCRIBED",
}

// deprecatedTime is the field that event_timestamp replaced, per type.
var deprecatedTime = map[string]string{
	"EMAIL_SENT": "time_sent", "EMAIL_OPEN": "time_opened", "EMAIL_LINK_CLICK": "time_clicked", "EMAIL_REPLY": "time_replied",
}

// payload renders delivery n of activity a to reg. Every fifth delivery
// is in the API reference's shape (B); of the others every seventh uses
// the deprecated names; the rest are the help centre's shape (A), ids
// sent as numeric strings one time in three.
func (s *Server) payload(n int, reg Registration, a Activity) []byte {
	s.dataMu.RLock()
	c := s.acc.Campaign(a.CampaignID)
	var name, status string
	var clientID int64
	if c != nil {
		name, status, clientID = c.Name, c.Status, c.ClientID
	}
	from := ""
	if k := len(s.acc.EmailAccounts); k > 0 {
		from = s.acc.EmailAccounts[int(a.Lead.ID%int64(k))].FromEmail
	}
	s.dataMu.RUnlock()
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000+00:00") }
	sentID := "<" + a.Row.StatsID + "@mail.gmail.com>"
	replyID := "<re-" + a.Row.StatsID + "@mail.gmail.com>"
	var m map[string]any
	if n%5 == 4 { // shape B
		m = map[string]any{"event": a.Type, "timestamp": ts(a.At), "campaign_id": a.CampaignID, "campaign_name": name,
			"lead_id": a.Lead.ID, "email_account_id": 1 + a.Lead.ID%5,
			"lead": map[string]any{"email": a.Lead.Email, "first_name": a.Lead.FirstName, "last_name": a.Lead.LastName,
				"company_name": a.Lead.CompanyName, "custom_fields": a.Lead.CustomFields()}}
		if a.Row.StatsID != "" {
			m["sequence_number"] = a.Row.SequenceNumber
			m["email"] = map[string]any{"subject": a.Row.EmailSubject, "message_id": sentID}
		}
		if a.Type == "EMAIL_REPLY" {
			m["reply"] = map[string]any{"subject": "Re: " + a.Row.EmailSubject, "body": "Thanks, tell me more."}
		}
		b, _ := json.Marshal(m)
		return b
	}
	id := func(v int64) any {
		if n%3 == 1 {
			return strconv.FormatInt(v, 10)
		}
		return v
	}
	m = map[string]any{"webhook_id": reg.ID, "webhook_name": reg.Name, "event_type": a.Type, "event_timestamp": ts(a.At),
		"campaign_id": id(a.CampaignID), "campaign_name": name, "campaign_status": status, "client_id": nullZero(clientID),
		"sl_email_lead_id": id(a.Lead.ID), "sl_email_lead_map_id": id(a.Lead.CampaignLeadMapID), "sl_lead_email": a.Lead.Email,
		"to_email": a.Lead.Email, "to_name": a.Lead.Name(), "from_email": from,
		"app_url":     fmt.Sprintf("https://app.smartlead.ai/app/email-campaign/%d/analytics", a.CampaignID),
		"description": "SmartLead webhook: " + a.Type, "metadata": map[string]any{"webhook_created_at": ts(reg.CreatedAt)}}
	if s.cfg.WebhookSecret != "" {
		m["secret_key"] = s.cfg.WebhookSecret
	}
	if a.Row.StatsID != "" {
		m["subject"], m["sequence_number"], m["stats_id"], m["stats_thread_id"] = a.Row.EmailSubject, a.Row.SequenceNumber, a.Row.StatsID, a.Row.EmailCampaignSeqID
	}
	switch a.Type {
	case "EMAIL_SENT", "EMAIL_BOUNCE":
		m["sent_message"] = map[string]any{"message_id": sentID, "html": "<p>" + a.Row.EmailMessage + "</p>", "text": a.Row.EmailMessage, "time": ts(a.Row.SentTime)}
	case "EMAIL_REPLY":
		m["reply_message"] = map[string]any{"message_id": replyID, "html": "<p>Thanks, tell me more.</p>", "text": "Thanks, tell me more.", "time": ts(a.At)}
		m["cc_emails"] = []string{}
	case "EMAIL_LINK_CLICK":
		m["link_details"] = []string{"https://example.com/pricing"}
	case "LEAD_CATEGORY_UPDATED":
		m["lead_category"] = map[string]any{"old_id": nullZero(a.OldCat), "old_name": categoryName(a.OldCat),
			"new_id": nullZero(a.NewCat), "new_name": categoryName(a.NewCat)}
		m["lead_data"] = map[string]any{"email": a.Lead.Email, "first_name": a.Lead.FirstName}
		m["history"] = []any{}
	}
	if n%7 == 3 { // the deprecated names some pages and older accounts use
		if alt, ok := deprecatedSpelling[a.Type]; ok {
			m["event_type"] = alt
		}
		if f, ok := deprecatedTime[a.Type]; ok {
			m[f] = m["event_timestamp"]
			delete(m, "event_timestamp")
		}
		if a.Type == "EMAIL_REPLY" {
			delete(m, "reply_message")
			m["message_id"], m["reply_body"], m["preview_text"] = replyID, "Thanks, tell me more.", "Thanks, tell me"
		}
		if a.Type == "EMAIL_LINK_CLICK" {
			m["link_clicked"] = m["link_details"]
			delete(m, "link_details")
		}
	}
	b, _ := json.Marshal(m)
	return b
}

func nullZero(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}
