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

// On an agency night (a 60-campaign account after AgencyNight), the
// progress is sized up front: the page total the bar shows at the first
// page is the total at the last, and the time left it shows then is the
// time the night takes (virtual time, the standard tier at 80%).
func TestAgencyNightProgressIsSizedUpFront(t *testing.T) {
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
		_, err = Run(context.Background(), cfg)
		require.NoError(t, err)

		time.Sleep(time.Until(start.Add(23 * time.Hour)))
		night := fakeapi.AgencyNight
		night.LateFrac = 0.1 // a few finished campaigns with late activity in 60
		rep := fake.RealisticNight(night)
		require.NotEmpty(t, rep.Campaigns)
		time.Sleep(time.Until(start.Add(24 * time.Hour)))

		var p estimates
		cfg.Progress = &p
		began := time.Now()
		_, err = Run(context.Background(), cfg)
		require.NoError(t, err)
		took := time.Since(began)

		// The pages before the plan (the campaign list) are all the bar
		// knows of until the plan sizes the night.
		k := 0
		for k < len(p.seen) && p.seen[k].Total <= p.seen[k].Done {
			k++
		}
		require.Less(t, k, len(p.seen), "the plan never sized the night")
		first, last := p.seen[k], p.seen[len(p.seen)-1]
		for i, e := range p.seen[k:] {
			require.Equal(t, first.Total, e.Total, "page %d of %d: the total moved mid-run", k+i+1, len(p.seen))
		}
		assert.Equal(t, len(p.seen), first.Total, "the total is the pages the night fetched")
		assert.Equal(t, last.Done, last.Total)
		left := first.Finish.Sub(p.at[k])
		actual := began.Add(took).Sub(p.at[k])
		t.Logf("%d pages, sized at page %d; then %s left, and the night took %s more", first.Total, k+1, left, actual)
		assert.InDelta(t, actual.Seconds(), left.Seconds(), max(0.1*actual.Seconds(), 2), "time left once sized")
	})
}
