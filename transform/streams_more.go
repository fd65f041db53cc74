package transform

import "strconv"

// DecodeSequence converts one element of GET /campaigns/{id}/sequences.
// The delay is read from seq_delay_details.delayInDays (camelCase on
// read; the API takes delay_in_days on write, accepted too).
func DecodeSequence(campaignID int64, raw []byte) (Sequence, error) {
	return public(decodeSequence(campaignID, raw))
}

func decodeSequence(campaignID int64, raw []byte) (s Sequence, keyOK bool, _ *FieldError) {
	if err := checkCampaignID(campaignID); err != nil {
		return s, false, err
	}
	var d decoder
	it := d.record(raw)
	s.CampaignID = campaignID
	var haveSeq bool
	for k, ok := d.next(&it); ok; k, ok = d.next(&it) {
		switch string(k) {
		case "id":
			s.SequenceID, keyOK = d.key("id")
		case "email_campaign_id":
			if id, ok := d.int("email_campaign_id"); ok && id != campaignID {
				d.fail("email_campaign_id", "campaign id "+strconv.FormatInt(id, 10)+" does not match the requested campaign "+strconv.FormatInt(campaignID, 10))
			}
		case "seq_number":
			v, ok := d.val()
			if !ok {
				continue
			}
			n, null, reason := parseInt(v)
			switch {
			case reason != "":
				d.fail("seq_number", reason)
			case null:
				d.fail("seq_number", "required field is "+nullWord(v))
			default:
				s.SeqNumber, haveSeq = n, true
			}
		case "subject":
			s.Subject = d.optString("subject")
		case "email_body":
			s.EmailBody = d.optString("email_body")
		case "created_at":
			s.CreatedAt = d.optTime("created_at")
		case "updated_at":
			s.UpdatedAt = d.optTime("updated_at")
		case "sequence_variants":
			s.SequenceVariants = d.json()
		case "seq_delay_details":
			in, ok := d.nested("seq_delay_details")
			if !ok {
				continue
			}
			for k, ok := d.next(&in); ok; k, ok = d.next(&in) {
				switch string(k) {
				case "delayInDays":
					s.DelayInDays = d.optInt("seq_delay_details.delayInDays")
				case "delay_in_days":
					if n := d.optInt("seq_delay_details.delay_in_days"); s.DelayInDays == nil {
						s.DelayInDays = n
					}
				default:
					d.skip()
				}
			}
			d.endNested()
		default:
			d.skip()
		}
	}
	d.requireKey(it, keyOK, "id")
	if !haveSeq && d.first == nil && d.fatal == nil && it.n > 0 {
		d.fail("seq_number", "required field is missing")
	}
	return s, keyOK, d.finish(it, "id")
}

// DecodeEmailAccount converts one element of GET /email-accounts/.
// password, imap_password and any other secret are never read: they
// are skipped like unknown fields, so they cannot reach a row.
func DecodeEmailAccount(raw []byte) (EmailAccount, error) {
	return public(decodeEmailAccount(raw))
}

func decodeEmailAccount(raw []byte) (a EmailAccount, keyOK bool, _ *FieldError) {
	var d decoder
	it := d.record(raw)
	var haveEmail bool
	for k, ok := d.next(&it); ok; k, ok = d.next(&it) {
		switch string(k) {
		case "id":
			a.EmailAccountID, keyOK = d.key("id")
		case "from_email":
			haveEmail = d.requiredString("from_email", &a.FromEmail)
		case "from_name":
			a.FromName = d.optString("from_name")
		case "type":
			a.Type = d.optString("type")
		case "message_per_day":
			a.MessagePerDay = d.optInt("message_per_day")
		case "daily_sent_count":
			a.DailySentCount = d.optInt("daily_sent_count")
		case "client_id":
			a.ClientID = d.optInt("client_id")
		case "campaign_count":
			a.CampaignCount = d.optInt("campaign_count")
		case "is_smtp_success":
			a.IsSMTPSuccess = d.optBool("is_smtp_success")
		case "is_imap_success":
			a.IsIMAPSuccess = d.optBool("is_imap_success")
		case "smtp_host":
			a.SMTPHost = d.optString("smtp_host")
		case "imap_host":
			a.IMAPHost = d.optString("imap_host")
		case "created_at":
			a.CreatedAt = d.optTime("created_at")
		case "updated_at":
			a.UpdatedAt = d.optTime("updated_at")
		case "warmup_details":
			in, ok := d.nested("warmup_details")
			if !ok {
				continue
			}
			for k, ok := d.next(&in); ok; k, ok = d.next(&in) {
				switch string(k) {
				case "status":
					a.WarmupStatus = d.optString("warmup_details.status")
				case "warmup_reputation":
					a.WarmupReputation = d.optFloat("warmup_details.warmup_reputation", true)
				case "total_sent_count":
					a.WarmupTotalSent = d.optInt("warmup_details.total_sent_count")
				case "total_spam_count":
					a.WarmupSpamCount = d.optInt("warmup_details.total_spam_count")
				default:
					d.skip()
				}
			}
			d.endNested()
		default:
			d.skip()
		}
	}
	d.requireKey(it, keyOK, "id")
	if !haveEmail && d.first == nil && d.fatal == nil && it.n > 0 {
		d.fail("from_email", "required field is missing")
	}
	return a, keyOK, d.finish(it, "id")
}

// DecodeClient converts one element of GET /client/. The permissions
// key is spelled client_permision by the API; the correct spelling is
// accepted too in case it is ever fixed.
func DecodeClient(raw []byte) (Client, error) {
	return public(decodeClient(raw))
}

func decodeClient(raw []byte) (c Client, keyOK bool, _ *FieldError) {
	var d decoder
	it := d.record(raw)
	var misspelled bool
	for k, ok := d.next(&it); ok; k, ok = d.next(&it) {
		switch string(k) {
		case "id":
			c.ClientID, keyOK = d.key("id")
		case "name":
			c.Name = d.optString("name")
		case "email":
			c.Email = d.optString("email")
		case "uuid":
			c.UUID = d.optString("uuid")
		case "created_at":
			c.CreatedAt = d.optTime("created_at")
		case "client_permision":
			c.Permissions, misspelled = d.json(), true
		case "client_permission":
			if p := d.json(); !misspelled {
				c.Permissions = p
			}
		default:
			d.skip()
		}
	}
	d.requireKey(it, keyOK, "id")
	return c, keyOK, d.finish(it, "id")
}
