package cli

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/pipeline"
)

// heartbeat is how often a run without a terminal says it is alive.
const heartbeat = 30 * time.Second

// redraw is how often the bar is redrawn while no page arrives, so that
// the remaining time counts down through a long rate-limit wait.
const redraw = time.Second

// pageRedraw: pages redraw the bar at most this often; each estimate
// schedules every remaining request, which is not free for thousands.
const pageRedraw = 200 * time.Millisecond

// console is stderr shared by the log and the progress bar: a log line
// first erases the bar and then draws it again below itself, so the two
// never end up glued on one line.
type console struct {
	mu  sync.Mutex
	w   io.Writer
	bar string // the line drawn last; "" when none
}

func newConsole(w io.Writer) *console { return &console{w: w} }

const eraseLine = "\r\x1b[K"

func (c *console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar != "" {
		io.WriteString(c.w, eraseLine)
	}
	n, err := c.w.Write(p)
	if c.bar != "" {
		io.WriteString(c.w, c.bar)
	}
	return n, err
}

// draw replaces the bar line.
func (c *console) draw(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	io.WriteString(c.w, eraseLine+line)
	c.bar = line
}

// keep ends the bar's line, leaving it on screen.
func (c *console) keep() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bar != "" {
		io.WriteString(c.w, "\n")
		c.bar = ""
	}
}

// progress shows a live bar on a terminal and, without one, logs a
// heartbeat line every 30 s so cron logs show a long wait is not a hang.
// The remaining time comes from the run's Tracker: the limiter's own
// schedule for the requests left.
type progress struct {
	con *console // nil: heartbeat mode
	log *slog.Logger
	now func() time.Time

	mu       sync.Mutex
	track    *pipeline.Tracker
	lastDraw time.Time
	planned  int
	pages    int
	rows     int64
	stats    extract.Stats

	done chan struct{}
	wg   sync.WaitGroup
	once sync.Once // stop
}

func newProgress(mode string, con *console, log *slog.Logger) *progress {
	p := &progress{log: log, now: time.Now, done: make(chan struct{})}
	every := heartbeat
	if mode == "always" || (mode == "auto" && isTerminal(con)) {
		p.con, every = con, redraw
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				if p.con != nil {
					p.con.draw(p.line())
				} else {
					p.beat()
				}
			}
		}
	}()
	return p
}

// Track implements pipeline.Tracked.
func (p *progress) Track(t *pipeline.Tracker) {
	p.mu.Lock()
	p.track = t
	p.mu.Unlock()
}

// Planned implements pipeline.Progress.
func (p *progress) Planned(n int) {
	p.mu.Lock()
	p.planned += n
	p.mu.Unlock()
}

// Page implements pipeline.Progress.
func (p *progress) Page(rows int64, s extract.Stats) {
	p.mu.Lock()
	p.pages++
	p.rows += rows
	p.stats = s
	now := p.now()
	draw := p.con != nil && now.Sub(p.lastDraw) >= pageRedraw
	if draw {
		p.lastDraw = now
	}
	p.mu.Unlock()
	if draw {
		p.con.draw(p.line())
	}
}

// state is what one bar line or heartbeat shows.
type state struct {
	est   pipeline.Estimate
	rows  int64
	stats extract.Stats
}

func (p *progress) state() state {
	p.mu.Lock()
	tr, st := p.track, state{rows: p.rows, stats: p.stats}
	st.est = pipeline.Estimate{Done: p.pages, Total: max(p.planned, p.pages)}
	p.mu.Unlock()
	now := p.now()
	if tr != nil {
		st.est = tr.Estimate(now)
	} else {
		st.est.Finish, st.est.NextSlot = now, now
	}
	return st
}

const barWidth = 24

// line renders the bar: share done, requests, rows, 429s, and the time
// left by the limiter's schedule (and why, when the rate limit holds
// everything back).
func (p *progress) line() string {
	st := p.state()
	return renderBar(st, p.now())
}

func renderBar(st state, now time.Time) string {
	e := st.est
	frac := 1.0
	if e.Total > 0 {
		frac = float64(e.Done) / float64(e.Total)
	}
	fill := int(frac * barWidth)
	bar := strings.Repeat("=", fill) + strings.Repeat(" ", barWidth-fill)
	s := fmt.Sprintf("[%s] %3d%% %d/%d pages, %d requests, %d rows, %d 429s", bar, int(frac*100), e.Done, e.Total,
		st.stats.Requests, st.rows, st.stats.Throttled)
	if e.Done < e.Total {
		s += ", ~" + fmtLeft(e.Finish.Sub(now)) + " left"
		if wait := e.NextSlot.Sub(now); wait >= time.Second {
			s += " (rate limit: next request in " + fmtLeft(wait) + ")"
		}
	}
	return s
}

// fmtLeft rounds a remaining time for display: 1h04m, 3m05s, 42s.
func fmtLeft(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d >= time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds()))
}

func (p *progress) beat() {
	st := p.state()
	now := p.now()
	attrs := []any{"pages", st.est.Done, "pages_planned", st.est.Total, "requests", st.stats.Requests,
		"rows", st.rows, "throttled", st.stats.Throttled, "waited", st.est.HeldBack.Round(time.Second).String()}
	if st.est.Done < st.est.Total {
		attrs = append(attrs, "left", fmtLeft(st.est.Finish.Sub(now)), "finish_at", st.est.Finish.Local().Format(time.TimeOnly))
	}
	p.log.Info("progress", attrs...)
}

// Ended implements pipeline.Ended: the display ends before the run's
// summary line.
func (p *progress) Ended(succeeded bool) { p.stop(succeeded) }

// stop ends the display (once; later calls do nothing). After a
// successful run the bar is drawn once more, at 100%, and left on screen.
func (p *progress) stop(succeeded bool) {
	p.once.Do(func() { p.end(succeeded) })
}

func (p *progress) end(succeeded bool) {
	close(p.done)
	p.wg.Wait()
	if p.con == nil {
		return
	}
	p.mu.Lock()
	tr := p.track
	if succeeded {
		p.planned = p.pages
	}
	p.mu.Unlock()
	if succeeded && tr != nil {
		tr.Finish()
	}
	p.con.draw(p.line())
	p.con.keep()
}
