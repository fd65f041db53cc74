package load

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/smartlead-etl/smartlead-etl/transform"
)

// table describes one table a run stages. Its staging table (in the side
// file) has the columns run_id, batch, snapshot_date, extracted_at, then
// cols, in this order (the Appender is positional;
// TestTableSpecsMatchSchema holds the two together). Its physical table in
// the warehouse holds versions: valid_from, valid_to, extracted_at, cols.
type table struct {
	name     string   // the view users query
	physical string   // the warehouse table: versions (or, upserted, the table itself)
	staged   string   // the side file's staging table
	diff     string   // the side file's table of keys a commit closes and opens
	upsert   bool     // rows are merged into name at commit (campaign_daily_stats), not versioned
	key      []string // unique within one run's rows
	cols     []string
	jsonCols []string // JSON columns, named in errors about invalid JSON
}

// prefix is the number of columns before cols: run_id, batch,
// snapshot_date, extracted_at.
const prefix = 4

// The staged tables, in etl_runs rows_* column order.
var (
	tCampaigns = &table{name: "campaigns", physical: "campaigns_rows", key: []string{"campaign_id"},
		cols: []string{"campaign_id", "user_id", "name", "status", "created_at", "updated_at", "client_id",
			"parent_campaign_id", "track_settings", "scheduler_cron_value", "min_time_btwn_emails",
			"max_leads_per_day", "stop_lead_settings", "follow_up_percentage", "send_as_plain_text", "tags"},
		jsonCols: []string{"track_settings", "scheduler_cron_value", "tags"}}
	tCampaignAnalytics = &table{name: "campaign_analytics", physical: "campaign_analytics_rows", key: []string{"campaign_id"},
		cols: []string{"campaign_id", "name", "status", "client_id", "sequence_count", "sent_count",
			"unique_sent_count", "open_count", "unique_open_count", "click_count", "unique_click_count",
			"reply_count", "bounce_count", "unsubscribed_count", "block_count", "total_count", "drafted_count",
			"leads_total", "leads_not_started", "leads_in_progress", "leads_completed", "leads_paused",
			"leads_stopped", "leads_blocked", "leads_interested", "revenue"}}
	tDailyStats = &table{name: "campaign_daily_stats", physical: "campaign_daily_stats", upsert: true, key: []string{"campaign_id", "day"},
		cols: []string{"campaign_id", "day", "sent_count", "unique_sent_count", "open_count", "unique_open_count",
			"click_count", "unique_click_count", "reply_count", "bounce_count", "unsubscribed_count"}}
	tLeads = &table{name: "leads", physical: "leads_rows", key: []string{"campaign_lead_map_id"},
		cols: []string{"campaign_lead_map_id", "lead_id", "campaign_id", "email", "first_name", "last_name",
			"company_name", "phone_number", "website", "location", "linkedin_profile", "company_url", "status",
			"lead_category_id", "created_at", "is_unsubscribed", "custom_fields"},
		jsonCols: []string{"custom_fields"}}
	tLeadEmailStats = &table{name: "lead_email_stats", physical: "lead_email_stats_rows", key: []string{"stats_id"},
		cols: []string{"stats_id", "campaign_id", "lead_name", "lead_email", "lead_category", "sequence_number",
			"email_campaign_seq_id", "seq_variant_id", "email_subject", "sent_time", "open_time", "click_time",
			"reply_time", "open_count", "click_count", "is_bounced", "is_unsubscribed"}}
	tSequences = &table{name: "sequences", physical: "sequences_rows", key: []string{"sequence_id"},
		cols: []string{"sequence_id", "campaign_id", "seq_number", "subject", "delay_in_days", "email_body",
			"created_at", "updated_at", "sequence_variants"},
		jsonCols: []string{"sequence_variants"}}
	tEmailAccounts = &table{name: "email_accounts", physical: "email_accounts_rows", key: []string{"email_account_id"},
		cols: []string{"email_account_id", "from_email", "from_name", "type", "message_per_day", "daily_sent_count",
			"warmup_status", "warmup_reputation", "warmup_total_sent", "warmup_spam_count", "client_id",
			"campaign_count", "is_smtp_success", "is_imap_success", "smtp_host", "imap_host", "created_at",
			"updated_at"}}
	tClients = &table{name: "clients", physical: "clients_rows", key: []string{"client_id"},
		cols:     []string{"client_id", "name", "email", "uuid", "created_at", "permissions"},
		jsonCols: []string{"permissions"}}

	tables = []*table{tCampaigns, tCampaignAnalytics, tDailyStats, tLeads, tLeadEmailStats, tSequences,
		tEmailAccounts, tClients}
)

// Side-file tables that are not a table's staging.
const (
	stTotals   = "reported_totals_staged"
	stRejected = "rejected_staged"
	stLedger   = "api_requests_staged"
)

func init() {
	for _, t := range tables {
		t.staged, t.diff = t.name+"_staged", t.name+"_diff"
	}
}

// versioned lists the tables whose rows are kept as versions.
func versioned() []*table {
	out := make([]*table, 0, len(tables))
	for _, t := range tables {
		if !t.upsert {
			out = append(out, t)
		}
	}
	return out
}

// Streams whose reported totals the checks compare with loaded rows.
var totalTables = map[string]*table{"leads": tLeads, "lead_email_stats": tLeadEmailStats}

// fillers write one row's values after the prefix.

func fillCampaign(v []driver.Value, r *transform.Campaign) {
	v[0], v[1], v[2], v[3] = r.CampaignID, i64(r.UserID), r.Name, r.Status
	v[4], v[5], v[6], v[7] = tm(r.CreatedAt), tm(r.UpdatedAt), i64(r.ClientID), i64(r.ParentCampaignID)
	v[8], v[9], v[10], v[11] = js(r.TrackSettings), js(r.SchedulerCronValue), i64(r.MinTimeBtwnEmails), i64(r.MaxLeadsPerDay)
	v[12], v[13], v[14], v[15] = str(r.StopLeadSettings), i64(r.FollowUpPercentage), bl(r.SendAsPlainText), js(r.Tags)
}

func fillCampaignAnalytics(v []driver.Value, r *transform.CampaignAnalytics) {
	v[0], v[1], v[2], v[3], v[4] = r.CampaignID, str(r.Name), str(r.Status), i64(r.ClientID), i64(r.SequenceCount)
	v[5], v[6], v[7], v[8], v[9] = r.SentCount, r.UniqueSentCount, r.OpenCount, r.UniqueOpenCount, r.ClickCount
	v[10], v[11], v[12], v[13], v[14] = r.UniqueClickCount, r.ReplyCount, r.BounceCount, r.UnsubscribedCount, r.BlockCount
	v[15], v[16], v[17], v[18], v[19] = r.TotalCount, r.DraftedCount, r.LeadsTotal, r.LeadsNotStarted, r.LeadsInProgress
	v[20], v[21], v[22], v[23], v[24] = r.LeadsCompleted, r.LeadsPaused, r.LeadsStopped, r.LeadsBlocked, r.LeadsInterested
	v[25] = f64(r.Revenue)
}

func fillDailyStat(v []driver.Value, r *transform.CampaignDailyStat) {
	v[0], v[1], v[2], v[3], v[4] = r.CampaignID, r.Day, r.SentCount, r.UniqueSentCount, r.OpenCount
	v[5], v[6], v[7], v[8], v[9] = r.UniqueOpenCount, r.ClickCount, r.UniqueClickCount, r.ReplyCount, r.BounceCount
	v[10] = r.UnsubscribedCount
}

func fillLead(v []driver.Value, r *transform.Lead) {
	v[0], v[1], v[2], v[3] = r.CampaignLeadMapID, r.LeadID, r.CampaignID, r.Email
	v[4], v[5], v[6], v[7] = str(r.FirstName), str(r.LastName), str(r.CompanyName), str(r.PhoneNumber)
	v[8], v[9], v[10], v[11] = str(r.Website), str(r.Location), str(r.LinkedinProfile), str(r.CompanyURL)
	v[12], v[13], v[14], v[15] = str(r.Status), i64(r.LeadCategoryID), tm(r.CreatedAt), r.IsUnsubscribed
	v[16] = js(r.CustomFields)
}

func fillLeadEmailStat(v []driver.Value, r *transform.LeadEmailStat) {
	v[0], v[1], v[2], v[3] = r.StatsID, r.CampaignID, str(r.LeadName), r.LeadEmail
	v[4], v[5], v[6], v[7] = str(r.LeadCategory), i64(r.SequenceNumber), i64(r.EmailCampaignSeqID), i64(r.SeqVariantID)
	v[8], v[9], v[10], v[11] = str(r.EmailSubject), tm(r.SentTime), tm(r.OpenTime), tm(r.ClickTime)
	v[12], v[13], v[14], v[15] = tm(r.ReplyTime), r.OpenCount, r.ClickCount, r.IsBounced
	v[16] = r.IsUnsubscribed
}

func fillSequence(v []driver.Value, r *transform.Sequence) {
	v[0], v[1], v[2], v[3], v[4] = r.SequenceID, r.CampaignID, r.SeqNumber, str(r.Subject), i64(r.DelayInDays)
	v[5], v[6], v[7], v[8] = str(r.EmailBody), tm(r.CreatedAt), tm(r.UpdatedAt), js(r.SequenceVariants)
}

func fillEmailAccount(v []driver.Value, r *transform.EmailAccount) {
	v[0], v[1], v[2], v[3], v[4] = r.EmailAccountID, r.FromEmail, str(r.FromName), str(r.Type), i64(r.MessagePerDay)
	v[5], v[6], v[7], v[8], v[9] = i64(r.DailySentCount), str(r.WarmupStatus), f64(r.WarmupReputation), i64(r.WarmupTotalSent), i64(r.WarmupSpamCount)
	v[10], v[11], v[12], v[13], v[14] = i64(r.ClientID), i64(r.CampaignCount), bl(r.IsSMTPSuccess), bl(r.IsIMAPSuccess), str(r.SMTPHost)
	v[15], v[16], v[17] = str(r.IMAPHost), tm(r.CreatedAt), tm(r.UpdatedAt)
}

func fillClient(v []driver.Value, r *transform.Client) {
	v[0], v[1], v[2], v[3], v[4], v[5] = r.ClientID, str(r.Name), str(r.Email), str(r.UUID), tm(r.CreatedAt), js(r.Permissions)
}

// NULL-aware conversions to the Appender's values: the driver writes NULL
// only for an untyped nil, so pointers are unwrapped here.

func i64(p *int64) driver.Value {
	if p == nil {
		return nil
	}
	return *p
}

func f64(p *float64) driver.Value {
	if p == nil {
		return nil
	}
	return *p
}

func str(p *string) driver.Value {
	if p == nil {
		return nil
	}
	return *p
}

func bl(p *bool) driver.Value {
	if p == nil {
		return nil
	}
	return *p
}

func tm(p *time.Time) driver.Value {
	if p == nil {
		return nil
	}
	return *p
}

// js passes a JSON document to a JSON column: the driver marshals what it
// is given, and would base64 a byte slice but copies a json.RawMessage
// (after checking it).
func js(j transform.JSON) driver.Value {
	if j == nil {
		return nil
	}
	return json.RawMessage(j)
}

// badJSON names the first JSON column among t's values v (after the
// prefix) that is not valid JSON, "" if there is none: the Appender's
// error does not say which.
func (t *table) badJSON(v []driver.Value) string {
	for i, c := range t.cols {
		if j, ok := v[i].(json.RawMessage); ok && slices.Contains(t.jsonCols, c) && !json.Valid(j) {
			return c
		}
	}
	return ""
}

// keyOf renders the key of the row whose values (after the prefix) are v,
// for error messages: "campaign_id=1, day=2026-11-27".
func (t *table) keyOf(v []driver.Value) string {
	parts := make([]string, 0, len(t.key))
	for _, k := range t.key {
		x := v[slices.Index(t.cols, k)]
		if tm, ok := x.(time.Time); ok {
			x = tm.Format(time.DateOnly)
		}
		parts = append(parts, fmt.Sprintf("%s=%v", k, x))
	}
	return strings.Join(parts, ", ")
}

// keyExpr renders t's key as text in SQL: 'campaign_id=' || campaign_id ...
func (t *table) keyExpr() string {
	parts := make([]string, len(t.key))
	for i, k := range t.key {
		parts[i] = "'" + k + "=' || " + k + "::VARCHAR"
	}
	return strings.Join(parts, " || ', ' || ")
}
