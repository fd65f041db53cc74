package transform

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var recv = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func decodeOK(t *testing.T, body string) EmailEvent {
	t.Helper()
	e, err := DecodeWebhook([]byte(body), recv)
	require.NoError(t, err)
	require.NotEmpty(t, e.EventID)
	require.True(t, json.Valid(e.Payload), "payload %s", e.Payload)
	require.NotContains(t, string(e.Payload), "whsec")
	return e
}

func ts(s string) *time.Time {
	t, err := ParseTime(s)
	if err != nil {
		panic(err)
	}
	return &t
}

// Shape A, as the help centre documents it: flat, with sent_message.
func TestWebhookShapeASent(t *testing.T) {
	e := decodeOK(t, `{"webhook_id": 77, "webhook_name": "Warehouse", "event_type": "EMAIL_SENT",
		"event_timestamp": "2026-11-27T09:15:02.123+00:00", "campaign_id": 101, "campaign_name": "Q4 Outreach",
		"campaign_status": "ACTIVE", "client_id": null, "sl_email_lead_id": "4200000001", "sl_email_lead_map_id": 9001,
		"sl_lead_email": "ann@example.com", "to_email": "ann@example.com", "to_name": "Ann",
		"from_email": "sales@ours.example", "subject": "Quick question", "sequence_number": 2,
		"stats_id": "3f1c-aa", "stats_thread_id": 5, "app_url": "https://app.smartlead.ai/x",
		"secret_key": "whsec-123", "description": "An email was sent",
		"metadata": {"webhook_created_at": "2026-01-01T00:00:00Z"},
		"sent_message": {"message_id": "<m1@mail.gmail.com>", "html": "<p>Hi</p>", "text": "Hi", "time": "2026-11-27T09:15:02Z"}}`)
	assert.Equal(t, EventSent, e.EventType)
	assert.Equal(t, ts("2026-11-27T09:15:02.123Z"), e.EventAt)
	assert.Equal(t, recv, e.ReceivedAt)
	assert.EqualValues(t, 101, *e.CampaignID)
	assert.Equal(t, "Q4 Outreach", *e.CampaignName)
	assert.EqualValues(t, 9001, *e.CampaignLeadMapID)
	assert.EqualValues(t, 4200000001, *e.LeadID) // a numeric string, above 2^31
	assert.Equal(t, "ann@example.com", *e.LeadEmail)
	assert.EqualValues(t, 2, *e.SequenceNumber)
	assert.Equal(t, "3f1c-aa", *e.StatsID)
	assert.Equal(t, "<m1@mail.gmail.com>", *e.MessageID)
	assert.Equal(t, "sales@ours.example", *e.FromEmail)
	assert.Equal(t, "Quick question", *e.Subject)
	assert.Nil(t, e.OldLeadCategory)
	// The secret is gone; everything else, unknown fields included, stays.
	var p map[string]any
	require.NoError(t, json.Unmarshal(e.Payload, &p))
	assert.NotContains(t, p, "secret_key")
	assert.Equal(t, "https://app.smartlead.ai/x", p["app_url"])
	assert.Contains(t, p, "metadata")
}

func TestWebhookShapeAReply(t *testing.T) {
	e := decodeOK(t, `{"event_type": "EMAIL_REPLY", "event_timestamp": "2026-11-27T11:00:00Z", "campaign_id": "101",
		"sl_email_lead_map_id": "9001", "sl_email_lead_id": 17, "sl_lead_email": "ann@example.com", "sequence_number": "1",
		"subject": "Re: Quick question", "secret_key": "whsec-123",
		"sent_message": {"message_id": "<sent@x>", "time": "2026-11-27T09:00:00Z"},
		"reply_message": {"message_id": "<r1@mail.gmail.com>", "html": "<p>Yes</p>", "text": "Yes", "time": "2026-11-27T11:00:00Z"},
		"cc_emails": ["b@example.com"], "leadCorrespondence": {"targetLeadEmail": "ann@example.com"}}`)
	assert.Equal(t, EventReply, e.EventType)
	assert.Equal(t, "<r1@mail.gmail.com>", *e.MessageID, "a reply's message id is the reply's")
	assert.EqualValues(t, 101, *e.CampaignID)
	assert.EqualValues(t, 1, *e.SequenceNumber)
}

// The deprecated reply fields: message_id, reply_body, preview_text, time_replied.
func TestWebhookShapeADeprecatedReply(t *testing.T) {
	e := decodeOK(t, `{"event_type": "EMAIL_REPLIED", "time_replied": "2026-11-27T11:00:00.5Z", "campaign_id": 101,
		"sl_email_lead_map_id": 9001, "message_id": "<old@x>", "reply_body": "Yes", "preview_text": "Yes"}`)
	assert.Equal(t, EventReply, e.EventType)
	assert.Equal(t, ts("2026-11-27T11:00:00.5Z"), e.EventAt)
	assert.Equal(t, "<old@x>", *e.MessageID)
	assert.Contains(t, string(e.Payload), `"EMAIL_REPLIED"`, "the original spelling stays in the payload")
}

func TestWebhookClicks(t *testing.T) {
	a := decodeOK(t, `{"event_type": "EMAIL_LINK_CLICK", "event_timestamp": "2026-11-27T12:00:00Z", "campaign_id": 101,
		"sl_email_lead_map_id": 9001, "link_details": ["https://ours.example/a"]}`)
	b := decodeOK(t, `{"event_type": "EMAIL_CLICKED", "time_clicked": "2026-11-27T12:00:00Z", "campaign_id": 101,
		"sl_email_lead_map_id": 9001, "link_clicked": ["https://ours.example/b"]}`)
	assert.Equal(t, EventLinkClick, a.EventType)
	assert.Equal(t, EventLinkClick, b.EventType)
	assert.Equal(t, a.EventAt, b.EventAt)
	assert.NotEqual(t, a.EventID, b.EventID, "two links clicked at one instant are two events")
}

func TestWebhookOpenBounceUnsubscribe(t *testing.T) {
	for typ, want := range map[string]string{"EMAIL_OPEN": EventOpen, "EMAIL_OPENED": EventOpen,
		"EMAIL_BOUNCE": EventBounce, "EMAIL_BOUNCED": EventBounce, "LEAD_UNSUBSCRIBED": EventUnsubscribed,
		"EMAIL_UNSUBSCRIBED": EventUnsubscribed, "lead_replied": EventReply, "FIRST_EMAIL_SENT": EventFirstSent,
		"CAMPAIGN_STATUS_CHANGED": "CAMPAIGN_STATUS_CHANGED", "EMAIL_ACCOUNT_DISCONNECTED": "EMAIL_ACCOUNT_DISCONNECTED"} {
		e := decodeOK(t, `{"event_type": "`+typ+`", "event_timestamp": "2026-11-27T12:00:00Z", "campaign_id": 5}`)
		assert.Equal(t, want, e.EventType, typ)
	}
}

func TestWebhookCategoryUpdated(t *testing.T) {
	e := decodeOK(t, `{"event_type": "LEAD_CATEGORY_UPDATED", "event_timestamp": "2026-11-27T13:00:00Z", "campaign_id": 101,
		"sl_email_lead_map_id": 9001, "lead_category": {"old_id": 3, "old_name": "Interested", "new_id": 1, "new_name": "Meeting Booked"},
		"lead_data": {"email": "ann@example.com"}, "history": [{"stats_id": "s1", "type": "SENT", "message_id": "<m>", "time": "2026-11-27T09:00:00Z", "email_body": "x", "subject": "y"}],
		"last_reply": {"text": "see you"}}`)
	assert.Equal(t, EventCategoryUpdated, e.EventType)
	assert.Equal(t, "Interested", *e.OldLeadCategory)
	assert.Equal(t, "Meeting Booked", *e.NewLeadCategory)
	// Ids only, no names: the ids as text.
	e = decodeOK(t, `{"event_type": "LEAD_CATEGORY_UPDATED", "event_timestamp": "2026-11-27T13:00:00Z",
		"lead_category": {"old_id": null, "new_id": 4}}`)
	assert.Nil(t, e.OldLeadCategory)
	assert.Equal(t, "4", *e.NewLeadCategory)
}

// Shape B, as the API reference's core/webhooks page shows it.
func TestWebhookShapeB(t *testing.T) {
	e := decodeOK(t, `{"event": "EMAIL_REPLIED", "timestamp": "2024-01-15T10:30:00Z",
		"campaign_id": 123, "campaign_name": "Cold Outreach Q1", "lead_id": 789, "email_account_id": 456,
		"lead": {"email": "lead@example.com", "first_name": "Jane", "last_name": "Doe", "company_name": "Acme Corp", "custom_fields": {"job_title": "CEO"}},
		"sequence_number": 1,
		"email": {"subject": "Quick question", "message_id": "abc123@smartlead.ai"},
		"reply": {"subject": "Re: Quick question", "body": "..."}}`)
	assert.Equal(t, EventReply, e.EventType)
	assert.Equal(t, ts("2024-01-15T10:30:00Z"), e.EventAt)
	assert.EqualValues(t, 123, *e.CampaignID)
	assert.Equal(t, "Cold Outreach Q1", *e.CampaignName)
	assert.EqualValues(t, 789, *e.LeadID)
	assert.Nil(t, e.CampaignLeadMapID)
	assert.Equal(t, "lead@example.com", *e.LeadEmail)
	assert.EqualValues(t, 1, *e.SequenceNumber)
	assert.Equal(t, "Quick question", *e.Subject)
	assert.Equal(t, "abc123@smartlead.ai", *e.MessageID)
	assert.Contains(t, string(e.Payload), `"job_title":"CEO"`)
}

// A known field with an unexpected value is NULL, never a rejection; the
// value stays in the payload.
func TestWebhookOddValues(t *testing.T) {
	e := decodeOK(t, `{"event_type": "EMAIL_OPEN", "event_timestamp": 1795950000123, "campaign_id": "abc",
		"sequence_number": 2.0, "sl_email_lead_map_id": {"x": 1}, "subject": 42, "brand_new_field": [1, 2]}`)
	assert.Equal(t, time.UnixMilli(1795950000123).UTC(), *e.EventAt)
	assert.Nil(t, e.CampaignID)
	assert.EqualValues(t, 2, *e.SequenceNumber)
	assert.Nil(t, e.CampaignLeadMapID)
	assert.Equal(t, "42", *e.Subject)
	assert.Contains(t, string(e.Payload), `"campaign_id":"abc"`)
	assert.Contains(t, string(e.Payload), "brand_new_field")

	// No event type at all: still an event, of type UNKNOWN.
	e = decodeOK(t, `{"campaign_id": 1}`)
	assert.Equal(t, EventUnknown, e.EventType)
	assert.Nil(t, e.EventAt)
}

func TestWebhookNotAnObject(t *testing.T) {
	for _, body := range []string{`[1,2]`, `"x"`, `null`, `12`} {
		_, err := DecodeWebhook([]byte(body), recv)
		require.ErrorIs(t, err, ErrNotObject, body)
	}
	for _, body := range []string{`{"event_type": `, `not json`, ``, `{"a":1} {"b":2}`} {
		_, err := DecodeWebhook([]byte(body), recv)
		require.Error(t, err, body)
		require.Contains(t, err.Error(), "invalid JSON", body)
	}
}

// A retry of a delivery is the same event whatever the receiver's clock
// and whether the secret or key order differ; another event is not.
func TestWebhookEventIdentity(t *testing.T) {
	a := `{"event_type": "EMAIL_OPEN", "event_timestamp": "2026-11-27T12:00:00Z", "campaign_id": 1, "sl_email_lead_map_id": 2, "stats_id": "s", "secret_key": "whsec-1"}`
	b := `{"secret_key": "whsec-2", "stats_id": "s", "sl_email_lead_map_id": "2", "campaign_id": "1", "event_timestamp": "2026-11-27T12:00:00.000+00:00", "event_type": "EMAIL_OPENED"}`
	c := strings.Replace(a, "12:00:00Z", "12:00:01Z", 1)
	ea, _ := DecodeWebhook([]byte(a), recv)
	eb, _ := DecodeWebhook([]byte(b), recv.Add(time.Hour))
	ec, _ := DecodeWebhook([]byte(c), recv)
	assert.Equal(t, ea.EventID, eb.EventID)
	assert.NotEqual(t, ea.EventID, ec.EventID)
	// Without a timestamp the whole payload identifies the delivery.
	n1, _ := DecodeWebhook([]byte(`{"event_type": "X", "n": 1}`), recv)
	n2, _ := DecodeWebhook([]byte(`{"event_type": "X", "n": 2}`), recv)
	assert.NotEqual(t, n1.EventID, n2.EventID)
}

func TestRejectExcerpt(t *testing.T) {
	body := `{"event_type": "EMAIL_OPEN", "secret_key": "whsec-topsecret", "x": "` + strings.Repeat("a", 400)
	got := RejectExcerpt([]byte(body), "whsec-topsecret")
	assert.NotContains(t, got, "topsecret")
	assert.LessOrEqual(t, len(got), ExcerptLen+len("…"))
	// Cut mid-secret, and a secret not configured here: still scrubbed.
	got = RejectExcerpt([]byte(`{"secret_key":"abc12`))
	assert.NotContains(t, got, "abc12")
	assert.Contains(t, got, "REDACTED")
}
