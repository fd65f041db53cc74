package dashboard_test

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/dashboard"
	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/internal/fixture"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/pipeline"
)

// BenchmarkGenerate is the size target: the simulated 200-campaign,
// ~200,000-lead account (fakeapi's generator, as in BenchmarkNightly),
// loaded by the real pipeline in virtual time as two nightly snapshots
// with two weeks of daily stats, then the page generated from the
// warehouse in real time. It prints the generation time (target: under
// 3 s here) and the page's size (under 2 MB). Only this test imports the
// pipeline, to build the account; the dashboard package does not.
// Run it with -benchtime 1x: building the warehouse takes a minute or two.
func BenchmarkGenerate(b *testing.B) {
	db := filepath.Join(b.TempDir(), "bench.duckdb")
	ok := testing.RunTests(func(string, string) (bool, error) { return true, nil }, []testing.InternalTest{{
		Name: "BenchmarkGenerateWarehouse",
		F: func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) { buildSimulated(t, db, 200, 1000) })
		},
	}})
	if !ok {
		b.Fatal("building the simulated warehouse failed")
	}
	s, err := load.OpenReadOnly(b.Context(), db, load.Options{})
	require.NoError(b, err)
	defer s.Close()
	var leads, stats, days int64
	require.NoError(b, s.DB().QueryRowContext(b.Context(),
		`SELECT (SELECT count(*) FROM leads), (SELECT count(*) FROM lead_email_stats), (SELECT count(DISTINCT day) FROM campaign_daily_stats)`).
		Scan(&leads, &stats, &days))

	var page []byte
	var took time.Duration
	for b.Loop() {
		start := time.Now()
		page, err = dashboard.Generate(b.Context(), s, dashboard.Options{Reports: fixture.ReportsFS(), Warehouse: db, Version: "bench"})
		took = time.Since(start)
		require.NoError(b, err)
	}
	fmt.Printf("dashboard: 200 campaigns, %d leads, %d email stats, %d days of daily stats, 2 snapshots: generated in %s, %.0f KB (%.2f MB)\n",
		leads, stats, days, took.Round(time.Millisecond), float64(len(page))/1024, float64(len(page))/(1<<20))
	b.ReportMetric(took.Seconds(), "generate_s")
	b.ReportMetric(float64(len(page))/1024, "page_KB")
}

// buildSimulated loads the simulated account into db with the real
// pipeline: a first full run with 14 days of daily stats backfilled, a
// night of changes, and the next night's run. It must run in a synctest
// bubble (the rate limits cost virtual time only).
func buildSimulated(t *testing.T, db string, campaigns, leadsPer int) {
	const key = "bench-key-0000"
	raw, err := ratelimit.Preset("standard")
	require.NoError(t, err)
	scaled, err := ratelimit.Scale(raw, 0.8)
	require.NoError(t, err)
	time.Sleep(2 * time.Hour)
	fake := fakeapi.New(fakeapi.Config{Seed: 6, APIKey: key, Campaigns: campaigns, LeadsPerCampaign: leadsPer, Windows: raw})
	cfg := pipeline.Config{
		DB: db, Schema: fixture.SchemaFS(), APIKey: key, BaseURL: "http://localhost" + fakeapi.BasePath,
		HTTPClient: &http.Client{Transport: fake.Transport()},
		Windows:    scaled, ServerWindows: raw, Concurrency: 4, Days: 2, BackfillDays: 14,
	}
	run := func() {
		_, err := pipeline.Run(t.Context(), cfg)
		if errors.Is(err, pipeline.ErrPartial) {
			err = nil // counter_drop warnings for the night's deleted leads
		}
		require.NoError(t, err)
	}
	run()
	time.Sleep(22 * time.Hour)
	fake.Night(fakeapi.NightChange{ChangedLeadFrac: 0.05, NewLeadsPerCampaign: 5, NewSendsFrac: 0.03, DeletedLeads: 5})
	time.Sleep(2 * time.Hour)
	run()
}
