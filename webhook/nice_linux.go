package webhook

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// lowerPriority pins the calling goroutine to its OS thread for good and
// lowers that thread's scheduling priority (nice 10). The merger runs on
// it, and DuckDB, limited to one thread, runs on the thread that calls
// it: so a merge takes only the CPU that answering deliveries leaves
// over. The goroutine must not return to other work; when it exits, the
// runtime ends the thread.
func lowerPriority() {
	runtime.LockOSThread()
	_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 10)
}
