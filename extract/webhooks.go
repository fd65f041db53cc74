package extract

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// StreamWebhooks labels the webhook registration calls in Stats and the
// api_requests ledger; it is not a stream a run fetches.
const StreamWebhooks Stream = "webhooks"

// The webhook calls, templated as the ledger records them (method
// included: they are not all GETs). The template is the one source of a
// call's method and path (see endpoint.route).
var (
	epWebhookCreate    = endpoint{template: "POST /webhook/create", shape: shapeObject}
	epWebhookGet       = endpoint{template: "GET /webhook/{id}", shape: shapeObject}
	epWebhookDelete    = endpoint{template: "DELETE /webhook/delete", shape: shapeObject}
	epCampaignWebhooks = endpoint{template: "GET /campaigns/{id}/webhooks", shape: shapeArray, perCamp: true}
)

// Association types of a webhook registration.
const (
	AssociationUser     = "user"
	AssociationClient   = "client"
	AssociationCampaign = "campaign"
)

// WebhookSpec is a webhook to register (POST /webhook/create). With
// neither CampaignID nor ClientID it is user-level: it covers every
// campaign of the account.
type WebhookSpec struct {
	Name       string
	URL        string
	EventTypes []string // e.g. EMAIL_SENT, EMAIL_REPLY
	CampaignID int64
	ClientID   int64
}

// Association is the spec's association_type.
func (s WebhookSpec) Association() string {
	switch {
	case s.CampaignID != 0:
		return AssociationCampaign
	case s.ClientID != 0:
		return AssociationClient
	}
	return AssociationUser
}

// Body is the documented JSON body of POST /webhook/create.
func (s WebhookSpec) Body() map[string]any {
	events := map[string]bool{}
	for _, e := range s.EventTypes {
		events[e] = true
	}
	b := map[string]any{"name": s.Name, "webhook_url": s.URL, "association_type": s.Association(),
		"event_type_map": events, "category_id_map": map[string]any{}, "force_create": false}
	if s.CampaignID != 0 {
		b["email_campaign_id"] = s.CampaignID
	}
	if s.ClientID != 0 {
		b["client_id"] = s.ClientID
	}
	return b
}

// CreateWebhook registers spec and returns the new webhook's id and the
// API's answer. A POST is not retried after a 5xx or a dropped
// connection (it may have been carried out): check `webhooks list`.
func (c *Client) CreateWebhook(ctx context.Context, spec WebhookSpec) (int64, json.RawMessage, error) {
	body, err := json.Marshal(spec.Body())
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.webhookCall(ctx, epWebhookCreate, 0, body, Item{Stream: StreamWebhooks})
	if err != nil {
		return 0, nil, err
	}
	id, ok := webhookID(resp.body)
	if !ok {
		return 0, resp.body, &DecodeError{Endpoint: epWebhookCreate.template, Field: "id",
			Err: fmt.Errorf("the answer names no webhook id: %s", excerpt(resp.body))}
	}
	return id, resp.body, nil
}

// GetWebhook returns one webhook as the API describes it; a webhook that
// does not exist is an error matching ErrNotFound.
func (c *Client) GetWebhook(ctx context.Context, id int64) (json.RawMessage, error) {
	resp, err := c.webhookCall(ctx, epWebhookGet, id, nil, Item{Stream: StreamWebhooks})
	if err != nil {
		return nil, err
	}
	if b := bytes.TrimSpace(resp.body); len(b) == 0 || string(b) == "{}" || string(b) == "null" {
		return nil, &APIError{Status: http.StatusNotFound, Endpoint: epWebhookGet.template, Attempts: resp.attempts, Body: "no such webhook"}
	}
	return resp.body, nil
}

// CampaignWebhooks lists the webhooks of one campaign (the older
// per-campaign interface; the API documents no list of user-level ones).
func (c *Client) CampaignWebhooks(ctx context.Context, campaignID int64) ([]json.RawMessage, error) {
	resp, err := c.webhookCall(ctx, epCampaignWebhooks, campaignID, nil, Item{Stream: StreamWebhooks, CampaignID: campaignID})
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	if b := bytes.TrimSpace(resp.body); len(b) > 0 && string(b) != "null" {
		if err := json.Unmarshal(b, &out); err != nil {
			return nil, &DecodeError{Endpoint: epCampaignWebhooks.template, CampaignID: campaignID, Err: err}
		}
	}
	return out, nil
}

// DeleteWebhook deletes a webhook (DELETE /webhook/delete {"id": N}).
func (c *Client) DeleteWebhook(ctx context.Context, id int64) error {
	body, _ := json.Marshal(map[string]int64{"id": id})
	_, err := c.webhookCall(ctx, epWebhookDelete, 0, body, Item{Stream: StreamWebhooks})
	return err
}

// webhookCall sends one webhook call with the method and path ep's
// template names, {id} being id.
func (c *Client) webhookCall(ctx context.Context, ep endpoint, id int64, body []byte, it Item) (*response, error) {
	method, path := ep.route(id)
	return c.call(ctx, method, body, ep, it, path, url.Values{})
}

// webhookID finds the new webhook's id in a create answer: {"id": N},
// {"webhook_id": N} or either inside "data".
func webhookID(body []byte) (int64, bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return 0, false
	}
	for _, k := range []string{"id", "webhook_id"} {
		if raw, ok := top[k]; ok {
			s := strings.Trim(string(raw), `"`)
			if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
				return n, true
			}
		}
	}
	if data, ok := top["data"]; ok {
		return webhookID(data)
	}
	return 0, false
}

func excerpt(b []byte) string {
	s := strings.ToValidUTF8(string(b), "?")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
