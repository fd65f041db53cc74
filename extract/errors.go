package extract

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Sentinels for errors.Is. An *APIError matches ErrUnauthorized for 401
// and 403 and ErrNotFound for 404; a *RateLimitedError matches
// ErrRateLimited.
var (
	ErrUnauthorized = errors.New("smartlead: unauthorized (check the API key)")
	ErrNotFound     = errors.New("smartlead: not found")
	ErrRateLimited  = errors.New("smartlead: rate limited")
)

// maxErrorBody caps the excerpt of an error response kept in an APIError:
// enough to read the server's message, never a whole page in a log line.
const maxErrorBody = 512

// maxDrain caps how much of a discarded body is read so the connection can
// be reused; anything longer is cheaper to drop with the connection.
const maxDrain = 4 << 10

// requestName is how every error of the package names its request:
// "smartlead: GET /campaigns/{id}/leads (campaign 7, offset 200)" (the
// method is GET unless the template names another, "POST /webhook/create"). The
// campaign and offset are left out when zero; the offset only shows with a
// campaign, as only campaign routes page by it in errors.
func requestName(endpoint string, campaign int64, offset int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "smartlead: %s", requestLine(endpoint))
	if campaign != 0 {
		fmt.Fprintf(&b, " (campaign %d", campaign)
		if offset != 0 {
			fmt.Fprintf(&b, ", offset %d", offset)
		}
		b.WriteString(")")
	}
	return b.String()
}

// APIError is a response the client does not retry, or stopped retrying:
// any non-2xx status other than 429. Body is a capped excerpt with the API
// key scrubbed out.
type APIError struct {
	Status     int
	Endpoint   string // path template, e.g. "/campaigns/{id}/leads"
	CampaignID int64  // 0 when not campaign-scoped
	Attempts   int    // HTTP attempts made, retries included
	Body       string
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(requestName(e.Endpoint, e.CampaignID, 0))
	fmt.Fprintf(&b, ": %d %s", e.Status, http.StatusText(e.Status))
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	if e.Body != "" {
		fmt.Fprintf(&b, ": %s", e.Body)
	}
	return b.String()
}

// Is lets callers branch on the class of failure without a type switch.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	}
	return false
}

// RateLimitedError means the server asked us to wait longer than the
// client's maximum (WithMaxRetryAfter), or kept answering 429 until the
// retries ran out. The worker is released instead of blocking for hours.
type RateLimitedError struct {
	Endpoint   string
	CampaignID int64
	RetryAfter time.Duration // what the server (or backoff) asked for last
	Attempts   int
}

func (e *RateLimitedError) Error() string {
	var b strings.Builder
	b.WriteString(requestName(e.Endpoint, e.CampaignID, 0))
	fmt.Fprintf(&b, ": rate limited (429) after %d attempts; server asks to retry after %s",
		e.Attempts, e.RetryAfter.Round(time.Second))
	return b.String()
}

// Is matches ErrRateLimited.
func (e *RateLimitedError) Is(target error) bool { return target == ErrRateLimited }

// ErrNotAdmitted is returned by Fetch when the admit function
// (WithAdmit) refused a request; Pages and Crawl stop the chain quietly
// instead.
var ErrNotAdmitted = errors.New("smartlead: request not admitted (budget or deadline)")

// RedirectError is a 3xx answer. Redirects are never followed: the request
// URL carries the API key, which a followed redirect would pass on (in the
// Referer at least) to the host Location names. Host is that host; the
// Location's path and query are not kept.
type RedirectError struct {
	Status     int
	Endpoint   string
	CampaignID int64
	Host       string // "" when the answer had no usable Location
}

func (e *RedirectError) Error() string {
	var b strings.Builder
	b.WriteString(requestName(e.Endpoint, e.CampaignID, 0))
	fmt.Fprintf(&b, ": the API answered %d %s", e.Status, http.StatusText(e.Status))
	if e.Host != "" {
		fmt.Fprintf(&b, " redirecting to host %s", e.Host)
	}
	b.WriteString("; redirects are not followed, since the request carries the API key: check --base-url")
	return b.String()
}

func redirectError(resp *response, requestURL string, ep endpoint, it Item) *RedirectError {
	e := &RedirectError{Status: resp.status, Endpoint: ep.template, CampaignID: it.CampaignID}
	if base, err := url.Parse(requestURL); err == nil {
		if loc, err := base.Parse(resp.header.Get("Location")); err == nil && resp.header.Get("Location") != "" {
			e.Host = loc.Host
		}
	}
	return e
}

// DecodeError is a 2xx response whose envelope could not be read. It names
// the request and the field; the records themselves are decoded (and
// rejected one by one) by package transform, not here.
type DecodeError struct {
	Endpoint   string
	CampaignID int64
	Offset     int
	Field      string // "" for the body as a whole
	Err        error
}

func (e *DecodeError) Error() string {
	var b strings.Builder
	b.WriteString(requestName(e.Endpoint, e.CampaignID, e.Offset))
	b.WriteString(": bad response")
	if e.Field != "" {
		fmt.Fprintf(&b, " field %q", e.Field)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// TransportError is a request that got no HTTP response (refused, reset,
// dropped, timed out), with the URL's API key already replaced by
// REDACTED. Go's *url.Error prints the full URL, key included; this type
// replaces it everywhere in the chain it wraps.
type TransportError struct {
	Endpoint   string
	CampaignID int64
	Attempts   int
	Err        error // redacted
}

func (e *TransportError) Error() string {
	var b strings.Builder
	b.WriteString(requestName(e.Endpoint, e.CampaignID, 0))
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " failed after %d attempts", e.Attempts)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

func (e *TransportError) Unwrap() error { return e.Err }

// redactor removes one API key from text. The key can appear raw (in a
// URL's query) or percent-encoded (echoed by a server).
type redactor struct{ forms []string }

func newRedactor(key string) redactor {
	forms := []string{key}
	if q := url.QueryEscape(key); q != key {
		forms = append(forms, q)
	}
	if p := url.PathEscape(key); p != key && p != forms[len(forms)-1] {
		forms = append(forms, p)
	}
	return redactor{forms: forms}
}

func (r redactor) String(s string) string {
	for _, f := range r.forms {
		if f != "" {
			s = strings.ReplaceAll(s, f, "REDACTED")
		}
	}
	return s
}

func (r redactor) contains(s string) bool {
	for _, f := range r.forms {
		if f != "" && strings.Contains(s, f) {
			return true
		}
	}
	return false
}

// transportErr turns the http.Client's error into one that cannot print
// the key: the *url.Error is rebuilt around the redacted URL, and if the
// key still shows anywhere in the chain's text (a transport that quotes the
// URL in an inner error), the chain is cut and only scrubbed text kept.
func (r redactor) transportErr(err error, redactedURL string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = &url.Error{Op: ue.Op, URL: redactedURL, Err: ue.Err}
	}
	if r.contains(err.Error()) {
		return errors.New(r.String(err.Error()))
	}
	return err
}

// checkResponse is the one place where a status becomes an error: nil for
// 2xx, otherwise an *APIError carrying a capped, scrubbed body excerpt.
// 429s are handled by the retry loop before they get here.
func (c *Client) checkResponse(status int, body []byte, ep endpoint, it Item, attempts int) error {
	if status >= 200 && status <= 299 {
		return nil
	}
	// Scrub before cutting, so a key straddling the cut cannot survive
	// as a fragment.
	excerpt := c.redact.String(strings.ToValidUTF8(string(body), "?"))
	if len(excerpt) > maxErrorBody {
		excerpt = strings.ToValidUTF8(excerpt[:maxErrorBody], "") + "..."
	}
	return &APIError{
		Status:     status,
		Endpoint:   ep.template,
		CampaignID: it.CampaignID,
		Attempts:   attempts,
		Body:       strings.TrimSpace(excerpt),
	}
}

// drain reads at most maxDrain bytes of a body nobody wants and closes it,
// so the keep-alive connection can be reused.
func drain(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, maxDrain)
	_ = body.Close()
}

// requestLine is how an error names a request: "GET /campaigns/{id}/leads",
// "POST /webhook/create" (see splitTemplate).
func requestLine(template string) string {
	method, path := splitTemplate(template)
	return method + " " + path
}

// splitTemplate reads an endpoint template: a plain path is a GET (every
// stream is); the webhook calls' templates carry their method
// ("POST /webhook/create").
func splitTemplate(template string) (method, path string) {
	if m, p, ok := strings.Cut(template, " "); ok && m != "" && strings.ToUpper(m) == m {
		return m, p
	}
	return http.MethodGet, template
}
