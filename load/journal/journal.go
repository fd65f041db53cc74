package journal

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/smartlead-etl/smartlead-etl/extract"
	"github.com/smartlead-etl/smartlead-etl/internal/diskfull"
	"github.com/smartlead-etl/smartlead-etl/internal/privfile"
)

// record is one line of the journal. Kind "h" (header) says since when the
// file holds every request; "s" is a request about to be sent, written and
// synced before it goes out; "a" is its answer; "f" lists requests now in
// the warehouse's api_requests.
type record struct {
	Kind  string   `json:"t"`
	ID    string   `json:"i,omitempty"`
	IDs   []string `json:"ids,omitempty"`
	Since int64    `json:"since,omitempty"`
	PID   int      `json:"p,omitempty"`
	Run   string   `json:"r,omitempty"`
	At    int64    `json:"at,omitempty"`
	EP    string   `json:"e,omitempty"`
	Camp  int64    `json:"c,omitempty"`
	N     int      `json:"n,omitempty"`
	Wait  int64    `json:"w,omitempty"`
	St    int      `json:"st,omitempty"`
	Dur   int64    `json:"d,omitempty"`
	RR    *int     `json:"rr,omitempty"`
	Err   string   `json:"x,omitempty"`
	Boot  string   `json:"b,omitempty"` // "s": the boot it was sent in
	Mono  int64    `json:"m,omitempty"` // "s": the boot-time clock then (ns)
}

// Entry is one request the journal holds, with its answer when one was
// recorded.
type Entry struct {
	ID       string
	PID      int    // the process that sent it
	RunID    string // "" for a request outside a run (plan, webhooks)
	Attempt  extract.Attempt
	Answered bool // false: the process stopped before recording an answer
	Flushed  bool // already in the warehouse's api_requests
	// Sent is when it was sent on the clock of the process that read the
	// journal: Attempt.At is the wall-clock time recorded then (what the
	// ledger keeps), which a clock step since has made wrong; Sent is
	// measured with the boot-time clock when the request was sent in this
	// boot (see sentAt).
	Sent time.Time

	boot string
	mono int64
	gone bool // read: flushed and sent before the cutoff, dropped
}

// Journal is the open journal of one warehouse. It is safe for concurrent
// use, and several processes may append to one file at once.
type Journal struct {
	path string
	inst string // this process's prefix of request ids
	pid  int

	mu  sync.Mutex
	f   *os.File
	seq uint64
	run string
	buf []byte
	// torn: a write failed (a full disk takes part of a line), so the
	// next line starts on a line of its own.
	torn bool
}

// Path returns the journal's file name for the warehouse at db.
func Path(db string) string { return db + ".requests" }

// Open opens (creating, 0600) the journal at path for appending.
func Open(path string) (*Journal, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	j := &Journal{path: path, inst: hex.EncodeToString(b[:]), pid: os.Getpid()}
	if err := j.reopen(); err != nil {
		return nil, err
	}
	open.Lock()
	open.inst[j.inst] = true
	open.Unlock()
	return j, nil
}

// reopen opens the file at j.path, creating it with a header, and makes
// sure it ends in a newline so that a line torn by a power cut cannot
// swallow the next record.
func (j *Journal) reopen() error {
	if j.f != nil {
		_ = j.f.Close()
		j.f = nil
	}
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		_ = f.Close()
		return fmt.Errorf("journal: lock %s: %w", j.path, err)
	}
	defer func() { _ = unix.Flock(int(f.Fd()), unix.LOCK_UN) }()
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return fmt.Errorf("journal: %w", err)
	}
	switch {
	case st.Size() == 0:
		err = writeSync(f, mustLine(record{Kind: "h", Since: time.Now().UnixNano()}))
	default:
		last := make([]byte, 1)
		if _, err = f.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
			err = writeSync(f, []byte("\n"))
		}
	}
	if err != nil {
		_ = f.Close()
		return diskfull.Wrap("request journal", j.path, "", fmt.Errorf("journal: %w", err))
	}
	j.f = f
	return nil
}

func mustLine(r record) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // a record of plain fields always marshals
	}
	return append(b, '\n')
}

func writeSync(f *os.File, b []byte) error {
	if _, err := f.Write(b); err != nil {
		return err
	}
	return unix.Fdatasync(int(f.Fd()))
}

// SetRun tags the requests recorded from now on with a run id.
func (j *Journal) SetRun(runID string) {
	j.mu.Lock()
	j.run = runID
	j.mu.Unlock()
}

// Sending records, durably, that a request is about to be sent: the line
// is written and synced before it returns. It returns the id Answered
// takes. Implements extract.Journal.
func (j *Journal) Sending(a extract.Attempt) (string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	id := j.inst + "." + strconv.FormatUint(j.seq, 36)
	boot, mono := bootClock()
	r := record{Kind: "s", ID: id, PID: j.pid, Run: j.run, At: a.At.UnixNano(), EP: a.Endpoint,
		Camp: a.CampaignID, N: a.Attempt, Wait: int64(a.Waited), Boot: boot, Mono: mono}
	if err := j.append(r, true); err != nil {
		return "", err
	}
	return id, nil
}

// Answered records a request's outcome. It is not synced on its own: the
// next Sending's sync covers it, and a lost answer only makes the request
// look unanswered, which still counts it as sent.
func (j *Journal) Answered(id string, a extract.Attempt) {
	r := record{Kind: "a", ID: id, St: a.Status, Dur: int64(a.Duration), Err: a.Err}
	if a.RateRemaining >= 0 {
		r.RR = &a.RateRemaining
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	_ = j.append(r, false)
}

// Flushed records that the requests ids are now in the warehouse's
// api_requests, so that recovery does not write them again.
func (j *Journal) Flushed(ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.append(record{Kind: "f", IDs: ids}, true)
}

// append writes one record under a shared lock, reopening the file first
// if Compact replaced it since it was opened (appends to the old inode
// would be lost).
func (j *Journal) append(r record, sync bool) error {
	if j.f == nil {
		return errors.New("journal: closed")
	}
	j.buf = j.buf[:0]
	if j.torn {
		j.buf = append(j.buf, '\n') // end the part of a line a failed write left
	}
	j.buf = append(j.buf, mustLine(r)...)
	for range 3 {
		if err := unix.Flock(int(j.f.Fd()), unix.LOCK_SH); err != nil {
			return fmt.Errorf("journal: lock: %w", err)
		}
		if same(j.f, j.path) {
			_, err := j.f.Write(j.buf)
			if err == nil && sync {
				err = unix.Fdatasync(int(j.f.Fd()))
			}
			_ = unix.Flock(int(j.f.Fd()), unix.LOCK_UN)
			if err != nil {
				j.torn = true
				kept := ""
				if r.Kind == "s" {
					kept = "the request was not sent"
				}
				return diskfull.Wrap("request journal", j.path, kept, fmt.Errorf("journal: write %s: %w", j.path, err))
			}
			j.torn = false
			return nil
		}
		_ = unix.Flock(int(j.f.Fd()), unix.LOCK_UN)
		if err := j.reopen(); err != nil {
			return err
		}
	}
	return fmt.Errorf("journal: %s keeps being replaced", j.path)
}

func same(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// Close closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	open.Lock()
	delete(open.inst, j.inst)
	open.Unlock()
	return err
}

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
	if i, ok := r.at[rec.ID]; ok { // rewritten by Compact with its answer after it
		if i >= 0 {
			r.entries[i] = e
		}
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
	st := &State{Since: header, Entries: slices.Clip(r.entries)}
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

// Compact rewrites the journal without the requests sent before keepFrom
// that are already in the warehouse's ledger, and with Since moved up to
// keepFrom, so that it stays small. It takes the file's exclusive lock, and
// appenders in other processes notice the new file (see append).
func (j *Journal) Compact(keepFrom time.Time) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return errors.New("journal: closed")
	}
	old := j.f
	if err := unix.Flock(int(old.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("journal: lock: %w", err)
	}
	defer func() { _ = unix.Flock(int(old.Fd()), unix.LOCK_UN) }()
	if !same(old, j.path) {
		return nil // another process compacted it just now
	}
	st, err := read(io.NewSectionReader(old, 0, 1<<62), j.path, keepFrom)
	if err != nil {
		return err
	}
	// Since moves up to keepFrom, but not past the recorded time of a
	// request kept (one recorded before a clock step backwards): the
	// ledger counts what was recorded before Since.
	since := keepFrom
	var body bytes.Buffer
	var flushed []string
	for _, e := range st.Entries {
		if e.Flushed && e.Sent.Before(keepFrom) {
			continue
		}
		a := e.Attempt
		if a.At.Before(since) {
			since = a.At
		}
		body.Write(mustLine(record{Kind: "s", ID: e.ID, PID: e.PID, Run: e.RunID, At: a.At.UnixNano(), EP: a.Endpoint,
			Camp: a.CampaignID, N: a.Attempt, Wait: int64(a.Waited), Boot: e.boot, Mono: e.mono}))
		if e.Answered {
			r := record{Kind: "a", ID: e.ID, St: a.Status, Dur: int64(a.Duration), Err: a.Err}
			if a.RateRemaining >= 0 {
				rr := a.RateRemaining
				r.RR = &rr
			}
			body.Write(mustLine(r))
		}
		if e.Flushed {
			flushed = append(flushed, e.ID)
		}
	}
	if len(flushed) > 0 {
		body.Write(mustLine(record{Kind: "f", IDs: flushed}))
	}
	if st.Since.After(since) {
		since = st.Since
	}
	var out bytes.Buffer
	out.Write(mustLine(record{Kind: "h", Since: since.UnixNano()}))
	out.Write(body.Bytes())
	if err := privfile.WriteFile(j.path, out.Bytes()); err != nil {
		return diskfull.Wrap("request journal", j.path, "", fmt.Errorf("journal: compact: %w", err))
	}
	// Switch to the new file (it already ends in a newline); the old one
	// is closed once its lock is released, on return.
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	j.f = f
	defer old.Close()
	return nil
}
