package dashboard_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/dashboard"
	"github.com/smartlead-etl/smartlead-etl/internal/fixture"
	"github.com/smartlead-etl/smartlead-etl/load"
)

// The browser tests open generated pages from disk in Debian's headless
// Chromium, driven over the DevTools protocol, and look at what a reader
// sees: no console error, every chart drawn, data shown as text.

// chromium finds the browser. Without it the tests skip, except in CI
// (CI=true), where a missing browser is a broken setup (.ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed, and CI=true: .ci/run must install it (apt-get install -y chromium)")
	}
	t.Skip("chromium is not installed (Debian: apt-get install -y chromium); skipping the browser test")
	return ""
}

// browserPage is a page open in a fresh headless Chromium, with what the
// page did on the side.
type browserPage struct {
	ctx  context.Context
	mu   sync.Mutex
	errs []string // console errors, uncaught exceptions, browser log errors (CSP, failed loads)
	reqs []string // every URL the page asked for
	dlgs []string // alert/confirm/prompt messages: data must never run
}

func (b *browserPage) problems() (errs, reqs, dlgs []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errs...), append([]string(nil), b.reqs...), append([]string(nil), b.dlgs...)
}

// openPage writes html to a file and opens it as file://, waiting until
// the page says it has drawn everything.
func openPage(t *testing.T, html []byte) *browserPage {
	t.Helper()
	exe := chromium(t)
	path := filepath.Join(t.TempDir(), "dashboard.html")
	require.NoError(t, dashboard.WriteFile(path, html))
	alloc, cancelAlloc := chromedp.NewExecAllocator(t.Context(),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	b := &browserPage{ctx: ctx}
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.errs = append(b.errs, "console."+string(e.Type)+": "+strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			d := e.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			b.errs = append(b.errs, fmt.Sprintf("exception at %d:%d: %s", d.LineNumber, d.ColumnNumber, msg))
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError {
				b.errs = append(b.errs, "log ("+string(e.Entry.Source)+"): "+e.Entry.Text)
			}
		case *network.EventRequestWillBeSent:
			b.reqs = append(b.reqs, e.Request.URL)
		case *page.EventJavascriptDialogOpening:
			b.dlgs = append(b.dlgs, e.Message)
			go func() { _, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{}) }()
		}
	}))
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("file://"+path)))
	b.waitReady(t)
	return b
}

func (b *browserPage) waitReady(t *testing.T) {
	t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.body.dataset.ready === "1"`,
		chromedp.WithPollingTimeout(60*time.Second)))
	errs, _, _ := b.problems()
	require.NoError(t, err, "the page never finished drawing; console: %v", errs)
}

func eval[T any](t *testing.T, b *browserPage, js string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	require.NoError(t, err, js)
	return v
}

// set changes a filter the way a reader does, then waits for the redraw.
func (b *browserPage) set(t *testing.T, id, value string) {
	t.Helper()
	eval[bool](t, b, fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.value = %q;
		e.dispatchEvent(new Event('change')); return e.value === %q; })()`, id, value, value))
	b.waitReady(t)
}

// drawn is what a chart put on its canvas: marks are the data elements
// Chart.js laid out with a value (bars, points); pixels are canvas pixels
// painted in one of the datasets' own colours, so axes and text do not
// count. hidden: the card shows its empty-state message instead.
type drawn struct {
	Marks  int    `json:"marks"`
	Pixels int    `json:"pixels"`
	Hidden bool   `json:"hidden"`
	Empty  string `json:"empty"`
}

const drawnJS = `(() => {
  const out = {};
  const hex = c => typeof c === 'string' && /^#[0-9a-f]{6}$/i.test(c)
    ? [parseInt(c.slice(1,3),16), parseInt(c.slice(3,5),16), parseInt(c.slice(5,7),16)] : null;
  for (const cv of document.querySelectorAll('canvas')) {
    const card = cv.closest('.card');
    const r = {marks: 0, pixels: 0, hidden: card.hidden || cv.parentElement.hidden,
      empty: card.querySelector('.empty').hidden ? '' : card.querySelector('.empty').textContent};
    const ch = Chart.getChart(cv);
    if (ch && !r.hidden) {
      const colours = [];
      ch.data.datasets.forEach((ds, i) => {
        for (const c of [].concat(ds.backgroundColor, ds.borderColor)) { const h = hex(c); if (h) colours.push(h); }
        if (!ch.isDatasetVisible(i)) return;
        for (const el of ch.getDatasetMeta(i).data) {
          const v = ds.data[el.$context ? el.$context.dataIndex : 0];
          if (v !== null && v !== undefined && !el.skip) r.marks++;
        }
      });
      const g = cv.getContext('2d');
      const px = g.getImageData(0, 0, cv.width, cv.height).data;
      for (let i = 0; i < px.length; i += 4) {
        if (px[i+3] < 250) continue;
        for (const c of colours) {
          if (Math.abs(px[i]-c[0]) <= 2 && Math.abs(px[i+1]-c[1]) <= 2 && Math.abs(px[i+2]-c[2]) <= 2) { r.pixels++; break; }
        }
      }
    }
    out[cv.id] = r;
  }
  return out;
})()`

var allCharts = []string{"chart-daily", "chart-funnel", "chart-steps", "chart-status", "chart-accounts", "chart-runs"}

// requireClean fails on any console error, any request that is not the
// page itself, and any dialog.
func requireClean(t *testing.T, b *browserPage) {
	t.Helper()
	errs, reqs, dlgs := b.problems()
	assert.Empty(t, errs, "console errors")
	assert.Empty(t, dlgs, "a dialog opened: data ran as code")
	for _, u := range reqs {
		assert.True(t, strings.HasPrefix(u, "file://") || strings.HasPrefix(u, "data:"), "the page fetched %s", u)
	}
	assert.False(t, eval[bool](t, b, `window.__pwned === 1`), "data ran as code")
	assert.Equal(t, 3, eval[int](t, b, `document.scripts.length`), "only the page's own three script elements")
	assert.Equal(t, 0, eval[int](t, b, `document.images.length + document.querySelectorAll('iframe,object,embed,b,i').length`),
		"markup from data became elements")
}

func requireDrawn(t *testing.T, b *browserPage, charts ...string) map[string]drawn {
	t.Helper()
	got := eval[map[string]drawn](t, b, drawnJS)
	for _, id := range charts {
		d, ok := got[id]
		require.True(t, ok, "no canvas %s", id)
		assert.False(t, d.Hidden, "%s shows its empty state: %q", id, d.Empty)
		assert.Positive(t, d.Marks, "%s has no data marks", id)
		assert.Greater(t, d.Pixels, 200, "%s painted (almost) nothing in its series colours", id)
	}
	return got
}

func screenshot(t *testing.T, b *browserPage, name string) string {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	dir := os.Getenv("DASHBOARD_SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, png, 0o600))
	require.Greater(t, len(png), 10_000)
	t.Logf("screenshot: %s (%d KB)", path, len(png)/1024)
	return path
}

func generate(t *testing.T, s *load.Store, name string) []byte {
	t.Helper()
	html, err := dashboard.Generate(t.Context(), s, options(name))
	require.NoError(t, err)
	return html
}

func TestBrowserFixture(t *testing.T) {
	f := fixture.New(t)
	b := openPage(t, generate(t, f.Store, f.Path))
	requireDrawn(t, b, allCharts...)
	requireClean(t, b)
	meta := eval[string](t, b, `document.getElementById('meta').textContent`)
	assert.Contains(t, meta, "Snapshot 2026-11-27")
	assert.Contains(t, meta, "report.duckdb")
	assert.NotContains(t, meta, "/")
	// The funnel table shows the report's rates, tracking-off basis included.
	rows := eval[[]string](t, b, `Array.from(document.querySelectorAll('#table-funnel tbody tr')).map(r => r.innerText.replace(/\t/g, '|'))`)
	require.Len(t, rows, 3)
	assert.Equal(t, "Q4 Outreach|101|ACTIVE|Acme Agency|4|140|120|55|14|11|5|3|45.83%|20.00%|unique_opens|4.17%", rows[0])
	assert.Equal(t, "Tracking off|102|ACTIVE|no client|2|45|40|tracking off|0|3|1|1|—|7.50%|leads_reached|2.50%", rows[1])
	screenshot(t, b, "dashboard-fixture.png")

	// Counts agree with their nouns: one reply, one step, one bounce.
	b.set(t, "f-campaign", "102")
	sub := func(id string) string { return eval[string](t, b, `document.getElementById('`+id+`').textContent`) }
	assert.Equal(t, "1 reply to 2 emails over 1 step.", sub("steps-sub"))
	assert.Equal(t, "1 reply received by webhook for this selection.", sub("hours-sub"))
	assert.Contains(t, sub("daily-sub"), "(3 days): 45 emails sent, 3 replies, 1 bounce")
}

// TestBrowserAwkwardData: hostile and odd names, three snapshots, ten days
// of daily stats, email_events present; then the filters and sorting.
func TestBrowserAwkwardData(t *testing.T) {
	s, _ := buildWarehouse(t, shape{Campaigns: 30, Snapshots: 3, DailyDays: 10, Awkward: true, Leads: 6})
	_, err := s.DB().ExecContext(t.Context(), `INSERT INTO email_events (event_id, event_type, event_at, received_at, campaign_id, payload)
		SELECT 'e' || i, 'EMAIL_REPLY', TIMESTAMPTZ '2026-10-01 00:00:00+00' + to_minutes(i * 37), now(), 1000 + i % 30, '{}'
		FROM range(400) t(i)`)
	require.NoError(t, err)
	b := openPage(t, generate(t, s, "awkward.duckdb"))
	requireDrawn(t, b, append(allCharts, "chart-hours")...)
	requireClean(t, b)

	names := eval[[]string](t, b, `Array.from(document.querySelectorAll('#table-funnel td.name')).map(td => td.textContent)`)
	for _, n := range awkwardNames[:6] {
		assert.Contains(t, names, n, "campaign name shown exactly, as text")
	}
	assert.Contains(t, names, "campaign 1006", "an empty name is labelled by its id")
	opts := eval[[]string](t, b, `Array.from(document.getElementById('f-campaign').options).map(o => o.text)`)
	assert.Contains(t, opts, "<script>alert(1)</script> (#1000)")
	assert.Contains(t, opts, "Line one Line two Line three (#1003)")
	clients := eval[[]string](t, b, `Array.from(document.getElementById('f-client').options).map(o => o.text)`)
	assert.Equal(t, []string{"All clients", `Acme "Agency" <i>`, "Globex 🌐", "No client"}, clients)

	// One campaign: its unique opens join the daily chart (never summed
	// over campaigns), and every chart still draws.
	b.set(t, "f-campaign", "1000")
	requireDrawn(t, b, append(allCharts, "chart-hours")...)
	labels := eval[[]string](t, b, `Chart.getChart(document.getElementById('chart-daily')).data.datasets.map(d => d.label)`)
	assert.Contains(t, labels, "Unique opens (leads)")
	assert.Equal(t, 1, eval[int](t, b, `document.querySelectorAll('#table-funnel tbody tr').length`))
	// A tracking-off campaign: no open numbers anywhere.
	b.set(t, "f-campaign", "1004")
	uo := eval[[]any](t, b, `Chart.getChart(document.getElementById('chart-daily')).data.datasets.find(d => d.label.startsWith('Unique')).data`)
	for _, v := range uo {
		assert.Nil(t, v)
	}

	// A client narrows the campaign list and the charts.
	b.set(t, "f-campaign", "")
	b.set(t, "f-client", "2")
	n := eval[int](t, b, `document.getElementById('f-campaign').options.length`)
	assert.Equal(t, 1+10, n, "All campaigns + the 10 campaigns of client 2")
	requireDrawn(t, b, allCharts...)
	labels = eval[[]string](t, b, `Chart.getChart(document.getElementById('chart-daily')).data.datasets.map(d => d.label)`)
	assert.NotContains(t, labels, "Unique opens (leads)")

	// The date range narrows the daily chart and its table.
	b.set(t, "f-since", "2026-09-30")
	b.set(t, "f-until", "2026-10-01")
	assert.Equal(t, []string{"2026-09-30", "2026-10-01"},
		eval[[]string](t, b, `Chart.getChart(document.getElementById('chart-daily')).data.labels`))
	assert.Equal(t, 2, eval[int](t, b, `document.querySelectorAll('#table-daily tbody tr').length`))

	// Sorting: a click on a heading sorts by it, a second click reverses.
	col := func() []string {
		return eval[[]string](t, b, `Array.from(document.querySelectorAll('#table-funnel tbody tr td:first-child')).map(td => td.textContent)`)
	}
	click := `document.querySelector('#table-funnel thead th:first-child button').click(); true`
	eval[bool](t, b, click)
	asc := col()
	assert.IsNonDecreasing(t, lower(asc))
	eval[bool](t, b, click)
	assert.IsNonIncreasing(t, lower(col()))
	assert.Equal(t, "descending", eval[string](t, b, `document.querySelector('#table-funnel thead th:first-child').getAttribute('aria-sort')`))
	requireClean(t, b)
	screenshot(t, b, "dashboard-awkward.png")
}

// lower applies the page's comparison (localeCompare) closely enough for
// ASCII names: case-insensitive.
func lower(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = strings.ToLower(x)
	}
	return out
}

// TestBrowserOneSnapshotNoDaily: a first run with no daily stats shows an
// explanation in place of the daily chart, and everything else.
func TestBrowserOneSnapshotNoDaily(t *testing.T) {
	s, _ := buildWarehouse(t, shape{Campaigns: 4, Snapshots: 1, Leads: 5})
	b := openPage(t, generate(t, s, "first.duckdb"))
	got := requireDrawn(t, b, "chart-funnel", "chart-steps", "chart-status", "chart-accounts", "chart-runs")
	assert.True(t, got["chart-daily"].Hidden)
	assert.Contains(t, got["chart-daily"].Empty, "no daily stats")
	assert.True(t, got["chart-hours"].Hidden, "no reply events, no hour chart")
	assert.True(t, eval[bool](t, b, `document.getElementById('card-hours').hidden`))
	requireClean(t, b)
}

// TestBrowser500Campaigns: still readable: the funnel draws the top 20 by
// sends, the table holds all 500, the file stays small.
func TestBrowser500Campaigns(t *testing.T) {
	s, _ := buildWarehouse(t, shape{Campaigns: 500, Snapshots: 2, DailyDays: 5, Awkward: true, Leads: 2})
	html := generate(t, s, "big.duckdb")
	t.Logf("page for 500 campaigns: %d KB", len(html)/1024)
	assert.Less(t, len(html), 2<<20)
	b := openPage(t, html)
	requireDrawn(t, b, allCharts...)
	assert.Equal(t, 20, eval[int](t, b, `Chart.getChart(document.getElementById('chart-funnel')).data.labels.length`))
	assert.Equal(t, 500, eval[int](t, b, `document.querySelectorAll('#table-funnel tbody tr').length`))
	assert.Equal(t, 20, eval[int](t, b, `document.querySelectorAll('#table-funnel tbody tr.charted').length`))
	requireClean(t, b)
	screenshot(t, b, "dashboard-500.png")
}

// TestBrowserFile checks a page made elsewhere (for the README's
// screenshot: DASHBOARD_HTML=smartlead-demo.html DASHBOARD_SCREENSHOT_DIR=docs).
func TestBrowserFile(t *testing.T) {
	path := os.Getenv("DASHBOARD_HTML")
	if path == "" {
		t.Skip("set DASHBOARD_HTML to a generated page to check it and screenshot it")
	}
	html, err := os.ReadFile(path)
	require.NoError(t, err)
	b := openPage(t, html)
	requireDrawn(t, b, allCharts...)
	requireClean(t, b)
	screenshot(t, b, "dashboard.png")
	if os.Getenv("DASHBOARD_SCREENSHOT_CARDS") != "" { // one PNG per card, to look at closely
		for _, id := range eval[[]string](t, b, `Array.from(document.querySelectorAll('.card:not([hidden])')).map(c => c.id)`) {
			png, err := chromedp.Run(b.ctx, chromedp.Screenshot(chromedp.ID(id)))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(os.Getenv("DASHBOARD_SCREENSHOT_DIR"), id+".png"), png, 0o600))
		}
	}
}
