//go:build !linux

package webhook

// lowerPriority is a no-op where threads cannot be re-niced portably.
func lowerPriority() {}
