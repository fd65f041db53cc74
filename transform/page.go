package transform

import (
	"encoding/json"
	"strconv"

	"github.com/smartlead-etl/smartlead-etl/extract"
)

// FromPage converts one page of raw records into rows for the stream's
// table. Every record becomes exactly one row or one Rejected; a bad
// record never affects its neighbours. The total the API reported on the
// first page of a leads or statistics stream (Page.Total >= 0, Item.Offset
// 0, no Since filter) becomes a ReportedTotal. FromPage is pure and safe for concurrent use.
func FromPage(p extract.Page) Batch {
	var b Batch
	cid := p.Item.CampaignID
	switch p.Item.Stream {
	case extract.StreamCampaigns:
		b.Campaigns = decodeAll(&b, p, func(raw []byte) (Campaign, string, *FieldError) {
			c, ok, err := decodeCampaign(raw)
			return c, keyString(ok, c.CampaignID), err
		})
	case extract.StreamCampaignAnalytics:
		b.CampaignAnalytics = decodeAll(&b, p, func(raw []byte) (CampaignAnalytics, string, *FieldError) {
			a, ok, err := decodeCampaignAnalytics(raw)
			if err == nil && cid != 0 && a.CampaignID != cid {
				err = &FieldError{Field: "id", Reason: "campaign id " + strconv.FormatInt(a.CampaignID, 10) +
					" does not match the requested campaign " + strconv.FormatInt(cid, 10)}
			}
			return a, keyString(ok, a.CampaignID), err
		})
	case extract.StreamCampaignDailyStats:
		b.DailyStats = decodeAll(&b, p, func(raw []byte) (CampaignDailyStat, string, *FieldError) {
			s, err := decodeDailyStat(cid, p.Item.Day, raw)
			return s, "campaign=" + strconv.FormatInt(cid, 10) + " day=" + truncate(p.Item.Day, maxShown), err
		})
	case extract.StreamLeads:
		b.Leads = decodeAll(&b, p, func(raw []byte) (Lead, string, *FieldError) {
			l, ok, err := decodeLead(cid, raw)
			if err == nil {
				return l, "", nil // the key is only formatted for a rejection
			}
			return l, keyString(ok, l.CampaignLeadMapID), err
		})
	case extract.StreamLeadEmailStats:
		b.LeadEmailStats = decodeAll(&b, p, func(raw []byte) (LeadEmailStat, string, *FieldError) {
			s, ok, err := decodeLeadEmailStat(cid, raw)
			if !ok {
				return s, "", err
			}
			return s, truncate(s.StatsID, maxKey), err
		})
	case extract.StreamSequences:
		b.Sequences = decodeAll(&b, p, func(raw []byte) (Sequence, string, *FieldError) {
			s, ok, err := decodeSequence(cid, raw)
			return s, keyString(ok, s.SequenceID), err
		})
	case extract.StreamEmailAccounts:
		b.EmailAccounts = decodeAll(&b, p, func(raw []byte) (EmailAccount, string, *FieldError) {
			a, ok, err := decodeEmailAccount(raw)
			return a, keyString(ok, a.EmailAccountID), err
		})
	case extract.StreamClients:
		b.Clients = decodeAll(&b, p, func(raw []byte) (Client, string, *FieldError) {
			c, ok, err := decodeClient(raw)
			return c, keyString(ok, c.ClientID), err
		})
	default:
		reason := "unknown stream " + strconv.Quote(truncate(string(p.Item.Stream), maxShown))
		for i, raw := range p.Records {
			b.Rejected = append(b.Rejected, reject(p, i, "", raw, &FieldError{Reason: reason}))
		}
		return b
	}
	// Only these endpoints report a total; a stray Total elsewhere (say
	// a zero value left by mistake) must not become a data check.
	reportsTotal := p.Item.Stream == extract.StreamLeads || p.Item.Stream == extract.StreamLeadEmailStats
	// A filtered (incremental) request's total counts the changes, not the
	// campaign, so it says nothing about what the snapshot should hold.
	if reportsTotal && p.Total >= 0 && p.Item.Offset == 0 && p.Item.Since.IsZero() {
		b.Totals = append(b.Totals, ReportedTotal{Stream: string(p.Item.Stream), CampaignID: cid, Total: p.Total})
	}
	return b
}

// decodeAll runs dec over every record of p, appending failures to
// b.Rejected. dec returns the record's key ("" if unreadable) and is
// only asked for it when the record fails.
func decodeAll[R any](b *Batch, p extract.Page, dec func([]byte) (R, string, *FieldError)) []R {
	rows := make([]R, 0, len(p.Records))
	for i, raw := range p.Records {
		row, key, err := dec(raw)
		if err != nil {
			b.Rejected = append(b.Rejected, reject(p, i, key, raw, err))
			continue
		}
		rows = append(rows, row)
	}
	return rows
}

// maxKey caps a text record key in a Rejected row.
const maxKey = 128

func keyString(ok bool, id int64) string {
	if !ok {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

// reject builds the Rejected row for record i of p. Without a readable
// key the record is located by campaign and position instead.
func reject(p extract.Page, i int, key string, raw json.RawMessage, err *FieldError) Rejected {
	if key == "" {
		key = "offset=" + strconv.Itoa(p.Item.Offset+i)
		if p.Item.CampaignID != 0 {
			key = "campaign=" + strconv.FormatInt(p.Item.CampaignID, 10) + " " + key
		}
	}
	return Rejected{
		Stream:    string(p.Item.Stream),
		RecordKey: key,
		Field:     err.Field,
		Reason:    err.Reason,
		Raw:       Redact(raw),
	}
}
