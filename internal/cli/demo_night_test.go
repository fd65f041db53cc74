package cli

import (
	"bytes"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	demoRequestsRe    = regexp.MustCompile(`(?m)^  requests\s+(\d+)\s+(\d+)$`)
	demoReadRe        = regexp.MustCompile(`(?m)^  campaigns read \(of (\d+)\)\s+(\d+)\s+(\d+)$`)
	demoCarriedRe     = regexp.MustCompile(`(?m)^  campaigns carried, no request\s+(\d+)\s+(\d+)$`)
	demoRowsCarriedRe = regexp.MustCompile(`(?m)^  rows carried from the night before\s+(\d+) of (\d+)\s+(\d+) of (\d+)$`)
)

// requireSecondNight checks the demo's second night (out is the demo's
// stdout, db its warehouse): two succeeded runs, the second incremental;
// the printed requests and campaigns read are the ledger's; the second
// night made fewer requests than the first, plan said beforehand which
// signals flagged what, and no campaign the simulated night changed was
// left unread.
func requireSecondNight(t *testing.T, out, db string) {
	t.Helper()
	require.Contains(t, out, "== a second night")
	m := demoRequestsRe.FindStringSubmatch(out)
	require.NotNil(t, m, out)
	r1, _ := strconv.Atoi(m[1])
	r2, _ := strconv.Atoi(m[2])
	rd := demoReadRe.FindStringSubmatch(out)
	require.NotNil(t, rd, out)
	total, _ := strconv.Atoi(rd[1])
	read1, _ := strconv.Atoi(rd[2])
	read2, _ := strconv.Atoi(rd[3])
	c := demoCarriedRe.FindStringSubmatch(out)
	require.NotNil(t, c, out)
	carried2, _ := strconv.Atoi(c[2])

	conn := openDB(t, db)
	defer conn.Close()
	runs := func(q string) []int64 {
		rows, err := conn.Query(q)
		require.NoError(t, err)
		defer rows.Close()
		var out []int64
		for rows.Next() {
			var n int64
			require.NoError(t, rows.Scan(&n))
			out = append(out, n)
		}
		require.NoError(t, rows.Err())
		return out
	}
	ordered := "FROM etl_runs r WHERE status = 'succeeded' ORDER BY commit_seq"
	require.Equal(t, []int64{int64(r1), int64(r2)}, runs("SELECT requests "+ordered), out)
	require.Equal(t, []int64{int64(read1), int64(read2)},
		runs("SELECT (SELECT count(DISTINCT campaign_id) FROM api_requests a WHERE a.run_id = r.run_id) "+ordered), out)
	rc := demoRowsCarriedRe.FindStringSubmatch(out)
	require.NotNil(t, rc, out)
	assert.Equal(t, "0", rc[1], "the first night carries nothing")
	assert.NotEqual(t, "0", rc[3], "the second night is incremental: it carries rows")
	assert.EqualValues(t, total, scalar[int64](t, conn, "SELECT count(*) FROM campaigns"))
	assert.Equal(t, total, read1, "the first night reads every campaign")
	assert.Equal(t, total-read2, carried2)
	assert.Less(t, r2, r1, "the second night costs less: %s", out)
	assert.LessOrEqual(t, read2, read1, out)
	assert.Contains(t, out, "Why night 2 read ")
	assert.Regexp(t, `(?m)^flagged: +new \d+, settings \d+, activity \d+`, out, "plan says why, before the night")
	assert.NotContains(t, out, "NOT read although they changed", "the signals flagged every campaign the night changed")
}

// writeWhy sorts night 2's campaigns by what happened to them: late
// activity on a finished campaign, activity on one that still sends,
// settings only, nothing (read anyway), nothing (carried), and a changed
// campaign left unread, which it names.
func TestDemoWhy(t *testing.T) {
	t.Parallel()
	status := map[int64]string{1: "COMPLETED", 2: "STOPPED", 3: "ACTIVE", 4: "ACTIVE", 5: "PAUSED", 6: "COMPLETED", 7: "ACTIVE", 8: "COMPLETED"}
	n2 := nightFacts{read: map[int64]bool{1: true, 2: true, 3: true, 4: true, 5: true}}
	changed := map[int64]bool{1: true, 2: true, 3: true, 8: true}
	settings := map[int64]bool{4: true, 3: true}
	var b bytes.Buffer
	writeWhy(&b, n2, status, changed, settings)
	out := b.String()
	assert.Contains(t, out, "Why night 2 read 5 campaigns:")
	assert.Contains(t, out, "  2 no longer send (COMPLETED, STOPPED, PAUSED) but got late opens or replies")
	assert.Contains(t, out, "  1 still send and had the day's activity")
	assert.Contains(t, out, "  1 had only their settings changed")
	assert.Contains(t, out, "  1 did not change: read to make sure")
	assert.Contains(t, out, "The other 2, to which nothing happened, were carried")
	assert.Contains(t, out, "NOT read although they changed overnight: 1 campaign [8];")
	assert.NotContains(t, out, "costs what happened")

	delete(changed, 8)
	b.Reset()
	writeWhy(&b, n2, status, changed, settings)
	assert.NotContains(t, b.String(), "NOT read")
	assert.Contains(t, b.String(), "The other 3, to which nothing happened")
	assert.Contains(t, b.String(), "costs what happened")
}
