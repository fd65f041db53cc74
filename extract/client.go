package extract

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract/ratelimit"
)

// DefaultBaseURL is the vendor's API root.
const DefaultBaseURL = "https://server.smartlead.ai/api/v1"

// Defaults; see the matching options.
const (
	DefaultAttemptTimeout = 30 * time.Second
	DefaultMaxRetries     = 5 // 6 attempts: the vendor's 1,2,4,8,16 s schedule
	DefaultRetryBase      = time.Second
	DefaultRetryCap       = 16 * time.Second
	DefaultMaxRetryAfter  = 15 * time.Minute
	DefaultStatsPageSize  = 1000 // documented max of /campaigns/{id}/statistics
	DefaultWorkers        = 4
	DefaultHeadroom       = 0.8 // the vendor's advice: run at 80% of the limit
)

// Client talks to one SmartLead account through one API key. Every request,
// retry and 429 of every worker goes through the one shared limiter. A
// Client is safe for concurrent use.
type Client struct {
	key     string
	redact  redactor
	base    *url.URL
	hc      *http.Client
	lim     *ratelimit.Limiter
	log     *slog.Logger
	observe func(Attempt)
	journal Journal
	admit   func(Item) bool

	attemptTimeout time.Duration
	maxRetries     int
	retryBase      time.Duration
	retryCap       time.Duration
	maxRetryAfter  time.Duration
	statsPageSize  int

	rndMu sync.Mutex
	rnd   *rand.Rand

	statsMu sync.Mutex
	stats   Stats
}

// Option configures a Client.
type Option func(*config) error

type config struct {
	baseURL        string
	hc             *http.Client
	lim            *ratelimit.Limiter
	log            *slog.Logger
	observe        func(Attempt)
	journal        Journal
	admit          func(Item) bool
	attemptTimeout time.Duration
	maxRetries     int
	retryBase      time.Duration
	retryCap       time.Duration
	maxRetryAfter  time.Duration
	statsPageSize  int
	rnd            *rand.Rand
}

// WithBaseURL points the client at another API root, such as the simulated
// API ("http://127.0.0.1:PORT/api/v1").
func WithBaseURL(u string) Option {
	return func(c *config) error { c.baseURL = u; return nil }
}

// WithHTTPClient sets the HTTP client (default NewHTTPClient(DefaultWorkers)).
// Its Timeout should be zero: the per-attempt timeout is applied by the
// client itself (WithAttemptTimeout). Its redirect policy is replaced:
// redirects are never followed.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return errors.New("WithHTTPClient: nil client")
		}
		c.hc = hc
		return nil
	}
}

// WithLimiter shares a limiter (one per API key). The default is
// ratelimit.DefaultTier scaled by DefaultHeadroom.
func WithLimiter(l *ratelimit.Limiter) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("WithLimiter: nil limiter")
		}
		c.lim = l
		return nil
	}
}

// WithAttemptTimeout bounds one HTTP attempt (sending and reading the
// body). It never applies to the limiter wait or the backoff, which can
// legitimately last up to an hour and honour only the job's context.
func WithAttemptTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("WithAttemptTimeout: %v must be positive", d)
		}
		c.attemptTimeout = d
		return nil
	}
}

// WithRetry sets how often and how long a failed request is retried:
// maxRetries retries after the first attempt, with full-jitter backoff
// U(0, min(cap, base*2^n)).
func WithRetry(maxRetries int, base, cap time.Duration) Option {
	return func(c *config) error {
		if maxRetries < 0 || base <= 0 || cap < base {
			return fmt.Errorf("WithRetry(%d, %v, %v): want retries >= 0 and 0 < base <= cap", maxRetries, base, cap)
		}
		c.maxRetries, c.retryBase, c.retryCap = maxRetries, base, cap
		return nil
	}
}

// WithMaxRetryAfter sets the longest server-requested wait the client
// sits out; a longer Retry-After returns a *RateLimitedError at once.
func WithMaxRetryAfter(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("WithMaxRetryAfter: %v must be positive", d)
		}
		c.maxRetryAfter = d
		return nil
	}
}

// WithLogger sets the logger. Log lines name endpoints by template and
// campaign id, never by URL, so they cannot carry the key.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("WithLogger: nil logger")
		}
		c.log = l
		return nil
	}
}

// WithObserver registers fn to be called once per HTTP attempt (retries and
// 429s included), for the api_requests ledger. fn may be called from many
// goroutines at once and should be quick.
func WithObserver(fn func(Attempt)) Option {
	return func(c *config) error { c.observe = fn; return nil }
}

// Journal makes every request durable before it is sent, so that a
// process killed with requests in flight still leaves a record of them
// for the next start's limiter (quota memory) and ledger.
type Journal interface {
	// Sending records a request about to be sent (At, Endpoint,
	// CampaignID, Attempt and Waited are set) and returns an id for
	// Answered. It must be durable when it returns; an error fails the
	// request unsent, since an unrecorded request could overshoot a window
	// after a crash.
	Sending(a Attempt) (id string, err error)
	// Answered records the attempt's outcome.
	Answered(id string, a Attempt)
}

// WithJournal makes the client record each HTTP attempt in j before
// sending it and after it is answered.
func WithJournal(j Journal) Option {
	return func(c *config) error { c.journal = j; return nil }
}

// WithAdmit registers fn to be asked before every request that would reach
// the server: each page's first attempt, every retry, and every re-send
// the transport makes on another connection. Admission and counting are
// the caller's one step, so a budget is exact. When fn returns false the
// chain stops there without an error (Fetch returns ErrNotAdmitted): this
// is how a run keeps to a request budget or a deadline and leaves the rest
// for the next run. fn may be called from many goroutines at once.
func WithAdmit(fn func(Item) bool) Option {
	return func(c *config) error { c.admit = fn; return nil }
}

// WithStatsPageSize sets the limit asked of /campaigns/{id}/statistics. The
// server may honour less; the limit it echoes decides what a short page is.
func WithStatsPageSize(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("WithStatsPageSize: %d must be positive", n)
		}
		c.statsPageSize = n
		return nil
	}
}

// WithRand sets the jitter source, for reproducible tests. The client
// guards it with a mutex; do not use r elsewhere afterwards.
func WithRand(r *rand.Rand) Option {
	return func(c *config) error {
		if r == nil {
			return errors.New("WithRand: nil source")
		}
		c.rnd = r
		return nil
	}
}

// NewClient returns a client for the account behind apiKey.
func NewClient(apiKey string, opts ...Option) (*Client, error) {
	if strings.TrimSpace(apiKey) == "" {
		return nil, errors.New("smartlead: empty API key")
	}
	cfg := config{
		baseURL:        DefaultBaseURL,
		hc:             nil, // NewHTTPClient, unless WithHTTPClient
		attemptTimeout: DefaultAttemptTimeout,
		maxRetries:     DefaultMaxRetries,
		retryBase:      DefaultRetryBase,
		retryCap:       DefaultRetryCap,
		maxRetryAfter:  DefaultMaxRetryAfter,
		statsPageSize:  DefaultStatsPageSize,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, fmt.Errorf("smartlead: %w", err)
		}
	}
	if err := CheckBaseURL(cfg.baseURL); err != nil {
		return nil, fmt.Errorf("smartlead: %w", err)
	}
	base, err := url.Parse(strings.TrimRight(strings.TrimSpace(cfg.baseURL), "/"))
	if err != nil {
		return nil, fmt.Errorf("smartlead: base URL: %w", err) // unreachable: CheckBaseURL parsed it
	}
	hc := NewHTTPClient(DefaultWorkers)
	if cfg.hc != nil {
		// A copy, so the caller's client keeps its policy and ours cannot
		// follow a redirect.
		cp := *cfg.hc
		cp.CheckRedirect = refuseRedirect
		hc = &cp
	}
	if cfg.rnd == nil {
		cfg.rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if cfg.lim == nil {
		raw := ratelimit.MustPreset(ratelimit.DefaultTier)
		scaled, _ := ratelimit.Scale(raw, DefaultHeadroom)
		// The limiter gets its own source: a rand.Rand is not safe to share.
		lr := rand.New(rand.NewPCG(cfg.rnd.Uint64(), cfg.rnd.Uint64()))
		cfg.lim = ratelimit.New(scaled, ratelimit.WithServerWindows(raw), ratelimit.WithRand(lr))
	}
	if cfg.log == nil {
		cfg.log = slog.New(slog.DiscardHandler)
	}
	return &Client{
		key:            apiKey,
		redact:         newRedactor(apiKey),
		base:           base,
		hc:             hc,
		lim:            cfg.lim,
		log:            cfg.log,
		observe:        cfg.observe,
		journal:        cfg.journal,
		admit:          cfg.admit,
		attemptTimeout: cfg.attemptTimeout,
		maxRetries:     cfg.maxRetries,
		retryBase:      cfg.retryBase,
		retryCap:       cfg.retryCap,
		maxRetryAfter:  cfg.maxRetryAfter,
		statsPageSize:  cfg.statsPageSize,
		rnd:            cfg.rnd,
		stats:          Stats{Streams: map[Stream]StreamStats{}},
	}, nil
}

// String describes the client without its key, so that printing one (even
// with %+v) cannot leak it.
func (c *Client) String() string { return "smartlead client for " + c.base.String() }

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }

// Limiter returns the limiter every request of this client goes through.
func (c *Client) Limiter() *ratelimit.Limiter { return c.lim }

// BaseURL returns the API root the client talks to.
func (c *Client) BaseURL() string { return c.base.String() }

// float64 is the jitter source for backoff; rand.Rand is not goroutine-safe.
func (c *Client) float64() float64 {
	c.rndMu.Lock()
	defer c.rndMu.Unlock()
	return c.rnd.Float64()
}

// Stats counts what the client has done since it was made.
type Stats struct {
	Requests   int64         // requests sent: attempts, retries, 429s and the transport's own re-sends
	Throttled  int64         // 429 responses
	Retries    int64         // sends after the first of a request (the transport's re-sends included)
	Waited     time.Duration // limiter waits plus backoff sleeps, summed over attempts
	Pages      int64
	Records    int64 // records handed out (after dedupe)
	Duplicates int64 // records dropped as seen earlier in the same chain (offset drift)
	Empty      int64 // single-object responses that were {} or empty (missing resource)
	Streams    map[Stream]StreamStats
}

// StreamStats is Stats for one stream.
type StreamStats struct {
	Requests   int64
	Pages      int64
	Records    int64
	Duplicates int64
}

// Stats returns a snapshot of the counters.
func (c *Client) Stats() Stats {
	c.statsMu.Lock()
	defer c.statsMu.Unlock()
	s := c.stats
	s.Streams = make(map[Stream]StreamStats, len(c.stats.Streams))
	for k, v := range c.stats.Streams {
		s.Streams[k] = v
	}
	return s
}

func (c *Client) count(st Stream, fn func(s *Stats, ss *StreamStats)) {
	c.statsMu.Lock()
	ss := c.stats.Streams[st]
	fn(&c.stats, &ss)
	c.stats.Streams[st] = ss
	c.statsMu.Unlock()
}
