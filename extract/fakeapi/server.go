package fakeapi

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
)

// BasePath is the prefix of every route, as in the real base URL
// https://server.smartlead.ai/api/v1.
const BasePath = "/api/v1"

// Config sizes the synthetic account and sets the server's behaviour.
// Zero values take the defaults noted.
type Config struct {
	Seed                 int64
	APIKey               string // the only accepted key
	Campaigns            int    // default 10
	LeadsPerCampaign     int    // average, default 50; per-campaign counts vary (some 0, some twice the average)
	SequencesPerCampaign int    // default 3
	EmailAccounts        int    // default 5; negative for none
	Clients              int    // default 2; negative for none
	Now                  time.Time
	// Windows are the server-side limits, unscaled; nil means no limit
	// and no X-RateLimit headers.
	Windows       []ratelimit.Window
	StatsMaxLimit int // largest statistics page honoured, default 1000
	// Mix sets the status mix and campaign lifetimes; nil is the default
	// mix (see StatusMix, AgencyConfig).
	Mix *StatusMix
	// OverallStatsMaxDays is the longest date range, in days, that
	// /analytics/campaign/overall-stats answers (default 30); a longer
	// one is refused with a 400.
	OverallStatsMaxDays int
	Faults              Faults
	// WebhookSecret is sent as secret_key in webhook payloads and signs
	// them (X-Smartlead-Signature); "" sends neither.
	WebhookSecret string
}

// Faults injects misbehaviour. Rates are shares of admitted requests,
// decided per request from Seed and the request's admission number.
type Faults struct {
	ErrorRate        float64 // answered 500, 502 or 503 (quota already spent)
	DropRate         float64 // connection closed without a response (quota spent)
	SlowRate         float64 // answered after SlowDelay
	SlowDelay        time.Duration
	ForeignPerMinute int           // another program on the same key, evenly spaced from New
	ClockSkew        time.Duration // the server clock (Date, X-RateLimit-Reset) runs this far ahead
	// Endpoints makes a route template misbehave on every request (see
	// EndpointFault); SetEndpointFault changes it later.
	Endpoints map[string]EndpointFault
}

// Stats counts what the server did.
type Stats struct {
	Requests        int            // our requests admitted (counted against the windows)
	Throttled       int            // 429s sent
	Unauthorized    int            // 401s sent (not counted against the windows)
	Errors          int            // injected 5xx
	Drops           int            // injected dropped connections
	Slow            int            // injected slow responses
	Foreign         int            // foreign requests counted against the windows
	ForeignRejected int            // foreign requests the windows refused
	Paths           map[string]int // admitted requests by route template, e.g. "/campaigns/{id}/leads"
}

// Server is the simulated API. It is safe for concurrent use.
type Server struct {
	cfg Config

	mu  sync.Mutex // guards lim, stats and epFaults
	lim *limiter
	// epFaults starts as Config.Faults.Endpoints; SetEndpointFault
	// changes it.
	epFaults map[string]EndpointFault
	stats    Stats
	served   int // admission number of our requests, for fault decisions

	dataMu sync.RWMutex // guards acc, gen, nights
	acc    *Account
	gen    *generator
	nights int

	hooks webhookState // registrations and the delivery outbox (webhooks.go)
}

// New builds the account (deterministic for a given Config) and the
// server. The foreign traffic schedule starts at time.Now(), so inside a
// synctest bubble call New inside the bubble.
func New(cfg Config) *Server {
	if cfg.Campaigns == 0 {
		cfg.Campaigns = 10
	}
	cfg.Campaigns = max(cfg.Campaigns, 0)
	if cfg.LeadsPerCampaign == 0 {
		cfg.LeadsPerCampaign = 50
	}
	cfg.LeadsPerCampaign = max(cfg.LeadsPerCampaign, 0)
	if cfg.SequencesPerCampaign <= 0 {
		cfg.SequencesPerCampaign = 3
	}
	if cfg.EmailAccounts == 0 {
		cfg.EmailAccounts = 5
	}
	if cfg.Clients == 0 {
		cfg.Clients = 2
	}
	if cfg.StatsMaxLimit <= 0 {
		cfg.StatsMaxLimit = 1000
	}
	if cfg.OverallStatsMaxDays <= 0 {
		cfg.OverallStatsMaxDays = 30
	}
	cfg.Faults.Endpoints = maps.Clone(cfg.Faults.Endpoints)
	start := time.Now()
	if cfg.Now.IsZero() {
		cfg.Now = start
	}
	cfg.Now = cfg.Now.UTC().Round(0).Truncate(time.Millisecond)
	acc, gen := generate(cfg)
	return &Server{
		cfg: cfg,
		lim: newLimiter(cfg.Windows, cfg.Faults.ForeignPerMinute, start),
		acc: acc, gen: gen,
		stats:    Stats{Paths: map[string]int{}},
		epFaults: maps.Clone(cfg.Faults.Endpoints),
	}
}

// Stats returns a snapshot of the counters, with foreign traffic caught
// up to time.Now().
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lim.catchUp(time.Now())
	st := s.stats
	st.Foreign, st.ForeignRejected = s.lim.foreign, s.lim.foreignLost
	st.Paths = maps.Clone(s.stats.Paths)
	return st
}

// Admitted returns the time of every request counted against the windows,
// ours and foreign, ascending (foreign caught up to time.Now()).
func (s *Server) Admitted() []time.Time { return s.admitted(func(admission) bool { return true }) }

// AdmittedOurs is Admitted without the foreign requests.
func (s *Server) AdmittedOurs() []time.Time {
	return s.admitted(func(a admission) bool { return !a.Foreign })
}

// AdmittedForeign is Admitted with only the foreign requests.
func (s *Server) AdmittedForeign() []time.Time {
	return s.admitted(func(a admission) bool { return a.Foreign })
}

func (s *Server) admitted(keep func(admission) bool) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lim.catchUp(time.Now())
	out := make([]time.Time, 0, len(s.lim.all))
	for _, a := range s.lim.all {
		if keep(a) {
			out = append(out, a.At)
		}
	}
	return out
}

// Truth returns a copy of the account as it is now. It costs a copy of
// every lead and row (about 0.1 s and 100 MB for 200,000 leads).
func (s *Server) Truth() Account {
	s.dataMu.RLock()
	defer s.dataMu.RUnlock()
	return s.acc.clone()
}

// Config returns the configuration with defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// outcome is what serve decided beyond the response it wrote.
type outcome int

const (
	outcomeServed outcome = iota
	outcomeDrop           // close the connection without a response
)

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.serve(w, r) != outcomeDrop {
		return
	}
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	// HTTP/2 or no hijacking: net/http aborts the stream without a response.
	panic(http.ErrAbortHandler)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) outcome {
	h := w.Header()
	key, present := r.URL.Query()["api_key"]
	if !present || len(key) == 0 || key[0] == "" {
		return s.unauthorized(w, "API key is required.")
	}
	if subtle.ConstantTimeCompare([]byte(key[0]), []byte(s.cfg.APIKey)) != 1 {
		return s.unauthorized(w, "Invalid API Key")
	}
	tmpl := routeTemplate(r.URL.Path)

	s.mu.Lock()
	now := time.Now()
	ok, retry := s.lim.admit(now)
	s.rateHeaders(h, now)
	if !ok {
		s.stats.Throttled++
		s.mu.Unlock()
		secs := int64(math.Ceil(retry.Seconds()))
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"error": map[string]any{
			"code":        "RATE_LIMIT_EXCEEDED",
			"message":     fmt.Sprintf("Too many requests. Please retry after %d seconds.", secs),
			"retry_after": secs,
		}})
		return outcomeServed
	}
	s.stats.Requests++
	s.stats.Paths[tmpl]++
	n := s.served
	s.served++
	f := s.cfg.Faults
	u := unit(mix2(uint64(s.cfg.Seed), uint64(n)<<1))
	slow := unit(mix2(uint64(s.cfg.Seed), uint64(n)<<1|1)) < f.SlowRate
	drop := u < f.DropRate
	fail := !drop && u < f.DropRate+f.ErrorRate
	switch {
	case drop:
		s.stats.Drops++
	case fail:
		s.stats.Errors++
	}
	if slow && !drop {
		s.stats.Slow++
	}
	s.mu.Unlock()

	if drop {
		return outcomeDrop
	}
	if slow && f.SlowDelay > 0 {
		t := time.NewTimer(f.SlowDelay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return outcomeServed // the client is gone; nothing to answer
		}
	}
	if fail {
		switch mix2(uint64(s.cfg.Seed), uint64(n)<<2|2) % 3 {
		case 0:
			writeJSON(w, http.StatusInternalServerError, map[string]string{"message": "Internal Server Error"})
		case 1:
			h.Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			io.WriteString(w, "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>\n")
		default:
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"message": "Service Unavailable"})
		}
		return outcomeServed
	}
	if s.serveWebhooks(w, r) {
		return outcomeServed
	}
	if r.Method != http.MethodGet {
		h.Set("Allow", http.MethodGet)
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"message": "Method Not Allowed"})
		return outcomeServed
	}
	s.route(w, r)
	return outcomeServed
}

func (s *Server) unauthorized(w http.ResponseWriter, msg string) outcome {
	s.mu.Lock()
	s.stats.Unauthorized++
	s.mu.Unlock()
	w.Header().Set("Date", time.Now().Add(s.cfg.Faults.ClockSkew).UTC().Format(http.TimeFormat))
	writeJSON(w, http.StatusUnauthorized, map[string]string{"message": msg})
	return outcomeServed
}

// rateHeaders sets Date and the X-RateLimit headers from the server clock.
// Call with s.mu held.
func (s *Server) rateHeaders(h http.Header, now time.Time) {
	skew := s.cfg.Faults.ClockSkew
	h.Set("Date", now.Add(skew).UTC().Format(http.TimeFormat))
	w, rem, reset, ok := s.lim.state(now)
	if !ok {
		return
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(w.Max))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(rem))
	// Rounded up: at the stated second the slot is certainly free.
	rs := reset.Add(skew)
	secs := rs.Unix()
	if rs.Nanosecond() > 0 {
		secs++
	}
	h.Set("X-RateLimit-Reset", strconv.FormatInt(secs, 10))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)              // the real API sends "<p>" in email bodies as is
	if err := enc.Encode(v); err != nil { // only our own wire types get here
		panic(fmt.Sprintf("fakeapi: encoding response: %v", err))
	}
	writeBody(w, status, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// Transport returns a RoundTripper that serves requests in the calling
// goroutine without sockets: the natural fit for synctest bubbles. An
// injected drop becomes an io.ErrUnexpectedEOF transport error.
func (s *Server) Transport() http.RoundTripper { return transport{s} }

type transport struct{ s *Server }

func (t transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	out := t.s.serve(rec, req)
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	if out == outcomeDrop {
		return nil, fmt.Errorf("fakeapi: connection closed before the response: %w", io.ErrUnexpectedEOF)
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
