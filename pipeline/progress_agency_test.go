package pipeline

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
)

// estimates records the run's estimate at every page, as the progress bar
// sees it.
type estimates struct {
	mu    sync.Mutex
	track *Tracker
	seen  []Estimate
	at    []time.Time
}

func (p *estimates) Track(t *Tracker) { p.mu.Lock(); p.track = t; p.mu.Unlock() }
func (p *estimates) Planned(int)      {}
func (p *estimates) Page(int64, extract.Stats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	p.seen = append(p.seen, p.track.Estimate(now))
	p.at = append(p.at, now)
}

// run runs cfg with p as its progress and checks what p saw: from the
// plan on, the page total does not move while the planned pages are
// fetched (only verification may add a few pages after them), and the
// time left shown then is the time the run takes.
func (p *estimates) run(t *testing.T, name string, cfg Config) {
	t.Helper()
	cfg.Progress = p
	began := time.Now()
	_, err := Run(context.Background(), cfg)
	require.NoError(t, err, name)
	end := time.Now()

	// The pages before the plan (the campaign list) are all the bar
	// knows of until the plan sizes the run.
	k := 0
	for k < len(p.seen) && p.seen[k].Total <= p.seen[k].Done {
		k++
	}
	require.Less(t, k, len(p.seen), "%s: the plan never sized the run", name)
	first, last := p.seen[k], p.seen[len(p.seen)-1]
	for i := k; i < len(p.seen); i++ {
		if e := p.seen[i]; e.Total != first.Total {
			// Only verification may add work, once every planned page
			// is in: what the night's pages showed (a lead's category
			// moved, say) and no signal could tell.
			require.GreaterOrEqual(t, p.seen[i-1].Done, first.Total,
				"%s, page %d of %d: the total moved from %d to %d before the planned pages were fetched", name, i+1, len(p.seen), first.Total, e.Total)
		}
	}
	assert.LessOrEqual(t, len(p.seen)-first.Total, max(first.Total/10, 2), "%s: verification adds little", name)
	assert.Equal(t, last.Done, last.Total, name)
	left, actual := first.Finish.Sub(p.at[k]), end.Sub(p.at[k])
	t.Logf("%s: %d pages planned at page %d, %d fetched; %s left then, and the run took %s more (%s in all)",
		name, first.Total, k+1, len(p.seen), left, actual, end.Sub(began))
	assert.InDelta(t, actual.Seconds(), left.Seconds(), max(0.1*actual.Seconds(), 2), "%s: the time left once sized", name)
}

// The progress of an agency account's first run and of its next night
// (60 campaigns, AgencyNight with more late activity) is sized up front:
// see estimates.run (virtual time, the standard tier at 80%).
func TestAgencyProgressIsSizedUpFront(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	synctest.Test(t, func(t *testing.T) {
		raw := ratelimit.MustPreset(ratelimit.TierStandard)
		scaled, err := ratelimit.Scale(raw, 0.8)
		require.NoError(t, err)
		time.Sleep(2 * time.Hour) // cron's 02:00
		fc := fakeapi.AgencyConfig(19, 60)
		fc.APIKey, fc.Windows = testKey, raw
		fake := fakeapi.New(fc)
		cfg := Config{
			DB: filepath.Join(dir, "w.duckdb"), Schema: os.DirFS("../sql/schema"), APIKey: testKey,
			BaseURL: "http://localhost" + fakeapi.BasePath, HTTPClient: &http.Client{Transport: fake.Transport()},
			Windows: scaled, ServerWindows: raw, Concurrency: 4, Days: 2, ResumeWithin: DefaultResumeWithin,
		}
		start := time.Now()
		new(estimates).run(t, "first run", cfg)

		time.Sleep(time.Until(start.Add(23 * time.Hour)))
		night := fakeapi.AgencyNight
		night.LateFrac = 0.1 // a few finished campaigns with late activity in 60
		require.NotEmpty(t, fake.RealisticNight(night).Campaigns)
		time.Sleep(time.Until(start.Add(24 * time.Hour)))
		new(estimates).run(t, "agency night", cfg)
	})
}
