package webhook

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
	"github.com/smartlead-etl/smartlead-etl/load"
	"github.com/smartlead-etl/smartlead-etl/pipeline"
)

// TestRunCommitsWhileReceiving runs the nightly pipeline against the same
// warehouse while senders keep delivering events. The receiver cannot
// open the warehouse during the run (and here never tries on its own
// timer), so the events spooled before the run's commit are merged by the
// commit; the rest when the receiver stops. Every acknowledged event ends
// up in email_events exactly once, and the run succeeds.
func TestRunCommitsWhileReceiving(t *testing.T) {
	db := filepath.Join(t.TempDir(), "wh.duckdb")
	rp := startReceiverProc(t, db, "127.0.0.1:0", secret, time.Hour)
	url := rp.url

	var acked sync.Map
	var nAcked atomic.Int64
	runDone := make(chan struct{})
	var after atomic.Int64 // events sent after the run returned
	var wg sync.WaitGroup
	for s := range 4 {
		wg.Go(func() {
			client := &http.Client{}
			for i := 0; ; i++ {
				select {
				case <-runDone:
					if after.Add(1) > 40 {
						return
					}
				default:
				}
				body := fmt.Sprintf(`{"event_type":"EMAIL_OPEN","event_timestamp":"2026-11-27T10:00:00Z","campaign_id":1,"sl_email_lead_map_id":%d,"secret_key":%q}`, s*1_000_000+i, secret)
				resp, err := client.Post(url+Path, "application/json", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				var out struct {
					EventID string `json:"event_id"`
				}
				decode(resp, &out)
				if resp.StatusCode != http.StatusOK {
					t.Errorf("status %d", resp.StatusCode)
					return
				}
				acked.Store(out.EventID, true)
				nAcked.Add(1)
			}
		})
	}

	fake := fakeapi.New(fakeapi.Config{Seed: 5, APIKey: "sk-webhook-test-1", Campaigns: 4, LeadsPerCampaign: 100})
	raw, _ := ratelimit.Parse("1000/1s,60000/1m,1000000/1h")
	scaled, _ := ratelimit.Scale(raw, 0.8)
	sum, err := pipeline.Run(context.Background(), pipeline.Config{
		DB: db, Schema: os.DirFS("../sql/schema"), APIKey: "sk-webhook-test-1",
		BaseURL:    "http://localhost" + fakeapi.BasePath,
		HTTPClient: &http.Client{Transport: fake.Transport()},
		Windows:    scaled, ServerWindows: raw, Concurrency: 4, Days: 2,
		ResumeWithin: pipeline.DefaultResumeWithin,
	})
	ackedAtRunEnd := nAcked.Load()
	close(runDone)
	require.NoError(t, err)
	require.Equal(t, load.StatusSucceeded, sum.Status)
	mergedByRun := queryInt(t, db, `SELECT count(*) FROM email_events`)
	wg.Wait()
	rp.stop(t)

	assert.Positive(t, mergedByRun, "the run's commit merged the events spooled before it")
	assert.LessOrEqual(t, mergedByRun, ackedAtRunEnd)
	total := nAcked.Load()
	assert.Greater(t, total, ackedAtRunEnd)
	assert.EqualValues(t, total, queryInt(t, db, `SELECT count(*) FROM email_events`))
	assert.EqualValues(t, total, queryInt(t, db, `SELECT count(DISTINCT event_id) FROM email_events`))
	ids := queryRows(t, db, `SELECT event_id FROM email_events`)
	stored := map[string]bool{}
	for _, r := range ids {
		stored[r[0].String] = true
	}
	acked.Range(func(k, _ any) bool {
		assert.True(t, stored[k.(string)], "acknowledged event %s is missing", k)
		return true
	})
	assert.EqualValues(t, 1, queryInt(t, db, `SELECT count(*) FROM etl_runs WHERE status = 'succeeded'`))
}
