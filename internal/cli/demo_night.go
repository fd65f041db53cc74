package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/load"
)

// demoNightChange is the demo's second night: an agency night (late
// activity on campaigns that no longer send, the day's sends in active
// ones, a settings change), with shares raised so that a 20-campaign
// account shows each kind at least once.
var demoNightChange = fakeapi.RealisticNight{LateFrac: 0.5, ActiveFrac: 0.5, SettingsFrac: 0.05,
	LateEvents: 3, ActiveEvents: 3, SendFrac: 1, NewLeads: 1}

// nightFacts is what the warehouse says one run read.
type nightFacts struct {
	runID     string
	requests  int64
	read      map[int64]bool // campaigns with at least one request of their own
	endpoints map[string]int64
}

// demoSecondNight lets the simulated account live one realistic night,
// then runs the nightly job again (incremental: there is a snapshot) and
// sets what it read against the first night and against what happened,
// from the request ledger: requests per endpoint, campaigns read and
// carried, and why.
func (e *env) demoSecondNight(ctx context.Context, cfg runConfig, srv *fakeapi.Server, first *load.Summary, log *slog.Logger, con *console) error {
	out := e.stdout
	rep := srv.RealisticNight(demoNightChange)
	changed := map[int64]bool{}
	for _, id := range rep.Campaigns {
		changed[id] = true
	}
	settings := map[int64]bool{}
	for _, id := range rep.SettingsChanged {
		settings[id] = true
	}
	fmt.Fprintf(out, "\n== a second night: only what changed is read\n"+
		"Overnight the simulated account lived a day: %d events (opens, clicks, replies, category changes), %d emails sent, %d new leads, in %d campaigns; new settings in %d.\n"+
		"First what the next night will read, from the account-wide change signals (a few requests):\n"+
		"$ %s plan --db %s\n",
		rep.Events, rep.NewSends, rep.NewLeads, len(rep.Campaigns), len(rep.SettingsChanged), e.Name, shellQuote(cfg.db))
	if err := e.printPlan(ctx, cfg, log); err != nil {
		return err
	}
	fmt.Fprintf(out, "Then the nightly job, as cron runs it (%s run): there is a snapshot, so the night is incremental.\n", e.Name)
	sum, err := e.runPipeline(ctx, cfg, log, con)
	if err != nil && !errors.Is(err, errPartial) {
		return err
	}
	store, oerr := openReadOnly(ctx, cfg.dbFlags)
	if oerr != nil {
		return oerr
	}
	defer store.Close()
	n1, ferr := readNight(ctx, store, first.RunID)
	if ferr != nil {
		return ferr
	}
	n2, ferr := readNight(ctx, store, sum.RunID)
	if ferr != nil {
		return ferr
	}
	status, serr := campaignStatuses(ctx, store)
	if serr != nil {
		return serr
	}
	writeNights(out, n1, n2, first, sum, len(status))
	writeWhy(out, n2, status, changed, settings)
	return err
}

// readNight reads one run's requests from etl_runs and the ledger.
func readNight(ctx context.Context, store *load.Store, runID string) (nightFacts, error) {
	f := nightFacts{runID: runID, read: map[int64]bool{}, endpoints: map[string]int64{}}
	db := store.DB()
	if err := db.QueryRowContext(ctx, `SELECT coalesce(requests, 0) FROM etl_runs WHERE run_id = ?`, runID).Scan(&f.requests); err != nil {
		return f, fmt.Errorf("demo: run %s: %w", runID, err)
	}
	rows, err := db.QueryContext(ctx, `SELECT endpoint, campaign_id, count(*) FROM api_requests WHERE run_id = ? GROUP BY ALL`, runID)
	if err != nil {
		return f, fmt.Errorf("demo: requests of run %s: %w", runID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var ep string
		var id *int64
		var n int64
		if err := rows.Scan(&ep, &id, &n); err != nil {
			return f, err
		}
		f.endpoints[ep] += n
		if id != nil {
			f.read[*id] = true
		}
	}
	return f, rows.Err()
}

// campaignStatuses is the published snapshot's campaigns and statuses.
func campaignStatuses(ctx context.Context, store *load.Store) (map[int64]string, error) {
	rows, err := store.DB().QueryContext(ctx, `SELECT campaign_id, status FROM campaigns`)
	if err != nil {
		return nil, fmt.Errorf("demo: campaigns: %w", err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var st string
		if err := rows.Scan(&id, &st); err != nil {
			return nil, err
		}
		out[id] = st
	}
	return out, rows.Err()
}

// writeNights is the two nights side by side: requests, campaigns read
// and carried, rows carried, then requests per endpoint.
func writeNights(w io.Writer, n1, n2 nightFacts, s1, s2 *load.Summary, campaigns int) {
	// Daily stats are upserted, not kept per snapshot: their count is
	// the rows a night wrote, so they are left out of the snapshot's.
	total := func(m map[string]int64) (n int64) {
		for table, v := range m {
			if table != string(extract.StreamCampaignDailyStats) {
				n += v
			}
		}
		return n
	}
	const row = "  %-40s %15v %22v\n"
	fmt.Fprintf(w, "\n"+row, "", "night 1 (full)", "night 2 (incremental)")
	fmt.Fprintf(w, row, "requests", n1.requests, n2.requests)
	fmt.Fprintf(w, row, fmt.Sprintf("campaigns read (of %d)", campaigns), len(n1.read), len(n2.read))
	fmt.Fprintf(w, row, "campaigns carried, no request", max(campaigns-len(n1.read), 0), max(campaigns-len(n2.read), 0))
	fmt.Fprintf(w, row, "rows carried from the night before",
		fmt.Sprintf("%d of %d", total(s1.Carried), total(s1.Rows)), fmt.Sprintf("%d of %d", total(s2.Carried), total(s2.Rows)))
	eps := map[string]bool{}
	for ep := range n1.endpoints {
		eps[ep] = true
	}
	for ep := range n2.endpoints {
		eps[ep] = true
	}
	names := make([]string, 0, len(eps))
	for ep := range eps {
		names = append(names, ep)
	}
	// The busiest endpoints of the first night first.
	slices.SortFunc(names, func(a, b string) int {
		if d := n1.endpoints[b] - n1.endpoints[a]; d != 0 {
			return int(d)
		}
		return strings.Compare(a, b)
	})
	fmt.Fprintln(w, "  requests by endpoint:")
	for _, ep := range names {
		fmt.Fprintf(w, row, "  "+ep, n1.endpoints[ep], n2.endpoints[ep])
	}
}

// writeWhy explains night 2's reads against what the simulated night
// did: the campaigns read because they changed, those read although
// nothing changed (the night cannot tell without a request), and any
// changed campaign left unread, whose change the snapshot then misses.
func writeWhy(w io.Writer, n2 nightFacts, status map[int64]string, changed, settings map[int64]bool) {
	var act, late, set, idle, missed []int64
	for id := range status {
		moved := changed[id] || settings[id]
		switch {
		case moved && !n2.read[id]:
			missed = append(missed, id)
		case !n2.read[id]:
		case changed[id] && finished(status[id]):
			late = append(late, id)
		case changed[id]:
			act = append(act, id)
		case settings[id]:
			set = append(set, id)
		default:
			idle = append(idle, id)
		}
	}
	fmt.Fprintf(w, "\nWhy night 2 read %s:\n", plural(len(n2.read), "campaign"))
	if len(late) > 0 {
		fmt.Fprintf(w, "  %3d no longer send (COMPLETED, STOPPED, PAUSED) but got late opens or replies\n", len(late))
	}
	if len(act) > 0 {
		fmt.Fprintf(w, "  %3d still send and had the day's activity (sends, new leads, opens, replies)\n", len(act))
	}
	if len(set) > 0 {
		fmt.Fprintf(w, "  %3d had only their settings changed\n", len(set))
	}
	if len(idle) > 0 {
		fmt.Fprintf(w, "  %3d did not change: read to make sure (campaigns that still send, or a sample checking the change signals)\n", len(idle))
	}
	carried := len(status) - len(n2.read)
	fmt.Fprintf(w, "The other %d, to which nothing happened, were carried from night 1 without a request.\n", carried-len(missed))
	if len(missed) > 0 {
		slices.Sort(missed)
		fmt.Fprintf(w, "NOT read although they changed overnight: %s %v; the snapshot misses their changes until a full refresh (run --full-refresh).\n", plural(len(missed), "campaign"), missed)
	}
	if len(missed) == 0 {
		fmt.Fprintf(w, "So a night costs what happened, not the size of the account; `plan` says what the next one will read.\n")
	}
}

// finished reports whether a campaign no longer sends.
func finished(status string) bool {
	switch status {
	case "COMPLETED", "STOPPED", "PAUSED":
		return true
	}
	return false
}

// plural is "1 campaign", "2 campaigns".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
