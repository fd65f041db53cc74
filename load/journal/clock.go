package journal

import (
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// bootClock returns this boot's id (a prefix of the kernel's random
// boot_id, "" when unknown) and CLOCK_BOOTTIME: a clock every process of
// one boot shares that never steps, counting time suspended too.
var bootClock = systemBootClock

func systemBootClock() (string, int64) {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return "", 0
	}
	return bootID(), ts.Nano()
}

// SetBootClock replaces the boot-time clock until restore is called (nil:
// the system's): for tests in virtual time (testing/synctest), whose
// clock the real boot-time clock does not follow, so that requests of an
// earlier session in the same test would all look just sent. A clock
// returning "" records no boot time (only wall-clock times are kept, as
// across a reboot). Not safe to call while journals are in use.
func SetBootClock(clock func() (boot string, ns int64)) (restore func()) {
	prev := bootClock
	if clock == nil {
		clock = systemBootClock
	}
	bootClock = clock
	return func() { bootClock = prev }
}

var bootID = sync.OnceValue(func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	id := strings.ReplaceAll(strings.TrimSpace(string(b)), "-", "")
	return id[:min(16, len(id))]
})

// sentAt is when a request recorded at wall-clock time at, and at boot
// time mono of boot, was sent, as a time of this process's clock read at
// (now, bootNow of bootNowID). Within one boot the boot-time clock gives
// the request's true age whatever the wall clock did since (NTP stepped
// it, a VM was resumed): the result is now minus that age, with now's
// monotonic reading. Across a reboot only the wall-clock time is known.
func sentAt(at time.Time, boot string, mono int64, now time.Time, bootNowID string, bootNow int64) time.Time {
	if boot == "" || boot != bootNowID || mono <= 0 || mono > bootNow {
		return at
	}
	return now.Add(-time.Duration(bootNow - mono))
}
