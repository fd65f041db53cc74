package load

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/transform"
)

// A run's own checks land in data_checks with its snapshot; info is
// recorded but not counted as a warning, error is refused (a run fails
// by an error, not a check), and recording the same check again (a
// resumed run) replaces it.
func TestAddChecks(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()
	r, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(0)})
	require.NoError(t, err)
	require.NoError(t, r.Write(ctx, fullBatch(1)))
	require.ErrorContains(t, r.AddChecks(ctx, Check{Name: "x", Subject: "y", Severity: SeverityError}), `severity "error"`)
	require.ErrorContains(t, r.AddChecks(ctx, Check{Name: "x", Severity: SeverityInfo}), "subject are required")
	info := Check{Name: "change_signals", Subject: "/campaigns/all-leads-activities", Detail: "answered 404", Severity: SeverityInfo}
	require.NoError(t, r.AddChecks(ctx, info, Check{Name: "change_signals", Subject: "verification", Detail: "first", Severity: SeverityWarning}))
	info.Detail = "answered 404; fell back"
	require.NoError(t, r.AddChecks(ctx, info))
	got, err := r.checks(ctx)
	require.NoError(t, err)
	require.Equal(t, []Check{info, {Name: "change_signals", Subject: "verification", Detail: "first", Severity: SeverityWarning}}, got)

	sum, err := r.Commit(ctx, Counters{})
	require.NoError(t, err)
	require.Equal(t, 1, sum.Warnings, "info is not a warning")
	var stored []string
	for _, c := range sum.Checks {
		if c.Name == "change_signals" {
			stored = append(stored, string(c.Severity)+" "+c.Detail)
		}
	}
	require.Equal(t, []string{"info answered 404; fell back", "warning first"}, stored)
	require.Equal(t, []string{"check=change_signals|subject=/campaigns/all-leads-activities|detail=answered 404; fell back|severity=info",
		"check=change_signals|subject=verification|detail=first|severity=warning"},
		dumpRows(t, s.db, `SELECT "check", subject, detail, severity FROM data_checks WHERE "check" = 'change_signals' ORDER BY ALL`))
	require.EqualValues(t, 1, count(t, s.db, `SELECT warnings FROM etl_runs`))
}

// The overall-stats rows a night read become the memory the next night
// compares with when its snapshot is published, range by range: a range
// read again replaces its rows (a campaign it no longer lists loses its
// row), ranges not read keep theirs, and a run that stages none leaves
// the memory as it was.
func TestOverallStatsSeen(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()
	cell := func(start string, days int) OverallCell {
		d, _ := time.Parse(time.DateOnly, start)
		return OverallCell{Start: d, End: d.AddDate(0, 0, days-1)}
	}
	row := func(id int64, c OverallCell, sent int64) transform.OverallStat {
		return transform.OverallStat{CampaignID: id, Start: c.Start, End: c.End, Sent: sent, Replied: sent / 10, UniqueLeads: sent / 3}
	}
	a, b := cell("2026-10-02", 30), cell("2026-11-01", 27)
	night := func(cells []OverallCell, rows []transform.OverallStat) string {
		r, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(0)})
		require.NoError(t, err)
		require.NoError(t, r.Write(ctx, fullBatch(1)))
		require.NoError(t, r.StageOverallStats(ctx, cells, rows))
		_, err = r.Commit(ctx, Counters{})
		require.NoError(t, err)
		return r.ID()
	}
	first := night([]OverallCell{a, b}, []transform.OverallStat{row(1, a, 30), row(2, a, 60), row(1, b, 9)})
	cells, rows, err := s.Held().OverallStats(ctx)
	require.NoError(t, err)
	require.Equal(t, []OverallCell{{a.Start, a.End, first}, {b.Start, b.End, first}}, cells)
	require.Equal(t, []transform.OverallStat{row(1, a, 30), row(2, a, 60), row(1, b, 9)}, rows)

	b2 := cell("2026-11-01", 28) // the newest range grew by a day
	second := night([]OverallCell{b2}, []transform.OverallStat{row(2, b2, 3)})
	cells, rows, err = s.Held().OverallStats(ctx)
	require.NoError(t, err)
	require.Equal(t, []OverallCell{{a.Start, a.End, first}, {b2.Start, b2.End, second}}, cells)
	require.Equal(t, []transform.OverallStat{row(1, a, 30), row(2, a, 60), row(2, b2, 3)}, rows, "campaign 1 left the range read again")

	night(nil, nil)
	_, again, err := s.Held().OverallStats(ctx)
	require.NoError(t, err)
	require.Equal(t, rows, again, "a night that read none keeps the memory")

	r, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(0)})
	require.NoError(t, err)
	require.ErrorContains(t, r.StageOverallStats(ctx, []OverallCell{a}, []transform.OverallStat{row(1, b, 1)}), "not among the ranges read")
	require.NoError(t, r.Abort(ctx, StatusFailed, nil, Counters{}))
}

// A run's notes come back as kept, replaced by the last SetNotes.
func TestRunNotes(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := t.Context()
	r, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(0)})
	require.NoError(t, err)
	got, err := r.Notes(ctx)
	require.NoError(t, err)
	require.Nil(t, got)
	require.Error(t, r.SetNotes(ctx, json.RawMessage(`{"flags":`)))
	require.NoError(t, r.SetNotes(ctx, json.RawMessage(`{"a":1}`)))
	require.NoError(t, r.SetNotes(ctx, json.RawMessage(`{"flags":{"7":4}}`)))
	got, err = r.Notes(ctx)
	require.NoError(t, err)
	require.JSONEq(t, `{"flags":{"7":4}}`, string(got))
	require.NoError(t, r.Abort(ctx, StatusFailed, nil, Counters{}))
}
