package fakeapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
)

func TestMaxInWindow(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	for _, c := range []struct {
		ts   []time.Time
		w    time.Duration
		want int
	}{
		{nil, time.Second, 0},
		{at(0), time.Second, 1},
		{at(0, 999), time.Second, 2},
		{at(0, 1000), time.Second, 1}, // half-open: 1 s apart never share a window
		{at(1500, 0, 400, 900, 1100), time.Second, 3},
		{at(1000, 0, 100, 200, 999), time.Second, 4},
		{at(0, 0, 0), time.Millisecond, 3},
	} {
		require.Equal(t, c.want, fakeapi.MaxInWindow(c.ts, c.w), "%v in %v", c.ts, c.w)
	}
}

type rateHeaders struct {
	limit, remaining int
	reset            int64
	date             time.Time
}

func readRate(t testing.TB, h http.Header) rateHeaders {
	t.Helper()
	var r rateHeaders
	var err error
	r.limit, err = strconv.Atoi(h.Get("X-RateLimit-Limit"))
	require.NoError(t, err)
	r.remaining, err = strconv.Atoi(h.Get("X-RateLimit-Remaining"))
	require.NoError(t, err)
	r.reset, err = strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
	require.NoError(t, err)
	r.date, err = http.ParseTime(h.Get("Date"))
	require.NoError(t, err)
	return r
}

// TestRateLimitWindows drives the standard tier in virtual time: the
// burst window, then the minute window, checking 429 bodies, Retry-After
// and the X-RateLimit headers against the exact logs.
func TestRateLimitWindows(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const skew = 90 * time.Second
		windows, err := ratelimit.Preset("standard")
		require.NoError(t, err)
		s := newServer(t, fakeapi.Config{Campaigns: 1, LeadsPerCampaign: 1, Windows: windows, Faults: fakeapi.Faults{ClockSkew: skew}})
		start := time.Now()

		for i := range 10 {
			r := get(t, s, "/client/")
			require.Equal(t, http.StatusOK, r.status)
			h := readRate(t, r.header)
			require.Equal(t, 10, h.limit, "the per-second window has the least remaining")
			require.Equal(t, 9-i, h.remaining)
			require.Equal(t, start.Add(time.Second+skew).Unix(), h.reset, "reset is when the oldest entry leaves, on the server clock")
			require.Equal(t, start.Add(skew).Truncate(time.Second).UTC(), h.date.UTC(), "Date is the server clock")
		}
		r := get(t, s, "/client/")
		require.Equal(t, http.StatusTooManyRequests, r.status)
		require.Equal(t, "1", r.header.Get("Retry-After"))
		var body struct {
			Error struct {
				Code       string `json:"code"`
				Message    string `json:"message"`
				RetryAfter int    `json:"retry_after"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal(r.body, &body))
		require.Equal(t, "RATE_LIMIT_EXCEEDED", body.Error.Code)
		require.Equal(t, "Too many requests. Please retry after 1 seconds.", body.Error.Message)
		require.Equal(t, 1, body.Error.RetryAfter)
		h := readRate(t, r.header)
		require.Equal(t, 0, h.remaining)

		// 900 ms later the burst window is still full: Retry-After rounds
		// the remaining 100 ms up.
		time.Sleep(900 * time.Millisecond)
		r = get(t, s, "/client/")
		require.Equal(t, http.StatusTooManyRequests, r.status)
		require.Equal(t, "1", r.header.Get("Retry-After"))
		time.Sleep(100 * time.Millisecond)
		require.Equal(t, http.StatusOK, get(t, s, "/client/").status)

		// Fill the minute window by honouring every Retry-After.
		for len(s.AdmittedOurs()) < 60 {
			r := get(t, s, "/client/")
			if r.status == http.StatusTooManyRequests {
				n, err := strconv.Atoi(r.header.Get("Retry-After"))
				require.NoError(t, err)
				time.Sleep(time.Duration(n) * time.Second)
			}
		}
		// The next request trips the minute window: it frees 60 s after
		// the first request.
		r = get(t, s, "/client/")
		require.Equal(t, http.StatusTooManyRequests, r.status)
		want := start.Add(time.Minute).Sub(time.Now())
		n, err := strconv.Atoi(r.header.Get("Retry-After"))
		require.NoError(t, err)
		require.Equal(t, int((want+time.Second-1)/time.Second), n)
		h = readRate(t, r.header)
		require.Equal(t, 60, h.limit)
		require.Equal(t, 0, h.remaining)
		require.Equal(t, start.Add(time.Minute+skew).Unix(), h.reset)
		require.Greater(t, n, 1)
		time.Sleep(time.Duration(n-1) * time.Second)
		require.Equal(t, http.StatusTooManyRequests, get(t, s, "/client/").status, "one second early is too early")
		time.Sleep(time.Second)
		require.Equal(t, http.StatusOK, get(t, s, "/client/").status)

		ts := s.Admitted()
		for _, w := range windows {
			require.LessOrEqual(t, fakeapi.MaxInWindow(ts, w.Len), w.Max, "window %v", w)
		}
		st := s.Stats()
		require.Equal(t, len(ts), st.Requests, "rejected requests are not logged")
		require.Positive(t, st.Throttled)
	})
}

// TestForeignTraffic: another program's requests fill the windows on an
// even schedule from New; those over a window are not counted.
func TestForeignTraffic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t, fakeapi.Config{Campaigns: 1, LeadsPerCampaign: 1,
			Windows: []ratelimit.Window{{Len: time.Minute, Max: 60}}, Faults: fakeapi.Faults{ForeignPerMinute: 30}})
		time.Sleep(time.Minute)
		st := s.Stats()
		require.Equal(t, 30, st.Foreign, "one every 2 s, the last exactly at 60 s")
		require.Zero(t, st.Requests)

		ok := 0
		var r response
		for {
			r = get(t, s, "/client/")
			if r.status != http.StatusOK {
				break
			}
			ok++
		}
		require.Equal(t, 30, ok, "foreign requests used half the window")
		require.Equal(t, http.StatusTooManyRequests, r.status)
		require.Equal(t, "2", r.header.Get("Retry-After"), "the first foreign request (at 2 s) leaves at 62 s")
		require.Len(t, s.AdmittedForeign(), 30)
		require.Len(t, s.AdmittedOurs(), 30)
	})

	synctest.Test(t, func(t *testing.T) {
		s := newServer(t, fakeapi.Config{Campaigns: 1, LeadsPerCampaign: 1,
			Windows: []ratelimit.Window{{Len: time.Minute, Max: 5}}, Faults: fakeapi.Faults{ForeignPerMinute: 30}})
		time.Sleep(time.Minute)
		st := s.Stats()
		require.Equal(t, 5, st.Foreign)
		require.Equal(t, 25, st.ForeignRejected, "the server would have refused them")
		require.Equal(t, 5, fakeapi.MaxInWindow(s.Admitted(), time.Minute))
		time.Sleep(2 * time.Second) // the one at 2 s has left: the one at 62 s fits
		require.Equal(t, 6, s.Stats().Foreign)
	})
}

// TestFaults: injected errors, drops and slow answers come at roughly
// the configured rates, deterministically, and all spend quota.
func TestFaults(t *testing.T) {
	outcomes := func(t *testing.T) (seq []int, elapsed []time.Duration, st fakeapi.Stats) {
		s := newServer(t, fakeapi.Config{Campaigns: 1, LeadsPerCampaign: 1,
			Faults: fakeapi.Faults{ErrorRate: 0.1, DropRate: 0.05, SlowRate: 0.2, SlowDelay: 3 * time.Second}})
		client := &http.Client{Transport: s.Transport()}
		for range 2000 {
			t0 := time.Now()
			resp, err := client.Get("http://fake.invalid" + fakeapi.BasePath + "/client/?api_key=" + testKey)
			elapsed = append(elapsed, time.Since(t0))
			if err != nil {
				require.ErrorIs(t, err, io.ErrUnexpectedEOF)
				require.NotContains(t, err.Error(), "fakeapi: "+testKey)
				seq = append(seq, 0)
				continue
			}
			_, err = io.Copy(io.Discard, resp.Body)
			require.NoError(t, err)
			resp.Body.Close()
			seq = append(seq, resp.StatusCode)
		}
		return seq, elapsed, s.Stats()
	}
	synctest.Test(t, func(t *testing.T) {
		seq, elapsed, st := outcomes(t)
		count := map[int]int{}
		slow := 0
		for i, c := range seq {
			count[c]++
			switch elapsed[i] {
			case 3 * time.Second:
				slow++
			case 0:
			default:
				t.Fatalf("request %d took %v of virtual time", i, elapsed[i])
			}
		}
		errs := count[500] + count[502] + count[503]
		assert.InDelta(t, 200, errs, 60)
		assert.Positive(t, count[500])
		assert.Positive(t, count[502])
		assert.Positive(t, count[503])
		assert.InDelta(t, 100, count[0], 40)
		assert.InDelta(t, 0.2*float64(2000-count[0]), slow, 80)
		assert.Equal(t, 2000, st.Requests, "faults happen after admission: every request spent quota")
		assert.Equal(t, errs, st.Errors)
		assert.Equal(t, count[0], st.Drops)
		assert.Equal(t, slow, st.Slow)

		again, _, _ := outcomes(t)
		assert.Equal(t, seq, again, "the same seed injects the same faults")
	})
}

// TestOverLoopback: over a real connection a drop closes it without a
// response, and a slow answer gives up when the client does.
func TestOverLoopback(t *testing.T) {
	s := newServer(t, fakeapi.Config{Campaigns: 1, LeadsPerCampaign: 1, Faults: fakeapi.Faults{DropRate: 1}})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	_, err := srv.Client().Get(srv.URL + fakeapi.BasePath + "/client/?api_key=" + testKey)
	require.Error(t, err)
	require.Equal(t, 1, s.Stats().Drops)

	s = newServer(t, fakeapi.Config{Campaigns: 1, LeadsPerCampaign: 1, Faults: fakeapi.Faults{SlowRate: 1, SlowDelay: time.Hour}})
	srv2 := httptest.NewServer(s)
	t.Cleanup(srv2.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv2.URL+fakeapi.BasePath+"/client/?api_key="+testKey, nil)
	require.NoError(t, err)
	_, err = srv2.Client().Do(req)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "%v", err)
}
