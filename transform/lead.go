package transform

// DecodeLead converts one element of the data array of
// GET /campaigns/{id}/leads. The key and status, category and created_at
// come from the outer object; the person comes from the nested "lead".
func DecodeLead(campaignID int64, raw []byte) (Lead, error) {
	l, _, err := decodeLead(campaignID, raw)
	if err != nil {
		return Lead{}, err
	}
	return l, nil
}

// leadStrings holds a lead's optional strings so that one allocation
// backs all of its pointer fields instead of one each; 1M leads is a
// lot of small objects otherwise.
type leadStrings struct {
	first, last, company, phone, website, location, linkedin, companyURL, status string
}

func decodeLead(campaignID int64, raw []byte) (l Lead, keyOK bool, _ *FieldError) {
	var d decoder
	it := d.record(raw)
	l.CampaignID = campaignID
	var ss *leadStrings
	str := func(field string, dst **string, slot *string) {
		if s, ok := d.str(field); ok {
			*slot = s
			*dst = slot
		}
	}
	var haveLeadID, haveEmail bool
	for k, ok := d.next(&it); ok; k, ok = d.next(&it) {
		switch string(k) {
		case "campaign_lead_map_id":
			l.CampaignLeadMapID, keyOK = d.key("campaign_lead_map_id")
		case "status":
			if ss == nil {
				ss = new(leadStrings)
			}
			if s, ok := d.enum("status"); ok {
				ss.status = s
				l.Status = &ss.status
			}
		case "lead_category_id":
			l.LeadCategoryID = d.optInt("lead_category_id")
		case "created_at":
			l.CreatedAt = d.optTime("created_at")
		case "lead":
			in, ok := d.nested("lead")
			if !ok {
				continue
			}
			if ss == nil {
				ss = new(leadStrings)
			}
			for k, ok := d.next(&in); ok; k, ok = d.next(&in) {
				switch string(k) {
				case "id":
					l.LeadID, haveLeadID = d.key("lead.id")
				case "email":
					haveEmail = d.requiredString("lead.email", &l.Email)
				case "first_name":
					str("lead.first_name", &l.FirstName, &ss.first)
				case "last_name":
					str("lead.last_name", &l.LastName, &ss.last)
				case "company_name":
					str("lead.company_name", &l.CompanyName, &ss.company)
				case "phone_number":
					str("lead.phone_number", &l.PhoneNumber, &ss.phone)
				case "website":
					str("lead.website", &l.Website, &ss.website)
				case "location":
					str("lead.location", &l.Location, &ss.location)
				case "linkedin_profile":
					str("lead.linkedin_profile", &l.LinkedinProfile, &ss.linkedin)
				case "company_url":
					str("lead.company_url", &l.CompanyURL, &ss.companyURL)
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
	if d.fatal == nil && d.first == nil && it.n > 0 {
		switch {
		case !keyOK:
			d.failKey("campaign_lead_map_id", "required key is missing")
		case !haveLeadID:
			d.failKey("lead.id", "required key is missing")
		case !haveEmail:
			d.fail("lead.email", "required field is missing")
		}
	}
	return l, keyOK, d.finish(it, "campaign_lead_map_id")
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
