package main

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/smartlead-etl/smartlead-etl/extract"
)

// heartbeat is how often a run without a terminal says it is alive.
const heartbeat = 30 * time.Second

// progress shows a live bar on a terminal and, without one, logs a
// heartbeat line every 30 s so cron logs show a long wait is not a hang.
type progress struct {
	mu      sync.Mutex
	bar     *progressbar.ProgressBar
	planned int
	pages   int
	rows    int64
	stats   extract.Stats

	done chan struct{}
	wg   sync.WaitGroup
}

func newProgress(mode string, w io.Writer, log *slog.Logger) *progress {
	p := &progress{done: make(chan struct{})}
	if mode == "always" || (mode == "auto" && isTerminal(w)) {
		p.bar = progressbar.NewOptions(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("pages"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
		return p
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(heartbeat)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				p.mu.Lock()
				pages, planned, rows, s := p.pages, p.planned, p.rows, p.stats
				p.mu.Unlock()
				log.Info("progress", "pages", pages, "pages_planned", planned, "requests", s.Requests,
					"rows", rows, "throttled", s.Throttled, "waited", s.Waited.Round(time.Second).String())
			}
		}
	}()
	return p
}

// Planned implements pipeline.Progress.
func (p *progress) Planned(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.planned += n
	if p.bar != nil {
		p.bar.ChangeMax(p.planned)
	}
}

// Page implements pipeline.Progress.
func (p *progress) Page(rows int64, s extract.Stats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pages++
	p.rows += rows
	p.stats = s
	if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%d requests, %d rows, %d 429s; pages", s.Requests, p.rows, s.Throttled))
		_ = p.bar.Set(p.pages)
	}
}

func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
