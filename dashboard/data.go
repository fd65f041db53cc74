package dashboard

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/smartlead-etl/smartlead-etl/report"
)

//go:embed queries/*.sql
var queryFiles embed.FS

// ErrNoSnapshot is matched by the error Collect returns for a warehouse
// that holds no succeeded run yet: there is nothing to chart.
var ErrNoSnapshot = errors.New("the warehouse holds no succeeded snapshot yet")

// Options configure a page.
type Options struct {
	// Reports are the report files (main passes its embedded sql/reports):
	// the page's numbers are theirs.
	Reports fs.FS
	// Warehouse names the warehouse on the page. Only its base name is
	// shown, so a path with a home directory never lands in a shared file.
	Warehouse string
	// Now is the generation time stamped on the page; nil means time.Now.
	Now func() time.Time
	// Version is the program's version, shown in the footer.
	Version string
}

// Table is a result in columnar-row form: the column names once, then one
// array per row, which keeps the embedded JSON small for big accounts.
type Table struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
}

// Meta says what the page shows and where it came from.
type Meta struct {
	Warehouse          string `json:"warehouse"`
	RunID              string `json:"run_id"`
	SnapshotDate       string `json:"snapshot_date"`
	SnapshotFinishedAt string `json:"snapshot_finished_at"`
	Snapshots          int    `json:"snapshots"`
	GeneratedAt        string `json:"generated_at"`
	Version            string `json:"version"`
	TopCampaigns       int    `json:"top_campaigns"` // campaigns drawn in the funnel chart
	TopAccounts        int    `json:"top_accounts"`  // accounts drawn in the health chart
}

// Data is everything the page embeds. Each table names the report (or
// queries/ file) it comes from in the comment; columns keep the report's
// names so that the page and `smartlead-etl report` can be compared.
type Data struct {
	Meta       Meta   `json:"meta"`
	Clients    Table  `json:"clients"`     // queries/clients.sql
	Campaigns  Table  `json:"campaigns"`   // campaign_performance + client_id
	Daily      Table  `json:"daily"`       // daily_trend, per-campaign rows (the ALL rows are recomputed per filter)
	Steps      Table  `json:"steps"`       // sequence_steps
	Snapshots  Table  `json:"snapshots"`   // queries/snapshots.sql
	LeadStatus Table  `json:"lead_status"` // queries/lead_status_history.sql, run_id as an index into snapshots
	Accounts   Table  `json:"accounts"`    // email_account_health
	Runs       Table  `json:"runs"`        // run_history (the last 30 runs)
	ReplyHours *Table `json:"reply_hours"` // queries/reply_hours.sql; null without email_events
}

const (
	topCampaigns = 20
	topAccounts  = 30
)

// The columns the page reads from each report; a report that lost one is
// an error here rather than an empty chart.
var (
	campaignCols = []string{"campaign_id", "name", "status", "leads", "emails_sent", "leads_reached", "unique_opens",
		"unique_clicks", "replies", "bounces", "unsubscribes", "open_tracking", "open_rate_pct", "reply_rate_pct",
		"reply_rate_basis", "bounce_rate_pct"}
	dailyCols = []string{"day", "campaign", "sent", "unique_sent", "opens", "unique_opens", "clicks", "replies",
		"bounces", "open_rate_pct", "reply_rate_pct", "bounce_rate_pct"}
	stepCols = []string{"campaign_id", "sequence_number", "subject", "sent", "opened", "clicked", "replied",
		"bounced", "open_rate_pct", "reply_rate_pct", "reply_rate_basis", "bounce_rate_pct"}
	accountCols = []string{"email_account_id", "from_email", "type", "client_id", "campaign_count", "daily_sent_count",
		"message_per_day", "daily_usage_pct", "at_limit", "warmup_status", "warmup_reputation", "warmup_spam_pct",
		"connection_ok"}
	runCols = []string{"run_id", "status", "snapshot_date", "started_at", "finished_at", "duration_s", "requests",
		"throttled", "retries", "wait_s", "rows", "leads", "rejected", "warnings", "error"}
)

// Collect reads everything the page shows from the warehouse.
func Collect(ctx context.Context, src report.Source, opts Options) (*Data, error) {
	if opts.Reports == nil {
		return nil, errors.New("dashboard: no report files given (Options.Reports)")
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	reps, err := report.Reports(opts.Reports)
	if err != nil {
		return nil, err
	}
	c := collector{ctx: ctx, src: src, reports: reps}
	d := &Data{Meta: Meta{
		Warehouse:    filepath.Base(filepath.Clean(opts.Warehouse)),
		GeneratedAt:  now().UTC().Format(time.RFC3339),
		Version:      opts.Version,
		TopCampaigns: topCampaigns, TopAccounts: topAccounts,
	}}
	if opts.Warehouse == "" {
		d.Meta.Warehouse = ""
	}

	snaps, err := c.query("snapshots")
	if err != nil {
		return nil, err
	}
	if len(snaps.Rows) == 0 {
		return nil, fmt.Errorf("dashboard: %w (run `smartlead-etl run` first)", ErrNoSnapshot)
	}
	if d.Snapshots, err = project(snaps, "snapshots", []string{"run_id", "snapshot_date", "finished_at"}); err != nil {
		return nil, err
	}
	last := d.Snapshots.Rows[len(d.Snapshots.Rows)-1]
	d.Meta.RunID, _ = last[0].(string)
	d.Meta.SnapshotDate, _ = last[1].(string)
	d.Meta.SnapshotFinishedAt, _ = last[2].(string)
	d.Meta.Snapshots = len(d.Snapshots.Rows)

	steps := []func(*Data) error{c.clients, c.campaigns, c.daily, c.steps, c.leadStatus, c.accounts, c.runs, c.replyHours}
	for _, step := range steps {
		if err := step(d); err != nil {
			return nil, err
		}
	}
	return d, nil
}

type collector struct {
	ctx     context.Context
	src     report.Source
	reports []report.Report
}

// run runs a report file with no filter.
func (c collector) run(name string) (*report.Result, error) {
	for _, r := range c.reports {
		if r.Name == name {
			return report.Run(c.ctx, c.src, r, report.ReportParams{})
		}
	}
	return nil, fmt.Errorf("dashboard: report %s not found among the report files", name)
}

// query runs one of queries/*.sql, with replacer applied to its text.
func (c collector) query(name string, replace ...string) (*report.Result, error) {
	text, err := queryFiles.ReadFile("queries/" + name + ".sql")
	if err != nil {
		return nil, fmt.Errorf("dashboard: query %s: %w", name, err)
	}
	res, err := report.Query(c.ctx, c.src, strings.NewReplacer(replace...).Replace(string(text)))
	if err != nil {
		return nil, fmt.Errorf("dashboard: query %s: %w", name, err)
	}
	return res, nil
}

func (c collector) clients(d *Data) (err error) {
	res, err := c.query("clients")
	if err != nil {
		return err
	}
	d.Clients, err = project(res, "clients", []string{"client_id", "name"})
	return err
}

func (c collector) campaigns(d *Data) error {
	res, err := c.run("campaign_performance")
	if err != nil {
		return err
	}
	if d.Campaigns, err = project(res, "campaign_performance", campaignCols); err != nil {
		return err
	}
	cl, err := c.query("campaign_clients")
	if err != nil {
		return err
	}
	clientOf := map[string]any{}
	for _, r := range cl.Rows {
		id, err := report.JSONValue(r[0], cl.Types[0])
		if err != nil {
			return fmt.Errorf("dashboard: campaign_clients: %w", err)
		}
		v, err := report.JSONValue(r[1], cl.Types[1])
		if err != nil {
			return fmt.Errorf("dashboard: campaign_clients: %w", err)
		}
		clientOf[fmt.Sprint(id)] = v
	}
	d.Campaigns.Columns = append(d.Campaigns.Columns, "client_id")
	for i, r := range d.Campaigns.Rows {
		d.Campaigns.Rows[i] = append(r, clientOf[fmt.Sprint(r[0])])
	}
	return nil
}

func (c collector) daily(d *Data) error {
	res, err := c.run("daily_trend")
	if err != nil {
		return err
	}
	t, err := project(res, "daily_trend", dailyCols)
	if err != nil {
		return err
	}
	// The report's ALL rows hold the whole account; the page sums the
	// additive counts over whatever the filters select instead, and, like
	// the ALL row, leaves the unique counts alone.
	rows := t.Rows[:0]
	for _, r := range t.Rows {
		s, _ := r[1].(string)
		if s == "ALL" {
			continue
		}
		if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			return fmt.Errorf("dashboard: daily_trend: campaign %q is not an id", s)
		}
		r[1] = json.Number(s)
		rows = append(rows, r)
	}
	t.Rows = rows
	t.Columns[1] = "campaign_id"
	d.Daily = t
	return nil
}

func (c collector) steps(d *Data) (err error) {
	res, err := c.run("sequence_steps")
	if err != nil {
		return err
	}
	d.Steps, err = project(res, "sequence_steps", stepCols)
	return err
}

func (c collector) leadStatus(d *Data) error {
	res, err := c.query("lead_status_history")
	if err != nil {
		return err
	}
	t, err := project(res, "lead_status_history", []string{"run_id", "campaign_id", "status", "leads"})
	if err != nil {
		return err
	}
	index := map[string]int{}
	for i, s := range d.Snapshots.Rows {
		index[s[0].(string)] = i
	}
	for _, r := range t.Rows {
		i, ok := index[r[0].(string)]
		if !ok {
			return fmt.Errorf("dashboard: lead_status_history: run %v is not a succeeded snapshot", r[0])
		}
		r[0] = i
	}
	t.Columns[0] = "snapshot"
	d.LeadStatus = t
	return nil
}

func (c collector) accounts(d *Data) (err error) {
	res, err := c.run("email_account_health")
	if err != nil {
		return err
	}
	d.Accounts, err = project(res, "email_account_health", accountCols)
	return err
}

func (c collector) runs(d *Data) (err error) {
	res, err := c.run("run_history")
	if err != nil {
		return err
	}
	d.Runs, err = project(res, "run_history", runCols)
	return err
}

// replyHours adds replies by hour of day when the webhook receiver's
// email_events table exists with the columns it needs and holds a reply;
// a warehouse without them simply has no such chart.
func (c collector) replyHours(d *Data) error {
	cols, err := c.query("email_events_columns")
	if err != nil {
		return err
	}
	types := map[string]string{}
	for _, r := range cols.Rows {
		name, _ := r[0].(string)
		typ, _ := r[1].(string)
		types[strings.ToLower(name)] = strings.ToUpper(typ)
	}
	if types["event_type"] == "" || types["campaign_id"] == "" {
		return nil
	}
	var hour string
	switch types["event_at"] {
	case "TIMESTAMP WITH TIME ZONE":
		hour = "hour(event_at AT TIME ZONE 'UTC')"
	case "TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S":
		hour = "hour(event_at)" // stored without a zone: taken as UTC
	default:
		return nil
	}
	res, err := c.query("reply_hours", "{{HOUR}}", hour)
	if err != nil {
		return err
	}
	t, err := project(res, "reply_hours", []string{"campaign_id", "hour", "replies"})
	if err != nil || len(t.Rows) == 0 {
		return err // no reply received yet: no chart, rather than an empty one
	}
	d.ReplyHours = &t
	return nil
}

// project keeps cols of res, in that order, as JSON-ready values.
func project(res *report.Result, name string, cols []string) (Table, error) {
	idx := make([]int, len(cols))
	for i, col := range cols {
		idx[i] = -1
		for j, have := range res.Columns {
			if have == col {
				idx[i] = j
			}
		}
		if idx[i] < 0 {
			return Table{}, fmt.Errorf("dashboard: %s has no column %s (have %s)", name, col, strings.Join(res.Columns, ", "))
		}
	}
	t := Table{Columns: append([]string(nil), cols...), Rows: make([][]any, 0, len(res.Rows))}
	for n, r := range res.Rows {
		row := make([]any, len(cols))
		for i, j := range idx {
			v, err := report.JSONValue(r[j], res.Types[j])
			if err != nil {
				return Table{}, fmt.Errorf("dashboard: %s row %d column %s: %w", name, n+1, cols[i], err)
			}
			row[i] = v
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}
