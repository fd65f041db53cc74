package fakeapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/smartlead-etl/smartlead-etl/extract/fakeapi"
)

// TestAgencyMix: an agency account has the status mix, takes
// statuses by age (the finished campaigns are the oldest) and each
// finished campaign sent for a few weeks only.
func TestAgencyMix(t *testing.T) {
	cfg := fakeapi.AgencyConfig(3, 1000)
	cfg.Now = fixedNow
	acc := newServer(t, cfg).Truth()
	count := map[string]int{}
	var newestFinished, oldestLive time.Time
	for _, c := range acc.Campaigns {
		count[c.Status]++
		switch c.Status {
		case "COMPLETED", "STOPPED":
			newestFinished = c.CreatedAt
			require.False(t, c.UpdatedAt.Before(c.CreatedAt))
			if n := len(c.Stats); n > 0 {
				span := c.Stats[n-1].SentTime.Sub(c.CreatedAt)
				require.Less(t, span, 42*24*time.Hour+72*time.Hour, "campaign %d sent for %s", c.ID, span)
				require.True(t, c.Stats[n-1].SentTime.Before(fixedNow.Add(-24*time.Hour)))
			}
		case "ACTIVE", "PAUSED":
			if oldestLive.IsZero() {
				oldestLive = c.CreatedAt
			}
		}
	}
	require.Equal(t, map[string]int{"COMPLETED": 850, "STOPPED": 50, "ACTIVE": 80, "PAUSED": 20}, count)
	require.True(t, newestFinished.Before(oldestLive), "finished campaigns are the oldest")
	require.InDelta(t, 30_000, acc.LeadCount(), 1500, "about 30 leads each")
	require.True(t, acc.Campaigns[len(acc.Campaigns)-1].CreatedAt.After(fixedNow.Add(-3*24*time.Hour)), "the newest is days old")
	require.Equal(t, 83, len(acc.EmailAccounts))

	// Without a mix nothing changes: the default account is the one the
	// existing tests and benchmarks were written against.
	def := newServer(t, fakeapi.Config{Campaigns: 40, Now: fixedNow}).Truth()
	require.Equal(t, 10, countFinished(def))
}

func countFinished(acc fakeapi.Account) int {
	n := 0
	for _, c := range acc.Campaigns {
		if c.Frozen() {
			n++
		}
	}
	return n
}

// TestRealisticNight runs the agency night in virtual time and checks
// what changed against the account before it: late activity on finished
// campaigns on emails sent days or weeks ago, updated_at moving only with
// settings, new leads and sends only in ACTIVE campaigns, and every
// endpoint still telling the same story.
func TestRealisticNight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := fakeapi.AgencyConfig(5, 400)
		s, twin := newServer(t, cfg), newServer(t, cfg)
		before := s.Truth()
		time.Sleep(23 * time.Hour)
		nc := fakeapi.AgencyNight
		nc.DeletedLeads = 2
		rep := s.RealisticNight(nc)
		require.Equal(t, rep, twin.RealisticNight(nc), "deterministic")
		after := s.Truth()
		now := time.Now().UTC()
		require.Equal(t, now, rep.At)
		lo := before.Now

		changed := map[int64]bool{}
		for _, id := range rep.Campaigns {
			changed[id] = true
		}
		settings := map[int64]bool{}
		for _, id := range rep.SettingsChanged {
			settings[id] = true
		}
		require.Len(t, rep.SettingsChanged, 4, "1% of 400")
		lateOld, late, active := 0, 0, 0
		for i := range before.Campaigns {
			b, a := &before.Campaigns[i], &after.Campaigns[i]
			if settings[b.ID] {
				require.True(t, a.UpdatedAt.After(lo) && !a.UpdatedAt.After(now), "campaign %d: settings time moves into the night", b.ID)
				require.NotEqual(t, b.MaxLeadsPerDay, a.MaxLeadsPerDay)
			} else {
				require.Equal(t, b.UpdatedAt, a.UpdatedAt, "campaign %d: updated_at moves only with settings", b.ID)
				require.Equal(t, b.Sequences, a.Sequences)
			}
			require.Equal(t, b.Status, a.Status)
			if !changed[b.ID] {
				require.Equal(t, b.Leads, a.Leads, "campaign %d is not in the report", b.ID)
				require.Equal(t, b.Stats, a.Stats, "campaign %d is not in the report", b.ID)
				continue
			}
			events := 0
			for _, l := range a.Leads {
				if l.LastEventAt.After(lo) {
					require.False(t, l.LastEventAt.After(now))
					events++
				}
			}
			if events == 0 {
				require.Positive(t, deletedIn(after, b.ID, now), "campaign %d changed without an event or a deletion", b.ID)
				continue
			}
			switch b.Status {
			case "COMPLETED", "STOPPED", "PAUSED":
				late++
				require.Len(t, a.Leads, len(b.Leads)-deletedIn(after, b.ID, now), "no new leads in a campaign that no longer sends")
			case "ACTIVE":
				active++
			default:
				t.Fatalf("campaign %d (%s) changed", b.ID, b.Status)
			}
			old := map[string]fakeapi.StatRow{}
			for _, r := range b.Stats {
				old[r.StatsID] = r
			}
			for _, r := range a.Stats {
				o, existed := old[r.StatsID]
				if !existed {
					require.Equal(t, "ACTIVE", b.Status, "only ACTIVE campaigns send")
					require.True(t, r.SentTime.After(lo) && !r.SentTime.After(now))
					continue
				}
				if o.OpenCount != r.OpenCount || o.ClickCount != r.ClickCount || o.ReplyTime != r.ReplyTime || o.IsUnsubscribed != r.IsUnsubscribed {
					require.True(t, r.OpenCount >= o.OpenCount && r.ClickCount >= o.ClickCount, "engagement only grows")
					if b.Frozen() && r.SentTime.Before(lo.Add(-3*24*time.Hour)) {
						lateOld++ // late activity on an email sent days before
					}
				}
			}
			// Every endpoint agrees with the rows.
			an := getJSON[map[string]any](t, s, fmt.Sprintf("/campaigns/%d/analytics", a.ID))
			require.Equal(t, fmt.Sprint(len(a.Stats)), an["sent_count"])
			require.Equal(t, fmt.Sprint(a.Analytics().ReplyCount), an["reply_count"])
		}
		require.Equal(t, 11, late, "3% of the 368 campaigns that no longer send, those with emails in the last six weeks")
		require.Equal(t, 13, active, "40% of the 32 ACTIVE campaigns")
		require.Positive(t, lateOld, "late opens and replies land on emails sent days ago")
		require.Positive(t, rep.NewSends)
		require.Positive(t, rep.NewLeads)
		require.Equal(t, 2, rep.DeletedLeads)

		// The leads filter sees exactly the leads with an event tonight,
		// new leads included.
		since := url.QueryEscape(lo.Format(time.RFC3339Nano))
		seen := 0
		for _, c := range after.Campaigns {
			p := getJSON[leadsPage](t, s, fmt.Sprintf("/campaigns/%d/leads?limit=100&event_time_gt=%s", c.ID, since))
			n := 0
			fmt.Sscan(p.TotalLeads, &n)
			seen += n
		}
		require.Equal(t, rep.ChangedLeads, seen)
		require.GreaterOrEqual(t, rep.ChangedLeads, rep.NewLeads+rep.NewSends/3)
	})
}

func deletedIn(acc fakeapi.Account, id int64, at time.Time) int {
	n := 0
	for _, d := range acc.Deleted {
		if d.CampaignID == id && d.At.Equal(at) {
			n++
		}
	}
	return n
}

// TestRealisticNightsAccumulate: nights in a row keep the account
// consistent (rows in paging order, lead stats adding up, a lead's
// category on all its emails) and campaigns keep their statuses.
func TestRealisticNightsAccumulate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newServer(t, fakeapi.AgencyConfig(9, 150))
		var last time.Time
		for range 4 {
			time.Sleep(24 * time.Hour)
			rep := s.RealisticNight(fakeapi.AgencyNight)
			require.True(t, rep.At.After(last))
			last = rep.At
		}
		for _, c := range s.Truth().Campaigns {
			ls := c.LeadStats()
			require.Equal(t, ls.Total, ls.NotStarted+ls.InProgress+ls.Paused+ls.Completed+ls.Stopped+ls.Blocked)
			require.True(t, slices.IsSortedFunc(c.Stats, func(a, b fakeapi.StatRow) int { return a.SentTime.Compare(b.SentTime) }))
			leadCat := map[int64]int64{}
			for _, l := range c.Leads {
				leadCat[l.CampaignLeadMapID] = l.CategoryID
			}
			rowCat := map[int64]string{}
			for _, r := range c.Stats {
				require.Equal(t, leadCat[r.CampaignLeadMapID] == 0, r.LeadCategory == nil, "row %s", r.StatsID)
				name := ""
				if r.LeadCategory != nil {
					name = *r.LeadCategory
				}
				if prev, ok := rowCat[r.CampaignLeadMapID]; ok {
					require.Equal(t, prev, name, "a lead's emails show one category")
				}
				rowCat[r.CampaignLeadMapID] = name
			}
		}
	})
}

// TestRealisticNightWebhooks: a realistic night's late activity reaches a
// user-level webhook like any other, from the campaigns it changed.
func TestRealisticNightWebhooks(t *testing.T) {
	s := newServer(t, fakeapi.AgencyConfig(6, 300))
	var mu sync.Mutex
	byCampaign := map[int64]int{}
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		assert.NoError(t, dec.Decode(&m))
		id, err := strconv.ParseInt(fmt.Sprint(m["campaign_id"]), 10, 64)
		assert.NoError(t, err)
		mu.Lock()
		byCampaign[id]++
		mu.Unlock()
	}))
	defer recv.Close()
	body := `{"name": "all", "webhook_url": "` + recv.URL + `", "association_type": "user", "event_type_map": {"EMAIL_SENT": true,
		"EMAIL_OPEN": true, "EMAIL_LINK_CLICK": true, "EMAIL_REPLY": true, "LEAD_UNSUBSCRIBED": true, "LEAD_CATEGORY_UPDATED": true}}`
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://fake.invalid"+fakeapi.BasePath+"/webhook/create?api_key="+testKey, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := s.Transport().RoundTrip(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()

	before := s.Truth()
	rep := s.RealisticNight(fakeapi.AgencyNight)
	d := s.DeliverWebhooks(t.Context(), fakeapi.DeliveryOptions{Backoff: time.Millisecond})
	require.Zero(t, d.Failed)
	require.Positive(t, d.Events)
	late := 0
	for id := range byCampaign {
		require.Contains(t, rep.Campaigns, id, "an event from a campaign the night did not change")
		if before.Campaign(id).Frozen() {
			late++
		}
	}
	require.Positive(t, late, "late activity on finished campaigns is delivered")
}
