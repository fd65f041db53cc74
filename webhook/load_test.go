package webhook

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// loadSpec is one load test: events delivered by concurrent senders, a
// share of them twice, while the receiver process is SIGKILLed and
// restarted.
type loadSpec struct {
	events, senders int
	dupFrac         float64
	kills           int
	mergeEvery      time.Duration // 0: the receiver's default
}

type loadResult struct {
	deliveries int           // 200 answers (events plus duplicates)
	attempts   int64         // POSTs made, retries included
	elapsed    time.Duration // first send to last acknowledgement
	p50, p99   time.Duration // time to acknowledge a delivery that was acknowledged
}

// runLoad delivers spec.events distinct events as SmartLead does: each is
// retried until answered 200 (here with a short backoff), and dupFrac of
// them are delivered a second time after their first acknowledgement. At
// each k/(kills+1) of the acknowledgements the receiver is killed with
// SIGKILL and a new one started on the same port. At the end every
// acknowledged event must be in email_events exactly once, and nothing
// else.
func runLoad(t testing.TB, spec loadSpec) loadResult {
	db := filepath.Join(t.TempDir(), "wh.duckdb")
	addr := freeAddr(t)
	rp := startReceiverProc(t, db, addr, secret, spec.mergeEvery)
	url := rp.url + Path

	rng := rand.New(rand.NewPCG(13, uint64(spec.events)))
	type delivery struct {
		n    int
		body string
	}
	work := make(chan delivery, spec.events*2)
	bodies := make([]string, spec.events)
	for i := range bodies {
		bodies[i] = fmt.Sprintf(`{"webhook_id":1,"event_type":"EMAIL_OPEN","event_timestamp":"2026-11-27T10:%02d:%02d.%03dZ","campaign_id":%d,"campaign_name":"Load","sl_email_lead_map_id":%d,"sl_lead_email":"lead%d@example.com","stats_id":"st-%d","sequence_number":1,"secret_key":%q}`,
			i/60000%60, i/1000%60, i%1000, 100+i%7, 5_000_000+i, i, i, secret)
		work <- delivery{i, bodies[i]}
	}
	dup := make([]bool, spec.events)
	nDup := int(float64(spec.events) * spec.dupFrac)
	for _, i := range rng.Perm(spec.events)[:nDup] {
		dup[i] = true
	}
	total := spec.events + nDup

	transport := &http.Transport{MaxIdleConnsPerHost: spec.senders, MaxConnsPerHost: spec.senders}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport, Timeout: 30 * time.Second}

	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, total)
		ackedIDs  = make(map[string]int, spec.events)
		attempts  atomic.Int64
		acked     atomic.Int64
		done      = make(chan struct{})
		killAt    = make(chan struct{}, 1)
	)
	var wg sync.WaitGroup
	start := time.Now()
	for range spec.senders {
		wg.Go(func() {
			for {
				var d delivery
				select {
				case d = <-work:
				case <-done:
					return
				}
				backoff := 5 * time.Millisecond
				for {
					attempts.Add(1)
					t0 := time.Now()
					id, ok := deliver(client, url, d.body)
					lat := time.Since(t0)
					if ok {
						mu.Lock()
						latencies = append(latencies, lat)
						ackedIDs[id]++
						first := ackedIDs[id] == 1
						mu.Unlock()
						n := acked.Add(1)
						if first && dup[d.n] {
							work <- d // delivered again, as a SmartLead retry would be
						}
						select {
						case killAt <- struct{}{}:
						default:
						}
						if n == int64(total) {
							close(done)
						}
						break
					}
					time.Sleep(backoff) // unanswered: retry, as SmartLead does
					backoff = min(2*backoff, 200*time.Millisecond)
				}
			}
		})
	}

	for k := 1; k <= spec.kills; k++ {
		target := int64(total * k / (spec.kills + 1))
	wait:
		for acked.Load() < target {
			select {
			case <-killAt:
			case <-done:
				break wait
			}
		}
		rp.kill(t)
		rp = startReceiverProc(t, db, addr, secret, spec.mergeEvery)
	}
	wg.Wait()
	elapsed := time.Since(start)
	rp.stop(t)

	// Every acknowledged event is stored exactly once; nothing else is.
	require.Len(t, ackedIDs, spec.events)
	rows := queryRows(t, db, `SELECT event_id, count(*) OVER (PARTITION BY event_id) FROM email_events`)
	require.Len(t, rows, spec.events, "email_events holds exactly the acknowledged events")
	for _, r := range rows {
		require.Equal(t, "1", r[1].String)
		if _, ok := ackedIDs[r[0].String]; !ok {
			t.Fatalf("email_events holds %s, which was never acknowledged", r[0].String)
		}
	}
	require.Zero(t, queryInt(t, db, `SELECT count(*) FROM webhook_rejects`))

	if spec.kills > 0 {
		require.Greater(t, attempts.Load(), int64(len(latencies)), "the kills left deliveries unanswered, and they were retried")
	}
	slices.Sort(latencies)
	return loadResult{deliveries: len(latencies), attempts: attempts.Load(), elapsed: elapsed,
		p50: latencies[len(latencies)/2], p99: latencies[len(latencies)*99/100]}
}

// deliver POSTs one delivery and reports the event id when answered 200.
func deliver(client *http.Client, url, body string) (string, bool) {
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return "", false
	}
	var out struct {
		EventID string `json:"event_id"`
	}
	decode(resp, &out)
	return out.EventID, resp.StatusCode == http.StatusOK && out.EventID != ""
}

// freeAddr finds a loopback port for receivers that must restart on it.
func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	a := ln.Addr().String()
	require.NoError(t, ln.Close())
	return a
}

// TestLoadKilledReceiver is the small version of the load test that runs
// with `make test`: 1,000 events, 20 senders, 2% twice, two SIGKILLs.
func TestLoadKilledReceiver(t *testing.T) {
	// Merging often, so that the kills also land on merges in progress.
	res := runLoad(t, loadSpec{events: 1000, senders: 20, dupFrac: 0.02, kills: 2, mergeEvery: 200 * time.Millisecond})
	t.Logf("%d deliveries (%d attempts) in %s: %.0f/s, p50 %s, p99 %s", res.deliveries, res.attempts,
		res.elapsed.Round(time.Millisecond), float64(res.deliveries)/res.elapsed.Seconds(), res.p50, res.p99)
}

// BenchmarkWebhookLoad is the load test: 20,000 events from 50
// concurrent senders, 2% delivered twice, the receiver SIGKILLed twice
// mid-stream. It reports deliveries per second and the p50/p99 time to
// acknowledge (targets: >= 2,000/s, p99 < 50 ms).
func BenchmarkWebhookLoad(b *testing.B) {
	for range b.N {
		res := runLoad(b, loadSpec{events: 20_000, senders: 50, dupFrac: 0.02, kills: 2})
		rate := float64(res.deliveries) / res.elapsed.Seconds()
		b.ReportMetric(rate, "deliveries/s")
		b.ReportMetric(float64(res.p50.Microseconds())/1000, "p50_ack_ms")
		b.ReportMetric(float64(res.p99.Microseconds())/1000, "p99_ack_ms")
		b.Logf("webhook load: %d deliveries (%d attempts, 2 receiver kills) in %s: %.0f deliveries/s, ack p50 %s, p99 %s",
			res.deliveries, res.attempts, res.elapsed.Round(time.Millisecond), rate, res.p50, res.p99)
	}
}
