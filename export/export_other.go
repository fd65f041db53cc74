//go:build !linux

package export

// exchangeDirs reports that this system has no atomic directory exchange:
// swapPartition then moves the old partition aside and the new one in,
// two renames with a brief moment where the partition is absent (never
// one where old and new files mix).
func exchangeDirs(a, b string) (bool, error) { return false, nil }
