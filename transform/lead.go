package transform

import (
	"time"
	"unicode/utf8"
)

// DecodeLead converts one element of the data array of
// GET /campaigns/{id}/leads. The key and status, category and created_at
// come from the outer object; the person comes from the nested "lead".
func DecodeLead(campaignID int64, raw []byte) (Lead, error) {
	return public(decodeLead(campaignID, raw))
}

// Text slots of a lead; see leadArena.
const (
	slotEmail = iota
	slotFirst
	slotLast
	slotCompany
	slotPhone
	slotWebsite
	slotLocation
	slotLinkedin
	slotCompanyURL
	slotStatus
	nSlots
)

// leadArena backs every pointer field of one Lead with a single
// allocation, and all of its text is cut from one string. A million
// leads would otherwise be some twenty million small objects for the
// garbage collector; this way a lead costs three or four allocations.
type leadArena struct {
	text     [nSlots]string
	created  time.Time
	category int64
}

// appendText appends a text field's content to buf. Like parseString:
// a string, or a number as its literal text; ok is false for null or
// an error. (A plain function, not a method on a struct holding buf, so
// that buf can stay on the caller's stack.)
func appendText(buf []byte, d *decoder, field string) (_ []byte, ok bool) {
	v, ok := d.val()
	if !ok {
		return buf, false
	}
	switch v.kind {
	case kindNull:
		return buf, false
	case kindString:
		if in := v.raw[1 : len(v.raw)-1]; !v.esc && utf8.Valid(in) {
			return append(buf, in...), true
		}
		return append(buf, v.text()...), true
	case kindNumber:
		return append(buf, v.raw...), true
	}
	d.fail(field, "expected a string, got "+describe(v))
	return buf, false
}

func decodeLead(campaignID int64, raw []byte) (l Lead, keyOK bool, _ *FieldError) {
	if err := checkCampaignID(campaignID); err != nil {
		return l, false, err
	}
	var d decoder
	it := d.record(raw)
	l.CampaignID = campaignID
	var (
		a          = new(leadArena)
		scratch    [512]byte
		buf        = scratch[:0]
		spans      [nSlots]struct{ start, end int }
		set        [nSlots]bool
		status     string
		haveStatus bool
		haveLeadID bool
		emailNull  = "missing"
	)
	// All text goes into one buffer; it becomes one string at the end.
	add := func(slot int, field string) {
		start := len(buf)
		var ok bool
		if buf, ok = appendText(buf, &d, field); ok {
			spans[slot].start, spans[slot].end, set[slot] = start, len(buf), true
		}
	}
	for k, ok := d.next(&it); ok; k, ok = d.next(&it) {
		switch string(k) {
		case "campaign_lead_map_id":
			l.CampaignLeadMapID, keyOK = d.key("campaign_lead_map_id")
		case "status":
			status, haveStatus = d.enum("status")
		case "lead_category_id":
			if n, ok := d.int("lead_category_id"); ok {
				a.category = n
				l.LeadCategoryID = &a.category
			}
		case "created_at":
			if t := d.optTime("created_at"); t != nil {
				a.created = *t
				l.CreatedAt = &a.created
			}
		case "lead":
			in, ok := d.nested("lead")
			if !ok {
				continue
			}
			for k, ok := d.next(&in); ok; k, ok = d.next(&in) {
				switch string(k) {
				case "id":
					l.LeadID, haveLeadID = d.key("lead.id")
				case "email":
					if c := d.s.peek(); c == 'n' {
						emailNull = "null"
					} else if c == '"' {
						emailNull = "empty"
					}
					add(slotEmail, "lead.email")
				case "first_name":
					add(slotFirst, "lead.first_name")
				case "last_name":
					add(slotLast, "lead.last_name")
				case "company_name":
					add(slotCompany, "lead.company_name")
				case "phone_number":
					add(slotPhone, "lead.phone_number")
				case "website":
					add(slotWebsite, "lead.website")
				case "location":
					add(slotLocation, "lead.location")
				case "linkedin_profile":
					add(slotLinkedin, "lead.linkedin_profile")
				case "company_url":
					add(slotCompanyURL, "lead.company_url")
				case "custom_fields":
					l.CustomFields = d.json()
				case "is_unsubscribed":
					l.IsUnsubscribed = d.flag("lead.is_unsubscribed")
				default:
					d.skip()
				}
			}
			d.endNested()
		default:
			d.skip()
		}
	}
	haveEmail := set[slotEmail] && spans[slotEmail].end > spans[slotEmail].start
	if d.fatal == nil && d.first == nil && it.n > 0 {
		switch {
		case !keyOK:
			d.failKey("campaign_lead_map_id", "required key is missing")
		case !haveLeadID:
			d.failKey("lead.id", "required key is missing")
		case !haveEmail:
			d.fail("lead.email", "required field is "+emailNull)
		}
	}
	if err := d.finish(it, "campaign_lead_map_id"); err != nil {
		return l, keyOK, err
	}

	all := string(buf)
	for i := range nSlots {
		if set[i] {
			a.text[i] = all[spans[i].start:spans[i].end]
		}
	}
	l.Email = a.text[slotEmail]
	ptr := func(slot int) *string {
		if set[slot] {
			return &a.text[slot]
		}
		return nil
	}
	l.FirstName = ptr(slotFirst)
	l.LastName = ptr(slotLast)
	l.CompanyName = ptr(slotCompany)
	l.PhoneNumber = ptr(slotPhone)
	l.Website = ptr(slotWebsite)
	l.Location = ptr(slotLocation)
	l.LinkedinProfile = ptr(slotLinkedin)
	l.CompanyURL = ptr(slotCompanyURL)
	if haveStatus {
		a.text[slotStatus] = status
		l.Status = &a.text[slotStatus]
	}
	return l, keyOK, nil
}

// knownEnum returns the shared copy of a known status so that a million
// leads do not carry a million copies of "INPROGRESS".
func knownEnum(b []byte) (string, bool) {
	switch string(b) {
	case "STARTED":
		return "STARTED", true
	case "INPROGRESS":
		return "INPROGRESS", true
	case "COMPLETED":
		return "COMPLETED", true
	case "PAUSED":
		return "PAUSED", true
	case "STOPPED":
		return "STOPPED", true
	case "BLOCKED":
		return "BLOCKED", true
	case "ACTIVE":
		return "ACTIVE", true
	case "DRAFTED":
		return "DRAFTED", true
	}
	return "", false
}
