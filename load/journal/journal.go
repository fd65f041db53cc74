package journal

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
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
	gone     bool // while reading: flushed and sent before the cutoff, dropped
	// Sent is when it was sent on the clock of the process that read the
	// journal: Attempt.At is the wall-clock time recorded then (what the
	// ledger keeps), which a clock step since has made wrong; Sent is
	// measured with the boot-time clock when the request was sent in this
	// boot (see sentAt).
	Sent time.Time

	boot string
	mono int64
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
	// Reading with keepFrom leaves out what is dropped: the requests
	// flushed to the ledger and sent before keepFrom.
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
