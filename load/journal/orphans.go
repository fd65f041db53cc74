package journal

import (
	"errors"
	"os"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Which requests are orphans: sent, not yet in the ledger, and by a
// process (or a journal of this process) that will never put them there.

// open holds the instances of the journals open in this process: a
// request of this process whose journal was closed will never be marked
// as in the ledger by it, so it is an orphan like a dead process's (plan
// and the webhook commands close theirs on return; a long-lived process
// such as a test runs them and then a run).
var open = struct {
	sync.Mutex
	inst map[string]bool
}{inst: map[string]bool{}}

// Orphans returns the requests not yet in the warehouse's ledger that were
// sent by processes no longer running, or by a journal of this process
// that is closed: their rows must be written (an unanswered one as sent,
// with no answer recorded) so that the ledger counts every request.
func (s *State) Orphans() []Entry {
	var out []Entry
	self := os.Getpid()
	for _, e := range s.Entries {
		if e.Flushed {
			continue
		}
		if e.PID == self && !closedHere(e.ID) || e.PID != self && alive(e.PID) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// closedHere reports whether the journal instance that recorded request
// id in this process is closed.
func closedHere(id string) bool {
	inst, _, _ := strings.Cut(id, ".")
	open.Lock()
	defer open.Unlock()
	return !open.inst[inst]
}

// NoAnswer is the error text of a ledger row for a request whose process
// stopped before recording its answer.
const NoAnswer = "no answer recorded: the process stopped before the response"

// alive reports whether a process with this id exists.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
