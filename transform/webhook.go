package transform

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// EmailEvent is one webhook delivery from SmartLead as an email_events
// row. Pointer fields are NULL when the delivery did not carry them (or
// carried something that is not the documented type: the raw value stays
// in Payload, so nothing is lost).
type EmailEvent struct {
	EventID           string     `json:"event_id"`
	EventType         string     `json:"event_type"`
	EventAt           *time.Time `json:"event_at,omitempty"`
	ReceivedAt        time.Time  `json:"received_at"`
	CampaignID        *int64     `json:"campaign_id,omitempty"`
	CampaignName      *string    `json:"campaign_name,omitempty"`
	CampaignLeadMapID *int64     `json:"campaign_lead_map_id,omitempty"`
	LeadID            *int64     `json:"lead_id,omitempty"`
	LeadEmail         *string    `json:"lead_email,omitempty"`
	SequenceNumber    *int64     `json:"sequence_number,omitempty"`
	StatsID           *string    `json:"stats_id,omitempty"`
	MessageID         *string    `json:"message_id,omitempty"`
	FromEmail         *string    `json:"from_email,omitempty"`
	Subject           *string    `json:"subject,omitempty"`
	OldLeadCategory   *string    `json:"old_lead_category,omitempty"`
	NewLeadCategory   *string    `json:"new_lead_category,omitempty"`
	Payload           JSON       `json:"payload"` // the delivery, secret_key (and any other secret) removed
}

// Normalised event types. The vendor spells some of them two ways; the
// original spelling stays in the payload.
const (
	EventSent             = "EMAIL_SENT"
	EventFirstSent        = "FIRST_EMAIL_SENT"
	EventOpen             = "EMAIL_OPEN"
	EventLinkClick        = "EMAIL_LINK_CLICK"
	EventReply            = "EMAIL_REPLY"
	EventBounce           = "EMAIL_BOUNCE"
	EventUnsubscribed     = "LEAD_UNSUBSCRIBED"
	EventCategoryUpdated  = "LEAD_CATEGORY_UPDATED"
	EventCampaignStatus   = "CAMPAIGN_STATUS_CHANGED"
	EventUntrackedReplies = "UNTRACKED_REPLIES"
	EventManualStep       = "MANUAL_STEP_REACHED"
	EventAccountDisconn   = "EMAIL_ACCOUNT_DISCONNECTED"
	EventUnknown          = "UNKNOWN" // a delivery that names no event type
	maxWebhookEventTypeSz = 64
)

// EventTypes lists every documented event type, in the normalised
// spelling: what a webhook can subscribe to.
var EventTypes = []string{EventSent, EventFirstSent, EventOpen, EventLinkClick, EventReply, EventBounce,
	EventUnsubscribed, EventCategoryUpdated, EventCampaignStatus, EventUntrackedReplies, EventManualStep, EventAccountDisconn}

// eventSpellings maps the other documented spellings to the normalised one.
var eventSpellings = map[string]string{
	"EMAIL_OPENED":       EventOpen,
	"EMAIL_CLICKED":      EventLinkClick,
	"EMAIL_LINK_CLICKED": EventLinkClick,
	"EMAIL_REPLIED":      EventReply,
	"LEAD_REPLIED":       EventReply,
	"EMAIL_BOUNCED":      EventBounce,
	"EMAIL_UNSUBSCRIBED": EventUnsubscribed,
	"LEAD_UNSUBSCRIBE":   EventUnsubscribed,
}

// NormalizeEventType returns the one spelling the warehouse uses for a
// documented event type: upper case, '_' for spaces and dashes, and the
// vendor's alternative names mapped (EMAIL_REPLIED -> EMAIL_REPLY). An
// unknown type is kept in that form, never refused.
func NormalizeEventType(s string) string {
	s = strings.ToUpper(strings.TrimSpace(s))
	s = strings.NewReplacer(" ", "_", "-", "_", ".", "_").Replace(s)
	if n, ok := eventSpellings[s]; ok {
		return n
	}
	if len(s) > maxWebhookEventTypeSz {
		s = s[:maxWebhookEventTypeSz]
	}
	return s
}

// ErrNotObject is returned by DecodeWebhook for valid JSON that is not an
// object: no documented delivery looks like that.
var ErrNotObject = errors.New("not a JSON object")

// DecodeWebhook converts one delivery body into an email_events row.
// It accepts both documented shapes: the flat help-centre shape (A:
// event_type, event_timestamp, sl_email_lead_id, sent_message, ...) and
// the API-reference shape (B: event, timestamp, lead{...}, email{...}),
// with ids as numbers or numeric strings and the deprecated field names.
// A known field holding something unexpected becomes NULL; unknown
// fields are ignored; all of them stay in Payload. Only a body that is
// not a JSON object is an error. receivedAt is the receiver's clock.
func DecodeWebhook(body []byte, receivedAt time.Time) (EmailEvent, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return EmailEvent{}, ErrNotObject
		}
		if errors.As(err, &se) {
			return EmailEvent{}, errors.New("invalid JSON: " + se.Error())
		}
		return EmailEvent{}, errors.New("invalid JSON: " + err.Error())
	}
	if top == nil { // the literal null
		return EmailEvent{}, ErrNotObject
	}
	o := obj(top)
	// Microseconds: what TIMESTAMPTZ holds.
	e := EmailEvent{ReceivedAt: receivedAt.UTC().Truncate(time.Microsecond), Payload: Redact(body)}

	raw := o.str("event_type")
	if raw == nil {
		raw = o.str("event")
	}
	if raw == nil {
		raw = o.str("type")
	}
	e.EventType = EventUnknown
	if raw != nil && strings.TrimSpace(*raw) != "" {
		e.EventType = NormalizeEventType(*raw)
	}

	lead := o.obj("lead")
	email := o.obj("email")
	sent := o.obj("sent_message")
	reply := o.obj("reply_message")

	e.EventAt = firstTime(o.time("event_timestamp"), o.time("timestamp"), o.time(deprecatedTimeField(e.EventType)),
		o.time("event_time"), reply.time("time"), sent.time("time"))
	if e.EventAt != nil {
		t := e.EventAt.Truncate(time.Microsecond)
		e.EventAt = &t
	}
	e.CampaignID = o.int("campaign_id")
	e.CampaignName = o.str("campaign_name")
	e.CampaignLeadMapID = firstInt(o.int("sl_email_lead_map_id"), o.int("campaign_lead_map_id"), lead.int("campaign_lead_map_id"))
	e.LeadID = firstInt(o.int("sl_email_lead_id"), o.int("lead_id"), lead.int("id"))
	e.LeadEmail = firstStr(o.str("sl_lead_email"), lead.str("email"), o.str("lead_email"), o.str("to_email"))
	e.SequenceNumber = firstInt(o.int("sequence_number"), o.int("seq_number"))
	e.StatsID = o.str("stats_id")
	if e.EventType == EventReply {
		e.MessageID = firstStr(reply.str("message_id"), o.str("message_id"), email.str("message_id"), sent.str("message_id"))
	} else {
		e.MessageID = firstStr(sent.str("message_id"), o.str("message_id"), email.str("message_id"))
	}
	e.FromEmail = firstStr(o.str("from_email"), email.str("from_email"), email.str("from"))
	e.Subject = firstStr(o.str("subject"), email.str("subject"))
	cat := o.obj("lead_category")
	e.OldLeadCategory = firstStr(cat.str("old_name"), cat.str("old_id"), o.str("old_category"))
	e.NewLeadCategory = firstStr(cat.str("new_name"), cat.str("new_id"), o.str("new_category"))
	if e.NewLeadCategory == nil && cat == nil {
		e.NewLeadCategory = o.str("lead_category") // a bare name on some pages
	}
	e.EventID = eventID(e, o)
	return e, nil
}

// deprecatedTimeField is the pre-event_timestamp time field of a type.
func deprecatedTimeField(typ string) string {
	switch typ {
	case EventSent, EventFirstSent:
		return "time_sent"
	case EventOpen:
		return "time_opened"
	case EventLinkClick:
		return "time_clicked"
	case EventReply:
		return "time_replied"
	}
	return "time_sent"
}

// eventID identifies an event across SmartLead's retries and duplicate
// deliveries: a hash of what makes it that event (its normalised type,
// when it happened, the campaign, the lead, the email row and message,
// and for clicks and category changes the link and the new category).
// A delivery without a timestamp is identified by its whole payload
// (secret removed) instead, so distinct events are never merged on
// too little evidence.
func eventID(e EmailEvent, o obj) string {
	h := sha256.New()
	put := func(s string) { h.Write([]byte(s)); h.Write([]byte{0x1f}) }
	put(e.EventType)
	if e.EventAt == nil {
		put("payload")
		h.Write(e.Payload)
	} else {
		put(e.EventAt.UTC().Format(time.RFC3339Nano))
		put(i64s(e.CampaignID))
		switch {
		case e.CampaignLeadMapID != nil:
			put("map:" + i64s(e.CampaignLeadMapID))
		case e.LeadID != nil:
			put("lead:" + i64s(e.LeadID))
		default:
			put("email:" + strings.ToLower(strp(e.LeadEmail)))
		}
		put(strp(e.StatsID))
		put(strp(e.MessageID))
		put(strp(e.NewLeadCategory))
		if e.EventType == EventLinkClick {
			put(string(firstRaw(o["link_details"], o["link_clicked"])))
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// obj is a decoded JSON object whose members are read leniently.
type obj map[string]json.RawMessage

func (o obj) obj(key string) obj {
	raw, ok := o[key]
	if !ok {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return obj(m)
}

// str reads a string, or a number as its literal text. null, "" and other
// types are nil.
func (o obj) str(key string) *string {
	raw := bytes.TrimSpace(o[key])
	if len(raw) == 0 {
		return nil
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil || strings.TrimSpace(s) == "" {
			return nil
		}
		s = strings.ToValidUTF8(s, "\uFFFD")
		return &s
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		s := string(raw)
		return &s
	}
	return nil
}

// int reads an integer sent as a number or a numeric string.
func (o obj) int(key string) *int64 {
	s := o.str(key)
	if s == nil {
		return nil
	}
	if n, err := strconv.ParseInt(strings.TrimSpace(*s), 10, 64); err == nil {
		return &n
	}
	if f, err := strconv.ParseFloat(strings.TrimSpace(*s), 64); err == nil && f == float64(int64(f)) {
		n := int64(f)
		return &n
	}
	return nil
}

// time reads a timestamp in any format ParseTime knows, or a Unix time in
// seconds or milliseconds.
func (o obj) time(key string) *time.Time {
	s := o.str(key)
	if s == nil {
		return nil
	}
	if t, ok := parseTime(*s); ok {
		return &t
	}
	if n, err := strconv.ParseInt(*s, 10, 64); err == nil && n > 0 {
		var t time.Time
		if n < 1e11 {
			t = time.Unix(n, 0).UTC()
		} else {
			t = time.UnixMilli(n).UTC()
		}
		return &t
	}
	return nil
}

func firstTime(ts ...*time.Time) *time.Time {
	for _, t := range ts {
		if t != nil {
			return t
		}
	}
	return nil
}

func firstInt(ns ...*int64) *int64 {
	for _, n := range ns {
		if n != nil {
			return n
		}
	}
	return nil
}

func firstStr(ss ...*string) *string {
	for _, s := range ss {
		if s != nil {
			return s
		}
	}
	return nil
}

func firstRaw(rs ...json.RawMessage) json.RawMessage {
	for _, r := range rs {
		if len(r) > 0 {
			return r
		}
	}
	return nil
}

func i64s(n *int64) string {
	if n == nil {
		return ""
	}
	return strconv.FormatInt(*n, 10)
}

func strp(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// WebhookReject is a delivery that was not an event: a webhook_rejects
// row. BodyExcerpt holds the first bytes of the body, secrets scrubbed.
type WebhookReject struct {
	ReceivedAt    time.Time `json:"received_at"`
	Reason        string    `json:"reason"`
	BodyExcerpt   string    `json:"body_excerpt"`
	RemoteAddress string    `json:"remote_address"`
}

// WebhookRecord is one record of the receiver's spool: exactly one of
// Event and Reject is set.
type WebhookRecord struct {
	Event  *EmailEvent    `json:"event,omitempty"`
	Reject *WebhookReject `json:"reject,omitempty"`
}

// ExcerptLen is how much of a rejected body webhook_rejects keeps.
const ExcerptLen = 256

// RejectExcerpt returns the first ExcerptLen bytes of a rejected body as
// valid UTF-8, with every occurrence of the given secrets and the value
// of any "secret_key" member replaced by REDACTED: a truncated or broken
// delivery may still carry the webhook secret in clear.
func RejectExcerpt(body []byte, secrets ...string) string {
	// Scrub a window a little longer than what is kept, so that a secret
	// straddling the cut is replaced whole; the rest of the body (up to
	// 1 MB) is never scanned.
	window := 4 * ExcerptLen
	for _, sec := range secrets {
		window += len(sec)
	}
	s := string(body[:min(len(body), window)])
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "REDACTED")
		}
	}
	s = secretMember.ReplaceAllString(s, `${1}REDACTED`)
	return truncate(s, ExcerptLen)
}

// secretMember matches "secret_key": "value" (and other secret-looking
// keys), complete or cut short, in text that need not be valid JSON.
var secretMember = regexp.MustCompile(`(?i)("?[a-z_]*(?:secret|password|api_?key)[a-z_]*"?\s*[:=]\s*"?)[^",}\s]*`)
