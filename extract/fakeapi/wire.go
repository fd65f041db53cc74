package fakeapi

import (
	"strconv"
	"time"
)

// Wire types: field order is the JSON order, so bodies are byte-for-byte
// deterministic.

const (
	layoutMilli = "2006-01-02T15:04:05.000Z"
	layoutMicro = "2006-01-02T15:04:05.000000+00:00"
)

// fmtTime renders REST style (milliseconds, Z) or webhook style
// (microseconds, +00:00).
func fmtTime(t time.Time, micro bool) string {
	if micro {
		return t.UTC().Format(layoutMicro)
	}
	return t.UTC().Format(layoutMilli)
}

func fmtTimePtr(t time.Time, micro bool) *string {
	if t.IsZero() {
		return nil
	}
	return ptr(fmtTime(t, micro))
}

func idPtr(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// userID is sent as a number by some records and a string by others.
func userID(id int64, asString bool) any {
	if asString {
		return strconv.FormatInt(id, 10)
	}
	return id
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

type wireCron struct {
	TZ        string `json:"tz"`
	Days      []int  `json:"days"`
	EndHour   string `json:"endHour"`
	StartHour string `json:"startHour"`
}

type wireCampaign struct {
	ID                  int64    `json:"id"`
	UserID              any      `json:"user_id"`
	CreatedAt           string   `json:"created_at"`
	UpdatedAt           string   `json:"updated_at"`
	Status              string   `json:"status"`
	Name                string   `json:"name"`
	TrackSettings       []string `json:"track_settings"`
	SchedulerCronValue  wireCron `json:"scheduler_cron_value"`
	MinTimeBtwnEmails   int      `json:"min_time_btwn_emails"`
	MaxLeadsPerDay      int      `json:"max_leads_per_day"`
	StopLeadSettings    string   `json:"stop_lead_settings"`
	ScheduleStartTime   *string  `json:"schedule_start_time"`
	EnableAIESPMatching bool     `json:"enable_ai_esp_matching"`
	SendAsPlainText     bool     `json:"send_as_plain_text"`
	FollowUpPercentage  int      `json:"follow_up_percentage"`
	UnsubscribeText     string   `json:"unsubscribe_text"`
	ParentCampaignID    *int64   `json:"parent_campaign_id"`
	ClientID            *int64   `json:"client_id"`
	IsPinned            bool     `json:"is_pinned"` // not in the docs: clients must ignore unknown fields
	Tags                *[]Tag   `json:"tags,omitempty"`
}

func (s *Server) wireCampaign(c *Campaign, withTags bool) wireCampaign {
	h := mix2(uint64(s.cfg.Seed), uint64(c.ID))
	w := wireCampaign{
		ID: c.ID, UserID: userID(c.UserID, h%3 == 0),
		CreatedAt: fmtTime(c.CreatedAt, false), UpdatedAt: fmtTime(c.UpdatedAt, c.UpdatedAt.Nanosecond()%1e6 != 0),
		Status: c.Status, Name: c.Name, TrackSettings: c.TrackSettings,
		SchedulerCronValue: wireCron{TZ: c.Timezone, Days: c.Days, EndHour: c.EndHour, StartHour: c.StartHour},
		MinTimeBtwnEmails:  c.MinTimeBtwnEmails, MaxLeadsPerDay: c.MaxLeadsPerDay, StopLeadSettings: c.StopLeadSettings,
		EnableAIESPMatching: c.EnableAIESPMatching, SendAsPlainText: c.SendAsPlainText,
		FollowUpPercentage: c.FollowUpPercentage, ClientID: idPtr(c.ClientID), IsPinned: h%7 == 0,
	}
	if withTags {
		tags := c.Tags
		if tags == nil {
			tags = []Tag{}
		}
		w.Tags = &tags
	}
	return w
}

type wireLeadStats struct {
	Total      int64    `json:"total"`
	NotStarted int64    `json:"notStarted"`
	InProgress int64    `json:"inprogress"`
	Paused     int64    `json:"paused"`
	Completed  int64    `json:"completed"`
	Stopped    int64    `json:"stopped"`
	Blocked    int64    `json:"blocked"`
	Interested int64    `json:"interested"`
	Revenue    *float64 `json:"revenue"`
}

type wireAnalytics struct {
	ID                int64          `json:"id"`
	UserID            any            `json:"user_id"`
	CreatedAt         string         `json:"created_at"`
	Status            string         `json:"status"`
	Name              string         `json:"name"`
	StartDate         *string        `json:"start_date,omitempty"`
	EndDate           *string        `json:"end_date,omitempty"`
	SentCount         string         `json:"sent_count"`
	UniqueSentCount   string         `json:"unique_sent_count"`
	OpenCount         string         `json:"open_count"`
	UniqueOpenCount   string         `json:"unique_open_count"`
	ClickCount        string         `json:"click_count"`
	UniqueClickCount  string         `json:"unique_click_count"`
	ReplyCount        string         `json:"reply_count"`
	BlockCount        string         `json:"block_count"`
	TotalCount        string         `json:"total_count"`
	DraftedCount      string         `json:"drafted_count"`
	BounceCount       string         `json:"bounce_count"`
	UnsubscribedCount string         `json:"unsubscribed_count"`
	SequenceCount     *string        `json:"sequence_count,omitempty"`
	CampaignLeadStats *wireLeadStats `json:"campaign_lead_stats,omitempty"`
	ClientID          *int64         `json:"client_id"`
	ClientName        *string        `json:"client_name"`
	ClientEmail       *string        `json:"client_email"`
	ClientCompanyName *string        `json:"client_company_name"`
	ParentCampaignID  *int64         `json:"parent_campaign_id"`
	SendAsPlainText   bool           `json:"send_as_plain_text"`
}

func (s *Server) wireAnalytics(c *Campaign, a Analytics, lifetime bool) wireAnalytics {
	w := wireAnalytics{
		ID: c.ID, UserID: userID(c.UserID, mix2(uint64(s.cfg.Seed), uint64(c.ID))%3 == 1),
		CreatedAt: fmtTime(c.CreatedAt, false), Status: c.Status, Name: c.Name,
		SentCount: itoa(a.SentCount), UniqueSentCount: itoa(a.UniqueSentCount),
		OpenCount: itoa(a.OpenCount), UniqueOpenCount: itoa(a.UniqueOpenCount),
		ClickCount: itoa(a.ClickCount), UniqueClickCount: itoa(a.UniqueClickCount),
		ReplyCount: itoa(a.ReplyCount), BlockCount: itoa(a.BlockCount), TotalCount: itoa(a.TotalCount),
		DraftedCount: itoa(a.DraftedCount), BounceCount: itoa(a.BounceCount), UnsubscribedCount: itoa(a.UnsubscribedCount),
		ClientID: idPtr(c.ClientID), SendAsPlainText: c.SendAsPlainText,
	}
	for i := range s.acc.Clients {
		if cl := &s.acc.Clients[i]; cl.ID == c.ClientID {
			w.ClientName, w.ClientEmail, w.ClientCompanyName = &cl.Name, &cl.Email, &cl.Name
		}
	}
	if lifetime {
		w.SequenceCount = ptr(itoa(int64(len(c.Sequences))))
		ls := c.LeadStats()
		w.CampaignLeadStats = &wireLeadStats{
			Total: ls.Total, NotStarted: ls.NotStarted, InProgress: ls.InProgress, Paused: ls.Paused,
			Completed: ls.Completed, Stopped: ls.Stopped, Blocked: ls.Blocked, Interested: ls.Interested,
		}
		if ls.Interested > 0 {
			w.CampaignLeadStats.Revenue = ptr(float64(ls.Interested) * 1250)
		}
	}
	return w
}

func (s *Server) analytics(c *Campaign) wireAnalytics { return s.wireAnalytics(c, c.Analytics(), true) }

type wireLeadsPage struct {
	TotalLeads string          `json:"total_leads"`
	Offset     int             `json:"offset"`
	Limit      int             `json:"limit"`
	Data       []wireLeadEntry `json:"data"`
}

type wireLeadEntry struct {
	CampaignLeadMapID int64    `json:"campaign_lead_map_id"`
	LeadCategoryID    *int64   `json:"lead_category_id"`
	Status            string   `json:"status"`
	CreatedAt         string   `json:"created_at"`
	Lead              wireLead `json:"lead"`
}

type wireLead struct {
	ID                      int64             `json:"id"`
	FirstName               *string           `json:"first_name"`
	LastName                *string           `json:"last_name"`
	Email                   string            `json:"email"`
	PhoneNumber             *string           `json:"phone_number"`
	CompanyName             *string           `json:"company_name"`
	Website                 *string           `json:"website"`
	Location                *string           `json:"location"`
	LinkedinProfile         *string           `json:"linkedin_profile"`
	CompanyURL              *string           `json:"company_url"`
	CustomFields            map[string]string `json:"custom_fields"`
	IsUnsubscribed          bool              `json:"is_unsubscribed"`
	UnsubscribedClientIDMap *struct{}         `json:"unsubscribed_client_id_map"`
	Source                  string            `json:"source"` // undocumented extra
}

func (s *Server) wireLead(l *Lead) wireLeadEntry {
	src := "CSV"
	if l.ID%4 == 0 {
		src = "API"
	}
	return wireLeadEntry{
		CampaignLeadMapID: l.CampaignLeadMapID, LeadCategoryID: idPtr(l.CategoryID), Status: l.Status,
		CreatedAt: fmtTime(l.CreatedAt, l.Micro),
		Lead: wireLead{
			ID: l.ID, FirstName: l.FirstName, LastName: l.LastName, Email: l.Email, PhoneNumber: l.PhoneNumber,
			CompanyName: l.CompanyName, Website: l.Website, Location: l.Location, LinkedinProfile: l.LinkedinProfile,
			CompanyURL: l.CompanyURL, CustomFields: l.CustomFields(), IsUnsubscribed: l.IsUnsubscribed, Source: src,
		},
	}
}

type wireStatsPage struct {
	TotalStats string     `json:"total_stats"`
	Data       []wireStat `json:"data"`
	Offset     int        `json:"offset"`
	Limit      int        `json:"limit"`
}

type wireStat struct {
	LeadName           *string `json:"lead_name"`
	LeadEmail          string  `json:"lead_email"`
	LeadCategory       *string `json:"lead_category"`
	SequenceNumber     int     `json:"sequence_number"`
	StatsID            string  `json:"stats_id"`
	EmailCampaignSeqID int64   `json:"email_campaign_seq_id"`
	SeqVariantID       *int64  `json:"seq_variant_id"`
	EmailSubject       string  `json:"email_subject"`
	EmailMessage       string  `json:"email_message"`
	SentTime           *string `json:"sent_time"`
	OpenTime           *string `json:"open_time"`
	ClickTime          *string `json:"click_time"`
	ReplyTime          *string `json:"reply_time"`
	OpenCount          int     `json:"open_count"`
	ClickCount         int     `json:"click_count"`
	IsUnsubscribed     bool    `json:"is_unsubscribed"`
	IsBounced          bool    `json:"is_bounced"`
}

func wireStatRow(r *StatRow) wireStat {
	return wireStat{
		LeadName: r.LeadName, LeadEmail: r.LeadEmail, LeadCategory: r.LeadCategory, SequenceNumber: r.SequenceNumber,
		StatsID: r.StatsID, EmailCampaignSeqID: r.EmailCampaignSeqID, SeqVariantID: idPtr(r.SeqVariantID),
		EmailSubject: r.EmailSubject, EmailMessage: r.EmailMessage,
		SentTime: fmtTimePtr(r.SentTime, r.Micro), OpenTime: fmtTimePtr(r.OpenTime, r.Micro),
		ClickTime: fmtTimePtr(r.ClickTime, r.Micro), ReplyTime: fmtTimePtr(r.ReplyTime, r.Micro),
		OpenCount: r.OpenCount, ClickCount: r.ClickCount, IsUnsubscribed: r.IsUnsubscribed, IsBounced: r.IsBounced,
	}
}

type wireDelay struct {
	DelayInDays int `json:"delayInDays"`
}

type wireVariant struct {
	ID                            int64  `json:"id"`
	CreatedAt                     string `json:"created_at"`
	UpdatedAt                     string `json:"updated_at"`
	IsDeleted                     bool   `json:"is_deleted"`
	Subject                       string `json:"subject"`
	EmailBody                     string `json:"email_body"`
	EmailCampaignSeqID            int64  `json:"email_campaign_seq_id"`
	VariantLabel                  string `json:"variant_label"`
	VariantDistributionPercentage int    `json:"variant_distribution_percentage"`
}

type wireSequence struct {
	ID               int64         `json:"id"`
	CreatedAt        string        `json:"created_at"`
	UpdatedAt        string        `json:"updated_at"`
	EmailCampaignID  int64         `json:"email_campaign_id"`
	SeqNumber        int           `json:"seq_number"`
	SeqDelayDetails  wireDelay     `json:"seq_delay_details"`
	Subject          string        `json:"subject"`
	EmailBody        string        `json:"email_body"`
	SequenceVariants []wireVariant `json:"sequence_variants"`
}

func wireSeq(c *Campaign, s *Sequence) wireSequence {
	w := wireSequence{
		ID: s.ID, CreatedAt: fmtTime(s.CreatedAt, false), UpdatedAt: fmtTime(s.UpdatedAt, false),
		EmailCampaignID: c.ID, SeqNumber: s.SeqNumber, SeqDelayDetails: wireDelay{s.DelayInDays},
		Subject: s.Subject, EmailBody: s.EmailBody, SequenceVariants: []wireVariant{},
	}
	for _, v := range s.Variants {
		w.SequenceVariants = append(w.SequenceVariants, wireVariant{
			ID: v.ID, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt, Subject: v.Subject, EmailBody: v.EmailBody,
			EmailCampaignSeqID: s.ID, VariantLabel: v.Label, VariantDistributionPercentage: v.Distribution,
		})
	}
	return w
}

type wireWarmup struct {
	Status           string  `json:"status"`
	TotalSentCount   int     `json:"total_sent_count"`
	TotalSpamCount   int     `json:"total_spam_count"`
	WarmupReputation string  `json:"warmup_reputation"`
	ReplyRate        int     `json:"reply_rate"`
	BlockedReason    *string `json:"blocked_reason"`
}

type wireEmailAccount struct {
	ID                      int64       `json:"id"`
	CreatedAt               string      `json:"created_at"`
	UpdatedAt               string      `json:"updated_at"`
	UserID                  int64       `json:"user_id"`
	FromName                string      `json:"from_name"`
	FromEmail               string      `json:"from_email"`
	Username                string      `json:"username"`
	Password                string      `json:"password"`
	SMTPHost                string      `json:"smtp_host"`
	SMTPPort                int         `json:"smtp_port"`
	SMTPPortType            string      `json:"smtp_port_type"`
	MessagePerDay           int         `json:"message_per_day"`
	DifferentReplyToAddress string      `json:"different_reply_to_address"`
	IsDifferentIMAPAccount  bool        `json:"is_different_imap_account"`
	IMAPUsername            string      `json:"imap_username"`
	IMAPPassword            string      `json:"imap_password"`
	IMAPHost                string      `json:"imap_host"`
	IMAPPort                int         `json:"imap_port"`
	IMAPPortType            string      `json:"imap_port_type"`
	Signature               string      `json:"signature"`
	CustomTrackingDomain    *string     `json:"custom_tracking_domain"`
	BCCEmail                *string     `json:"bcc_email"`
	IsSMTPSuccess           bool        `json:"is_smtp_success"`
	IsIMAPSuccess           bool        `json:"is_imap_success"`
	SMTPFailureError        *string     `json:"smtp_failure_error"`
	IMAPFailureError        *string     `json:"imap_failure_error"`
	Type                    string      `json:"type"`
	DailySentCount          int         `json:"daily_sent_count"`
	ClientID                *int64      `json:"client_id"`
	CampaignCount           int         `json:"campaign_count"`
	WarmupDetails           *wireWarmup `json:"warmup_details"`
}

func wireAccount(e *EmailAccount) wireEmailAccount {
	w := wireEmailAccount{
		ID: e.ID, CreatedAt: fmtTime(e.CreatedAt, false), UpdatedAt: fmtTime(e.UpdatedAt, e.UpdatedAt.Nanosecond()%1e6 != 0),
		UserID: e.UserID, FromName: e.FromName, FromEmail: e.FromEmail, Username: e.FromEmail, Password: e.Password,
		SMTPHost: e.SMTPHost, SMTPPort: e.SMTPPort, SMTPPortType: "TLS", MessagePerDay: e.MessagePerDay,
		IMAPUsername: e.FromEmail, IMAPPassword: e.IMAPPassword, IMAPHost: e.IMAPHost, IMAPPort: e.IMAPPort, IMAPPortType: "SSL",
		IsSMTPSuccess: e.IsSMTPSuccess, IsIMAPSuccess: e.IsIMAPSuccess, Type: e.Type, DailySentCount: e.DailySentCount,
		ClientID: idPtr(e.ClientID), CampaignCount: e.CampaignCount,
	}
	if !e.IsSMTPSuccess {
		w.SMTPFailureError = ptr("535 Authentication failed")
	}
	if !e.IsIMAPSuccess {
		w.IMAPFailureError = ptr("IMAP connection timed out")
	}
	if e.HasWarmup {
		w.WarmupDetails = &wireWarmup{
			Status: e.WarmupStatus, TotalSentCount: e.WarmupTotalSent, TotalSpamCount: e.WarmupSpamCount,
			WarmupReputation: strconv.Itoa(e.WarmupReputation) + "%", ReplyRate: e.WarmupReplyRate,
		}
	}
	return w
}

type wirePermission struct {
	Permission        []string `json:"permission"`
	RetrictedCategory []string `json:"retricted_category"` // the API's spelling
}

type wireClient struct {
	ID              int64          `json:"id"`
	Name            string         `json:"name"`
	Email           string         `json:"email"`
	UUID            string         `json:"uuid"`
	CreatedAt       string         `json:"created_at"`
	UserID          int64          `json:"user_id"`
	Logo            *string        `json:"logo"`
	LogoURL         *string        `json:"logo_url"`
	ClientPermision wirePermission `json:"client_permision"` // the API's spelling
}
