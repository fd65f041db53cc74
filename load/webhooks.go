package load

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// WebhookRegistration is a webhook_registrations row: a webhook this
// tool registered (the API lists no user-level webhooks).
type WebhookRegistration struct {
	ID           int64
	Name         string
	URL          string
	Association  string // user, client or campaign
	CampaignID   int64  // 0 = NULL
	ClientID     int64  // 0 = NULL
	EventTypes   []string
	RegisteredAt time.Time
	DeletedAt    time.Time // zero while registered
}

// RecordWebhook remembers a webhook just registered.
func (s *Store) RecordWebhook(ctx context.Context, w WebhookRegistration) error {
	events, err := json.Marshal(w.EventTypes)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO webhook_registrations (webhook_id, name, webhook_url, association_type,
		campaign_id, client_id, event_types, registered_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (webhook_id) DO UPDATE SET name = excluded.name, webhook_url = excluded.webhook_url,
		association_type = excluded.association_type, campaign_id = excluded.campaign_id, client_id = excluded.client_id,
		event_types = excluded.event_types, registered_at = excluded.registered_at, deleted_at = NULL`,
		w.ID, nullEmpty(w.Name), w.URL, w.Association, nullZero(w.CampaignID), nullZero(w.ClientID), string(events), w.RegisteredAt); err != nil {
		return fmt.Errorf("load: record webhook %d: %w", w.ID, err)
	}
	return nil
}

// WebhookDeleted marks a remembered webhook deleted; it reports whether
// the tool knew it.
func (s *Store) WebhookDeleted(ctx context.Context, id int64, at time.Time) (bool, error) {
	r, err := s.db.ExecContext(ctx, `UPDATE webhook_registrations SET deleted_at = ? WHERE webhook_id = ? AND deleted_at IS NULL`, at, id)
	if err != nil {
		return false, fmt.Errorf("load: mark webhook %d deleted: %w", id, err)
	}
	n, err := r.RowsAffected()
	return n > 0, err
}

// Webhooks returns the webhooks this tool registered and has not
// deleted, oldest first.
func (s *Store) Webhooks(ctx context.Context) ([]WebhookRegistration, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT webhook_id, coalesce(name, ''), webhook_url, association_type,
		coalesce(campaign_id, 0), coalesce(client_id, 0), coalesce(event_types::VARCHAR, '[]'), registered_at
		FROM webhook_registrations WHERE deleted_at IS NULL ORDER BY registered_at, webhook_id`)
	if err != nil {
		return nil, fmt.Errorf("load: read webhook_registrations: %w", err)
	}
	defer rows.Close()
	var out []WebhookRegistration
	for rows.Next() {
		var w WebhookRegistration
		var events string
		if err := rows.Scan(&w.ID, &w.Name, &w.URL, &w.Association, &w.CampaignID, &w.ClientID, &events, &w.RegisteredAt); err != nil {
			return nil, fmt.Errorf("load: read webhook_registrations: %w", err)
		}
		_ = json.Unmarshal([]byte(events), &w.EventTypes)
		out = append(out, w)
	}
	return out, rows.Err()
}
