package fakeapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// parseRoute splits a request path into its template and campaign id segment.
// ok is false for paths outside the API.
func parseRoute(path string) (tmpl, id string, ok bool) {
	rest, found := strings.CutPrefix(path, BasePath+"/")
	if !found {
		return "", "", false
	}
	seg := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	switch {
	case len(seg) == 1 && seg[0] == "campaigns":
		return "/campaigns", "", true
	case len(seg) == 1 && seg[0] == "email-accounts":
		return "/email-accounts", "", true
	case len(seg) == 1 && seg[0] == "client":
		return "/client", "", true
	case len(seg) == 3 && seg[0] == "analytics" && seg[1] == "campaign" && seg[2] == "overall-stats":
		return PathOverallStats, "", true
	case len(seg) == 2 && seg[0] == "campaigns" && seg[1] == "all-leads-activities":
		return PathLeadActivities, "", true
	case len(seg) == 2 && seg[0] == "campaigns":
		return "/campaigns/{id}", seg[1], true
	case len(seg) == 3 && seg[0] == "campaigns":
		switch seg[2] {
		case "analytics", "analytics-by-date", "leads", "statistics", "sequences":
			return "/campaigns/{id}/" + seg[2], seg[1], true
		}
	}
	return "", "", false
}

func routeTemplate(path string) string {
	if t, _, ok := parseRoute(path); ok {
		return t
	}
	return "other"
}

// apiError is a 400 or 404 answer; its text never contains the key.
type apiError struct {
	status int
	msg    string
}

func badRequest(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	tmpl, idText, ok := parseRoute(r.URL.Path)
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Cannot GET " + strings.TrimPrefix(r.URL.Path, BasePath)})
		return
	}
	q := r.URL.Query()
	fault := s.endpointFault(tmpl)
	if writeFault(w, r.URL.Path, fault) {
		return
	}
	s.dataMu.RLock()
	defer s.dataMu.RUnlock()

	var (
		body any
		err  *apiError
	)
	switch tmpl {
	case "/campaigns":
		body, err = s.listCampaigns(q)
	case "/email-accounts":
		body, err = s.emailAccounts(q)
	case "/client":
		body = s.clients()
	case PathOverallStats:
		body, err = s.overallStats(q, fault == FaultDisagree)
	case PathLeadActivities:
		body, err = s.leadActivities(q, fault == FaultDisagree)
	default:
		id, perr := strconv.ParseInt(idText, 10, 64)
		if perr != nil || id <= 0 {
			err = badRequest("campaign_id must be a positive integer")
			break
		}
		c := s.acc.Campaign(id)
		switch tmpl {
		case "/campaigns/{id}":
			if c == nil {
				// Unknown ids answer 200 with {} or, for some, nothing at all.
				if mix2(uint64(s.cfg.Seed), uint64(id))%3 == 0 {
					writeBody(w, http.StatusOK, nil)
					return
				}
				body = struct{}{}
				break
			}
			body = s.wireCampaign(c, q.Get("include_tags") == "true")
		case "/campaigns/{id}/analytics":
			if c == nil {
				body = struct{}{}
				break
			}
			body = s.analytics(c)
		case "/campaigns/{id}/analytics-by-date":
			body, err = s.analyticsByDate(c, q)
		case "/campaigns/{id}/leads":
			body, err = s.leads(c, q)
		case "/campaigns/{id}/statistics":
			body, err = s.statistics(c, q)
		case "/campaigns/{id}/sequences":
			body = s.sequences(c)
		}
	}
	if err != nil {
		writeJSON(w, err.status, map[string]string{"message": err.msg})
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// pageParams reads offset and limit. A limit above hardMax is an error;
// above clamp (when clamp > 0) it is lowered to clamp.
func pageParams(q url.Values, defLimit, hardMax, clamp int) (offset, limit int, err *apiError) {
	offset, limit = 0, defLimit
	if v := q.Get("offset"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n < 0 {
			return 0, 0, badRequest("offset must be a non-negative integer, got %q", v)
		}
		offset = n
	}
	if v := q.Get("limit"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n < 1 {
			return 0, 0, badRequest("limit must be a positive integer, got %q", v)
		}
		if hardMax > 0 && n > hardMax {
			return 0, 0, badRequest("limit must be less than or equal to %d", hardMax)
		}
		limit = n
	}
	if clamp > 0 {
		limit = min(limit, clamp)
	}
	return offset, limit, nil
}

// dateRange reads the required start_date and end_date (inclusive UTC
// days) of a range of at most maxDays days.
func dateRange(q url.Values, maxDays int) (start, end time.Time, _ *apiError) {
	var days [2]time.Time
	for i, name := range []string{"start_date", "end_date"} {
		v := q.Get(name)
		if v == "" {
			return start, end, badRequest("%s is required (YYYY-MM-DD)", name)
		}
		t, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return start, end, badRequest("%s must be a date as YYYY-MM-DD, got %q", name, v)
		}
		days[i] = t
	}
	start, end = days[0], days[1]
	if end.Before(start) {
		return start, end, badRequest("end_date %s is before start_date %s", end.Format(time.DateOnly), start.Format(time.DateOnly))
	}
	if n := int(end.Sub(start)/day) + 1; n > maxDays {
		return start, end, badRequest("date range is %d days; the maximum is %d days", n, maxDays)
	}
	return start, end, nil
}

// timeLayouts are the timestamp forms the filters accept: ISO-8601 with
// T or a space, with or without a zone (none means UTC), or a bare date.
var timeLayouts = []string{
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// parseTimeParam parses a filter value. dateOnly reports a bare date.
func parseTimeParam(name, v string) (t time.Time, dateOnly bool, err *apiError) {
	try := func(v string) (time.Time, bool, bool) {
		for i, layout := range timeLayouts {
			if t, e := time.Parse(layout, v); e == nil {
				return t.UTC(), i == len(timeLayouts)-1, true
			}
		}
		return time.Time{}, false, false
	}
	if t, d, ok := try(v); ok {
		return t, d, nil
	}
	// An unescaped "+00:00" arrives as " 00:00" after query decoding.
	if i := strings.LastIndexByte(v, ' '); i > 10 && len(v)-i == 6 {
		if t, d, ok := try(v[:i] + "+" + v[i+1:]); ok {
			return t, d, nil
		}
	}
	return time.Time{}, false, badRequest("%s: cannot parse %q as an ISO-8601 timestamp", name, v)
}

func (s *Server) listCampaigns(q url.Values) (any, *apiError) {
	var clientID int64
	if v := q.Get("client_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, badRequest("client_id must be an integer, got %q", v)
		}
		clientID = n
	}
	tags := q.Get("include_tags") == "true"
	out := make([]wireCampaign, 0, len(s.acc.Campaigns))
	for i := len(s.acc.Campaigns) - 1; i >= 0; i-- { // id descending
		c := &s.acc.Campaigns[i]
		if clientID != 0 && c.ClientID != clientID {
			continue
		}
		out = append(out, s.wireCampaign(c, tags))
	}
	return out, nil
}

func (s *Server) analyticsByDate(c *Campaign, q url.Values) (any, *apiError) {
	start, end, err := dateRange(q, 31)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return struct{}{}, nil
	}
	a := c.AnalyticsByDate(start, end)
	out := s.wireAnalytics(c, a, false)
	out.StartDate, out.EndDate = ptr(start.Format(time.DateOnly)), ptr(end.Format(time.DateOnly))
	return out, nil
}

func (s *Server) leads(c *Campaign, q url.Values) (any, *apiError) {
	offset, limit, err := pageParams(q, 100, 100, 0)
	if err != nil {
		return nil, err
	}
	var after [3]time.Time // created, last sent, event
	for i, name := range []string{"created_at_gt", "last_sent_time_gt", "event_time_gt"} {
		if v := q.Get(name); v != "" {
			t, _, err := parseTimeParam(name, v)
			if err != nil {
				return nil, err
			}
			after[i] = t
		}
	}
	status := q.Get("status")
	var category int64
	if v := q.Get("lead_category_id"); v != "" {
		n, e := strconv.ParseInt(v, 10, 64)
		if e != nil {
			return nil, badRequest("lead_category_id must be an integer, got %q", v)
		}
		category = n
	}
	page := wireLeadsPage{Offset: offset, Limit: limit, Data: []wireLeadEntry{}}
	if c == nil { // an unknown campaign is an empty list, not an error
		page.TotalLeads = "0"
		return page, nil
	}
	keep := func(l *Lead) bool {
		return (after[0].IsZero() || l.CreatedAt.After(after[0])) &&
			(after[1].IsZero() || l.LastSentAt.After(after[1])) &&
			(after[2].IsZero() || l.LastEventAt.After(after[2])) &&
			(status == "" || l.Status == status) &&
			(category == 0 || l.CategoryID == category)
	}
	total := 0
	for i := range c.Leads {
		l := &c.Leads[i]
		if !keep(l) {
			continue
		}
		if total >= offset && len(page.Data) < limit {
			page.Data = append(page.Data, s.wireLead(l))
		}
		total++
	}
	page.TotalLeads = strconv.Itoa(total)
	return page, nil
}

func (s *Server) statistics(c *Campaign, q url.Values) (any, *apiError) {
	offset, limit, err := pageParams(q, 100, 0, s.cfg.StatsMaxLimit)
	if err != nil {
		return nil, err
	}
	var from, to time.Time // from <= sent < to; zero = open
	if v := q.Get("sent_time_start_date"); v != "" {
		if from, _, err = parseTimeParam("sent_time_start_date", v); err != nil {
			return nil, err
		}
	}
	if v := q.Get("sent_time_end_date"); v != "" {
		t, dateOnly, err := parseTimeParam("sent_time_end_date", v)
		if err != nil {
			return nil, err
		}
		if dateOnly {
			to = t.AddDate(0, 0, 1) // the whole end day
		} else {
			to = t.Add(time.Nanosecond) // inclusive
		}
	}
	seq := 0
	if v := q.Get("email_sequence_number"); v != "" {
		n, e := strconv.Atoi(v)
		if e != nil || n < 1 {
			return nil, badRequest("email_sequence_number must be a positive integer, got %q", v)
		}
		seq = n
	}
	status := q.Get("email_status")
	switch status {
	case "", "opened", "clicked", "replied", "unsubscribed", "bounced":
	default:
		return nil, badRequest("email_status must be one of opened, clicked, replied, unsubscribed, bounced; got %q", status)
	}
	page := wireStatsPage{Offset: offset, Limit: limit, Data: []wireStat{}}
	if c == nil { // an unknown campaign is an empty list, not an error
		page.TotalStats = "0"
		return page, nil
	}
	lo, hi := c.statsSentBetween(from, to)
	rows := c.Stats[lo:hi]
	if seq == 0 && status == "" { // no scan needed
		page.TotalStats = strconv.Itoa(len(rows))
		if offset < len(rows) {
			for i := offset; i < min(offset+limit, len(rows)); i++ {
				page.Data = append(page.Data, wireStatRow(&rows[i]))
			}
		}
		return page, nil
	}
	total := 0
	for i := range rows {
		r := &rows[i]
		if seq != 0 && r.SequenceNumber != seq {
			continue
		}
		switch status {
		case "opened":
			if r.OpenCount == 0 {
				continue
			}
		case "clicked":
			if r.ClickCount == 0 {
				continue
			}
		case "replied":
			if r.ReplyTime.IsZero() {
				continue
			}
		case "unsubscribed":
			if !r.IsUnsubscribed {
				continue
			}
		case "bounced":
			if !r.IsBounced {
				continue
			}
		}
		if total >= offset && len(page.Data) < limit {
			page.Data = append(page.Data, wireStatRow(r))
		}
		total++
	}
	page.TotalStats = strconv.Itoa(total)
	return page, nil
}

func (s *Server) sequences(c *Campaign) any {
	out := []wireSequence{}
	if c == nil {
		return out
	}
	for i := range c.Sequences {
		out = append(out, wireSeq(c, &c.Sequences[i]))
	}
	return out
}

func (s *Server) emailAccounts(q url.Values) (any, *apiError) {
	offset, limit, err := pageParams(q, 100, 100, 0)
	if err != nil {
		return nil, err
	}
	out := []wireEmailAccount{}
	accts := s.acc.EmailAccounts
	for i := offset; i < min(offset+limit, len(accts)); i++ {
		out = append(out, wireAccount(&accts[i]))
	}
	return out, nil
}

func (s *Server) clients() any {
	out := []wireClient{}
	for i := range s.acc.Clients {
		c := &s.acc.Clients[i]
		out = append(out, wireClient{
			ID: c.ID, Name: c.Name, Email: c.Email, UUID: c.UUID, CreatedAt: fmtTime(c.CreatedAt, false), UserID: c.UserID,
			ClientPermision: wirePermission{Permission: c.Permissions, RetrictedCategory: []string{}},
		})
	}
	return out
}
