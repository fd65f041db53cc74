package fakeapi

import (
	"encoding/base64"
	"math/rand/v2"
	"time"
)

// history simulates the lead's sends and engagement up to stopAt (sends)
// and now (engagement), then sets its final status.
func (g *generator) history(r *rand.Rand, c *Campaign, l *Lead, stopAt, now time.Time) {
	t := l.CreatedAt.Add(between(r, 10*time.Minute, 2*day))
	sent, replied, bounced, unsub := 0, false, false, false
	var last time.Time
	first, name := len(c.Stats), l.Name()
	for k := range c.Sequences {
		if k > 0 {
			t = t.Add(time.Duration(c.Sequences[k].DelayInDays) * day).Add(between(r, 0, 12*time.Hour))
		}
		if !t.Before(stopAt) {
			break
		}
		row := g.newRow(r, c, l, name, k, t)
		sent++
		last = latest(last, row.SentTime)
		l.LastSentAt = row.SentTime
		after := func(base time.Time, lo, hi time.Duration) time.Time {
			x := stamp(base.Add(between(r, lo, hi)), row.Micro)
			if !x.Before(now) {
				return time.Time{}
			}
			return x
		}
		switch p := r.IntN(1000); {
		case p < 20:
			row.IsBounced, bounced = true, true
		default:
			if r.IntN(100) < 45 {
				if row.OpenTime = after(row.SentTime, time.Minute, 3*day); !row.OpenTime.IsZero() {
					row.OpenCount = 1 + r.IntN(4)
					last = latest(last, row.OpenTime)
					if r.IntN(100) < 20 {
						if row.ClickTime = after(row.OpenTime, 10*time.Second, time.Hour); !row.ClickTime.IsZero() {
							row.ClickCount = 1 + r.IntN(2)
							last = latest(last, row.ClickTime)
						}
					}
				}
			}
			switch q := r.IntN(1000); {
			case q < 50:
				if row.ReplyTime = after(row.SentTime, 30*time.Minute, 4*day); !row.ReplyTime.IsZero() {
					replied = true
					last = latest(last, row.ReplyTime)
				}
			case q < 60:
				if x := after(row.SentTime, time.Hour, 2*day); !x.IsZero() {
					row.IsUnsubscribed, unsub = true, true
					last = latest(last, x)
				}
			}
		}
		c.Stats = append(c.Stats, row)
		if bounced || replied || unsub {
			break
		}
	}
	switch {
	case bounced:
		l.Status = "BLOCKED"
	case unsub:
		l.Status, l.IsUnsubscribed = "STOPPED", true
	case replied || sent == len(c.Sequences):
		l.Status = "COMPLETED"
	case c.Status == "COMPLETED":
		l.Status = "COMPLETED"
	case c.Status == "STOPPED":
		l.Status = "STOPPED"
	case c.Status == "PAUSED" && sent > 0:
		l.Status = "PAUSED"
	case sent == 0:
		l.Status = "STARTED"
	case r.IntN(100) < 3:
		l.Status = "PAUSED"
	default:
		l.Status = "INPROGRESS"
	}
	switch {
	case replied:
		l.CategoryID = pick(r, []int64{1, 1, 1, 2, 3, 3, 5, 6, 7})
	case r.IntN(100) < 2 && sent > 0:
		l.CategoryID = 4
	}
	if last.After(l.LastEventAt) {
		l.LastEventAt = last
	}
	// Rows carry the lead's category as of generation.
	for i := first; i < len(c.Stats); i++ {
		c.Stats[i].LeadCategory = categoryName(l.CategoryID)
	}
}

func emailAccount(r *rand.Rand, cfg Config, acc *Account, i int) EmailAccount {
	now := cfg.Now
	id := int64(accountIDBase + i*7 + r.IntN(7))
	fi, li, ci := r.IntN(len(firstNames)), r.IntN(len(lastNames)), r.IntN(len(domains))
	secret := make([]byte, 12)
	for j := range secret {
		secret[j] = byte(r.UintN(256))
	}
	imap := make([]byte, 12)
	for j := range imap {
		imap[j] = byte(r.UintN(256))
	}
	e := EmailAccount{
		ID: id, UserID: userIDBase + cfg.Seed%1000,
		CreatedAt: stamp(now.Add(-between(r, 100*day, 600*day)), false),
		FromName:  firstNames[fi] + " " + lastNames[li], FromEmail: lowFirst[fi] + "@" + domains[ci],
		Password: base64.StdEncoding.EncodeToString(secret), IMAPPassword: base64.StdEncoding.EncodeToString(imap),
		Type:          []string{"GMAIL", "OUTLOOK", "SMTP"}[i%3],
		MessagePerDay: pick(r, []int{30, 40, 50, 100}), IsSMTPSuccess: r.IntN(10) > 0, IsIMAPSuccess: r.IntN(10) > 0,
		CampaignCount: r.IntN(max(len(acc.Campaigns), 1) + 1),
	}
	e.UpdatedAt = stamp(now.Add(-between(r, time.Hour, 30*day)), i%4 == 3)
	e.DailySentCount = r.IntN(e.MessagePerDay + 1)
	switch e.Type {
	case "GMAIL":
		e.SMTPHost, e.SMTPPort, e.IMAPHost, e.IMAPPort = "smtp.gmail.com", 587, "imap.gmail.com", 993
	case "OUTLOOK":
		e.SMTPHost, e.SMTPPort, e.IMAPHost, e.IMAPPort = "smtp.office365.com", 587, "outlook.office365.com", 993
	default:
		e.SMTPHost, e.SMTPPort, e.IMAPHost, e.IMAPPort = "mail."+domains[ci], 465, "mail."+domains[ci], 993
	}
	if len(acc.Clients) > 0 && i%3 == 1 {
		e.ClientID = acc.Clients[i%len(acc.Clients)].ID
	}
	if i%5 != 4 {
		e.HasWarmup = true
		e.WarmupStatus = []string{"ACTIVE", "ACTIVE", "INACTIVE"}[r.IntN(3)]
		e.WarmupTotalSent = 100 + r.IntN(900)
		e.WarmupSpamCount = r.IntN(10)
		e.WarmupReputation = 80 + r.IntN(21)
		e.WarmupReplyRate = r.IntN(40)
	}
	return e
}
