package load

import (
	"time"

	"golang.org/x/sys/unix"
)

// wallNow reads the kernel's monotonic clock: commit windows are measured
// in real time even where the time package's clock is virtual (tests in a
// synctest bubble).
func wallNow() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
