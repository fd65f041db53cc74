package journal

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"time"

	"github.com/smartlead-etl/smartlead-etl/extract"
)

// State is what the journal knows when read.
type State struct {
	// Since: the journal holds every request recorded at or after Since
	// (wall-clock times as recorded, like the ledger's); an older request
	// is only in the warehouse's ledger.
	Since   time.Time
	Entries []Entry // by send time (Sent)
}

// Read reads the journal at path. A missing file is an empty journal
// covering nothing (Since is the zero time's opposite: far future), so
// that callers fall back to the warehouse for everything.
func Read(path string) (*State, error) { return ReadSince(path, time.Time{}) }

// ReadSince reads the journal at path as Read does, without the requests
// sent before from that are already in the warehouse's ledger: no caller
// needs them, and a journal holds every request of the previous run (a
// first full run of a 3,000-campaign account: 18,000), which the night
// that opens it would otherwise hold in memory.
func ReadSince(path string, from time.Time) (*State, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return &State{Since: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	return read(f, path, from)
}

// reader builds a State line by line. Requests flushed and sent before
// from are dropped when their flush is read (flushes follow their
// requests by at most a page or two), so its memory follows what the
// State keeps, not the journal's length.
type reader struct {
	from, now time.Time
	bootID    string
	boot      int64

	since   time.Time
	entries []Entry
	at      map[string]int // id -> index in entries; -1: dropped
	dropped int
	strs    map[string]string // run ids, endpoints, boots: a few values, each repeated per request
}

// intern returns s, sharing one copy per distinct value.
func (r *reader) intern(s string) string {
	if v, ok := r.strs[s]; ok {
		return v
	}
	r.strs[s] = s
	return s
}

func (r *reader) add(rec *record) {
	e := Entry{ID: rec.ID, PID: rec.PID, RunID: r.intern(rec.Run), Attempt: extract.Attempt{
		At: time.Unix(0, rec.At), Endpoint: r.intern(rec.EP), CampaignID: rec.Camp, Attempt: rec.N,
		Waited: time.Duration(rec.Wait), RateRemaining: -1}, boot: r.intern(rec.Boot), mono: rec.Mono}
	e.Sent = sentAt(e.Attempt.At, rec.Boot, rec.Mono, r.now, r.bootID, r.boot)
	// A request recorded before Since (the clock was stepped back after
	// the header was written) is in the journal all the same, kept or
	// not: the ledger must not count it a second time.
	if r.since.IsZero() || e.Attempt.At.Before(r.since) {
		r.since = e.Attempt.At
	}
	if _, ok := r.at[rec.ID]; ok {
		// Ids are unique (the process's prefix and a sequence number), so
		// a second line for one repeats the first: keep what was read.
		return
	}
	r.at[rec.ID] = len(r.entries)
	r.entries = append(r.entries, e)
}

func (r *reader) answer(rec *record) {
	if i, ok := r.at[rec.ID]; ok && i >= 0 {
		e := &r.entries[i]
		e.Answered = true
		e.Attempt.Status, e.Attempt.Duration, e.Attempt.Err = rec.St, time.Duration(rec.Dur), rec.Err
		if rec.RR != nil {
			e.Attempt.RateRemaining = *rec.RR
		}
	}
}

func (r *reader) flushed(ids []string) {
	for _, id := range ids {
		i, ok := r.at[id]
		if !ok || i < 0 {
			continue
		}
		if e := &r.entries[i]; !e.Sent.Before(r.from) {
			e.Flushed = true
			continue
		}
		r.at[id] = -1
		r.entries[i].gone = true
		r.dropped++
	}
	if r.dropped > 1024 && r.dropped > len(r.entries)/2 {
		r.compact()
	}
}

// compact removes the dropped entries from entries.
func (r *reader) compact() {
	kept := r.entries[:0]
	for _, e := range r.entries {
		if !e.gone {
			r.at[e.ID] = len(kept)
			kept = append(kept, e)
		}
	}
	clear(r.entries[len(kept):])
	r.entries, r.dropped = kept, 0
	// The map keeps its dropped ids (an "a" or a rewritten "s" may still
	// name one) but not their entries.
}

func read(rd io.Reader, path string, from time.Time) (*State, error) {
	r := &reader{from: from, now: time.Now(), at: map[string]int{}, strs: map[string]string{}}
	r.bootID, r.boot = bootClock()
	var header time.Time
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	line := 0
	var rec record
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		rec = record{}
		if err := json.Unmarshal(b, &rec); err != nil {
			// A power cut, or a write refused by a full disk after it
			// took part of the line, tears a line; its request was never
			// sent, so skip it. A record appended later (by another
			// process, which did not see the failure) may have been
			// glued to the torn part: keep it. Every line starts `{"t":`.
			i := bytes.LastIndex(b, []byte(`{"t":`))
			if rec = (record{}); i <= 0 || json.Unmarshal(b[i:], &rec) != nil {
				continue
			}
		}
		switch rec.Kind {
		case "h":
			if header.IsZero() {
				header = time.Unix(0, rec.Since)
			}
		case "s":
			r.add(&rec)
		case "a":
			r.answer(&rec)
		case "f":
			r.flushed(rec.IDs)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("journal: read %s line %d: %w", path, line, err)
	}
	r.compact()
	sort.SliceStable(r.entries, func(a, b int) bool { return r.entries[a].Sent.Before(r.entries[b].Sent) })
	// A copy: the reading array may have held the whole journal.
	st := &State{Since: header, Entries: slices.Clone(r.entries)}
	if !r.since.IsZero() && r.since.Before(st.Since) {
		st.Since = r.since
	}
	return st, nil
}

// SentSince returns the send time (Sent) of every request sent at or
// after from.
func (s *State) SentSince(from time.Time) []time.Time {
	var out []time.Time
	for _, e := range s.Entries {
		if !e.Sent.Before(from) {
			out = append(out, e.Sent)
		}
	}
	return out
}
