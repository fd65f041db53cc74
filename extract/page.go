package extract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"
)

// Fetch makes one request (plus its retries) for it and returns the page,
// with Next set when another page follows. Records repeated within the
// page are dropped and counted; across pages, use Pages, which remembers
// what the chain has already yielded.
func (c *Client) Fetch(ctx context.Context, it Item) (Page, error) {
	p, err := c.fetch(ctx, it)
	if err != nil {
		return p, err
	}
	c.dedupe(&p, map[string]struct{}{})
	return p, nil
}

// Pages yields it's page and then every following page, one request at a
// time: a page is fetched only after the consumer has taken the previous
// one, so a chain is never buffered. Records seen earlier in the chain
// (offset drift while the account changes under us) are dropped, logged
// at debug level and counted in Stats.Duplicates. After an error, Pages
// yields that error once and stops. With WithAdmit, Pages also stops
// quietly before any page the admit function refuses.
func (c *Client) Pages(ctx context.Context, it Item) iter.Seq2[Page, error] {
	return func(yield func(Page, error) bool) {
		seen := map[string]struct{}{}
		cur := it
		for {
			p, err := c.fetch(ctx, cur)
			if errors.Is(err, ErrNotAdmitted) {
				return // over budget: the caller's queue still holds cur
			}
			if err != nil {
				yield(p, err)
				return
			}
			c.dedupe(&p, seen)
			if !yield(p, nil) || p.Next == nil {
				return
			}
			cur = *p.Next
		}
	}
}

// fetch is one request decoded into a page, before dedupe.
func (c *Client) fetch(ctx context.Context, it Item) (Page, error) {
	ep, path, q, err := c.request(it)
	if err != nil {
		return Page{Item: it, Total: -1}, err
	}
	resp, err := c.get(ctx, ep, it, path, q)
	if err != nil {
		return Page{Item: it, Total: -1}, err
	}
	if resp.truncated {
		return Page{Item: it, Total: -1}, &DecodeError{Endpoint: ep.template, CampaignID: it.CampaignID, Offset: it.Offset,
			Err: fmt.Errorf("body larger than %d bytes", maxPageBody)}
	}
	return c.decode(ep, it, resp.body)
}

// decode reads a 2xx body tolerantly: a bare array, an envelope with
// data/total/limit, or one object, whatever the endpoint documents;
// `null`, an empty body and `{}` mean no records. Records stay raw JSON.
func (c *Client) decode(ep endpoint, it Item, body []byte) (Page, error) {
	p := Page{Item: it, Total: -1, Fetched: time.Now()}
	bad := func(field string, err error) (Page, error) {
		return Page{Item: it, Total: -1}, &DecodeError{Endpoint: ep.template, CampaignID: it.CampaignID, Offset: it.Offset, Field: field, Err: err}
	}
	b := bytes.TrimSpace(body)
	limit := 0 // echoed page size; 0 = not echoed
	more := -1 // hasMore: 1 true, 0 false, -1 not sent
	switch {
	case len(b) == 0 || string(b) == "null":
		c.missing(ep, it, "empty body")
		return p, nil
	case b[0] == '[':
		if err := json.Unmarshal(b, &p.Records); err != nil {
			return bad("", err)
		}
	case b[0] == '{' && ep.shape == shapeObject:
		if !json.Valid(b) {
			var v any
			return bad("", json.Unmarshal(b, &v))
		}
		if isEmptyObject(b) {
			c.missing(ep, it, "{}")
			return p, nil
		}
		p.Records = []json.RawMessage{append(json.RawMessage(nil), b...)}
	case b[0] == '{':
		var env map[string]json.RawMessage
		if err := json.Unmarshal(b, &env); err != nil {
			return bad("", err)
		}
		if len(env) == 0 {
			c.missing(ep, it, "{}")
			return p, nil
		}
		if v, ok := env["ok"]; ok && string(bytes.TrimSpace(v)) == "false" {
			return bad("ok", errors.New("the API answered ok: false"))
		}
		field, data, err := recordArray(env, ep.records)
		if err != nil {
			return bad(field, err)
		}
		if err := json.Unmarshal(data, &p.Records); err != nil { // null -> no records
			return bad(field, fmt.Errorf("want an array of records: %w", err))
		}
		if v, ok := env["hasMore"]; ok && ep.hasMore {
			switch string(bytes.TrimSpace(v)) {
			case "true":
				more = 1
			case "false":
				more = 0
			default:
				return bad("hasMore", fmt.Errorf("%s is not a boolean", v))
			}
		}
		for _, f := range []string{"total_leads", "total_stats", "total"} {
			if v, ok := env[f]; ok {
				n, ok, err := flexInt(v)
				if err != nil {
					return bad(f, err)
				}
				if ok {
					p.Total = n
				}
				break
			}
		}
		if v, ok := env["limit"]; ok {
			n, ok, err := flexInt(v)
			if err != nil {
				return bad("limit", err)
			}
			if ok && n > 0 {
				limit = int(n)
			}
		}
	default:
		return bad("", fmt.Errorf("unexpected JSON value starting %q", b[:1]))
	}
	if ep.secrets {
		for i, r := range p.Records {
			clean, err := stripSecrets(r)
			if err != nil {
				return bad(fmt.Sprintf("[%d]", i), err)
			}
			p.Records[i] = clean
		}
	}
	if ep.paged {
		if limit == 0 {
			limit = c.pageSize(ep)
		}
		// A short page is the last one; the totals are not trusted. A
		// hasMore flag, where the endpoint sends one, decides instead
		// (but an empty page ends the chain whatever it says).
		if n := len(p.Records); n > 0 && (more == 1 || (more < 0 && n >= limit)) {
			next := it
			next.Offset = it.Offset + n
			p.Next = &next
		}
	}
	return p, nil
}

// recordArray finds the record array of an envelope: "data", or the
// endpoint's dotted path through nested objects. field names where it
// went wrong.
func recordArray(env map[string]json.RawMessage, path string) (field string, data json.RawMessage, err error) {
	if path == "" {
		path = "data"
	}
	parts := strings.Split(path, ".")
	cur := env
	for i, part := range parts {
		field = strings.Join(parts[:i+1], ".")
		v, ok := cur[part]
		if !ok {
			return field, nil, errors.New("missing from the response object")
		}
		if i == len(parts)-1 {
			return field, v, nil
		}
		cur = nil
		if err := json.Unmarshal(v, &cur); err != nil || cur == nil {
			return field, nil, fmt.Errorf("want an object, got %.40q", excerpt(v))
		}
	}
	return field, nil, errors.New("empty record path") // unreachable: Split returns at least one part
}

// missing logs and counts a response that stands for "no such object".
func (c *Client) missing(ep endpoint, it Item, what string) {
	c.count(it.Stream, func(s *Stats, _ *StreamStats) { s.Empty++ })
	c.log.Warn("smartlead: empty response, treating as no records",
		"endpoint", ep.template, "campaign_id", it.CampaignID, "day", it.Day, "offset", it.Offset, "body", what)
}

func isEmptyObject(b []byte) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(b, &m) == nil && len(m) == 0
}

// flexInt reads a counter the API sends as a number or a numeric string;
// "" and null mean absent.
func flexInt(v json.RawMessage) (int64, bool, error) {
	s := strings.TrimSpace(string(v))
	if s == "null" {
		return 0, false, nil
	}
	if u, err := strconv.Unquote(s); err == nil {
		s = strings.TrimSpace(u)
		if s == "" {
			return 0, false, nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if f, ferr := strconv.ParseFloat(s, 64); ferr == nil && f == float64(int64(f)) {
			return int64(f), true, nil
		}
		return 0, false, fmt.Errorf("%s is not an integer", v)
	}
	return n, true, nil
}

// dedupe drops records whose key was already seen in this chain. Records
// without a readable key are kept: transform rejects them by name.
func (c *Client) dedupe(p *Page, seen map[string]struct{}) {
	ep := endpoints[p.Item.Stream]
	dups := 0
	if ep.dedupeKey != "" {
		kept := p.Records[:0]
		for _, r := range p.Records {
			k, ok := recordKey(r, ep.dedupeKey)
			if ok {
				if _, dup := seen[k]; dup {
					dups++
					c.log.Debug("smartlead: dropped duplicate record (offset drift)",
						"stream", p.Item.Stream, "campaign_id", p.Item.CampaignID, "offset", p.Item.Offset, ep.dedupeKey, k)
					continue
				}
				seen[k] = struct{}{}
			}
			kept = append(kept, r)
		}
		clear(p.Records[len(kept):])
		p.Records = kept
	}
	c.count(p.Item.Stream, func(s *Stats, ss *StreamStats) {
		s.Pages++
		ss.Pages++
		s.Records += int64(len(p.Records))
		ss.Records += int64(len(p.Records))
		s.Duplicates += int64(dups)
		ss.Duplicates += int64(dups)
	})
}

// recordKey returns the top-level field of a record as text, so 123 and
// "123" are the same key.
func recordKey(rec json.RawMessage, field string) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(rec))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return "", false
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "", false
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return "", false
		}
		if t != field {
			continue
		}
		s := string(v)
		if u, err := strconv.Unquote(s); err == nil {
			s = u
		}
		if s == "" || s == "null" {
			return "", false
		}
		return s, true
	}
	return "", false
}

// stripSecrets removes, at any depth, every object key that contains
// "password" (password, imap_password, smtp_password...), keeping the
// order and the bytes of everything else.
func stripSecrets(v json.RawMessage) (json.RawMessage, error) {
	b := bytes.TrimSpace(v)
	if len(b) == 0 || (b[0] != '{' && b[0] != '[') {
		return v, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	open, err := dec.Token()
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.Grow(len(b))
	first := true
	sep := func() {
		if !first {
			out.WriteByte(',')
		}
		first = false
	}
	if open == json.Delim('[') {
		out.WriteByte('[')
		for dec.More() {
			var e json.RawMessage
			if err := dec.Decode(&e); err != nil {
				return nil, err
			}
			clean, err := stripSecrets(e)
			if err != nil {
				return nil, err
			}
			sep()
			out.Write(clean)
		}
		out.WriteByte(']')
		return out.Bytes(), nil
	}
	out.WriteByte('{')
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		var e json.RawMessage
		if err := dec.Decode(&e); err != nil {
			return nil, err
		}
		if strings.Contains(strings.ToLower(key), "password") {
			continue
		}
		clean, err := stripSecrets(e)
		if err != nil {
			return nil, err
		}
		kb, _ := json.Marshal(key)
		sep()
		out.Write(kb)
		out.WriteByte(':')
		out.Write(clean)
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}
