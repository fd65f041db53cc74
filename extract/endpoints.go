package extract

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// shape is what a 2xx body of an endpoint is expected to look like.
type shape int

const (
	shapeArray    shape = iota // bare JSON array of records
	shapeEnvelope              // {"total_x": "42", "offset": 0, "limit": 100, "data": [...]}
	shapeObject                // one object = one record; {} or empty = missing
)

// endpoint describes how one stream is fetched.
type endpoint struct {
	template  string // path template for logs, errors and the ledger
	shape     shape
	perCamp   bool   // needs Item.CampaignID
	paged     bool   // offset/limit paging
	pageSize  int    // limit asked for; 0 for statistics (client option)
	dedupeKey string // record field that identifies a record within a chain
	secrets   bool   // records carry passwords to strip
	// records is the path of the record array inside an object body
	// ("data.campaign_wise_performance"); "" for the usual shapes.
	records string
	hasMore bool // a "hasMore" flag, when sent, says whether a page follows
}

// route is the method and path of a request to ep, its template's {id}
// (if any) being id: the template is the one source of both.
func (ep endpoint) route(id int64) (method, path string) {
	method, path = splitTemplate(ep.template)
	return method, strings.Replace(path, "{id}", strconv.FormatInt(id, 10), 1)
}

// MaxListLimit is the page size of the leads and email-account routes,
// their documented maximum limit; statistics documents 1000 and the client
// asks for WithStatsPageSize.
const MaxListLimit = 100

// Template returns the path template the stream's requests are logged and
// recorded under in the api_requests ledger, e.g. "/campaigns/{id}/leads";
// "" for a stream the client does not know.
func (s Stream) Template() string { return endpoints[s].template }

// Selected reports whether s is among streams, where nil means every
// stream (the --streams default).
func (s Stream) Selected(streams []Stream) bool {
	return streams == nil || slices.Contains(streams, s)
}

var endpoints = map[Stream]endpoint{
	StreamCampaigns:          {template: "/campaigns/", shape: shapeArray},
	StreamClients:            {template: "/client/", shape: shapeArray},
	StreamEmailAccounts:      {template: "/email-accounts/", shape: shapeArray, paged: true, pageSize: MaxListLimit, dedupeKey: "id", secrets: true},
	StreamCampaignAnalytics:  {template: "/campaigns/{id}/analytics", shape: shapeObject, perCamp: true},
	StreamCampaignDailyStats: {template: "/campaigns/{id}/analytics-by-date", shape: shapeObject, perCamp: true},
	StreamLeads:              {template: "/campaigns/{id}/leads", shape: shapeEnvelope, perCamp: true, paged: true, pageSize: MaxListLimit, dedupeKey: "campaign_lead_map_id"},
	StreamLeadEmailStats:     {template: "/campaigns/{id}/statistics", shape: shapeEnvelope, perCamp: true, paged: true, dedupeKey: "stats_id"},
	StreamSequences:          {template: "/campaigns/{id}/sequences", shape: shapeArray, perCamp: true},
	StreamOverallStats: {template: "/analytics/campaign/overall-stats", shape: shapeEnvelope, paged: true,
		pageSize: SignalPageSize, dedupeKey: "id", records: "data.campaign_wise_performance"},
	StreamLeadActivities: {template: "/campaigns/all-leads-activities", shape: shapeEnvelope, paged: true,
		pageSize: SignalPageSize, dedupeKey: "email_lead_map_id", hasMore: true},
}

// Time formats of the API's filters: ISO-8601 on leads, and the
// space-separated form the statistics docs show for sent_time_*.
const (
	isoMillis   = "2006-01-02T15:04:05.000Z"
	statsMillis = "2006-01-02 15:04:05.000Z"
)

// request works out the endpoint, path and query (without the key) for
// an item, or an error naming the item's bad field.
func (c *Client) request(it Item) (endpoint, string, url.Values, error) {
	ep, ok := endpoints[it.Stream]
	if !ok {
		return endpoint{}, "", nil, fmt.Errorf("smartlead: item %+v: unknown stream %q", it, it.Stream)
	}
	if ep.perCamp && it.CampaignID <= 0 {
		return ep, "", nil, fmt.Errorf("smartlead: %s item: campaign_id %d must be positive", it.Stream, it.CampaignID)
	}
	if !ep.perCamp && it.CampaignID != 0 {
		return ep, "", nil, fmt.Errorf("smartlead: %s item: campaign_id %d given for an account-level stream", it.Stream, it.CampaignID)
	}
	if it.Offset < 0 || (!ep.paged && it.Offset != 0) {
		return ep, "", nil, fmt.Errorf("smartlead: %s item (campaign %d): offset %d not valid for this stream", it.Stream, it.CampaignID, it.Offset)
	}
	_, path := ep.route(it.CampaignID)
	q := url.Values{}
	if ep.paged {
		q.Set("offset", strconv.Itoa(it.Offset))
		q.Set("limit", strconv.Itoa(c.pageSize(ep)))
	}
	switch it.Stream {
	case StreamCampaignDailyStats:
		if _, err := time.Parse(time.DateOnly, it.Day); err != nil {
			return ep, "", nil, fmt.Errorf("smartlead: %s item (campaign %d): day %q: want YYYY-MM-DD", it.Stream, it.CampaignID, it.Day)
		}
		// One call per day: the API answers one aggregate over the range,
		// so start = end gives that day's row.
		q.Set("start_date", it.Day)
		q.Set("end_date", it.Day)
	case StreamLeads:
		// An incremental chain filters on event_time_gt only: it covers
		// every change to a lead (sent, opened, clicked, replied, status or
		// category changed), so no second chain on created_at_gt is
		// planned. The filters AND together, so one request cannot ask for
		// "created or changed". Caveat: a lead created after Since that has
		// had no event yet is only returned if the server counts creation
		// as an event; the live API's semantics are undocumented, and the
		// simulated API (fakeapi) currently does not.
		if !it.Since.IsZero() {
			q.Set("event_time_gt", it.Since.UTC().Format(isoMillis))
		}
	case StreamLeadEmailStats:
		if !it.Since.IsZero() {
			q.Set("sent_time_start_date", it.Since.UTC().Format(statsMillis))
		}
		if !it.Until.IsZero() {
			// Both bounds are inclusive: Since = Until reads the rows sent
			// in that millisecond (change detection's probe of one row).
			if it.Until.Before(it.Since) {
				return ep, "", nil, fmt.Errorf("smartlead: %s item (campaign %d): until %s is before since %s", it.Stream, it.CampaignID,
					it.Until.Format(time.RFC3339Nano), it.Since.Format(time.RFC3339Nano))
			}
			q.Set("sent_time_end_date", it.Until.UTC().Format(statsMillis))
		}
	case StreamOverallStats:
		if err := signalQuery(it, q); err != nil {
			return ep, "", nil, err
		}
	case StreamLeadActivities:
		if err := signalQuery(it, q); err != nil {
			return ep, "", nil, err
		}
	}
	if it.Day != "" && it.Stream != StreamCampaignDailyStats && it.Stream != StreamOverallStats {
		return ep, "", nil, fmt.Errorf("smartlead: %s item (campaign %d): day %q given for a stream without days", it.Stream, it.CampaignID, it.Day)
	}
	if it.EndDay != "" && it.Stream != StreamOverallStats {
		return ep, "", nil, fmt.Errorf("smartlead: %s item (campaign %d): end day %q given for a stream without date ranges", it.Stream, it.CampaignID, it.EndDay)
	}
	if !it.Until.IsZero() && it.Stream != StreamLeadActivities && it.Stream != StreamLeadEmailStats {
		return ep, "", nil, fmt.Errorf("smartlead: %s item (campaign %d): until given for a stream without an event window", it.Stream, it.CampaignID)
	}
	return ep, path, q, nil
}

func (c *Client) pageSize(ep endpoint) int {
	if ep.pageSize > 0 {
		return ep.pageSize
	}
	return c.statsPageSize
}

// urls builds the request URL with the key and the same URL with the key
// replaced, the only form that may appear in an error.
func (c *Client) urls(path string, q url.Values) (full, redacted string) {
	u := *c.base
	u.Path = c.base.Path + path
	q.Set("api_key", c.key)
	u.RawQuery = q.Encode()
	full = u.String()
	q.Set("api_key", "REDACTED")
	u.RawQuery = q.Encode()
	redacted = u.String()
	q.Del("api_key")
	return full, redacted
}

// Account-level streams, in the order Plan emits them.
var accountStreams = []Stream{StreamCampaigns, StreamClients, StreamEmailAccounts}

// Per-campaign streams in priority order: cheap, high-value streams first,
// so a run stopped by a budget or deadline has them.
var campaignStreams = []Stream{
	StreamCampaignAnalytics, StreamSequences, StreamCampaignDailyStats,
	StreamLeadEmailStats, StreamLeads,
}

// Plan returns the first-page items of a crawl: one for each account-level
// stream asked for (campaigns, clients, email accounts), then, stream by
// stream in priority order (analytics, sequences, daily stats, statistics,
// leads), one per campaign, and for daily stats one per campaign and day.
// Later pages are found while crawling (Page.Next). A nil or empty streams
// means every stream. Items are full refreshes; set Since for incremental
// leads and statistics.
func Plan(campaignIDs []int64, days []string, streams []Stream) []Item {
	want := map[Stream]bool{}
	for _, s := range streams {
		want[s] = true
	}
	all := len(streams) == 0
	var items []Item
	for _, s := range accountStreams {
		if all || want[s] {
			items = append(items, Item{Stream: s})
		}
	}
	for _, s := range campaignStreams {
		if !all && !want[s] {
			continue
		}
		for _, id := range campaignIDs {
			if s == StreamCampaignDailyStats {
				for _, d := range days {
					items = append(items, Item{Stream: s, CampaignID: id, Day: d})
				}
				continue
			}
			items = append(items, Item{Stream: s, CampaignID: id})
		}
	}
	return items
}
