//go:build !linux

package load

import "time"

var wallStart = time.Now()

// wallNow is the time since the process started.
func wallNow() time.Duration { return time.Since(wallStart) }
