package fakeapi

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// StatusMix sets the share of each campaign status in a generated account
// (normalised; zero shares are absent). With a mix, campaigns take their
// status by age, as in a real account: the oldest are finished
// (COMPLETED or STOPPED, interleaved), the newest still ACTIVE or PAUSED,
// drafts newest of all. Creation spreads over the last year up to
// yesterday, and a campaign sends for SendDays after its creation (a
// cold-email sequence runs weeks, not months), so most campaigns have
// been silent for a long time while their old emails still get opened
// and answered (see RealisticNight).
type StatusMix struct {
	Completed, Stopped, Active, Paused, Drafted float64
	// SendDays bounds how long a finished campaign sent, in days: a
	// uniform draw in [SendDays[0], SendDays[1]) (default 14 to 42).
	SendDays [2]int
}

// AgencyMix is an agency account: 85% COMPLETED, 5% STOPPED, 8% ACTIVE,
// 2% PAUSED.
var AgencyMix = StatusMix{Completed: 0.85, Stopped: 0.05, Active: 0.08, Paused: 0.02}

// AgencyConfig is a simulated agency account of n campaigns with about 30
// leads each, AgencyMix statuses, a mailbox per dozen campaigns and 25
// clients. Add the key, windows and faults the test needs.
func AgencyConfig(seed int64, n int) Config {
	mix := AgencyMix
	return Config{Seed: seed, Campaigns: n, LeadsPerCampaign: 30, Mix: &mix, EmailAccounts: max(5, n/12), Clients: 25}
}

// mixStatuses assigns statuses by creation order (index 0 is the oldest).
func mixStatuses(r *rand.Rand, m StatusMix, n int) []string {
	shares := []float64{m.Completed + m.Stopped, m.Active + m.Paused, m.Drafted}
	total := shares[0] + shares[1] + shares[2]
	out := make([]string, n)
	if total <= 0 || n == 0 {
		for i := range out {
			out[i] = "ACTIVE"
		}
		return out
	}
	finished := int(math.Round(float64(n) * shares[0] / total))
	drafted := min(int(math.Round(float64(n)*shares[2]/total)), n-finished)
	live := n - finished - drafted
	// Within each age band the two statuses are interleaved at random,
	// in exact proportion.
	fill := func(lo, hi int, a, b float64, sa, sb string) {
		k := hi - lo
		na := k
		if a+b > 0 {
			na = int(math.Round(float64(k) * a / (a + b)))
		}
		for i := lo; i < hi; i++ {
			if i-lo < na {
				out[i] = sa
			} else {
				out[i] = sb
			}
		}
		r.Shuffle(k, func(i, j int) { out[lo+i], out[lo+j] = out[lo+j], out[lo+i] })
	}
	fill(0, finished, m.Completed, m.Stopped, "COMPLETED", "STOPPED")
	fill(finished, finished+live, m.Active, m.Paused, "ACTIVE", "PAUSED")
	for i := finished + live; i < n; i++ {
		out[i] = "DRAFTED"
	}
	return out
}

// mixCreated spreads creation over the last year, the newest a day old,
// in index order.
func mixCreated(r *rand.Rand, now time.Time, i, n int) time.Time {
	step := 364 * day / time.Duration(max(n, 1))
	return now.Add(-365 * day).Add(time.Duration(i) * step).Add(between(r, 0, step/2+time.Minute))
}

// mixStop is when a campaign of a mixed account stops sending and its
// settings time.
func mixStop(r *rand.Rand, m *StatusMix, status string, created, now time.Time) (stopAt, updated time.Time) {
	lo, hi := m.SendDays[0], m.SendDays[1]
	if lo <= 0 || hi <= lo {
		lo, hi = 14, 42
	}
	switch status {
	case "COMPLETED", "STOPPED":
		stopAt = created.Add(between(r, time.Duration(lo)*day, time.Duration(hi)*day))
		stopAt = latest(earliest(stopAt, now.Add(-day)), created.Add(time.Hour))
		// Finishing is the last settings change; a STOPPED campaign may
		// have been stopped by hand a little later.
		return stopAt, stopAt.Add(between(r, time.Minute, 6*time.Hour))
	case "PAUSED":
		stopAt = created.Add(time.Duration(float64(now.Sub(created)) * (0.3 + 0.6*r.Float64())))
		return stopAt, stopAt
	case "DRAFTED":
		return created, created.Add(between(r, time.Minute, 3*day))
	}
	return now, latest(now.Add(-between(r, time.Hour, 10*day)), created)
}

// positiveCategory reports whether a lead category counts as a positive
// reply in overall-stats (Interested, Meeting Request, Information
// Request).
func positiveCategory(id int64) bool { return slices.Contains([]int64{1, 2, 5}, id) }
