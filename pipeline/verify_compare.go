package pipeline

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/smartlead-etl/smartlead-etl/transform"
)

// Comparisons verify makes between what a night read and what the
// previous snapshot holds.

// zeroDay reports whether a day's counters are all zero.
func zeroDay(d transform.CampaignDailyStat) bool {
	d.CampaignID, d.Day = 0, time.Time{}
	return d == transform.CampaignDailyStat{}
}

// analyticsDiff describes how fresh differs from held: every column with
// all, else the counters only (a settings change moves name, status and
// client, not the counters). "" when equal.
func analyticsDiff(held, fresh transform.CampaignAnalytics, all bool) string {
	var out []string
	cmp := func(name string, a, b int64) {
		if a != b {
			out = append(out, fmt.Sprintf("%s %d -> %d", name, a, b))
		}
	}
	cmp("sent_count", held.SentCount, fresh.SentCount)
	cmp("unique_sent_count", held.UniqueSentCount, fresh.UniqueSentCount)
	cmp("open_count", held.OpenCount, fresh.OpenCount)
	cmp("unique_open_count", held.UniqueOpenCount, fresh.UniqueOpenCount)
	cmp("click_count", held.ClickCount, fresh.ClickCount)
	cmp("unique_click_count", held.UniqueClickCount, fresh.UniqueClickCount)
	cmp("reply_count", held.ReplyCount, fresh.ReplyCount)
	cmp("bounce_count", held.BounceCount, fresh.BounceCount)
	cmp("unsubscribed_count", held.UnsubscribedCount, fresh.UnsubscribedCount)
	cmp("block_count", held.BlockCount, fresh.BlockCount)
	cmp("total_count", held.TotalCount, fresh.TotalCount)
	cmp("drafted_count", held.DraftedCount, fresh.DraftedCount)
	cmp("leads_total", held.LeadsTotal, fresh.LeadsTotal)
	cmp("leads_not_started", held.LeadsNotStarted, fresh.LeadsNotStarted)
	cmp("leads_in_progress", held.LeadsInProgress, fresh.LeadsInProgress)
	cmp("leads_completed", held.LeadsCompleted, fresh.LeadsCompleted)
	cmp("leads_paused", held.LeadsPaused, fresh.LeadsPaused)
	cmp("leads_stopped", held.LeadsStopped, fresh.LeadsStopped)
	cmp("leads_blocked", held.LeadsBlocked, fresh.LeadsBlocked)
	cmp("leads_interested", held.LeadsInterested, fresh.LeadsInterested)
	if all {
		held.CampaignID, fresh.CampaignID = 0, 0
		if !equalJSON(held, fresh) && len(out) == 0 {
			out = append(out, "name, status, client, step count or revenue")
		}
	}
	return strings.Join(out, ", ")
}

func equalJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

// sortedKeys returns a string map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
