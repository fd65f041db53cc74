package fakeapi

import (
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Id bases. Lead and campaign_lead_map ids start above 2^31 on purpose:
// clients that decode them into int32 must fail loudly in tests.
const (
	campaignIDBase = 2_700_000
	sequenceIDBase = 5_400_000
	variantIDBase  = 1_900_000
	mapIDBase      = 2_400_000_000
	leadIDBase     = 2_990_000_000
	accountIDBase  = 3_100_000
	clientIDBase   = 6
	userIDBase     = 196_026
	day            = 24 * time.Hour
)

// Category ids follow SmartLead's default lead categories.
const categoryInterested = 1

var categories = []struct {
	ID   int64
	Name string
}{
	{1, "Interested"}, {2, "Meeting Request"}, {3, "Not Interested"}, {4, "Do Not Contact"},
	{5, "Information Request"}, {6, "Out Of Office"}, {7, "Wrong Person"},
}

// categoryName returns a pointer into the table (shared, never mutated).
func categoryName(id int64) *string {
	for i := range categories {
		if categories[i].ID == id {
			return &categories[i].Name
		}
	}
	return nil
}

var (
	firstNames = []string{"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
		"William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Carlos", "Karen", "Wei", "Priya",
		"Ahmed", "Yuki", "Olga", "Pierre", "Fatima", "Lars", "Ana", "Mateo", "Zoë", "José"}
	lastNames = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
		"Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee",
		"Nguyen", "Kowalski", "O'Brien", "Müller", "Rossi", "Tanaka", "Singh", "Haddad", "Jensen"}
	companyA = []string{"Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay", "Soylent", "Cyberdyne",
		"Tyrell", "Wonka", "Gekko", "Pied Piper", "Dunder", "Aperture", "Massive", "Oscorp", "Nakatomi", "Zorg"}
	companyB   = []string{"Corp", "Labs", "Industries", "Systems", "Group", "Analytics", "Health", "Logistics", "Media", "Capital"}
	locations  = []string{"San Francisco, CA", "New York, NY", "Austin, TX", "London, UK", "Berlin, Germany", "Toronto, ON", "Sydney, NSW", "Bangalore, India", "Paris, France", "São Paulo, Brazil", "Chicago, IL", "Dublin, Ireland"}
	jobTitles  = []string{"CEO", "CTO", "VP Sales", "Head of Growth", "Marketing Manager", "Founder", "COO", "Director of Operations", "SDR Lead", "Product Manager"}
	industries = []string{"Technology", "Healthcare", "Finance", "Retail", "Logistics", "Education", "Manufacturing", "Media"}
	subjects   = []string{"Quick question, {{first_name}}", "Idea for {{company_name}}", "Worth a chat?", "Cutting onboarding time in half",
		"{{first_name}}, saw your post", "Partnership idea", "Are you the right person?", "A faster way to reconcile invoices"}
	timezones = []string{"America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Berlin", "Asia/Kolkata", "Australia/Sydney"}
	tagTable  = []Tag{{1, "Q1", "#FF5733"}, {2, "Enterprise", "#2E86C1"}, {3, "SMB", "#28B463"}, {4, "Re-engage", "#AF7AC5"}}
	leadMult  = []float64{0, 0.5, 1, 1.5, 2, 1, 1.2, 0.8} // mean 1: some empty campaigns, some well above the average
	companies []string                                    // companyA x companyB
	domains   []string                                    // one per company
	websites  []string
	lowFirst  []string
	lowLast   []string
)

func init() {
	for _, a := range companyA {
		for _, b := range companyB {
			companies = append(companies, a+" "+b)
			d := strings.ToLower(strings.ReplaceAll(a, " ", "")) + strings.ToLower(b) + ".com"
			domains = append(domains, d)
			websites = append(websites, "https://"+d)
		}
	}
	for _, n := range firstNames {
		lowFirst = append(lowFirst, asciiLower(n))
	}
	for _, n := range lastNames {
		lowLast = append(lowLast, asciiLower(n))
	}
}

// asciiLower lower-cases and drops what does not belong in a mailbox name.
func asciiLower(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z':
			b.WriteRune(r)
		case r == 'ü':
			b.WriteString("ue")
		case r == 'ë':
			b.WriteByte('e')
		case r == 'é':
			b.WriteByte('e')
		}
	}
	return b.String()
}

// mix is splitmix64: a cheap, well-spread hash for per-record decisions
// that must not depend on generation order.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func mix2(a, b uint64) uint64 { return mix(a ^ mix(b)) }

// unit maps a hash to [0, 1).
func unit(h uint64) float64 { return float64(h>>11) / (1 << 53) }

func newRand(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), mix(stream)))
}

// between returns a uniformly random duration in [lo, hi).
func between(r *rand.Rand, lo, hi time.Duration) time.Duration {
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(r.Int64N(int64(hi-lo)))
}

// stamp gives a timestamp the precision its wire format can carry, so a
// value read back from JSON equals the stored one.
func stamp(t time.Time, micro bool) time.Time {
	if micro {
		return t.Truncate(time.Microsecond)
	}
	return t.Truncate(time.Millisecond)
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func ptr[T any](v T) *T { return &v }

// uuidLike renders a hash pair as 8-4-4-4-12 hex.
func uuidLike(a, b uint64) string {
	var raw [16]byte
	for i := range 8 {
		raw[i] = byte(a >> (8 * i))
		raw[8+i] = byte(b >> (8 * i))
	}
	var out [36]byte
	hex.Encode(out[0:8], raw[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], raw[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], raw[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], raw[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], raw[10:16])
	return string(out[:])
}

// generator carries the id counters shared by generation and Night.
type generator struct {
	seed     int64
	nextMap  int64 // next campaign_lead_map_id offset
	nextLead int64 // next lead id offset
}

func (g *generator) ids(r *rand.Rand) (mapID, leadID int64) {
	// Gaps between ids, as in a shared production table.
	g.nextMap += 1 + r.Int64N(7)
	g.nextLead += 1 + r.Int64N(13)
	return mapIDBase + g.nextMap, leadIDBase + g.nextLead
}

// newLead makes a lead's identity fields; status and times are the caller's.
func (g *generator) newLead(r *rand.Rand, created time.Time) Lead {
	mapID, leadID := g.ids(r)
	micro := mix2(uint64(g.seed), uint64(mapID))%10 == 0
	l := Lead{CampaignLeadMapID: mapID, ID: leadID, Status: "STARTED", CreatedAt: stamp(created, micro), Micro: micro}
	// Being added to the campaign is the lead's first event: event_time_gt
	// must find new leads, or an incremental sync would miss them.
	l.LastEventAt = l.CreatedAt
	fi, li, ci := r.IntN(len(firstNames)), r.IntN(len(lastNames)), r.IntN(len(companies))
	if r.IntN(100) >= 3 {
		l.FirstName = &firstNames[fi]
	}
	if r.IntN(100) >= 5 {
		l.LastName = &lastNames[li]
	}
	n := strconv.FormatInt(leadID%100000, 10)
	if l.FirstName != nil {
		l.Email = lowFirst[fi] + "." + lowLast[li] + n + "@" + domains[ci]
	} else {
		l.Email = "info" + n + "@" + domains[ci]
	}
	if r.IntN(100) >= 20 {
		l.PhoneNumber = ptr("+1" + strconv.Itoa(2000000000+r.IntN(7999999999-2000000000)))
	}
	l.CompanyName = &companies[ci]
	switch v := r.IntN(10); {
	case v == 0:
		l.Website = nil
	case v == 1:
		l.Website = ptr("")
	default:
		l.Website = &websites[ci]
	}
	if r.IntN(100) >= 15 {
		l.Location = &locations[r.IntN(len(locations))]
	}
	if r.IntN(100) < 20 {
		l.LinkedinProfile = ptr("")
	} else if l.FirstName != nil {
		l.LinkedinProfile = ptr("https://linkedin.com/in/" + lowFirst[fi] + lowLast[li] + n)
	}
	if r.IntN(100) >= 25 {
		l.CompanyURL = &websites[ci]
	}
	if r.IntN(100) >= 30 {
		l.JobTitle = jobTitles[r.IntN(len(jobTitles))]
	}
	if r.IntN(100) >= 40 {
		l.Industry = industries[r.IntN(len(industries))]
	}
	return l
}

func generate(cfg Config) (*Account, *generator) {
	now := cfg.Now
	g := &generator{seed: cfg.Seed}
	acc := &Account{Now: now}
	r := newRand(cfg.Seed, 1)

	for i := range max(cfg.Clients, 0) {
		id := int64(clientIDBase + i*3 + r.IntN(3))
		perm := []string{"reply_master_inbox"}
		if i%2 == 1 {
			perm = []string{"full_access"}
		}
		acc.Clients = append(acc.Clients, Client{
			ID: id, Name: companyA[i%len(companyA)] + " Client", Email: "ops+" + strconv.Itoa(i) + "@" + domains[(i*7)%len(domains)],
			UUID:      uuidLike(mix2(uint64(cfg.Seed), uint64(id)), mix(uint64(id))),
			CreatedAt: stamp(now.Add(-between(r, 400*day, 800*day)), false), UserID: userIDBase + cfg.Seed%1000,
			Permissions: perm,
		})
	}

	n := cfg.Campaigns
	var statuses []string
	if cfg.Mix != nil {
		statuses = mixStatuses(r, *cfg.Mix, n)
	} else {
		statuses = defaultStatuses(r, n)
	}
	mult := make([]float64, n)
	for i := range mult {
		mult[i] = leadMult[i%len(leadMult)]
	}
	r.Shuffle(n, func(i, j int) { mult[i], mult[j] = mult[j], mult[i] })

	acc.Campaigns = make([]Campaign, n)
	for i := range n {
		cr := newRand(cfg.Seed, 1000+uint64(i))
		nl := int(float64(cfg.LeadsPerCampaign)*mult[i]*(0.95+0.1*cr.Float64()) + 0.5)
		acc.Campaigns[i] = g.campaign(cr, cfg, acc, i, statuses[i], nl)
	}

	for i := range max(cfg.EmailAccounts, 0) {
		acc.EmailAccounts = append(acc.EmailAccounts, emailAccount(r, cfg, acc, i))
	}
	return acc, g
}

// defaultStatuses is the default mix, shuffled: about a quarter
// COMPLETED or STOPPED, a tenth each DRAFTED and PAUSED, the rest ACTIVE.
func defaultStatuses(r *rand.Rand, n int) []string {
	statuses := make([]string, n)
	done := (n + 2) / 4
	k := 0
	for j := range done {
		statuses[k] = []string{"COMPLETED", "STOPPED"}[j%2]
		k++
	}
	for range n / 10 {
		statuses[k], statuses[k+1] = "DRAFTED", "PAUSED"
		k += 2
	}
	for ; k < n; k++ {
		statuses[k] = "ACTIVE"
	}
	r.Shuffle(n, func(i, j int) { statuses[i], statuses[j] = statuses[j], statuses[i] })
	return statuses
}

func (g *generator) campaign(r *rand.Rand, cfg Config, acc *Account, i int, status string, nLeads int) Campaign {
	now := cfg.Now
	n := cfg.Campaigns
	id := int64(campaignIDBase + 1000 + i*50 + r.IntN(40))
	// Creation times spread over the last year, in id order.
	created := now.Add(-365 * day).Add(time.Duration(i) * (300 * day / time.Duration(max(n, 1)))).Add(between(r, 0, 12*time.Hour))
	if cfg.Mix != nil {
		created = mixCreated(r, now, i, n)
	}
	created = stamp(created, false)
	c := Campaign{
		ID: id, UserID: userIDBase + cfg.Seed%1000, Status: status, CreatedAt: created,
		Name:                pick(r, companyB) + " outreach " + strconv.Itoa(i+1) + " - " + pick(r, []string{"Q1", "Q2", "EMEA", "US", "founders", "re-engage"}),
		Timezone:            pick(r, timezones),
		Days:                []int{1, 2, 3, 4, 5},
		StartHour:           "09:00",
		EndHour:             pick(r, []string{"17:00", "18:00", "19:00"}),
		MinTimeBtwnEmails:   pick(r, []int{10, 15, 24, 30}),
		MaxLeadsPerDay:      pick(r, []int{50, 100, 200}),
		StopLeadSettings:    "REPLY_TO_AN_EMAIL",
		EnableAIESPMatching: r.IntN(2) == 0,
		SendAsPlainText:     r.IntN(4) == 0,
		FollowUpPercentage:  pick(r, []int{20, 40, 50}),
		TrackSettings:       []string{},
	}
	if r.IntN(8) == 0 {
		c.Days = []int{0, 1, 2, 3, 4, 5, 6}
	}
	switch r.IntN(5) {
	case 0:
		c.TrackSettings = []string{"DONT_EMAIL_OPEN", "DONT_LINK_CLICK"}
	case 1:
		c.TrackSettings = []string{"DONT_LINK_CLICK"}
	}
	if len(acc.Clients) > 0 && r.IntN(10) < 4 {
		c.ClientID = acc.Clients[r.IntN(len(acc.Clients))].ID
	}
	for t := range r.IntN(3) {
		c.Tags = append(c.Tags, tagTable[(i+t)%len(tagTable)])
	}

	// stopAt: sends stop at a campaign's end, its pause, or now.
	var stopAt, updated time.Time
	if cfg.Mix != nil {
		stopAt, updated = mixStop(r, cfg.Mix, status, created, now)
	} else {
		stopAt, updated = defaultStop(r, status, created, now)
	}
	c.UpdatedAt = stamp(updated, false)
	if c.UpdatedAt.Before(c.CreatedAt) {
		c.UpdatedAt = c.CreatedAt
	}
	if mix2(uint64(cfg.Seed), uint64(id))%4 == 0 {
		c.UpdatedAt = stamp(c.UpdatedAt.Add(time.Duration(r.IntN(1000))*time.Microsecond), true)
	}

	// Sequences.
	nseq := max(cfg.SequencesPerCampaign, 1)
	delay := 0
	for k := range nseq {
		s := Sequence{
			ID: int64(sequenceIDBase + i*40 + k), SeqNumber: k + 1, DelayInDays: delay,
			CreatedAt: stamp(created.Add(time.Duration(k+1)*time.Minute), false),
			EmailBody: "<p>Hi {{first_name}},</p><p>" + pick(r, []string{"Following up on my last note.", "We help teams like {{company_name}} move faster.", "Would a 15-minute call next week work?", "Closing the loop here."}) + "</p>",
		}
		s.UpdatedAt = s.CreatedAt.Add(between(r, 0, 2*day)).Truncate(time.Millisecond)
		if k == 0 || (k == 2 && i%3 == 0) {
			s.Subject = pick(r, subjects)
		}
		if k == 0 && i%2 == 0 {
			for v, label := range []string{"A", "B"} {
				s.Variants = append(s.Variants, Variant{
					ID: int64(variantIDBase + i*40 + k*4 + v), Label: label, Distribution: 50,
					Subject: pick(r, subjects), EmailBody: s.EmailBody,
				})
			}
		}
		c.Sequences = append(c.Sequences, s)
		delay = 2 + r.IntN(3)
	}

	// Leads, uploaded in batches over the first 80% of the sending life
	// (the whole life for ACTIVE campaigns).
	span := max(stopAt.Sub(created), time.Hour)
	batches := 2 + nLeads/20
	batchAge := make([]time.Duration, batches)
	for b := range batchAge {
		batchAge[b] = between(r, 6*time.Hour, 3*day)
	}
	c.Leads = make([]Lead, 0, nLeads)
	for j := range nLeads {
		b := j * batches / max(nLeads, 1)
		f := float64(b) / float64(batches-1)
		at := created.Add(time.Duration(float64(span) * 0.8 * f))
		switch status {
		case "DRAFTED":
			at = created
		case "ACTIVE":
			// Uploads continue: the last batch is at most a few days old,
			// so some leads still have steps to send.
			at = latest(created.Add(time.Duration(float64(span)*f)).Add(-batchAge[b]), created)
		}
		at = at.Add(time.Duration(j) * 37 * time.Millisecond)
		l := g.newLead(r, earliest(at, now.Add(-time.Minute)))
		c.Leads = append(c.Leads, l)
	}

	if status != "DRAFTED" {
		for j := range c.Leads {
			g.history(r, &c, &c.Leads[j], stopAt, now)
		}
	}
	slices.SortFunc(c.Stats, compareRows)
	return c
}

// defaultStop is when a campaign of the default mix stops sending, and
// its settings time.
func defaultStop(r *rand.Rand, status string, created, now time.Time) (stopAt, updated time.Time) {
	life := now.Sub(created)
	stopAt = now
	switch status {
	case "COMPLETED", "STOPPED":
		stopAt = created.Add(time.Duration(float64(life) * (0.6 + 0.3*r.Float64())))
		stopAt = earliest(stopAt, now.Add(-day))
		updated = stopAt
	case "PAUSED":
		stopAt = created.Add(time.Duration(float64(life) * (0.5 + 0.45*r.Float64())))
		updated = stopAt
	case "DRAFTED":
		stopAt = created
		updated = created.Add(between(r, time.Minute, 3*day))
	default:
		updated = now.Add(-between(r, time.Hour, 20*day))
	}
	return stopAt, updated
}

func compareRows(a, b StatRow) int {
	if x := a.SentTime.Compare(b.SentTime); x != 0 {
		return x
	}
	return strings.Compare(a.StatsID, b.StatsID)
}

// newRow makes the row for sending step k to the lead, without engagement.
func (g *generator) newRow(r *rand.Rand, c *Campaign, l *Lead, name *string, k int, sent time.Time) StatRow {
	s := &c.Sequences[k]
	h := mix2(uint64(g.seed), uint64(l.CampaignLeadMapID)<<5|uint64(k))
	row := StatRow{
		StatsID:           uuidLike(h, mix(h)),
		CampaignLeadMapID: l.CampaignLeadMapID, LeadName: name, LeadEmail: l.Email,
		LeadCategory: categoryName(l.CategoryID), SequenceNumber: s.SeqNumber, EmailCampaignSeqID: s.ID,
		EmailSubject: s.Subject, EmailMessage: s.EmailBody, Micro: h%10 == 1,
	}
	if len(s.Variants) > 0 {
		v := s.Variants[r.IntN(len(s.Variants))]
		row.SeqVariantID, row.EmailSubject = v.ID, v.Subject
	}
	row.SentTime = stamp(sent, row.Micro)
	return row
}
