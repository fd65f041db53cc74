package load

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/smartlead-etl/smartlead-etl/transform"
)

// helperEnv selects a helper-process role when the test binary re-execs
// itself (the os/exec helper-process pattern).
const helperEnv = "LOAD_TEST_HELPER"

func TestMain(m *testing.M) {
	if role := os.Getenv(helperEnv); role != "" {
		os.Exit(helperMain(role))
	}
	goleak.VerifyTestMain(m)
}

// t0 is the fixed instant the tests' clocks start from.
var t0 = time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)

// clock is a manual clock for Options.Now: each call advances a second, so
// timestamps are distinct and ordered.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { c.t = c.t.Add(time.Second); return c.t }

func openTest(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wh.duckdb")
	return openAt(t, path, opts), path
}

func openAt(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	if opts.Now == nil {
		c := &clock{t: t0}
		opts.Now = c.now
	}
	s, err := Open(t.Context(), path, os.DirFS("../sql/schema"), opts)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

func p[T any](v T) *T { return &v }

func day(n int) time.Time { return t0.AddDate(0, 0, n) }

// fullBatch is one page's worth of every row type, for snapshot n: every
// field set, values depending on n so that snapshots differ.
func fullBatch(n int) transform.Batch {
	k := int64(n)
	ts := t0.Add(time.Duration(n) * time.Hour)
	return transform.Batch{
		Campaigns: []transform.Campaign{
			{CampaignID: 101, UserID: p[int64](7), Name: "Q1", Status: "ACTIVE", CreatedAt: p(ts), UpdatedAt: p(ts.Add(time.Minute)),
				ClientID: p[int64](6), ParentCampaignID: p[int64](100), TrackSettings: transform.JSON(`["DONT_EMAIL_OPEN"]`),
				SchedulerCronValue: transform.JSON(`{"tz":"UTC"}`), MinTimeBtwnEmails: p[int64](24), MaxLeadsPerDay: p[int64](100),
				StopLeadSettings: p("REPLY_TO_AN_EMAIL"), FollowUpPercentage: p[int64](20), SendAsPlainText: p(true),
				Tags: transform.JSON(`[{"tag_id":1}]`)},
			{CampaignID: 102, Name: "Q2", Status: "PAUSED"},
		},
		CampaignAnalytics: []transform.CampaignAnalytics{
			{CampaignID: 101, Name: p("Q1"), Status: p("ACTIVE"), ClientID: p[int64](6), SequenceCount: p[int64](3),
				SentCount: 100 + k, UniqueSentCount: 90 + k, OpenCount: 50 + k, UniqueOpenCount: 40 + k, ClickCount: 10 + k,
				UniqueClickCount: 9 + k, ReplyCount: 5 + k, BounceCount: 2, UnsubscribedCount: 1, BlockCount: 0, TotalCount: 100 + k,
				DraftedCount: 3, LeadsTotal: 2, LeadsNotStarted: 0, LeadsInProgress: 1, LeadsCompleted: 1, LeadsPaused: 0,
				LeadsStopped: 0, LeadsBlocked: 0, LeadsInterested: 1, Revenue: p(12.5)},
			{CampaignID: 102, LeadsTotal: 1},
		},
		DailyStats: []transform.CampaignDailyStat{
			{CampaignID: 101, Day: day(n - 1), SentCount: 10 + k, UniqueSentCount: 9, OpenCount: 8, UniqueOpenCount: 7,
				ClickCount: 6, UniqueClickCount: 5, ReplyCount: 4, BounceCount: 3, UnsubscribedCount: 2},
			{CampaignID: 101, Day: day(n), SentCount: 1 + k},
		},
		Leads: []transform.Lead{
			{CampaignLeadMapID: 5001, LeadID: 9001, CampaignID: 101, Email: "john@example.com", FirstName: p("John"),
				LastName: p("Doe"), CompanyName: p("Acme"), PhoneNumber: p("+1234"), Website: p("https://acme.com"),
				Location: p("SF"), LinkedinProfile: p("https://linkedin.com/in/j"), CompanyURL: p("https://acme.com/c"),
				Status: p("INPROGRESS"), LeadCategoryID: p(k), CreatedAt: p(ts), IsUnsubscribed: true,
				CustomFields: transform.JSON(`{"job_title":"CEO"}`)},
			{CampaignLeadMapID: 5002, LeadID: 9002, CampaignID: 101, Email: "jane@example.com"},
			{CampaignLeadMapID: 5003, LeadID: 9003, CampaignID: 102, Email: fmt.Sprintf("snap%d@example.com", n)},
		},
		LeadEmailStats: []transform.LeadEmailStat{
			{StatsID: "a891fe37", CampaignID: 101, LeadName: p("John Doe"), LeadEmail: "john@example.com", LeadCategory: p("Interested"),
				SequenceNumber: p[int64](1), EmailCampaignSeqID: p[int64](77), SeqVariantID: p[int64](78), EmailSubject: p("Hi"),
				SentTime: p(ts), OpenTime: p(ts.Add(time.Hour)), ClickTime: p(ts.Add(2 * time.Hour)), ReplyTime: p(ts.Add(3 * time.Hour)),
				OpenCount: 2 + k, ClickCount: 1, IsBounced: true, IsUnsubscribed: true},
			{StatsID: "b0000001", CampaignID: 101, LeadEmail: "jane@example.com"},
		},
		Sequences: []transform.Sequence{
			{SequenceID: 301, CampaignID: 101, SeqNumber: 1, Subject: p("Hi"), DelayInDays: p[int64](2), EmailBody: p("<p>x</p>"),
				CreatedAt: p(ts), UpdatedAt: p(ts), SequenceVariants: transform.JSON(`[{"id":1}]`)},
		},
		EmailAccounts: []transform.EmailAccount{
			{EmailAccountID: 401, FromEmail: "me@example.com", FromName: p("Me"), Type: p("GMAIL"), MessagePerDay: p[int64](50),
				DailySentCount: p(25 + k), WarmupStatus: p("ACTIVE"), WarmupReputation: p(95.0), WarmupTotalSent: p[int64](450),
				WarmupSpamCount: p[int64](2), ClientID: p[int64](6), CampaignCount: p[int64](3), IsSMTPSuccess: p(true),
				IsIMAPSuccess: p(false), SMTPHost: p("smtp.gmail.com"), IMAPHost: p("imap.gmail.com"), CreatedAt: p(ts), UpdatedAt: p(ts)},
		},
		Clients: []transform.Client{
			{ClientID: 6, Name: p("Ramesh"), Email: p("r@example.com"), UUID: p("1e19fcb7"), CreatedAt: p(ts),
				Permissions: transform.JSON(`{"permission":["reply_master_inbox"]}`)},
		},
		Totals: []transform.ReportedTotal{{Stream: "leads", CampaignID: 101, Total: 2}, {Stream: "leads", CampaignID: 102, Total: 1}},
	}
}

// contents returns every user-visible table and view, and the history
// tables, as sorted rows rendered to text: equal contents, equal maps.
func contents(t *testing.T, db *sql.DB) map[string][]string {
	t.Helper()
	names := []string{"campaign_daily_stats", "reported_totals"}
	for _, tb := range tables {
		if !tb.upsert {
			names = append(names, tb.name, tb.name+"_history")
		}
	}
	out := map[string][]string{}
	for _, n := range names {
		out[n] = dumpRows(t, db, "SELECT * FROM "+n)
	}
	return out
}

// dumpRows renders each row of q as "col=value|col=value", sorted.
func dumpRows(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		parts := make([]string, len(cols))
		for i, c := range cols {
			parts[i] = c + "=" + render(vals[i])
		}
		out = append(out, strings.Join(parts, "|"))
	}
	require.NoError(t, rows.Err())
	slices.Sort(out)
	return out
}

func render(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []byte:
		return string(x)
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		return string(b)
	default:
		return fmt.Sprint(x)
	}
}

// rowMaps returns q's rows as column -> rendered value.
func rowMaps(t *testing.T, db *sql.DB, q string, args ...any) []map[string]string {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), q, args...)
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var out []map[string]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...))
		m := map[string]string{}
		for i, c := range cols {
			m[c] = render(vals[i])
		}
		out = append(out, m)
	}
	require.NoError(t, rows.Err())
	return out
}

func count(t *testing.T, db *sql.DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	require.NoError(t, db.QueryRow(q, args...).Scan(&n))
	return n
}

// loadRun runs one complete run of batches and commits it.
func loadRun(t *testing.T, s *Store, snap time.Time, batches ...transform.Batch) (*Run, *Summary) {
	t.Helper()
	ctx := t.Context()
	r, err := s.BeginRun(ctx, RunStart{SnapshotDate: snap, Config: map[string]any{"streams": "all"}})
	require.NoError(t, err)
	for _, b := range batches {
		require.NoError(t, r.Write(ctx, b))
	}
	sum, err := r.Commit(ctx, Counters{Requests: 10, Throttled: 1, Retries: 2, Waited: 1500 * time.Millisecond})
	require.NoError(t, err)
	return r, sum
}

func schemaDir() fs.FS { return os.DirFS("../sql/schema") }

// Readers of etl_runs and data_checks only the tests need (the commands
// read the views).

// runs returns the last n runs, newest first.
func (s *Store) runs(ctx context.Context, n int) ([]RunInfo, error) {
	return s.queryRuns(ctx, "", n)
}

// latestRun returns the most recently started run, or nil when there is
// none.
func (s *Store) latestRun(ctx context.Context) (*RunInfo, error) {
	rs, err := s.runs(ctx, 1)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return &rs[0], nil
}

// latestSucceededMode returns the most recent succeeded run of mode, or
// nil when there is none.
func (s *Store) latestSucceededMode(ctx context.Context, mode Mode) (*RunInfo, error) {
	rs, err := s.queryRuns(ctx, `WHERE status = 'succeeded' AND coalesce(mode, 'full') = ?`, 1, mode)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return &rs[0], nil
}

// checks returns the data_checks rows of a run, in the order recorded.
func (s *Store) checks(ctx context.Context, runID string) ([]Check, error) {
	rows, err := s.db.QueryContext(ctx, s.sq(`SELECT "check", subject, detail, severity FROM @w.data_checks
		WHERE run_id = ? ORDER BY rowid`), runID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Check
	for rows.Next() {
		var c Check
		if err := rows.Scan(&c.Name, &c.Subject, &c.Detail, &c.Severity); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
