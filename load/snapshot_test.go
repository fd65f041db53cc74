package load

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// TestRunShowsEveryRowType loads one snapshot of every row type and reads
// each fully populated row back through its view, column by column.
func TestRunShowsEveryRowType(t *testing.T) {
	s, _ := openTest(t, Options{})
	r, sum := loadRun(t, s, day(1), fullBatch(1))

	require.Equal(t, StatusSucceeded, sum.Status)
	require.Equal(t, map[string]int64{"campaigns": 2, "campaign_analytics": 2, "campaign_daily_stats": 2, "leads": 3,
		"lead_email_stats": 2, "sequences": 1, "email_accounts": 1, "clients": 1}, sum.Rows)
	require.Zero(t, sum.Warnings)
	require.Zero(t, sum.Rejected)
	require.False(t, sum.Partial())

	lineage := map[string]string{"run_id": r.ID(), "snapshot_date": "2026-11-28T00:00:00Z"}
	want := map[string]map[string]string{
		"campaigns WHERE campaign_id = 101": {"campaign_id": "101", "user_id": "7", "name": "Q1", "status": "ACTIVE",
			"created_at": "2026-11-27T03:00:00Z", "updated_at": "2026-11-27T03:01:00Z", "client_id": "6",
			"parent_campaign_id": "100", "track_settings": `["DONT_EMAIL_OPEN"]`, "scheduler_cron_value": `{"tz":"UTC"}`,
			"min_time_btwn_emails": "24", "max_leads_per_day": "100", "stop_lead_settings": "REPLY_TO_AN_EMAIL",
			"follow_up_percentage": "20", "send_as_plain_text": "true", "tags": `[{"tag_id":1}]`},
		"campaign_analytics WHERE campaign_id = 101": {"campaign_id": "101", "name": "Q1", "status": "ACTIVE",
			"client_id": "6", "sequence_count": "3", "sent_count": "101", "unique_sent_count": "91", "open_count": "51",
			"unique_open_count": "41", "click_count": "11", "unique_click_count": "10", "reply_count": "6",
			"bounce_count": "2", "unsubscribed_count": "1", "block_count": "0", "total_count": "101", "drafted_count": "3",
			"leads_total": "2", "leads_not_started": "0", "leads_in_progress": "1", "leads_completed": "1",
			"leads_paused": "0", "leads_stopped": "0", "leads_blocked": "0", "leads_interested": "1", "revenue": "12.5"},
		"leads WHERE campaign_lead_map_id = 5001": {"campaign_lead_map_id": "5001", "lead_id": "9001", "campaign_id": "101",
			"email": "john@example.com", "first_name": "John", "last_name": "Doe", "company_name": "Acme",
			"phone_number": "+1234", "website": "https://acme.com", "location": "SF",
			"linkedin_profile": "https://linkedin.com/in/j", "company_url": "https://acme.com/c", "status": "INPROGRESS",
			"lead_category_id": "1", "created_at": "2026-11-27T03:00:00Z", "is_unsubscribed": "true",
			"custom_fields": `{"job_title":"CEO"}`},
		"leads WHERE campaign_lead_map_id = 5002": {"campaign_lead_map_id": "5002", "lead_id": "9002", "campaign_id": "101",
			"email": "jane@example.com", "first_name": "NULL", "last_name": "NULL", "company_name": "NULL",
			"phone_number": "NULL", "website": "NULL", "location": "NULL", "linkedin_profile": "NULL", "company_url": "NULL",
			"status": "NULL", "lead_category_id": "NULL", "created_at": "NULL", "is_unsubscribed": "false",
			"custom_fields": "NULL"},
		"lead_email_stats WHERE stats_id = 'a891fe37'": {"stats_id": "a891fe37", "campaign_id": "101",
			"lead_name": "John Doe", "lead_email": "john@example.com", "lead_category": "Interested", "sequence_number": "1",
			"email_campaign_seq_id": "77", "seq_variant_id": "78", "email_subject": "Hi", "sent_time": "2026-11-27T03:00:00Z",
			"open_time": "2026-11-27T04:00:00Z", "click_time": "2026-11-27T05:00:00Z", "reply_time": "2026-11-27T06:00:00Z",
			"open_count": "3", "click_count": "1", "is_bounced": "true", "is_unsubscribed": "true"},
		"sequences WHERE sequence_id = 301": {"sequence_id": "301", "campaign_id": "101", "seq_number": "1", "subject": "Hi",
			"delay_in_days": "2", "email_body": "<p>x</p>", "created_at": "2026-11-27T03:00:00Z",
			"updated_at": "2026-11-27T03:00:00Z", "sequence_variants": `[{"id":1}]`},
		"email_accounts WHERE email_account_id = 401": {"email_account_id": "401", "from_email": "me@example.com",
			"from_name": "Me", "type": "GMAIL", "message_per_day": "50", "daily_sent_count": "26", "warmup_status": "ACTIVE",
			"warmup_reputation": "95", "warmup_total_sent": "450", "warmup_spam_count": "2", "client_id": "6",
			"campaign_count": "3", "is_smtp_success": "true", "is_imap_success": "false", "smtp_host": "smtp.gmail.com",
			"imap_host": "imap.gmail.com", "created_at": "2026-11-27T03:00:00Z", "updated_at": "2026-11-27T03:00:00Z"},
		"clients WHERE client_id = 6": {"client_id": "6", "name": "Ramesh", "email": "r@example.com", "uuid": "1e19fcb7",
			"created_at": "2026-11-27T03:00:00Z", "permissions": `{"permission":["reply_master_inbox"]}`},
	}
	for from, cols := range want {
		got := rowMaps(t, s.DB(), "SELECT * EXCLUDE (extracted_at) FROM "+from)
		require.Len(t, got, 1, from)
		exp := map[string]string{}
		for k, v := range cols {
			exp[k] = v
		}
		for k, v := range lineage {
			exp[k] = v
		}
		assert.Equal(t, exp, got[0], from)
	}
	daily := dumpRows(t, s.DB(), `SELECT campaign_id, day, sent_count, unique_sent_count, open_count, unique_open_count,
		click_count, unique_click_count, reply_count, bounce_count, unsubscribed_count, run_id = ? AS this_run
		FROM campaign_daily_stats`, r.ID())
	require.Equal(t, []string{
		"campaign_id=101|day=2026-11-27T00:00:00Z|sent_count=11|unique_sent_count=9|open_count=8|unique_open_count=7|click_count=6|unique_click_count=5|reply_count=4|bounce_count=3|unsubscribed_count=2|this_run=true",
		"campaign_id=101|day=2026-11-28T00:00:00Z|sent_count=2|unique_sent_count=0|open_count=0|unique_open_count=0|click_count=0|unique_click_count=0|reply_count=0|bounce_count=0|unsubscribed_count=0|this_run=true",
	}, daily)

	assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage.campaign_daily_stats_staged"))
	runs, err := s.runs(t.Context(), 5)
	require.NoError(t, err)
	require.Len(t, runs, 1)
	got := runs[0]
	assert.Equal(t, r.ID(), got.RunID)
	assert.Equal(t, StatusSucceeded, got.Status)
	assert.Equal(t, Counters{Requests: 10, Throttled: 1, Retries: 2, Waited: 1500 * time.Millisecond}, got.Counters)
	assert.Equal(t, sum.Rows, got.Rows)
	assert.False(t, got.FinishedAt.IsZero())
	checks, err := s.checks(t.Context(), r.ID())
	require.NoError(t, err)
	assert.Equal(t, sum.Checks, checks)
	assert.Equal(t, `{"streams":"all"}`, rowMaps(t, s.DB(), `SELECT config FROM etl_runs`)[0]["config"])
}

// TestSecondRunMovesViews: the views follow the newest snapshot, history
// keeps both, and campaign_daily_stats is upserted by (campaign_id, day).
func TestSecondRunMovesViews(t *testing.T) {
	s, _ := openTest(t, Options{})
	r1, _ := loadRun(t, s, day(1), fullBatch(1))
	before := contents(t, s.DB())
	r2, sum := loadRun(t, s, day(2), fullBatch(2))
	require.Zero(t, sum.Warnings, "%+v", sum.Checks)

	after := contents(t, s.DB())
	for _, tb := range tables {
		if tb.upsert {
			continue
		}
		hist := tb.name + "_history"
		assert.Equal(t, sum.Rows[tb.name], count(t, s.DB(), "SELECT count(*) FROM "+tb.name+" WHERE run_id = ?", r2.ID()), tb.name)
		assert.Equal(t, sum.Rows[tb.name], count(t, s.DB(), "SELECT count(*) FROM "+tb.name), tb.name)
		// History holds the first snapshot unchanged next to the second.
		assert.Subset(t, after[hist], before[hist], hist)
		assert.Len(t, after[hist], len(before[hist])+int(sum.Rows[tb.name]), hist)
	}
	assert.Equal(t, []string{"email=snap2@example.com"}, dumpRows(t, s.DB(), "SELECT email FROM leads WHERE campaign_lead_map_id = 5003"))
	assert.Equal(t, []string{"campaign_id=101|day=2026-11-27T00:00:00Z|sent_count=11|from_run2=false",
		"campaign_id=101|day=2026-11-28T00:00:00Z|sent_count=12|from_run2=true",
		"campaign_id=101|day=2026-11-29T00:00:00Z|sent_count=3|from_run2=true"},
		dumpRows(t, s.DB(), "SELECT campaign_id, day, sent_count, run_id = ? AS from_run2 FROM campaign_daily_stats", r2.ID()))
	latest, err := s.LatestSucceeded(t.Context())
	require.NoError(t, err)
	assert.Equal(t, r2.ID(), latest.RunID)
	assert.NotEqual(t, r1.ID(), r2.ID())
}

// TestAbortLeavesWarehouseUnchanged: a failed or cancelled run discards its
// rows and leaves every table and view exactly as before; an incomplete one
// keeps its staged rows for a later run but the views do not move.
func TestAbortLeavesWarehouseUnchanged(t *testing.T) {
	for _, status := range []Status{StatusFailed, StatusCancelled, StatusIncomplete} {
		t.Run(string(status), func(t *testing.T) {
			s, _ := openTest(t, Options{})
			loadRun(t, s, day(1), fullBatch(1))
			before := contents(t, s.DB())

			ctx, cancel := context.WithCancel(t.Context())
			r, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(2)})
			require.NoError(t, err)
			require.NoError(t, r.Write(ctx, fullBatch(2)))
			require.NoError(t, r.flush(ctx))
			require.NoError(t, r.Write(ctx, transform.Batch{Leads: synthLeads(777, 0, 10)}))
			cancel() // a cancelled run is recorded even though its context is done
			cause := errors.New("extract: GET /campaigns/{id}/leads?api_key=sk-secret-123: 500")
			require.NoError(t, r.Abort(ctx, status, cause, Counters{Requests: 4}))

			require.Equal(t, before, contents(t, s.DB()))
			info, err := s.latestRun(t.Context())
			require.NoError(t, err)
			assert.Equal(t, status, info.Status)
			assert.Equal(t, int64(4), info.Counters.Requests)
			assert.Contains(t, info.Error, "GET /campaigns/{id}/leads")
			assert.NotContains(t, info.Error, "sk-secret-123")

			staged := count(t, s.DB(), "SELECT count(*) FROM stage.leads_staged WHERE run_id = ?", r.ID())
			if status == StatusIncomplete {
				assert.Equal(t, int64(13), staged, "an incomplete run keeps every row it wrote")
				assert.Equal(t, int64(13), info.Rows["leads"])
			} else {
				for _, name := range stagedTables() {
					assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage."+name+" WHERE run_id = ?", r.ID()), name)
				}
			}
			// The next run starts cleanly, and an incomplete run's rows survive it.
			r2, err := s.BeginRun(t.Context(), RunStart{SnapshotDate: day(2)})
			require.NoError(t, err)
			assert.Equal(t, staged, count(t, s.DB(), "SELECT count(*) FROM stage.leads_staged WHERE run_id = ?", r.ID()))
			require.NoError(t, r2.Write(t.Context(), fullBatch(2)))
			sum, err := r2.Commit(t.Context(), Counters{})
			require.NoError(t, err)
			assert.Equal(t, int64(3), sum.Rows["leads"], "the new run holds only its own rows")
			assert.Equal(t, int64(3), count(t, s.DB(), "SELECT count(*) FROM leads"))
		})
	}
}

// TestCrashedRunMarkedFailed: a run left 'running' (its process gone) is
// marked failed by the next BeginRun, which also discards its staged rows.
func TestCrashedRunMarkedFailed(t *testing.T) {
	path := t.TempDir() + "/wh.duckdb"
	s1, err := Open(t.Context(), path, os.DirFS("../sql/schema"), Options{})
	require.NoError(t, err)
	loadRunNoCleanup(t, s1, day(1), fullBatch(1))
	r, err := s1.BeginRun(t.Context(), RunStart{SnapshotDate: day(2)})
	require.NoError(t, err)
	require.NoError(t, r.Write(t.Context(), transform.Batch{Leads: synthLeads(101, 0, 500)}))
	require.NoError(t, r.flush(t.Context()))
	require.NoError(t, s1.Close()) // as if the process died: no Commit, no Abort

	s := openAt(t, path, Options{})
	before := contents(t, s.DB())
	require.Equal(t, int64(500), count(t, s.DB(), "SELECT count(*) FROM stage.leads_staged WHERE run_id = ?", r.ID()))
	r2, err := s.BeginRun(t.Context(), RunStart{SnapshotDate: day(2)})
	require.NoError(t, err)
	rows := rowMaps(t, s.DB(), "SELECT status, error, finished_at IS NOT NULL AS finished FROM etl_runs WHERE run_id = ?", r.ID())
	require.Len(t, rows, 1)
	assert.Equal(t, string(StatusFailed), rows[0]["status"])
	assert.Equal(t, "true", rows[0]["finished"])
	assert.Contains(t, rows[0]["error"], "stopped before finishing")
	assert.Contains(t, rows[0]["error"], r2.ID())
	assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage.leads_staged WHERE run_id = ?", r.ID()))
	assert.Equal(t, before, contents(t, s.DB()))

	require.NoError(t, r2.Write(t.Context(), fullBatch(2)))
	sum, err := r2.Commit(t.Context(), Counters{})
	require.NoError(t, err)
	assert.Equal(t, StatusSucceeded, sum.Status)
}

func loadRunNoCleanup(t *testing.T, s *Store, snap time.Time, b transform.Batch) {
	t.Helper()
	r, err := s.BeginRun(t.Context(), RunStart{SnapshotDate: snap})
	require.NoError(t, err)
	require.NoError(t, r.Write(t.Context(), b))
	_, err = r.Commit(t.Context(), Counters{})
	require.NoError(t, err)
}

// TestDuplicateKeyFailsRun: a key twice in one snapshot is a bug; the run
// fails, the checks say which key, and the warehouse is as before.
func TestDuplicateKeyFailsRun(t *testing.T) {
	s, _ := openTest(t, Options{})
	loadRun(t, s, day(1), fullBatch(1))
	before := contents(t, s.DB())

	r, err := s.BeginRun(t.Context(), RunStart{SnapshotDate: day(2)})
	require.NoError(t, err)
	b := fullBatch(2)
	require.NoError(t, r.Write(t.Context(), b))
	require.NoError(t, r.Write(t.Context(), transform.Batch{Leads: b.Leads[:1], DailyStats: b.DailyStats[1:]}))
	sum, err := r.Commit(t.Context(), Counters{})
	require.ErrorIs(t, err, ErrCheckFailed)
	require.NotNil(t, sum)
	assert.Equal(t, StatusFailed, sum.Status)
	assert.Contains(t, err.Error(), "leads campaign_lead_map_id=5001: 2 rows share this key")

	var errs []Check
	for _, c := range sum.Checks {
		if c.Severity == SeverityError {
			errs = append(errs, c)
		}
	}
	assert.Equal(t, []Check{
		{Name: "unique_key", Subject: "campaign_daily_stats campaign_id=101, day=2026-11-29", Detail: "2 rows share this key", Severity: SeverityError},
		{Name: "unique_key", Subject: "leads campaign_lead_map_id=5001", Detail: "2 rows share this key", Severity: SeverityError},
	}, errs)
	assert.Equal(t, before, contents(t, s.DB()))
	assert.Equal(t, int64(2), count(t, s.DB(), `SELECT count(*) FROM data_checks WHERE run_id = ? AND severity = 'error'`, r.ID()))
	info, err := s.latestRun(t.Context())
	require.NoError(t, err)
	assert.Equal(t, StatusFailed, info.Status)
	assert.Contains(t, info.Error, "data check failed")
	for _, name := range stagedTables() {
		assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage."+name+" WHERE run_id = ?", r.ID()), name)
	}
}

// TestWarningsKeepSnapshotVisible: a counter lower than in the previous
// snapshot, and leads that do not match total_leads or the analytics'
// leads_total, are warnings: the snapshot is published and flagged.
func TestWarningsKeepSnapshotVisible(t *testing.T) {
	s, _ := openTest(t, Options{})
	r1, _ := loadRun(t, s, day(1), fullBatch(3))

	b := fullBatch(1) // counters of campaign 101 are 2 lower than in fullBatch(3)
	b.Totals = []transform.ReportedTotal{{Stream: "leads", CampaignID: 101, Total: 5}, {Stream: "leads", CampaignID: 102, Total: 1},
		{Stream: "lead_email_stats", CampaignID: 101, Total: 2}}
	b.Sequences = append(b.Sequences, transform.Sequence{SequenceID: 302, CampaignID: 999, SeqNumber: 1})
	r2, sum := loadRun(t, s, day(2), b)
	require.Equal(t, StatusSucceeded, sum.Status)
	require.True(t, sum.Partial(), "warnings want a look")

	var warn []Check
	for _, c := range sum.Checks {
		if c.Severity == SeverityWarning {
			warn = append(warn, c)
		}
	}
	since := " since run " + r1.ID()
	assert.Equal(t, []Check{
		{Name: "counter_drop", Subject: "campaign 101", Detail: "click_count dropped from 13 to 11" + since, Severity: SeverityWarning},
		{Name: "counter_drop", Subject: "campaign 101", Detail: "open_count dropped from 53 to 51" + since, Severity: SeverityWarning},
		{Name: "counter_drop", Subject: "campaign 101", Detail: "reply_count dropped from 8 to 6" + since, Severity: SeverityWarning},
		{Name: "counter_drop", Subject: "campaign 101", Detail: "sent_count dropped from 103 to 101" + since, Severity: SeverityWarning},
		{Name: "counter_drop", Subject: "campaign 101", Detail: "total_count dropped from 103 to 101" + since, Severity: SeverityWarning},
		{Name: "counter_drop", Subject: "campaign 101", Detail: "unique_click_count dropped from 12 to 10" + since, Severity: SeverityWarning},
		{Name: "counter_drop", Subject: "campaign 101", Detail: "unique_open_count dropped from 43 to 41" + since, Severity: SeverityWarning},
		{Name: "counter_drop", Subject: "campaign 101", Detail: "unique_sent_count dropped from 93 to 91" + since, Severity: SeverityWarning},
		{Name: "reported_total", Subject: "leads campaign 101", Detail: "loaded 2 rows, the API reported 5", Severity: SeverityWarning},
		{Name: "orphan_campaign", Subject: "sequences campaign 999", Detail: "1 rows refer to a campaign that is not in this snapshot's campaigns", Severity: SeverityWarning},
	}, warn)
	assert.Equal(t, len(warn), sum.Warnings)
	assert.Equal(t, r2.ID(), count2str(t, s, "SELECT max(run_id) FROM latest_run"))
	assert.Equal(t, int64(len(warn)), count(t, s.DB(), `SELECT warnings FROM etl_runs WHERE run_id = ?`, r2.ID()))
	assert.Equal(t, []string{"campaign_id=101|total=5", "campaign_id=102|total=1"},
		dumpRows(t, s.DB(), `SELECT campaign_id, total FROM reported_totals WHERE run_id = ? AND stream = 'leads'`, r2.ID()))
}

func count2str(t *testing.T, s *Store, q string) string {
	t.Helper()
	var v string
	require.NoError(t, s.DB().QueryRow(q).Scan(&v))
	return v
}

// TestAnalyticsLeadsTotalWarning: leads loaded for a campaign disagree with
// its analytics' campaign_lead_stats total, while total_leads agrees.
func TestAnalyticsLeadsTotalWarning(t *testing.T) {
	s, _ := openTest(t, Options{})
	b := fullBatch(1)
	b.CampaignAnalytics[1].LeadsTotal = 4
	_, sum := loadRun(t, s, day(1), b)
	var warn []Check
	for _, c := range sum.Checks {
		if c.Severity != SeverityOK {
			warn = append(warn, c)
		}
	}
	assert.Equal(t, []Check{{Name: "analytics_leads_total", Subject: "campaign 102",
		Detail: "analytics leads_total is 4 but 1 leads were loaded", Severity: SeverityWarning}}, warn)
}

// TestRetention: Retain keeps the last N succeeded snapshots in every
// history table and never the latest one less, whatever failed after it.
func TestRetention(t *testing.T) {
	s, _ := openTest(t, Options{Retain: 2})
	var ids []string
	for n := 1; n <= 4; n++ {
		r, _ := loadRun(t, s, day(n), fullBatch(n))
		ids = append(ids, r.ID())
	}
	r, err := s.BeginRun(t.Context(), RunStart{SnapshotDate: day(5)})
	require.NoError(t, err)
	require.NoError(t, r.Abort(t.Context(), StatusFailed, errors.New("boom"), Counters{}))

	for _, tb := range versioned() {
		h := tb.name + "_history"
		assert.Equal(t, []string{"run_id=" + ids[2], "run_id=" + ids[3]}, dumpRows(t, s.DB(), "SELECT DISTINCT run_id FROM "+h), h)
	}
	assert.Equal(t, int64(3), count(t, s.DB(), "SELECT count(*) FROM leads"))
	assert.Equal(t, int64(5), count(t, s.DB(), "SELECT count(*) FROM etl_runs"), "the run ledger is never pruned")
	assert.Equal(t, int64(5), count(t, s.DB(), "SELECT count(*) FROM campaign_daily_stats"), "daily stats are not snapshots")

	// Retain 1 keeps exactly the latest succeeded snapshot.
	s.opts.Retain = 1
	r5, _ := loadRun(t, s, day(6), fullBatch(6))
	assert.Equal(t, []string{"run_id=" + r5.ID()}, dumpRows(t, s.DB(), "SELECT DISTINCT run_id FROM leads_history"))
}

// TestRejectedRecordsStored: rejected records are kept with their raw JSON
// (or raw text, when it is not JSON), counted, and the run still succeeds.
func TestRejectedRecordsStored(t *testing.T) {
	s, _ := openTest(t, Options{})
	b := fullBatch(1)
	b.Rejected = []transform.Rejected{
		{Stream: "leads", RecordKey: "5009", Field: "lead.created_at", Reason: `cannot parse "yesterday" as a timestamp`,
			Raw: transform.JSON(`{"campaign_lead_map_id":5009,"created_at":"yesterday"}`)},
		{Stream: "leads", RecordKey: "offset=7", Field: "", Reason: "not a JSON object", Raw: transform.JSON(`{"trunc`)},
	}
	r, sum := loadRun(t, s, day(1), b)
	assert.Equal(t, StatusSucceeded, sum.Status)
	assert.Equal(t, int64(2), sum.Rejected)
	assert.Equal(t, []string{
		`stream=leads|record_key=5009|field=lead.created_at|reason=cannot parse "yesterday" as a timestamp|raw={"campaign_lead_map_id":5009,"created_at":"yesterday"}`,
		`stream=leads|record_key=offset=7|field=|reason=not a JSON object|raw={"trunc`,
	}, dumpRows(t, s.DB(), `SELECT stream, record_key, field, reason, raw FROM rejected_records WHERE run_id = ?`, r.ID()))
	assert.Equal(t, "VARCHAR", count2str(t, s, `SELECT DISTINCT json_type(raw) FROM rejected_records WHERE record_key = 'offset=7'`),
		"text that is not JSON is kept as a JSON string")
	assert.Equal(t, int64(2), count(t, s.DB(), `SELECT rejected FROM etl_runs WHERE run_id = ?`, r.ID()))
	// total_leads (2 for campaign 101) still matches: rejects are extra, not subtracted.
	assert.Zero(t, sum.Warnings, "%+v", sum.Checks)
}

// TestAttemptsKeptAfterFailedRun: api_requests rows are written at once and
// survive the run's failure; RecentAttempts reads them back.
func TestAttemptsKeptAfterFailedRun(t *testing.T) {
	s, _ := openTest(t, Options{})
	r, err := s.BeginRun(t.Context(), RunStart{SnapshotDate: day(1)})
	require.NoError(t, err)
	attempts := []extract.Attempt{
		{At: t0.Add(time.Minute), Endpoint: "/campaigns/", Status: 200, Duration: 120 * time.Millisecond, Attempt: 1, RateRemaining: 59},
		{At: t0.Add(2 * time.Minute), Endpoint: "/campaigns/{id}/leads", CampaignID: 101, Status: 429, Duration: 1500 * time.Microsecond,
			Attempt: 1, Waited: 2 * time.Second, RateRemaining: -1, Err: "429 from https://server.smartlead.ai/api/v1/campaigns/101/leads?api_key=sk-live-9&offset=0"},
	}
	require.NoError(t, r.LogAttempts(t.Context(), attempts))
	require.NoError(t, r.Write(t.Context(), fullBatch(1)))
	require.NoError(t, r.Abort(t.Context(), StatusFailed, errors.New("too many 429s"), Counters{Requests: 2, Throttled: 1}))

	assert.Equal(t, []string{
		"run_id=" + r.ID() + "|at=2026-11-27T02:01:00Z|endpoint=/campaigns/|campaign_id=NULL|status=200|duration_ms=120|attempt=1|waited_ms=0|rate_remaining=59|error=NULL",
		"run_id=" + r.ID() + "|at=2026-11-27T02:02:00Z|endpoint=/campaigns/{id}/leads|campaign_id=101|status=429|duration_ms=1.5|attempt=1|waited_ms=2000|rate_remaining=NULL|error=429 from https://server.smartlead.ai/api/v1/campaigns/101/leads?api_key=REDACTED&offset=0",
	}, dumpRows(t, s.DB(), "SELECT * FROM api_requests"))
	got, err := s.RecentAttempts(t.Context(), t0.Add(90*time.Second))
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.True(t, got[0].Equal(t0.Add(2*time.Minute)), got[0])
	got, err = s.RecentAttempts(t.Context(), t0)
	require.NoError(t, err)
	assert.Len(t, got, 2)
}

// TestNoSecretColumns: nothing in the schema can hold a password or key.
func TestNoSecretColumns(t *testing.T) {
	s, _ := openTest(t, Options{})
	cols := dumpRows(t, s.DB(), `SELECT table_name, column_name FROM information_schema.columns
		WHERE lower(column_name) SIMILAR TO '.*(password|passwd|api_?key|secret|token).*'`)
	assert.Empty(t, cols)
	assert.NotZero(t, count(t, s.DB(), `SELECT count(*) FROM information_schema.columns WHERE table_name = 'email_accounts'`))
}

// TestTableSpecsMatchSchema holds the Appender's positional column lists
// and the SQL schema together, and the views to the physical tables.
func TestTableSpecsMatchSchema(t *testing.T) {
	s, _ := openTest(t, Options{})
	columns := func(table string) []string {
		rows := rowMaps(t, s.DB(), `SELECT column_name, data_type FROM information_schema.columns
			WHERE table_name = ? ORDER BY ordinal_position`, table)
		require.NotEmpty(t, rows, table)
		out := make([]string, len(rows))
		for i, r := range rows {
			out[i] = r["column_name"] + " " + r["data_type"]
		}
		return out
	}
	names := func(cols []string) []string {
		out := make([]string, len(cols))
		for i, c := range cols {
			out[i] = c[:strings.Index(c, " ")]
		}
		return out
	}
	for _, tb := range tables {
		phys := columns(tb.staged)
		require.Equal(t, append([]string{"run_id", "batch", "snapshot_date", "extracted_at"}, tb.cols...), names(phys), tb.staged)
		if !tb.upsert {
			assert.Equal(t, append([]string{"valid_from", "valid_to", "extracted_at"}, tb.cols...), names(columns(tb.physical)), tb.physical)
		}
		for _, c := range tb.jsonCols {
			assert.Contains(t, phys, c+" JSON", tb.physical)
		}
		if tb.upsert {
			assert.Equal(t, append(slices.Clone(tb.cols), "run_id", "extracted_at"), names(columns(tb.name)))
			continue
		}
		lineage := []string{"run_id VARCHAR", "snapshot_date DATE", "extracted_at TIMESTAMP WITH TIME ZONE"}
		assert.Equal(t, append(lineage, phys[prefix:]...), columns(tb.name+"_history"), tb.name)
		assert.Equal(t, append(lineage, phys[prefix:]...), columns(tb.name), tb.name)
	}
}

// TestInvalidJSONNamesRecordAndField: a row whose JSON column is not JSON
// is refused with the table, key and column; the run must then be aborted.
func TestInvalidJSONNamesRecordAndField(t *testing.T) {
	s, _ := openTest(t, Options{})
	r, err := s.BeginRun(t.Context(), RunStart{SnapshotDate: day(1)})
	require.NoError(t, err)
	leads := synthLeads(101, 0, 3)
	leads[1].CustomFields = transform.JSON(`{"a":`)
	err = r.Write(t.Context(), transform.Batch{Leads: leads})
	require.EqualError(t, err, "load: leads campaign_lead_map_id=101000001: column custom_fields: not valid JSON")
	// Committing a broken run ends it as failed, and its rows are gone.
	_, err = r.Commit(t.Context(), Counters{})
	require.ErrorContains(t, err, "cannot continue after an earlier error")
	require.ErrorContains(t, r.Abort(t.Context(), StatusFailed, err, Counters{}), "has already ended")
	info, err := s.latestRun(t.Context())
	require.NoError(t, err)
	assert.Equal(t, StatusFailed, info.Status)
	assert.Contains(t, info.Error, "column custom_fields: not valid JSON")
	assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage.leads_staged"))

	r, err = s.BeginRun(t.Context(), RunStart{SnapshotDate: day(1)})
	require.NoError(t, err)
	require.NoError(t, r.Write(t.Context(), transform.Batch{Leads: synthLeads(101, 0, 3)}))
	err = r.Write(t.Context(), transform.Batch{Totals: []transform.ReportedTotal{{Stream: "clients", CampaignID: 1, Total: 2}}})
	require.ErrorContains(t, err, `reported total for campaign 1: unknown stream "clients"`)
	// A run whose Write failed cannot be kept as incomplete: it fails.
	require.NoError(t, r.Abort(t.Context(), StatusIncomplete, nil, Counters{}))
	info, err = s.latestRun(t.Context())
	require.NoError(t, err)
	assert.Equal(t, StatusFailed, info.Status)
	assert.Contains(t, info.Error, `unknown stream "clients"`)
	assert.Zero(t, count(t, s.DB(), "SELECT count(*) FROM stage.leads_staged"))
}

func TestRunLifecycleErrors(t *testing.T) {
	s, _ := openTest(t, Options{})
	_, err := s.BeginRun(t.Context(), RunStart{})
	require.ErrorContains(t, err, "SnapshotDate is required")
	_, err = s.BeginRun(t.Context(), RunStart{SnapshotDate: day(1), Config: map[string]any{"extract": map[string]any{"API_KEY": "x"}}})
	require.ErrorContains(t, err, `run config key "API_KEY" looks like a credential`)
	_, err = s.BeginRun(t.Context(), RunStart{SnapshotDate: day(1), Config: "{not json"})
	require.ErrorContains(t, err, "run config is not JSON")

	r, err := s.BeginRun(t.Context(), RunStart{SnapshotDate: day(1), Config: `{"deadline":"06:00"}`})
	require.NoError(t, err)
	_, err = s.BeginRun(t.Context(), RunStart{SnapshotDate: day(1)})
	require.ErrorIs(t, err, ErrRunActive)
	require.ErrorContains(t, r.Abort(t.Context(), StatusSucceeded, nil, Counters{}), `status "succeeded" is not failed`)
	_, err = r.Commit(t.Context(), Counters{})
	require.NoError(t, err)
	require.ErrorContains(t, r.Write(t.Context(), fullBatch(1)), "has already ended")
	require.ErrorContains(t, r.Abort(t.Context(), StatusFailed, nil, Counters{}), "has already ended")
	assert.Equal(t, int64(0), count(t, s.DB(), "SELECT count(*) FROM leads"), "an empty run publishes an empty snapshot")
}

// TestMigrations: applied once, recorded, and a database from a newer
// program (an unknown migration) or a badly named file is refused.
func TestMigrations(t *testing.T) {
	s, path := openTest(t, Options{})
	assert.Equal(t, []string{"version=1|name=warehouse", "version=2|name=work_queue", "version=3|name=row_versions", "version=4|name=webhook_events",
		"version=5|name=change_signals", "version=6|name=run_seconds"}, dumpRows(t, s.DB(), "SELECT version, name FROM schema_migrations"))
	require.NoError(t, s.Close())

	schema := fstest.MapFS{}
	entries, err := os.ReadDir("../sql/schema")
	require.NoError(t, err)
	for _, e := range entries {
		b, err := os.ReadFile("../sql/schema/" + e.Name())
		require.NoError(t, err)
		schema[e.Name()] = &fstest.MapFile{Data: b}
	}
	schema["900_extra.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE extra (a INT); ALTER TABLE etl_runs ADD COLUMN note VARCHAR;")}
	s1, err := Open(t.Context(), path, schema, Options{})
	require.NoError(t, err)
	require.NoError(t, s1.Close())
	// Numbers may have gaps, and a migration numbered below one already
	// applied (a branch merged later) is applied when it arrives.
	schema["007_later.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE later (a INT);")}
	s2, err := Open(t.Context(), path, schema, Options{})
	require.NoError(t, err)
	assert.Equal(t, []string{"version=1|name=warehouse", "version=2|name=work_queue", "version=3|name=row_versions",
		"version=4|name=webhook_events", "version=5|name=change_signals", "version=6|name=run_seconds", "version=7|name=later", "version=900|name=extra"}, dumpRows(t, s2.DB(), "SELECT version, name FROM schema_migrations"))
	require.NoError(t, s2.Close())

	_, err = Open(t.Context(), path, os.DirFS("../sql/schema"), Options{})
	require.ErrorContains(t, err, "which this program does not know") // 7 or 900

	schema["bad.sql"] = &fstest.MapFile{Data: []byte("SELECT 1")}
	_, err = Open(t.Context(), path, schema, Options{})
	require.ErrorContains(t, err, `schema file "bad.sql": name must be NNN_name.sql`)

	broken := fstest.MapFS{"001_x.sql": {Data: []byte("CREATE TABLE a (x INT); CREATE TABLE nope (")}}
	_, err = Open(t.Context(), t.TempDir()+"/b.duckdb", broken, Options{})
	require.ErrorContains(t, err, "apply migration 001_x.sql")
}

// TestOpenReadOnly: a reader sees the views and cannot start a run.
func TestOpenReadOnly(t *testing.T) {
	path := t.TempDir() + "/wh.duckdb"
	s, err := Open(t.Context(), path, os.DirFS("../sql/schema"), Options{})
	require.NoError(t, err)
	loadRunNoCleanup(t, s, day(1), fullBatch(1))
	require.NoError(t, s.Close())

	ro, err := OpenReadOnly(t.Context(), path, Options{})
	require.NoError(t, err)
	defer ro.Close()
	assert.Equal(t, int64(3), count(t, ro.DB(), "SELECT count(*) FROM leads"))
	_, err = ro.BeginRun(t.Context(), RunStart{SnapshotDate: day(2)})
	require.ErrorContains(t, err, "read-only")
	_, err = ro.DB().Exec("DELETE FROM leads_history")
	require.Error(t, err)

	_, err = OpenReadOnly(t.Context(), t.TempDir()+"/missing.duckdb", Options{})
	require.ErrorIs(t, err, os.ErrNotExist)
}
