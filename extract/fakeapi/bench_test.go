package fakeapi_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
)

// BenchmarkGenerate builds the issue-6 account: 200 campaigns x 1,000
// leads on average (target: under ~2 s per op).
func BenchmarkGenerate(b *testing.B) {
	cfg := fakeapi.Config{Seed: 1, APIKey: testKey, Campaigns: 200, LeadsPerCampaign: 1000, Now: fixedNow}
	tr := fakeapi.New(cfg).Truth()
	b.ReportAllocs()
	for b.Loop() {
		fakeapi.New(cfg)
	}
	b.ReportMetric(float64(tr.LeadCount()), "leads")
	b.ReportMetric(float64(tr.StatCount()), "rows")
}

// BenchmarkServePages serves the pages an extractor asks for most, on the
// large account: the cost must not grow with the account.
func BenchmarkServePages(b *testing.B) {
	s := fakeapi.New(fakeapi.Config{Seed: 1, APIKey: testKey, Campaigns: 200, LeadsPerCampaign: 1000, Now: fixedNow})
	var big fakeapi.Campaign
	for _, c := range s.Truth().Campaigns {
		if len(c.Leads) > len(big.Leads) {
			big = c
		}
	}
	for _, p := range []string{
		fmt.Sprintf("/campaigns/%d/leads?offset=900&limit=100", big.ID),
		fmt.Sprintf("/campaigns/%d/leads?limit=100&event_time_gt=%s", big.ID, isoMilli(fixedNow.Add(-48*time.Hour))),
		fmt.Sprintf("/campaigns/%d/statistics?offset=1000&limit=1000", big.ID),
		fmt.Sprintf("/campaigns/%d/analytics", big.ID),
		fmt.Sprintf("/campaigns/%d/analytics-by-date?start_date=2026-03-01&end_date=2026-03-01", big.ID),
	} {
		b.Run(p[len(fmt.Sprint(big.ID))+11:], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := get(b, s, p); r.status != http.StatusOK {
					b.Fatalf("%s: %d", p, r.status)
				}
			}
		})
	}
}

// TestConcurrentUse serves from many goroutines while nights run; run
// with -race.
func TestConcurrentUse(t *testing.T) {
	s := newServer(t, fakeapi.Config{Campaigns: 6, LeadsPerCampaign: 80})
	ids := []int64{}
	for _, c := range s.Truth().Campaigns {
		ids = append(ids, c.ID)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 40 {
				id := ids[(w+i)%len(ids)]
				for _, p := range []string{"/leads", "/statistics", "/analytics", ""} {
					r := get(t, s, fmt.Sprintf("/campaigns/%d%s", id, p))
					assert.Equal(t, http.StatusOK, r.status)
				}
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			s.Night(fakeapi.NightChange{ChangedLeadFrac: 0.1, NewLeadsPerCampaign: 2, NewSendsFrac: 0.1, DeletedLeads: 1})
			_ = s.Truth()
		}
	})
	wg.Wait()
	require.Equal(t, 8*40*4, s.Stats().Requests)
}
