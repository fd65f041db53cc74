package fakeapi

import (
	"slices"
	"time"
)

// Account is the whole synthetic account as Go values. Truth returns a
// copy; the server's own copy only changes through Night.
//
// Conventions: a zero time.Time or a zero id means JSON null; a nil *string
// means null and a pointer to "" means the empty string (the API sends
// both in optional fields).
type Account struct {
	Now           time.Time // instant of the latest change: Config.Now, then each Night's stamp
	Clients       []Client
	EmailAccounts []EmailAccount
	Campaigns     []Campaign    // ascending id, i.e. creation order; the API lists them descending
	Deleted       []DeletedLead // leads removed by Night, oldest first
}

// Campaign returns the campaign with the given id, or nil.
func (a *Account) Campaign(id int64) *Campaign {
	i, ok := slices.BinarySearchFunc(a.Campaigns, id, func(c Campaign, id int64) int { return cmp64(c.ID, id) })
	if !ok {
		return nil
	}
	return &a.Campaigns[i]
}

// LeadCount is the number of leads over all campaigns.
func (a *Account) LeadCount() int {
	n := 0
	for i := range a.Campaigns {
		n += len(a.Campaigns[i].Leads)
	}
	return n
}

// StatCount is the number of statistics rows over all campaigns.
func (a *Account) StatCount() int {
	n := 0
	for i := range a.Campaigns {
		n += len(a.Campaigns[i].Stats)
	}
	return n
}

// DeletedLead records a lead that Night removed, with its statistics rows.
type DeletedLead struct {
	CampaignID        int64
	CampaignLeadMapID int64
	LeadID            int64
	At                time.Time
}

// Client is an agency sub-account (GET /client/).
type Client struct {
	ID          int64
	Name        string
	Email       string
	UUID        string
	CreatedAt   time.Time
	UserID      int64
	Permissions []string
}

// EmailAccount is a sending mailbox (GET /email-accounts/). Password and
// IMAPPassword are the base64 secrets the list route really returns.
type EmailAccount struct {
	ID               int64
	CreatedAt        time.Time
	UpdatedAt        time.Time
	UserID           int64
	FromName         string
	FromEmail        string
	Password         string
	IMAPPassword     string
	SMTPHost         string
	SMTPPort         int
	IMAPHost         string
	IMAPPort         int
	MessagePerDay    int
	DailySentCount   int
	Type             string // GMAIL, OUTLOOK or SMTP
	ClientID         int64  // 0 = null
	CampaignCount    int
	IsSMTPSuccess    bool
	IsIMAPSuccess    bool
	HasWarmup        bool // false: warmup_details is null
	WarmupStatus     string
	WarmupTotalSent  int
	WarmupSpamCount  int
	WarmupReputation int // served as "95%"
	WarmupReplyRate  int
}

// Tag is a campaign tag (sent only with include_tags=true).
type Tag struct {
	ID    int64  `json:"tag_id"`
	Name  string `json:"tag_name"`
	Color string `json:"tag_color"`
}

// Campaign is one campaign with everything under it.
type Campaign struct {
	ID                  int64
	UserID              int64
	Name                string
	Status              string // DRAFTED, ACTIVE, PAUSED, STOPPED or COMPLETED
	CreatedAt           time.Time
	UpdatedAt           time.Time
	ClientID            int64 // 0 = null
	TrackSettings       []string
	Timezone            string
	Days                []int
	StartHour           string
	EndHour             string
	MinTimeBtwnEmails   int
	MaxLeadsPerDay      int
	StopLeadSettings    string
	EnableAIESPMatching bool
	SendAsPlainText     bool
	FollowUpPercentage  int
	Tags                []Tag
	Sequences           []Sequence
	Leads               []Lead    // ascending CampaignLeadMapID
	Stats               []StatRow // ascending (SentTime, StatsID): the API's paging order
}

// Frozen reports whether the campaign is COMPLETED or STOPPED: it sends
// nothing more. Night never touches it; RealisticNight still brings it
// late opens, replies and category changes, as real accounts do.
func (c *Campaign) Frozen() bool { return c.Status == "COMPLETED" || c.Status == "STOPPED" }

// OpenTracking reports whether opens are tracked. When they are not, the
// analytics routes report open_count "0" although rows still carry opens,
// as the live API was observed to do.
func (c *Campaign) OpenTracking() bool { return !slices.Contains(c.TrackSettings, "DONT_EMAIL_OPEN") }

// Sequence is one step of a campaign's sequence.
type Sequence struct {
	ID          int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
	SeqNumber   int
	DelayInDays int
	Subject     string // "" continues the previous thread
	EmailBody   string
	Variants    []Variant
}

// Variant is an A/B variant of a sequence step.
type Variant struct {
	ID           int64
	Label        string
	Subject      string
	EmailBody    string
	Distribution int // percent
}

// Lead is one lead in one campaign (a campaign_lead_map row plus the lead).
type Lead struct {
	CampaignLeadMapID int64
	ID                int64
	CategoryID        int64  // 0 = null
	Status            string // STARTED, INPROGRESS, PAUSED, COMPLETED, STOPPED or BLOCKED
	CreatedAt         time.Time
	FirstName         *string
	LastName          *string
	Email             string
	PhoneNumber       *string
	CompanyName       *string
	Website           *string
	Location          *string
	LinkedinProfile   *string
	CompanyURL        *string
	JobTitle          string // custom field, "" = absent
	Industry          string // custom field, "" = absent
	IsUnsubscribed    bool
	LastSentAt        time.Time // latest statistics row's sent_time; zero = never sent
	LastEventAt       time.Time // latest event: creation, send, open, click, reply, status or category change
	Micro             bool      // timestamps served as +00:00 with microseconds
}

// CustomFields returns the lead's custom_fields object.
func (l *Lead) CustomFields() map[string]string {
	m := map[string]string{}
	if l.JobTitle != "" {
		m["job_title"] = l.JobTitle
	}
	if l.Industry != "" {
		m["industry"] = l.Industry
	}
	return m
}

// Name is the statistics rows' lead_name: first and last name, nil if both
// are null.
func (l *Lead) Name() *string {
	switch {
	case l.FirstName == nil && l.LastName == nil:
		return nil
	case l.LastName == nil:
		return l.FirstName
	case l.FirstName == nil:
		return l.LastName
	}
	s := *l.FirstName + " " + *l.LastName
	return &s
}

// StatRow is one sent email to one lead (GET /campaigns/{id}/statistics).
// LeadCategory is the lead's category when the row was last written: a
// row older than a night's engagement window never changes.
type StatRow struct {
	StatsID            string
	CampaignLeadMapID  int64
	LeadName           *string
	LeadEmail          string
	LeadCategory       *string
	SequenceNumber     int
	EmailCampaignSeqID int64
	SeqVariantID       int64 // 0 = null
	EmailSubject       string
	EmailMessage       string
	SentTime           time.Time
	OpenTime           time.Time // first open; zero = null
	ClickTime          time.Time // first click; zero = null
	ReplyTime          time.Time // zero = null
	OpenCount          int
	ClickCount         int
	IsUnsubscribed     bool
	IsBounced          bool
	Micro              bool // timestamps served as +00:00 with microseconds
}

// Analytics holds the counters of GET /campaigns/{id}/analytics and
// analytics-by-date, as the API serves them (it sends them as strings).
type Analytics struct {
	SentCount         int64 // statistics rows
	UniqueSentCount   int64 // distinct leads with a row
	OpenCount         int64 // sum of open_count; 0 when open tracking is off
	UniqueOpenCount   int64 // distinct leads with an opened row
	ClickCount        int64 // sum of click_count
	UniqueClickCount  int64 // distinct leads with a clicked row
	ReplyCount        int64 // rows with a reply
	BounceCount       int64 // bounced rows
	UnsubscribedCount int64 // rows marked unsubscribed
	BlockCount        int64 // distinct leads with a bounced row
	TotalCount        int64 // lifetime: leads x sequence steps; by date: rows
	DraftedCount      int64 // lifetime, DRAFTED campaigns: TotalCount; else 0
}

// LeadStats is campaign_lead_stats: the six states are exclusive and sum
// to Total, the number of leads.
type LeadStats struct {
	Total      int64
	NotStarted int64 // status STARTED
	InProgress int64
	Paused     int64
	Completed  int64
	Stopped    int64
	Blocked    int64
	Interested int64 // category Interested
}

// Analytics computes the lifetime counters from the campaign's rows.
func (c *Campaign) Analytics() Analytics {
	a := c.countRows(c.Stats)
	a.TotalCount = int64(len(c.Leads) * len(c.Sequences))
	if c.Status == "DRAFTED" {
		a.DraftedCount = a.TotalCount
	}
	return a
}

// AnalyticsByDate computes the counters over rows sent on the UTC days
// start through end inclusive (both midnight UTC).
func (c *Campaign) AnalyticsByDate(start, end time.Time) Analytics {
	lo, hi := c.statsSentBetween(start, end.AddDate(0, 0, 1))
	a := c.countRows(c.Stats[lo:hi])
	a.TotalCount = a.SentCount
	return a
}

// statsSentBetween returns the index range of rows with from <= sent < to.
func (c *Campaign) statsSentBetween(from, to time.Time) (int, int) {
	search := func(t time.Time) int {
		i, _ := slices.BinarySearchFunc(c.Stats, t, func(r StatRow, t time.Time) int { return r.SentTime.Compare(t) })
		return i
	}
	lo, hi := 0, len(c.Stats)
	if !from.IsZero() {
		lo = search(from)
	}
	if !to.IsZero() {
		hi = max(search(to), lo)
	}
	return lo, hi
}

func (c *Campaign) countRows(rows []StatRow) Analytics {
	var a Analytics
	sent := make(map[int64]uint8, len(rows)/2+1)
	const opened, clicked, blocked = 1, 2, 4
	for i := range rows {
		r := &rows[i]
		a.SentCount++
		f := sent[r.CampaignLeadMapID]
		if r.OpenCount > 0 {
			a.OpenCount += int64(r.OpenCount)
			f |= opened
		}
		if r.ClickCount > 0 {
			a.ClickCount += int64(r.ClickCount)
			f |= clicked
		}
		if !r.ReplyTime.IsZero() {
			a.ReplyCount++
		}
		if r.IsBounced {
			a.BounceCount++
			f |= blocked
		}
		if r.IsUnsubscribed {
			a.UnsubscribedCount++
		}
		sent[r.CampaignLeadMapID] = f
	}
	for _, f := range sent {
		a.UniqueSentCount++
		if f&opened != 0 {
			a.UniqueOpenCount++
		}
		if f&clicked != 0 {
			a.UniqueClickCount++
		}
		if f&blocked != 0 {
			a.BlockCount++
		}
	}
	if !c.OpenTracking() {
		a.OpenCount = 0
	}
	return a
}

// LeadStats computes campaign_lead_stats from the leads.
func (c *Campaign) LeadStats() LeadStats {
	var s LeadStats
	for i := range c.Leads {
		l := &c.Leads[i]
		s.Total++
		switch l.Status {
		case "STARTED":
			s.NotStarted++
		case "INPROGRESS":
			s.InProgress++
		case "PAUSED":
			s.Paused++
		case "COMPLETED":
			s.Completed++
		case "STOPPED":
			s.Stopped++
		case "BLOCKED":
			s.Blocked++
		}
		if l.CategoryID == categoryInterested {
			s.Interested++
		}
	}
	return s
}

// clone copies the account deeply enough that later Night calls on the
// original cannot change it (strings and never-mutated slices are shared).
func (a *Account) clone() Account {
	out := *a
	out.Clients = slices.Clone(a.Clients)
	out.EmailAccounts = slices.Clone(a.EmailAccounts)
	out.Deleted = slices.Clone(a.Deleted)
	out.Campaigns = slices.Clone(a.Campaigns)
	for i := range out.Campaigns {
		c := &out.Campaigns[i]
		c.Leads = slices.Clone(c.Leads)
		c.Stats = slices.Clone(c.Stats)
		c.Sequences = slices.Clone(c.Sequences)
	}
	return out
}

func cmp64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
