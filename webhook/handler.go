package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/smartlead-etl/smartlead-etl/internal/spool"
	"github.com/smartlead-etl/smartlead-etl/transform"
)

// Paths the receiver serves.
const (
	Path       = "/webhooks/smartlead"
	HealthPath = "/healthz"
)

// MaxBody is the largest delivery accepted (1 MB): SmartLead's biggest
// documented payload, a category change with its email history, is far
// smaller.
const MaxBody = 1 << 20

// SignatureHeader carries "sha256=<hex HMAC-SHA256 of the raw body>".
const SignatureHeader = "X-Smartlead-Signature"

// Handler receives deliveries. It is safe for concurrent use.
type Handler struct {
	spool  *spool.Writer
	secret []byte // empty: deliveries are not authenticated
	log    *slog.Logger
	now    func() time.Time

	received, acked, rejected, unauthorized, failed atomic.Int64
}

// NewHandler returns a handler that spools to w. secret is
// SMARTLEAD_WEBHOOK_SECRET ("" accepts every delivery).
func NewHandler(w *spool.Writer, secret string, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{spool: w, secret: []byte(secret), log: log, now: time.Now}
}

// Counts is what a Handler has done since it started.
type Counts struct {
	Received     int64 `json:"received"`     // POSTs to the webhook path
	Acknowledged int64 `json:"acknowledged"` // events answered 200 (durable)
	Rejected     int64 `json:"rejected"`     // 400 and 413 answers (kept in webhook_rejects)
	Unauthorized int64 `json:"unauthorized"` // 401 answers (stored nowhere)
	Failed       int64 `json:"failed"`       // 503 answers: the spool could not write
}

// Counts returns the counters.
func (h *Handler) Counts() Counts {
	return Counts{Received: h.received.Load(), Acknowledged: h.acked.Load(), Rejected: h.rejected.Load(),
		Unauthorized: h.unauthorized.Load(), Failed: h.failed.Load()}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case HealthPath:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			answer(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		h.health(w)
	case Path:
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			answer(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		h.received.Add(1)
		h.receive(w, r)
	default:
		answer(w, http.StatusNotFound, "not found")
	}
}

func (h *Handler) receive(w http.ResponseWriter, r *http.Request) {
	at := h.now().UTC()
	remote := remoteAddress(r)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		h.reject(w, r, http.StatusRequestEntityTooLarge, transform.WebhookReject{ReceivedAt: at,
			Reason: fmt.Sprintf("body larger than %d bytes", MaxBody), BodyExcerpt: h.excerpt(body), RemoteAddress: remote})
		return
	case err != nil:
		// The sender went away mid-body: nothing to store or answer.
		h.log.Debug("webhook: reading the body failed", "remote", remote, "error", err)
		return
	}
	sig := r.Header.Get(SignatureHeader)
	if len(h.secret) > 0 && sig != "" && !h.signatureValid(sig, body) {
		h.deny(w, remote, "the X-Smartlead-Signature header does not verify")
		return
	}
	ev, err := transform.DecodeWebhook(body, at)
	if err != nil {
		h.reject(w, r, http.StatusBadRequest, transform.WebhookReject{ReceivedAt: at,
			Reason: err.Error(), BodyExcerpt: h.excerpt(body), RemoteAddress: remote})
		return
	}
	if len(h.secret) > 0 {
		if reason := h.checkSecretField(body, sig != ""); reason != "" {
			h.deny(w, remote, reason)
			return
		}
	}
	rec, err := json.Marshal(transform.WebhookRecord{Event: &ev})
	if err != nil { // only our own types: cannot happen
		h.fail(w, remote, err)
		return
	}
	if err := h.spool.Append(r.Context(), rec); err != nil {
		h.fail(w, remote, err)
		return
	}
	h.acked.Add(1)
	h.log.Debug("webhook: event received", "event_type", ev.EventType, "event_id", ev.EventID, "remote", remote)
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "event_id": ev.EventID})
}

// health answers /healthz: 200 while deliveries are being acknowledged,
// 503 with the reason while the spool cannot write them (they are then
// refused with 503, and SmartLead retries them), so that a supervisor or
// a load balancer sees what SmartLead sees.
func (h *Handler) health(w http.ResponseWriter) {
	st := h.spool.Stats()
	body := map[string]any{"status": "ok", "counts": h.Counts(),
		"spool": map[string]any{"records": st.Records, "fsyncs": st.Syncs, "segment": st.Segment,
			"failures": st.Failures, "recoveries": st.Recoveries}}
	since, err := h.spool.Health()
	if err != nil {
		body["status"] = "unavailable"
		body["reason"] = err.Error()
		body["since"] = since.UTC().Format(time.RFC3339)
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// signatureValid checks "sha256=<hex>" (or bare hex) against the body's
// HMAC-SHA256 with the secret, in constant time.
func (h *Handler) signatureValid(header string, body []byte) bool {
	v := strings.TrimSpace(header)
	if i := strings.IndexByte(v, '='); i >= 0 {
		if !strings.EqualFold(v[:i], "sha256") {
			return false
		}
		v = v[i+1:]
	}
	got, err := hex.DecodeString(v)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, h.secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// checkSecretField returns why a delivery's secret_key field fails, or "".
// A delivery must carry a matching secret_key unless it was signed; a
// signed one that also carries the field must match it too.
func (h *Handler) checkSecretField(body []byte, signed bool) string {
	var f struct {
		SecretKey *json.RawMessage `json:"secret_key"`
	}
	_ = json.Unmarshal(body, &f) // DecodeWebhook has parsed it already
	if f.SecretKey == nil {
		if signed {
			return ""
		}
		return "no secret_key field and no X-Smartlead-Signature header"
	}
	var s string
	if json.Unmarshal(*f.SecretKey, &s) != nil {
		return "the secret_key field is not a string"
	}
	if subtle.ConstantTimeCompare([]byte(s), h.secret) != 1 {
		return "the secret_key field does not match SMARTLEAD_WEBHOOK_SECRET"
	}
	return ""
}

// excerpt is the part of a rejected body webhook_rejects keeps, with the
// configured secret scrubbed as well as any secret-looking member.
func (h *Handler) excerpt(body []byte) string {
	return transform.RejectExcerpt(body, string(h.secret))
}

// reject spools a dead-letter row and answers status. The row is durable
// before the answer, like an event.
func (h *Handler) reject(w http.ResponseWriter, r *http.Request, status int, rej transform.WebhookReject) {
	rec, err := json.Marshal(transform.WebhookRecord{Reject: &rej})
	if err == nil {
		err = h.spool.Append(r.Context(), rec)
	}
	if err != nil {
		h.fail(w, rej.RemoteAddress, err)
		return
	}
	h.rejected.Add(1)
	h.log.Warn("webhook: delivery rejected", "status", status, "reason", rej.Reason, "remote", rej.RemoteAddress)
	answer(w, status, rej.Reason)
}

// deny answers 401 and stores nothing: the reason is logged, never the
// secret or the body.
func (h *Handler) deny(w http.ResponseWriter, remote, reason string) {
	h.unauthorized.Add(1)
	h.log.Warn("webhook: delivery refused", "reason", reason, "remote", remote)
	answer(w, http.StatusUnauthorized, "unauthorized")
}

// fail answers 503 so that SmartLead retries later.
func (h *Handler) fail(w http.ResponseWriter, remote string, err error) {
	if errors.Is(err, context.Canceled) {
		return // the sender hung up; it will retry
	}
	h.failed.Add(1)
	level := slog.LevelError
	if _, broken := h.spool.Health(); broken != nil {
		// The spool logged the failure once when it began, and logs
		// when it ends: a line per refused delivery would flood the log.
		level = slog.LevelDebug
	}
	h.log.Log(context.Background(), level, "webhook: could not store a delivery", "remote", remote, "error", err)
	answer(w, http.StatusServiceUnavailable, "could not store the delivery; retry later")
}

// remoteAddress is the peer, or the client a reverse proxy on the same
// host forwarded for (X-Forwarded-For is trusted only from loopback).
func remoteAddress(r *http.Request) string {
	addr := r.RemoteAddr
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			first, _, _ := strings.Cut(xff, ",")
			return strings.ToValidUTF8(truncate(strings.TrimSpace(first), 100), "?") + " (via " + addr + ")"
		}
	}
	return addr
}

func answer(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"ok": status == http.StatusOK, "message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
