package ratelimit

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Window caps requests in any rolling interval: at most Max requests in
// every half-open interval of length Len.
type Window struct {
	Len time.Duration
	Max int
}

func (w Window) String() string { return fmt.Sprintf("%d/%s", w.Max, fmtDur(w.Len)) }

// The vendor's plan tiers.
const (
	TierStandard = "standard"
	TierPro      = "pro"
	// DefaultTier is the tier assumed unless told otherwise.
	DefaultTier = TierStandard
)

// tiers are the vendor's documented per-key limits, before headroom: the
// one source of these numbers (help texts, the demo and the client's
// default limiter derive from it through Preset and DescribeTiers).
var tiers = []struct {
	name    string
	windows []Window
}{
	{TierStandard, []Window{{time.Second, 10}, {time.Minute, 60}, {time.Hour, 1000}}},
	{TierPro, []Window{{time.Second, 20}, {time.Minute, 120}, {time.Hour, 3000}}},
}

// TierNames lists the tiers Preset knows, smallest first.
func TierNames() []string {
	out := make([]string, len(tiers))
	for i, t := range tiers {
		out[i] = t.name
	}
	return out
}

// Preset returns a copy of a named tier's windows (case and surrounding
// space ignored).
func Preset(tier string) ([]Window, error) {
	name := strings.ToLower(strings.TrimSpace(tier))
	for _, t := range tiers {
		if t.name == name {
			return append([]Window(nil), t.windows...), nil
		}
	}
	return nil, fmt.Errorf("unknown tier %q (want %s)", tier, strings.Join(TierNames(), " or "))
}

// MustPreset is Preset of a tier known to exist, such as DefaultTier.
func MustPreset(tier string) []Window {
	ws, err := Preset(tier)
	if err != nil {
		panic(err)
	}
	return ws
}

// DescribeTiers renders every tier for help text:
// "standard (10/s, 60/min, 1000/h) or pro (20/s, 120/min, 3000/h)".
func DescribeTiers() string {
	parts := make([]string, len(tiers))
	for i, t := range tiers {
		parts[i] = t.name + " (" + Describe(t.windows) + ")"
	}
	return strings.Join(parts, " or ")
}

// Describe renders windows for people: "10/s, 60/min, 1000/h" (Format
// renders them for Parse).
func Describe(ws []Window) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		switch w.Len {
		case time.Second:
			parts[i] = fmt.Sprintf("%d/s", w.Max)
		case time.Minute:
			parts[i] = fmt.Sprintf("%d/min", w.Max)
		case time.Hour:
			parts[i] = fmt.Sprintf("%d/h", w.Max)
		default:
			parts[i] = w.String()
		}
	}
	return strings.Join(parts, ", ")
}

// Multiply returns ws with every cap n times as high (n >= 1): a faster
// copy of a tier, such as the demo's.
func Multiply(ws []Window, n int) []Window {
	out := make([]Window, len(ws))
	for i, w := range ws {
		out[i] = Window{Len: w.Len, Max: w.Max * max(n, 1)}
	}
	return out
}

// Parse reads a window list such as "10/1s,60/1m,1000/1h".
func Parse(spec string) ([]Window, error) {
	var out []Window
	for part := range strings.SplitSeq(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		n, d, ok := strings.Cut(part, "/")
		if !ok {
			return nil, fmt.Errorf("limit %q: want COUNT/DURATION, e.g. 60/1m", part)
		}
		max, err := strconv.Atoi(strings.TrimSpace(n))
		if err != nil || max < 1 {
			return nil, fmt.Errorf("limit %q: count must be a positive integer", part)
		}
		ds := strings.TrimSpace(d)
		if ds != "" && (ds[0] < '0' || ds[0] > '9') {
			ds = "1" + ds // "60/m" reads as 60 per 1m
		}
		dur, err := time.ParseDuration(ds)
		if err != nil || dur <= 0 {
			return nil, fmt.Errorf("limit %q: bad duration %q", part, d)
		}
		out = append(out, Window{Len: dur, Max: max})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no limits in %q", spec)
	}
	return out, nil
}

// Scale applies a headroom factor (0 < headroom <= 1) to every window,
// rounding down so the client never exceeds headroom x Max, but keeping
// at least one request per window.
func Scale(ws []Window, headroom float64) ([]Window, error) {
	if !(headroom > 0 && headroom <= 1) {
		return nil, fmt.Errorf("headroom %v: must be in (0, 1]", headroom)
	}
	out := make([]Window, len(ws))
	for i, w := range ws {
		m := int(math.Floor(float64(w.Max)*headroom + 1e-9))
		out[i] = Window{Len: w.Len, Max: max(m, 1)}
	}
	return out, nil
}

// Format renders windows in the form Parse reads.
func Format(ws []Window) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.String()
	}
	return strings.Join(parts, ",")
}

func fmtDur(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}
