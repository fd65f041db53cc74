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

// Tiers are the vendor's documented per-key limits, before headroom.
var Tiers = map[string][]Window{
	"standard": {{time.Second, 10}, {time.Minute, 60}, {time.Hour, 1000}},
	"pro":      {{time.Second, 20}, {time.Minute, 120}, {time.Hour, 3000}},
}

// Preset returns a copy of a named tier's windows.
func Preset(tier string) ([]Window, error) {
	ws, ok := Tiers[strings.ToLower(strings.TrimSpace(tier))]
	if !ok {
		return nil, fmt.Errorf("unknown tier %q (want standard or pro)", tier)
	}
	return append([]Window(nil), ws...), nil
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
