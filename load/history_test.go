package load

import (
	"database/sql/driver"
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/transform"
)

// night is one run of TestHistoryMatchesCopies: the leads it stages and
// how it carries the previous snapshot's leads per campaign.
type night struct {
	staged []transform.Lead
	carry  map[int64]CarryMode // campaign -> CarryAll or CarryMerge; absent: not carried
}

// TestHistoryMatchesCopies runs six nights (full refreshes, merges, a
// carry of everything, a re-fetch of an unchanged row, a deletion, a lead
// that comes back) and compares leads_history, EXCEPT ALL both ways, with
// the snapshots today's copy semantics would hold, computed here: each
// snapshot is its staged rows plus the carried rows of the previous one;
// extracted_at is the documented one, the first fetch of the row's
// current data (a row fetched again unchanged keeps it).
func TestHistoryMatchesCopies(t *testing.T) {
	ctx := t.Context()
	now := t0 // each night's rows are extracted at its start
	s, _ := openTest(t, Options{Now: func() time.Time { return now }})
	base := append(synthLeads(101, 0, 5), synthLeads(102, 0, 4)...)
	changed := func(l transform.Lead, status string) transform.Lead { l.Status = p(status); return l }
	c101, c102 := base[:5], base[5:]
	nights := []night{
		{staged: base},
		{staged: []transform.Lead{changed(c101[0], "COMPLETED"), synthLeads(101, 5, 1)[0]},
			carry: map[int64]CarryMode{101: CarryMerge, 102: CarryAll}},
		{staged: append([]transform.Lead{c101[1]}, c102[:3]...), // c101[1] fetched again unchanged; c102[3] deleted
			carry: map[int64]CarryMode{101: CarryMerge}},
		{staged: append(append([]transform.Lead{}, base...), synthLeads(101, 5, 1)...)}, // full: c101[0] back to its first data
		{staged: []transform.Lead{changed(c102[2], "PAUSED")}, carry: map[int64]CarryMode{101: CarryAll, 102: CarryMerge}},
		{carry: map[int64]CarryMode{101: CarryAll, 102: CarryAll}},
	}

	type version struct {
		lead transform.Lead
		at   time.Time
	}
	var prev map[int64]version
	var prevRun string
	var expected []struct {
		run  string
		snap time.Time
		v    version
	}
	for i, n := range nights {
		at := t0.Add(time.Duration(i) * 24 * time.Hour)
		now = at
		r, err := s.BeginRun(ctx, RunStart{SnapshotDate: day(i)})
		require.NoError(t, err)
		if len(n.staged) > 0 {
			require.NoError(t, r.Write(ctx, transform.Batch{Leads: n.staged}))
		}
		var cs []CarrySet
		for _, c := range slices.Sorted(maps.Keys(n.carry)) {
			cs = append(cs, CarrySet{Stream: "leads", FromRun: prevRun, Mode: n.carry[c], Campaigns: []int64{c}})
		}
		if len(cs) > 0 {
			require.NoError(t, r.setCarries(ctx, cs))
		}
		_, err = r.Commit(ctx, Counters{})
		require.NoError(t, err, "night %d", i+1)

		// The copy semantics, with the documented extracted_at.
		cur := map[int64]version{}
		staged := map[int64]bool{}
		for _, l := range n.staged {
			staged[l.CampaignLeadMapID] = true
			v := version{lead: l, at: at}
			if old, ok := prev[l.CampaignLeadMapID]; ok && reflect.DeepEqual(old.lead, l) {
				v.at = old.at
			}
			cur[l.CampaignLeadMapID] = v
		}
		for k, v := range prev {
			switch n.carry[v.lead.CampaignID] {
			case CarryAll:
				cur[k] = v
			case CarryMerge:
				if !staged[k] {
					cur[k] = v
				}
			}
		}
		for _, k := range slices.Sorted(maps.Keys(cur)) {
			expected = append(expected, struct {
				run  string
				snap time.Time
				v    version
			}{r.ID(), day(i), cur[k]})
		}
		prev, prevRun = cur, r.ID()
	}

	_, err := s.DB().ExecContext(ctx, `CREATE TABLE expected_history AS SELECT * FROM leads_history LIMIT 0`)
	require.NoError(t, err)
	conn, err := s.DB().Conn(ctx)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.Raw(func(dc any) error {
		a, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", "expected_history")
		if err != nil {
			return err
		}
		v := make([]driver.Value, 3+len(tLeads.cols))
		for _, e := range expected {
			v[0], v[1], v[2] = e.run, e.snap, e.v.at
			fillLead(v[3:], &e.v.lead)
			if err := a.AppendRow(v...); err != nil {
				return err
			}
		}
		return a.Close()
	}))
	require.Equal(t, int64(len(expected)), count(t, s.DB(), "SELECT count(*) FROM leads_history"))
	for _, q := range []string{
		"SELECT * FROM leads_history EXCEPT ALL SELECT * FROM expected_history",
		"SELECT * FROM expected_history EXCEPT ALL SELECT * FROM leads_history",
	} {
		require.Empty(t, dumpRows(t, s.DB(), q), q)
	}
	// Nine leads of which one changed twice, one came back, one changed
	// once more: versions, not copies.
	require.Less(t, count(t, s.DB(), "SELECT count(*) FROM leads_rows"), int64(len(expected))/2)
}
