package extract

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"
)

// Account-wide change signals (smartlead-api.md §1.14, §1.14a): a few
// pages that say what changed across every campaign. They are inputs of
// change detection, not warehouse tables, so they are not in AllStreams
// and --streams does not name them.
const (
	// StreamOverallStats is GET /analytics/campaign/overall-stats: one
	// record per campaign over Item.Day..Item.EndDay, counted on the
	// send-date axis.
	StreamOverallStats Stream = "overall_stats"
	// StreamLeadActivities is GET /campaigns/all-leads-activities: one
	// record per lead with an event in Item.Since..Item.Until, with its
	// emails.
	StreamLeadActivities Stream = "lead_activities"
)

// SignalStreams lists the account-wide change-signal streams.
var SignalStreams = []Stream{StreamOverallStats, StreamLeadActivities}

// SignalPageSize is the limit asked of both signal endpoints: the
// documented maximum of all-leads-activities, and what overall-stats
// accepts (it documents none).
const SignalPageSize = 1000

// DefaultOverallStatsDays is the longest range asked of overall-stats:
// public clients chunk it into 30 days or less.
const DefaultOverallStatsDays = 30

// signalQuery sets the query of a signal item, or names its bad field.
func signalQuery(it Item, q url.Values) error {
	switch it.Stream {
	case StreamOverallStats:
		start, err1 := time.Parse(time.DateOnly, it.Day)
		end, err2 := time.Parse(time.DateOnly, it.EndDay)
		switch {
		case err1 != nil:
			return fmt.Errorf("smartlead: %s item: day %q: want YYYY-MM-DD", it.Stream, it.Day)
		case err2 != nil:
			return fmt.Errorf("smartlead: %s item: end day %q: want YYYY-MM-DD", it.Stream, it.EndDay)
		case end.Before(start):
			return fmt.Errorf("smartlead: %s item: end day %s is before day %s", it.Stream, it.EndDay, it.Day)
		}
		q.Set("start_date", it.Day)
		q.Set("end_date", it.EndDay)
	case StreamLeadActivities:
		if !it.Since.IsZero() {
			q.Set("event_time_from", it.Since.UTC().Format(isoMillis))
		}
		if !it.Until.IsZero() {
			if it.Since.IsZero() {
				return fmt.Errorf("smartlead: %s item: until needs since (the API refuses event_time_to alone)", it.Stream)
			}
			if it.Until.Before(it.Since) {
				return fmt.Errorf("smartlead: %s item: until %s is before since %s", it.Stream, it.Until.Format(time.RFC3339), it.Since.Format(time.RFC3339))
			}
			q.Set("event_time_to", it.Until.UTC().Format(isoMillis))
		}
	}
	return nil
}

// OverallStatsItems returns the items that cover the UTC days first
// through last in ranges of at most days days (DefaultOverallStatsDays if
// days < 1). The ranges sit on a fixed grid (cells of days days counted
// from the Unix epoch), so the same ranges are asked night after night
// and each campaign's row compares with last night's like for like; only
// the newest range grows, up to last.
func OverallStatsItems(first, last time.Time, days int) []Item {
	if days < 1 {
		days = DefaultOverallStatsDays
	}
	d0, d1 := epochDay(first), epochDay(last)
	var items []Item
	for cell := floorDiv(d0, days); cell*days <= d1; cell++ {
		lo, hi := max(cell*days, d0), min(cell*days+days-1, d1)
		items = append(items, Item{Stream: StreamOverallStats, Day: dayString(lo), EndDay: dayString(hi)})
	}
	return items
}

func epochDay(t time.Time) int { return int(floorDiv64(t.UTC().Unix(), 86400)) }

func dayString(d int) string { return time.Unix(int64(d)*86400, 0).UTC().Format(time.DateOnly) }

func floorDiv(a, b int) int { return int(floorDiv64(int64(a), int64(b))) }

func floorDiv64(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// rangeDays is the number of days an overall-stats item covers.
func rangeDays(it Item) int {
	s, err1 := time.Parse(time.DateOnly, it.Day)
	e, err2 := time.Parse(time.DateOnly, it.EndDay)
	if err1 != nil || err2 != nil {
		return 0
	}
	return int(e.Sub(s)/(24*time.Hour)) + 1
}

// splitRange cuts an overall-stats item into ranges of at most days days.
func splitRange(it Item, days int) []Item {
	s, _ := time.Parse(time.DateOnly, it.Day)
	e, _ := time.Parse(time.DateOnly, it.EndDay)
	var out []Item
	for lo := s; !lo.After(e); lo = lo.AddDate(0, 0, days) {
		hi := lo.AddDate(0, 0, days-1)
		if hi.After(e) {
			hi = e
		}
		out = append(out, Item{Stream: StreamOverallStats, Day: lo.Format(time.DateOnly), EndDay: hi.Format(time.DateOnly)})
	}
	return out
}

// rangeLimitRE reads the longest range a refusal names ("the maximum is
// 30 days", "must not exceed 31 days", "up to 7 days").
var rangeLimitRE = regexp.MustCompile(`(?i)(?:max(?:imum)?|at most|up to|exceed(?:s|ing)?|limit(?: is)?|longer than)\D{0,20}?(\d{1,4})\s*days?`)

// refusedRange reports whether err is overall-stats refusing the range
// of it, and the longest range the refusal names (0 if none).
func refusedRange(err error) (limit int, ok bool) {
	var ae *APIError
	if !errors.As(err, &ae) || (ae.Status != http.StatusBadRequest && ae.Status != http.StatusUnprocessableEntity) {
		return 0, false
	}
	if m := rangeLimitRE.FindStringSubmatch(ae.Body); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n, true
	}
	return 0, true
}

// CrawlOverallStats fetches every page of the overall-stats items in
// order, one request at a time, handing each page to emit. A range the
// endpoint refuses (400 or 422 on a range's first page) is cut to the
// longest range the refusal names, or else in half once; a range refused
// again without naming a limit, or a one-day range refused, is the
// endpoint's error, returned for the caller to fall back on. It returns
// the ranges actually read, so that the caller can ask for the same ones
// next time. A request the admit function refuses stops it with
// ErrNotAdmitted.
func (c *Client) CrawlOverallStats(ctx context.Context, items []Item, emit func(Page) error) ([]Item, error) {
	type job struct {
		it     Item
		halved bool // cut in half without a named limit already
	}
	queue := make([]job, 0, len(items))
	for _, it := range items {
		if it.Stream != StreamOverallStats {
			return nil, fmt.Errorf("smartlead: CrawlOverallStats: item of stream %q", it.Stream)
		}
		queue = append(queue, job{it: it})
	}
	var done []Item
	for len(queue) > 0 {
		j := queue[0]
		queue = queue[1:]
		var failed error
		first, complete := true, false
		for page, err := range c.Pages(ctx, j.it) {
			if err != nil {
				failed = err
				break
			}
			first, complete = false, page.Next == nil
			if err := emit(page); err != nil {
				return done, &EmitError{Item: page.Item, Err: err}
			}
		}
		if failed == nil {
			if !complete {
				// Pages stops quietly when the admit function refuses a
				// request (budget or deadline).
				return done, ErrNotAdmitted
			}
			done = append(done, j.it)
			continue
		}
		limit, refused := refusedRange(failed)
		days := rangeDays(j.it)
		cut := (days + 1) / 2 // no limit named: halves, once
		if limit > 0 && limit < days {
			cut = limit
		}
		if !refused || !first || days <= 1 || (cut != limit && j.halved) {
			return done, failed
		}
		c.log.Info("smartlead: overall-stats refused a range; reading shorter ranges",
			"start_date", j.it.Day, "end_date", j.it.EndDay, "days", cut, "limit_named", cut == limit)
		parts := splitRange(j.it, cut)
		more := make([]job, 0, len(parts)+len(queue))
		for _, p := range parts {
			more = append(more, job{it: p, halved: true})
		}
		queue = append(more, queue...)
	}
	return done, nil
}
