package extract

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Transport settings. The idle timeout is below the keep-alive of common
// servers and proxies (Node and Apache close after 5 s), so that we, not
// the server, retire an idle connection: a connection the server closes
// while our request is on its way is the race that makes net/http re-send.
const (
	DialTimeout         = 10 * time.Second
	TLSHandshakeTimeout = 10 * time.Second
	IdleConnTimeout     = 4 * time.Second
)

// NewHTTPClient returns the HTTP client every command that talks to the
// API uses: keep-alive connections for conns concurrent requests (net/http's
// default keeps 2 per host, so more workers churn connections), bounded
// dial and TLS handshakes, TLS 1.2 or later, and no redirects followed
// (see NewClient). The per-attempt timeout is the Client's, not this one's.
func NewHTTPClient(conns int) *http.Client {
	conns = max(conns, DefaultWorkers)
	d := &net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          conns,
			MaxIdleConnsPerHost:   conns,
			IdleConnTimeout:       IdleConnTimeout,
			TLSHandshakeTimeout:   TLSHandshakeTimeout,
			ExpectContinueTimeout: time.Second,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		},
		CheckRedirect: refuseRedirect,
	}
}

// refuseRedirect hands every 3xx back as the response: the request URL
// carries the API key, and a followed redirect would send it on (in the
// Referer at least) to whatever host Location names.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// APIKeyEnv is the environment variable that holds the API key (the key
// is never a flag: a command line is visible in ps).
const APIKeyEnv = "SMARTLEAD_API_KEY"

// CheckBaseURL accepts an absolute https URL, or http to a loopback host
// (127.0.0.0/8, ::1, localhost: the simulated API and tests), without
// userinfo, query or fragment. Its errors never repeat the URL's userinfo
// or query, which may hold secrets.
func CheckBaseURL(raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		// url.Error quotes the input; say only what is wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("base URL is not a URL: %v", err)
	}
	if u.User != nil {
		return errors.New("base URL must not contain a user name or password (userinfo before @); the API key is read from " + APIKeyEnv + " or --api-key-file")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("base URL %s: want an absolute https:// URL", safeURL(u))
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return fmt.Errorf("base URL %s: must not carry a query or fragment", safeURL(u))
	}
	if u.Scheme == "http" && !IsLoopback(u.Hostname()) {
		return fmt.Errorf("base URL %s: plain http would send the API key unencrypted; use https (http is allowed only to loopback hosts)", safeURL(u))
	}
	return nil
}

// safeURL prints a URL without userinfo, query or fragment.
func safeURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// IsLoopback reports whether host (no port, no brackets: url.Hostname)
// is localhost, in any case, or a loopback address (IPv4-mapped ones
// included): the one check of where plain http may go, for the API's base
// URL and a webhook's receiver alike.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// resendTag is the error text of a ledger row for a send the transport
// repeated: the connection closed before any answer came.
const resendTag = "connection closed before an answer; the transport sent the request again"

// sent is one send of a request on a connection.
type sent struct {
	at     time.Time
	waited time.Duration // limiter wait before it
	jid    string        // its journal id
}

// resendGate watches one attempt's connections. net/http's Transport
// silently sends an idempotent request again on another connection when a
// reused one closes before the answer (shouldRetryRequest), and each such
// send reaches the server. It obtains a connection for every send, so the
// second and later GotConn of one attempt are re-sends about to happen:
// the gate admits each like a retry (budget, limiter slot, journal line)
// before the transport writes it, or closes the connection so that nothing
// is written when the budget, the journal or the context refuses.
type resendGate struct {
	c       *Client
	ctx     context.Context // the job's: the limiter wait may outlast the attempt
	ep      endpoint
	it      Item
	attempt int
	cancel  context.CancelCauseFunc

	mu      sync.Mutex
	conns   int
	sends   []sent
	refused error
}

func (g *resendGate) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{GotConn: g.gotConn}
}

func (g *resendGate) gotConn(info httptrace.GotConnInfo) {
	g.mu.Lock()
	g.conns++
	first := g.conns == 1
	g.mu.Unlock()
	if first {
		return // the send the retry loop already admitted
	}
	var err error
	var waited time.Duration
	if g.c.admit != nil && !g.c.admit(g.it) {
		err = ErrNotAdmitted
	} else if waited, err = g.c.lim.Wait(g.ctx); err == nil {
		// Like every send, it is in the journal before it goes out.
		at := time.Now()
		var jid string
		jid, err = g.c.journalSending(Attempt{At: at, Endpoint: g.ep.template, CampaignID: g.it.CampaignID, Attempt: g.attempt, Waited: waited})
		if err == nil {
			g.mu.Lock()
			g.sends = append(g.sends, sent{at: at, waited: waited, jid: jid})
			g.mu.Unlock()
			return
		}
	}
	g.mu.Lock()
	g.refused = err
	g.mu.Unlock()
	g.cancel(err)
	if info.Conn != nil {
		_ = info.Conn.Close() // the transport writes regardless of the context
	}
}

// result returns the extra sends made and why a further one was refused.
func (g *resendGate) result() ([]sent, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sends, g.refused
}
