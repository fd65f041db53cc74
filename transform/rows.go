package transform

import "time"

// The row types below are the contract between transform and load: one
// struct per warehouse table, flat, with pointer fields for columns that
// may be NULL. load adds run_id, snapshot_date and extracted_at itself.
//
// Timestamps are UTC. JSON columns hold compact, valid JSON (nil = NULL).

// JSON is a raw JSON document stored in a DuckDB JSON column; nil is NULL.
type JSON []byte

// MarshalJSON writes the document itself rather than base64, so rows
// print readably (golden files, logs); nil is null.
func (j JSON) MarshalJSON() ([]byte, error) {
	if j == nil {
		return []byte("null"), nil
	}
	return j, nil
}

// UnmarshalJSON keeps a copy of the document; null becomes nil.
func (j *JSON) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*j = nil
		return nil
	}
	*j = append(JSON(nil), b...)
	return nil
}

// Campaign is one row of campaigns_history (GET /campaigns/).
type Campaign struct {
	CampaignID         int64
	UserID             *int64
	Name               string
	Status             string
	CreatedAt          *time.Time
	UpdatedAt          *time.Time
	ClientID           *int64
	ParentCampaignID   *int64
	TrackSettings      JSON
	SchedulerCronValue JSON
	MinTimeBtwnEmails  *int64
	MaxLeadsPerDay     *int64
	StopLeadSettings   *string
	FollowUpPercentage *int64
	SendAsPlainText    *bool
	Tags               JSON
}

// CampaignAnalytics is one row of campaign_analytics_history
// (GET /campaigns/{id}/analytics): lifetime counters.
type CampaignAnalytics struct {
	CampaignID        int64
	Name              *string
	Status            *string
	ClientID          *int64
	SequenceCount     *int64
	SentCount         int64
	UniqueSentCount   int64
	OpenCount         int64
	UniqueOpenCount   int64
	ClickCount        int64
	UniqueClickCount  int64
	ReplyCount        int64
	BounceCount       int64
	UnsubscribedCount int64
	BlockCount        int64
	TotalCount        int64
	DraftedCount      int64
	// campaign_lead_stats
	LeadsTotal      int64
	LeadsNotStarted int64
	LeadsInProgress int64
	LeadsCompleted  int64
	LeadsPaused     int64
	LeadsStopped    int64
	LeadsBlocked    int64
	LeadsInterested int64
	Revenue         *float64
}

// CampaignDailyStat is one row of campaign_daily_stats
// (GET /campaigns/{id}/analytics-by-date with start_date = end_date = Day).
type CampaignDailyStat struct {
	CampaignID        int64
	Day               time.Time // midnight UTC
	SentCount         int64
	UniqueSentCount   int64
	OpenCount         int64
	UniqueOpenCount   int64
	ClickCount        int64
	UniqueClickCount  int64
	ReplyCount        int64
	BounceCount       int64
	UnsubscribedCount int64
}

// Lead is one row of leads_history (GET /campaigns/{id}/leads).
type Lead struct {
	CampaignLeadMapID int64
	LeadID            int64
	CampaignID        int64
	Email             string
	FirstName         *string
	LastName          *string
	CompanyName       *string
	PhoneNumber       *string
	Website           *string
	Location          *string
	LinkedinProfile   *string
	CompanyURL        *string
	Status            *string
	LeadCategoryID    *int64
	CreatedAt         *time.Time
	IsUnsubscribed    bool
	CustomFields      JSON
}

// LeadEmailStat is one row of lead_email_stats_history
// (GET /campaigns/{id}/statistics): one sent email to one lead.
type LeadEmailStat struct {
	StatsID            string
	CampaignID         int64
	LeadName           *string
	LeadEmail          string
	LeadCategory       *string
	SequenceNumber     *int64
	EmailCampaignSeqID *int64
	SeqVariantID       *int64
	EmailSubject       *string
	SentTime           *time.Time
	OpenTime           *time.Time
	ClickTime          *time.Time
	ReplyTime          *time.Time
	OpenCount          int64
	ClickCount         int64
	IsBounced          bool
	IsUnsubscribed     bool
}

// Sequence is one row of sequences_history (GET /campaigns/{id}/sequences).
type Sequence struct {
	SequenceID       int64
	CampaignID       int64
	SeqNumber        int64
	Subject          *string
	DelayInDays      *int64
	EmailBody        *string
	CreatedAt        *time.Time
	UpdatedAt        *time.Time
	SequenceVariants JSON
}

// EmailAccount is one row of email_accounts_history (GET /email-accounts/).
// It has no password field on purpose: secrets never get this far.
type EmailAccount struct {
	EmailAccountID   int64
	FromEmail        string
	FromName         *string
	Type             *string
	MessagePerDay    *int64
	DailySentCount   *int64
	WarmupStatus     *string
	WarmupReputation *float64 // "95%" and 95 both become 95
	WarmupTotalSent  *int64
	WarmupSpamCount  *int64
	ClientID         *int64
	CampaignCount    *int64
	IsSMTPSuccess    *bool
	IsIMAPSuccess    *bool
	SMTPHost         *string
	IMAPHost         *string
	CreatedAt        *time.Time
	UpdatedAt        *time.Time
}

// Client is one row of clients_history (GET /client/).
type Client struct {
	ClientID    int64
	Name        *string
	Email       *string
	UUID        *string
	CreatedAt   *time.Time
	Permissions JSON // client_permision, as sent (the misspelling is the API's)
}

// Rejected is a record that could not be converted. It is never dropped:
// load writes it to rejected_records. Raw has secrets removed.
type Rejected struct {
	Stream    string // warehouse stream name, e.g. "leads"
	RecordKey string // the record's key if it could be read, else "offset=N"-style locator
	Field     string // JSON field path, e.g. "lead.id"
	Reason    string
	Raw       JSON
}

// ReportedTotal is a count the API states about a stream of one campaign
// (total_leads on the first leads page, total_stats on statistics). The
// warehouse checks what it loaded against it.
type ReportedTotal struct {
	Stream     string
	CampaignID int64
	Total      int64
}

// Batch is what one page of records becomes: typed rows for the tables it
// feeds, the records that could not be converted, and any totals the API
// reported. load writes a Batch; at most a few slices are non-empty.
type Batch struct {
	Campaigns         []Campaign
	CampaignAnalytics []CampaignAnalytics
	DailyStats        []CampaignDailyStat
	Leads             []Lead
	LeadEmailStats    []LeadEmailStat
	Sequences         []Sequence
	EmailAccounts     []EmailAccount
	Clients           []Client
	Rejected          []Rejected
	Totals            []ReportedTotal
}
