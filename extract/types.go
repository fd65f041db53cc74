package extract

import (
	"encoding/json"
	"time"
)

// Stream names one kind of record. The values are the warehouse's table
// base names, so a Page can be routed without a lookup table.
type Stream string

// The streams the extractor knows.
const (
	StreamCampaigns          Stream = "campaigns"
	StreamCampaignAnalytics  Stream = "campaign_analytics"
	StreamCampaignDailyStats Stream = "campaign_daily_stats"
	StreamLeads              Stream = "leads"
	StreamLeadEmailStats     Stream = "lead_email_stats"
	StreamSequences          Stream = "sequences"
	StreamEmailAccounts      Stream = "email_accounts"
	StreamClients            Stream = "clients"
)

// AllStreams lists every stream in fetch-priority order: the cheap,
// high-value streams first so a budget-limited run gets them.
var AllStreams = []Stream{
	StreamCampaigns, StreamClients, StreamEmailAccounts, StreamCampaignAnalytics,
	StreamSequences, StreamCampaignDailyStats, StreamLeadEmailStats, StreamLeads,
}

// Item is one page-sized unit of work: a single request's worth. It is a
// plain value so that a queue of them can be persisted and resumed.
type Item struct {
	Stream     Stream    `json:"stream"`
	CampaignID int64     `json:"campaign_id,omitempty"` // 0 for account-level streams
	Day        string    `json:"day,omitempty"`         // YYYY-MM-DD: daily stats' day, overall stats' first day
	EndDay     string    `json:"end_day,omitempty"`     // YYYY-MM-DD: overall stats' last day (inclusive)
	Offset     int       `json:"offset,omitempty"`      // paged streams
	Since      time.Time `json:"since,omitzero"`        // incremental lower bound; zero = full
	Until      time.Time `json:"until,omitzero"`        // lead activities' and statistics' upper bound (inclusive); zero = open
}

// Page is one response's worth of raw records, in API order.
type Page struct {
	Item    Item              // the request that produced it
	Records []json.RawMessage // one JSON object each; secrets already removed
	Total   int64             // total_leads / total_stats as reported by the API; -1 if not sent
	Next    *Item             // the following page, nil when this was the last
	Fetched time.Time
}

// Attempt describes one HTTP attempt, for the api_requests ledger. The
// client reports every request it sent (retries and 429s included, and
// each send the transport repeated on another connection, as a status-0
// row) to its observer; nothing in it can hold the API key.
type Attempt struct {
	At            time.Time     // when the request was sent
	Endpoint      string        // path template, e.g. "/campaigns/{id}/leads"
	CampaignID    int64         // 0 when not campaign-scoped
	Status        int           // HTTP status; 0 for a transport error
	Duration      time.Duration // send to last byte read
	Attempt       int           // 1 for the first try of a request
	Waited        time.Duration // time spent in the limiter and backoff before it
	RateRemaining int           // X-RateLimit-Remaining; -1 when absent
	Err           string        // redacted error text, "" on success
	JournalID     string        // the attempt's id in the client's Journal; "" without one
}
