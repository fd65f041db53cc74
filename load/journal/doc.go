// Package journal is the request ledger's write-ahead journal: quota
// memory that survives a crash.
//
// The limiter starts each process from the requests earlier ones made in
// the longest rate-limit window. The warehouse's api_requests ledger is
// written in batches, so a process killed with SIGKILL leaves its last
// requests out of it, and a quick restart would send into a window that is
// already full. The journal closes that gap: before a request goes out,
// one line naming it is appended to <warehouse>.requests and synced
// (fdatasync); its answer is appended after it, unsynced. So every request
// that may have reached the server is on disk first, and a request whose
// answer was never recorded is counted as sent: the next start may
// over-count by the requests that were in flight, never under-count.
//
// The next start reads the journal (every request since its header's
// Since, from any process) and the warehouse's ledger (anything older),
// preloads the limiter with both, and writes the orphans (requests of dead
// processes not yet in api_requests) to the ledger, an unanswered one with
// the error [NoAnswer]; lines naming requests the ledger holds are
// appended as they are written ([Journal.Flushed]). [Journal.Compact]
// drops requests older than the longest window that the ledger holds.
//
// Clock steps. Each request line records the wall-clock time (what the
// ledger keeps, api_requests.at) and, beside it, the boot's id and its
// CLOCK_BOOTTIME, which every process of one boot shares and no clock
// step moves. A reader dates a request of its own boot by how long ago
// the boot-time clock says it was sent ([Entry.Sent]): an earlier
// process's journal written an hour "in the future" or "in the past"
// (the clock was stepped since) still counts exactly the requests the
// server's windows hold. Without a boot-time reading (another boot) the
// wall-clock time is all there is; times from the future are then moved
// back by the limiter (see ratelimit.PastSends). Compaction drops what
// is older than the window by Sent, and never moves the header's Since
// past a request it keeps, so the ledger does not count one twice.
//
// A full disk: a line that cannot be written and synced makes Sending
// fail, so the request is not sent; the error names the journal in one
// line. The part of the line the disk took is ended before the next
// record, and a reader skips it (and finds a record another process
// appended to it).
//
// Cost: one write and one fdatasync per request, about 1.7 ms of waiting
// on this project's test machine (BenchmarkSending) and microseconds of
// CPU, beside a rate limit that allows a request every 125 ms at best.
// Several processes (a run, plan, webhook commands) may append at once:
// each line is one write(2) with O_APPEND under a shared flock, and
// Compact replaces the file under the exclusive lock; appenders reopen
// when the file they hold was replaced. The file is created 0600.
package journal
