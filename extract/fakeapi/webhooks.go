package fakeapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Registration is a webhook registered with the simulated API.
type Registration struct {
	ID          int64
	Name        string
	URL         string
	Association string // user, client or campaign
	CampaignID  int64
	ClientID    int64
	EventTypes  []string // empty: every type
	CreatedAt   time.Time
}

// Activity is one event of the account's activity, to be delivered to
// the registered webhooks.
type Activity struct {
	Type       string // EMAIL_SENT, EMAIL_OPEN, EMAIL_LINK_CLICK, EMAIL_REPLY, EMAIL_BOUNCE, LEAD_UNSUBSCRIBED, LEAD_CATEGORY_UPDATED
	At         time.Time
	CampaignID int64
	Lead       Lead
	Row        StatRow // zero for category changes without a row
	OldCat     int64
	NewCat     int64
}

// webhookState holds registrations and the outbox. Its own mutex: the
// webhook routes do not touch the account.
type webhookState struct {
	mu     sync.Mutex
	nextID int64
	regs   []Registration
	outbox []Activity
	sent   int // activities made into deliveries so far (payload variant index)
}

// Registrations returns the registered webhooks.
func (s *Server) Registrations() []Registration {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	return slices.Clone(s.hooks.regs)
}

// serveWebhooks answers the webhook routes (POST /webhook/create,
// GET /webhook/{id}, DELETE /webhook/delete, GET /campaigns/{id}/webhooks)
// and reports whether the path was one of them.
func (s *Server) serveWebhooks(w http.ResponseWriter, r *http.Request) bool {
	rest, ok := strings.CutPrefix(r.URL.Path, BasePath+"/")
	if !ok {
		return false
	}
	seg := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	switch {
	case len(seg) == 2 && seg[0] == "webhook" && seg[1] == "create" && r.Method == http.MethodPost:
		s.createWebhook(w, r)
	case len(seg) == 2 && seg[0] == "webhook" && seg[1] == "delete" && r.Method == http.MethodDelete:
		s.deleteWebhook(w, r)
	case len(seg) == 2 && seg[0] == "webhook" && r.Method == http.MethodGet:
		id, _ := strconv.ParseInt(seg[1], 10, 64)
		reg, ok := s.registration(id)
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "Webhook not found"})
			return true
		}
		writeJSON(w, http.StatusOK, wireRegistration(reg))
	case len(seg) == 3 && seg[0] == "campaigns" && seg[2] == "webhooks" && r.Method == http.MethodGet:
		id, _ := strconv.ParseInt(seg[1], 10, 64)
		out := []map[string]any{}
		for _, reg := range s.Registrations() {
			if reg.Association == "campaign" && reg.CampaignID == id {
				out = append(out, wireRegistration(reg))
			}
		}
		writeJSON(w, http.StatusOK, out)
	default:
		return false
	}
	return true
}

func wireRegistration(r Registration) map[string]any {
	m := map[string]any{"id": r.ID, "name": r.Name, "webhook_url": r.URL, "association_type": r.Association,
		"event_types": r.EventTypes, "categories": []string{}, "created_at": r.CreatedAt.Format(time.RFC3339Nano)}
	if r.CampaignID != 0 {
		m["email_campaign_id"] = r.CampaignID
	}
	if r.ClientID != 0 {
		m["client_id"] = r.ClientID
	}
	return m
}

func (s *Server) registration(id int64) (Registration, bool) {
	s.hooks.mu.Lock()
	defer s.hooks.mu.Unlock()
	for _, r := range s.hooks.regs {
		if r.ID == id {
			return r, true
		}
	}
	return Registration{}, false
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name            string          `json:"name"`
		URL             string          `json:"webhook_url"`
		Association     json.RawMessage `json:"association_type"`
		EmailCampaignID int64           `json:"email_campaign_id"`
		ClientID        int64           `json:"client_id"`
		EventTypeMap    map[string]bool `json:"event_type_map"`
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(b, &body); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "invalid JSON body"})
		return
	}
	if !strings.HasPrefix(body.URL, "http://") && !strings.HasPrefix(body.URL, "https://") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "webhook_url must be an http(s) URL"})
		return
	}
	assoc := strings.Trim(string(body.Association), `"`)
	switch assoc {
	case "1", "":
		assoc = "user"
	case "2":
		assoc = "client"
	case "3":
		assoc = "campaign"
	}
	if (assoc == "campaign" && body.EmailCampaignID == 0) || (assoc == "client" && body.ClientID == 0) ||
		(assoc != "user" && assoc != "client" && assoc != "campaign") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "association_type and its id do not match"})
		return
	}
	var events []string
	for e, on := range body.EventTypeMap {
		if on {
			events = append(events, e)
		}
	}
	slices.Sort(events)
	s.hooks.mu.Lock()
	s.hooks.nextID++
	reg := Registration{ID: 900 + s.hooks.nextID, Name: body.Name, URL: body.URL, Association: assoc,
		CampaignID: body.EmailCampaignID, ClientID: body.ClientID, EventTypes: events, CreatedAt: time.Now().UTC()}
	s.hooks.regs = append(s.hooks.regs, reg)
	s.hooks.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "id": reg.ID, "name": reg.Name})
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ID int64 `json:"id"`
	}
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if json.Unmarshal(b, &body) != nil || body.ID == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "body must be {\"id\": N}"})
		return
	}
	s.hooks.mu.Lock()
	n := len(s.hooks.regs)
	s.hooks.regs = slices.DeleteFunc(s.hooks.regs, func(r Registration) bool { return r.ID == body.ID })
	found := len(s.hooks.regs) < n
	s.hooks.mu.Unlock()
	if !found {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Webhook not found"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true})
}

// rowState is what activity a statistics row has had, for diffing a night.
type rowState struct {
	opens, clicks  int
	replied, unsub bool
}

// activitySnapshot records, when webhooks are registered, what a Night
// will be compared with. Call with dataMu held.
func (s *Server) activitySnapshot() (map[string]rowState, map[int64]int64) {
	s.hooks.mu.Lock()
	none := len(s.hooks.regs) == 0
	s.hooks.mu.Unlock()
	if none {
		return nil, nil
	}
	rows := map[string]rowState{}
	cats := map[int64]int64{}
	for ci := range s.acc.Campaigns {
		c := &s.acc.Campaigns[ci]
		for _, r := range c.Stats {
			rows[r.StatsID] = rowState{r.OpenCount, r.ClickCount, !r.ReplyTime.IsZero(), r.IsUnsubscribed}
		}
		for _, l := range c.Leads {
			cats[l.CampaignLeadMapID] = l.CategoryID
		}
	}
	return rows, cats
}

// queueActivity turns what a Night changed into events for the outbox.
// Call with dataMu held.
func (s *Server) queueActivity(rows map[string]rowState, cats map[int64]int64, at time.Time) {
	if rows == nil {
		return
	}
	var acts []Activity
	for ci := range s.acc.Campaigns {
		c := &s.acc.Campaigns[ci]
		leads := make(map[int64]*Lead, len(c.Leads))
		for li := range c.Leads {
			l := &c.Leads[li]
			leads[l.CampaignLeadMapID] = l
			if old, ok := cats[l.CampaignLeadMapID]; ok && old != l.CategoryID {
				acts = append(acts, Activity{Type: "LEAD_CATEGORY_UPDATED", At: at, CampaignID: c.ID, Lead: *l, OldCat: old, NewCat: l.CategoryID})
			}
		}
		for _, r := range c.Stats {
			l, ok := leads[r.CampaignLeadMapID]
			if !ok {
				continue
			}
			a := Activity{At: at, CampaignID: c.ID, Lead: *l, Row: r}
			old, seen := rows[r.StatsID]
			add := func(typ string, t time.Time) {
				a.Type, a.At = typ, t
				acts = append(acts, a)
			}
			if !seen {
				add("EMAIL_SENT", r.SentTime)
				if r.IsBounced {
					add("EMAIL_BOUNCE", r.SentTime)
				}
			}
			if r.OpenCount > old.opens {
				add("EMAIL_OPEN", at)
			}
			if r.ClickCount > old.clicks {
				add("EMAIL_LINK_CLICK", at)
			}
			if !r.ReplyTime.IsZero() && !old.replied {
				add("EMAIL_REPLY", r.ReplyTime)
			}
			if r.IsUnsubscribed && !old.unsub {
				add("LEAD_UNSUBSCRIBED", at)
			}
		}
	}
	s.hooks.mu.Lock()
	s.hooks.outbox = append(s.hooks.outbox, acts...)
	s.hooks.mu.Unlock()
}

// DeliveryOptions configure DeliverWebhooks; zero values take the
// defaults noted.
type DeliveryOptions struct {
	Client  *http.Client  // default: a client with a 30 s timeout, SmartLead's answer deadline
	Retries int           // retries of a delivery not answered 200 (default 3, as the vendor documents)
	Backoff time.Duration // first retry delay, doubling (default 1 s)
	Workers int           // deliveries in flight (default 4)
}

// DeliveryReport says what DeliverWebhooks did.
type DeliveryReport struct {
	Events     int // activities delivered to at least one webhook
	Deliveries int // POSTs answered 200
	Attempts   int // POSTs made, retries included
	Failed     int // deliveries given up after the retries
}

// DeliverWebhooks POSTs every queued activity to each registered webhook
// whose scope and event types cover it, as SmartLead does: the payloads
// vary between the documented shapes (mostly the help centre's flat
// shape with secret_key, some with deprecated names, some in the API
// reference's shape), carry X-Smartlead-Signature when the server has a
// webhook secret, and are retried with exponential backoff when not
// answered 200. It returns when the outbox is empty or ctx ends.
func (s *Server) DeliverWebhooks(ctx context.Context, o DeliveryOptions) DeliveryReport {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Retries == 0 {
		o.Retries = 3
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	s.hooks.mu.Lock()
	acts := s.hooks.outbox
	s.hooks.outbox = nil
	regs := slices.Clone(s.hooks.regs)
	first := s.hooks.sent
	s.hooks.sent += len(acts)
	s.hooks.mu.Unlock()

	type job struct {
		url   string
		level string // the registration's association: user, client or campaign
		body  []byte
	}
	jobs := make(chan job)
	var mu sync.Mutex
	var rep DeliveryReport
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Go(func() {
			for j := range jobs {
				ok, attempts := s.deliver(ctx, o, j.url, j.level, j.body)
				mu.Lock()
				rep.Attempts += attempts
				if ok {
					rep.Deliveries++
				} else {
					rep.Failed++
				}
				mu.Unlock()
			}
		})
	}
	for i, a := range acts {
		delivered := false
		for _, reg := range regs {
			if !covers(reg, a, s.campaignClient(a.CampaignID)) {
				continue
			}
			select {
			case jobs <- job{reg.URL, reg.Association, s.payload(first+i, reg, a)}:
				delivered = true
			case <-ctx.Done():
			}
		}
		if delivered {
			rep.Events++
		}
	}
	close(jobs)
	wg.Wait()
	return rep
}

// deliver makes one delivery with its retries.
func (s *Server) deliver(ctx context.Context, o DeliveryOptions, url, level string, body []byte) (bool, int) {
	wait := o.Backoff
	for attempt := 1; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return false, attempt
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Request-Id", fmt.Sprintf("%x", sha256.Sum256(body))[:16])
		req.Header.Set("X-Webhook-Level", level)
		if s.cfg.WebhookSecret != "" {
			m := hmac.New(sha256.New, []byte(s.cfg.WebhookSecret))
			m.Write(body)
			req.Header.Set("X-Smartlead-Signature", "sha256="+hex.EncodeToString(m.Sum(nil)))
		}
		resp, err := o.Client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return true, attempt
			}
		}
		if attempt > o.Retries {
			return false, attempt
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, attempt
		case <-t.C:
		}
		wait *= 2
	}
}

func (s *Server) campaignClient(id int64) int64 {
	s.dataMu.RLock()
	defer s.dataMu.RUnlock()
	if c := s.acc.Campaign(id); c != nil {
		return c.ClientID
	}
	return 0
}

// covers reports whether reg receives activity a.
func covers(reg Registration, a Activity, clientID int64) bool {
	switch reg.Association {
	case "campaign":
		if reg.CampaignID != a.CampaignID {
			return false
		}
	case "client":
		if reg.ClientID != clientID {
			return false
		}
	}
	return len(reg.EventTypes) == 0 || slices.Contains(reg.EventTypes, a.Type)
}
