package extract_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

func webhookClient(t *testing.T, base string, observe func(extract.Attempt)) *extract.Client {
	t.Helper()
	c, err := extract.NewClient(testKey, extract.WithBaseURL(base), extract.WithObserver(observe),
		extract.WithRetry(3, time.Millisecond, 4*time.Millisecond))
	require.NoError(t, err)
	return c
}

// Register, read, list per campaign and delete a webhook against the
// simulated API on loopback; every call is an attempt in the ledger,
// named by method and template, never by URL.
func TestWebhookRegistrationCalls(t *testing.T) {
	fake := fakeapi.New(fakeapi.Config{Seed: 1, APIKey: testKey, Campaigns: 3, LeadsPerCampaign: 10})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	var mu sync.Mutex
	var attempts []extract.Attempt
	c := webhookClient(t, srv.URL+fakeapi.BasePath, func(a extract.Attempt) { mu.Lock(); attempts = append(attempts, a); mu.Unlock() })
	ctx := context.Background()

	spec := extract.WebhookSpec{Name: "wh", URL: "https://hooks.example/webhooks/smartlead", EventTypes: []string{"EMAIL_REPLY", "EMAIL_SENT"}}
	assert.Equal(t, extract.AssociationUser, spec.Association())
	id, _, err := c.CreateWebhook(ctx, spec)
	require.NoError(t, err)
	regs := fake.Registrations()
	require.Len(t, regs, 1)
	assert.Equal(t, id, regs[0].ID)
	assert.Equal(t, "user", regs[0].Association)
	assert.Equal(t, []string{"EMAIL_REPLY", "EMAIL_SENT"}, regs[0].EventTypes)

	campaign := fake.Truth().Campaigns[0].ID
	cid, _, err := c.CreateWebhook(ctx, extract.WebhookSpec{Name: "c", URL: spec.URL, EventTypes: []string{"EMAIL_OPEN"}, CampaignID: campaign})
	require.NoError(t, err)
	hooks, err := c.CampaignWebhooks(ctx, campaign)
	require.NoError(t, err)
	require.Len(t, hooks, 1)
	assert.Contains(t, string(hooks[0]), `"association_type":"campaign"`)

	got, err := c.GetWebhook(ctx, id)
	require.NoError(t, err)
	assert.Contains(t, string(got), spec.URL)
	require.NoError(t, c.DeleteWebhook(ctx, id))
	require.NoError(t, c.DeleteWebhook(ctx, cid))
	_, err = c.GetWebhook(ctx, id)
	require.ErrorIs(t, err, extract.ErrNotFound)
	err = c.DeleteWebhook(ctx, id)
	require.ErrorIs(t, err, extract.ErrNotFound)
	assert.Contains(t, err.Error(), "DELETE /webhook/delete")
	assert.Empty(t, fake.Registrations())

	var endpoints []string
	for _, a := range attempts {
		endpoints = append(endpoints, a.Endpoint)
		assert.NotContains(t, a.Endpoint+a.Err, testKey)
	}
	assert.Equal(t, []string{"POST /webhook/create", "POST /webhook/create", "GET /campaigns/{id}/webhooks",
		"GET /webhook/{id}", "DELETE /webhook/delete", "DELETE /webhook/delete", "GET /webhook/{id}", "DELETE /webhook/delete"}, endpoints)
}

// A POST that got a 5xx may have been carried out: it is not repeated.
// A 429 (the server did nothing) is; so is a DELETE after a 5xx.
func TestWebhookRetryPolicy(t *testing.T) {
	var posts, deletes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch r.Method {
		case http.MethodPost:
			if posts.Add(1) == 1 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(http.StatusTooManyRequests)
				return
			}
			w.WriteHeader(http.StatusBadGateway)
		case http.MethodDelete:
			if deletes.Add(1) < 3 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			_, _ = io.WriteString(w, `{"ok":true}`)
		}
	}))
	defer srv.Close()
	c := webhookClient(t, srv.URL, nil)
	_, _, err := c.CreateWebhook(context.Background(), extract.WebhookSpec{URL: "https://x.example/h", EventTypes: []string{"EMAIL_SENT"}})
	var apiErr *extract.APIError
	require.True(t, errors.As(err, &apiErr), "%v", err)
	assert.Equal(t, http.StatusBadGateway, apiErr.Status)
	assert.EqualValues(t, 2, posts.Load(), "one retry after the 429, none after the 502")
	assert.True(t, strings.HasPrefix(err.Error(), "smartlead: POST /webhook/create: 502"), err.Error())
	require.NoError(t, c.DeleteWebhook(context.Background(), 7))
	assert.EqualValues(t, 3, deletes.Load())
}

// The simulated API delivers a night's activity to a registered webhook in
// the documented shapes, signed, retrying deliveries not answered 200;
// every payload decodes to an event of a known type, with its secret.
func TestFakeDeliversWebhooks(t *testing.T) {
	const secret = "whsec-fake-1"
	fake := fakeapi.New(fakeapi.Config{Seed: 2, APIKey: testKey, Campaigns: 4, LeadsPerCampaign: 60, WebhookSecret: secret})
	var mu sync.Mutex
	bodies := map[string]int{}
	// Every fourth distinct body is refused twice, whatever the order the
	// workers send in: SmartLead retries it, and no delivery runs out of
	// its three retries (a global every-fourth-attempt rule could hit one
	// delivery four times in a row).
	seen := map[string]int{}  // attempts per body
	order := map[string]int{} // first-seen index per body
	var calls atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		calls.Add(1)
		mu.Lock()
		if _, ok := order[string(b)]; !ok {
			order[string(b)] = len(order)
		}
		seen[string(b)]++
		refuse := order[string(b)]%4 == 0 && seen[string(b)] <= 2
		mu.Unlock()
		if refuse {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		assert.True(t, strings.HasPrefix(r.Header.Get("X-Smartlead-Signature"), "sha256="))
		assert.Equal(t, "user", r.Header.Get("X-Webhook-Level"), "the registration's level")
		mu.Lock()
		bodies[string(b)]++
		mu.Unlock()
	}))
	defer recv.Close()
	api := httptest.NewServer(fake)
	defer api.Close()
	c := webhookClient(t, api.URL+fakeapi.BasePath, nil)
	_, _, err := c.CreateWebhook(context.Background(), extract.WebhookSpec{URL: recv.URL, EventTypes: []string{
		"EMAIL_SENT", "EMAIL_OPEN", "EMAIL_LINK_CLICK", "EMAIL_REPLY", "EMAIL_BOUNCE", "LEAD_UNSUBSCRIBED", "LEAD_CATEGORY_UPDATED"}})
	require.NoError(t, err)

	fake.Night(fakeapi.NightChange{ChangedLeadFrac: 0.05, NewSendsFrac: 0.2})
	fake.Night(fakeapi.NightChange{ChangedLeadFrac: 0.5})
	rep := fake.DeliverWebhooks(context.Background(), fakeapi.DeliveryOptions{Backoff: time.Millisecond})
	require.Positive(t, rep.Events)
	assert.Equal(t, rep.Events, rep.Deliveries)
	assert.Zero(t, rep.Failed)
	assert.Greater(t, rep.Attempts, rep.Deliveries, "failed attempts were retried")
	assert.EqualValues(t, rep.Attempts, calls.Load(), "every attempt reached the receiver")

	types := map[string]int{}
	shapes := map[string]int{}
	for b := range bodies {
		e, err := transform.DecodeWebhook([]byte(b), time.Now())
		require.NoError(t, err)
		require.NotNil(t, e.EventAt, b)
		require.NotNil(t, e.CampaignID, b)
		types[e.EventType]++
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(b), &m))
		switch {
		case m["event"] != nil:
			shapes["B"]++
		case m["event_timestamp"] == nil:
			shapes["A deprecated"]++
			assert.Equal(t, secret, m["secret_key"])
		default:
			shapes["A"]++
			assert.Equal(t, secret, m["secret_key"])
		}
	}
	// Count answered deliveries, not distinct bodies: two events can have
	// identical bodies (the same change in two nights stamped within one
	// millisecond).
	answered := 0
	for _, n := range bodies {
		answered += n
	}
	assert.Equal(t, rep.Events, answered, "every event answered 200 exactly once: none lost, none delivered twice")
	for _, typ := range []string{"EMAIL_SENT", "EMAIL_OPEN", "EMAIL_REPLY", "LEAD_CATEGORY_UPDATED"} {
		assert.Positive(t, types[typ], typ)
	}
	for _, s := range []string{"A", "A deprecated", "B"} {
		assert.Positive(t, shapes[s], s)
	}
	// Nothing is left to deliver.
	assert.Zero(t, fake.DeliverWebhooks(context.Background(), fakeapi.DeliveryOptions{}).Events)
}

// An error on a webhook call names the call's own method: a redirect
// answered to the POST is "POST /webhook/create", not "GET POST ...".
func TestWebhookErrorNamesMethod(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, "https://elsewhere.example/webhook/create", http.StatusFound)
	}))
	defer srv.Close()
	c := webhookClient(t, srv.URL, nil)
	_, _, err := c.CreateWebhook(context.Background(), extract.WebhookSpec{URL: "https://x.example/h", EventTypes: []string{"EMAIL_SENT"}})
	var re *extract.RedirectError
	require.ErrorAs(t, err, &re)
	assert.True(t, strings.HasPrefix(err.Error(), "smartlead: POST /webhook/create: the API answered 302"), err.Error())
	assert.NotContains(t, err.Error(), "GET")
}

// A webhook the API answers with an empty object is not found, and the
// error counts the attempts the answer took, retries included.
func TestGetWebhookNotFoundCountsAttempts(t *testing.T) {
	var gets atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gets.Add(1) < 3 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	_, err := webhookClient(t, srv.URL, nil).GetWebhook(context.Background(), 7)
	require.ErrorIs(t, err, extract.ErrNotFound)
	var apiErr *extract.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, 3, apiErr.Attempts)
	assert.Contains(t, err.Error(), "GET /webhook/{id}: 404 Not Found after 3 attempts")
}

// Each webhook call goes to the method and path its ledger template
// names, ids in place of {id}: the template is the one source of both.
func TestWebhookCallsFollowTheirTemplates(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path)
		mu.Unlock()
		if strings.HasSuffix(r.URL.Path, "/webhooks") {
			_, _ = io.WriteString(w, `[]`)
			return
		}
		_, _ = io.WriteString(w, `{"id": 5}`)
	}))
	defer srv.Close()
	var endpoints []string
	c := webhookClient(t, srv.URL, func(a extract.Attempt) {
		mu.Lock()
		endpoints = append(endpoints, a.Endpoint)
		mu.Unlock()
	})
	ctx := context.Background()
	_, _, err := c.CreateWebhook(ctx, extract.WebhookSpec{URL: "https://x.example/h", EventTypes: []string{"EMAIL_SENT"}})
	require.NoError(t, err)
	_, err = c.GetWebhook(ctx, 5)
	require.NoError(t, err)
	_, err = c.CampaignWebhooks(ctx, 7)
	require.NoError(t, err)
	require.NoError(t, c.DeleteWebhook(ctx, 5))

	ids := []string{"", "5", "7", ""}
	require.Len(t, endpoints, len(ids))
	for i, tmpl := range endpoints {
		assert.Equal(t, strings.Replace(tmpl, "{id}", ids[i], 1), got[i])
	}
	assert.Equal(t, []string{"POST /webhook/create", "GET /webhook/5", "GET /campaigns/7/webhooks", "DELETE /webhook/delete"}, got)
}
