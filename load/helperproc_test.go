package load

import (
	"fmt"
	"os"
)

// helperMain runs a helper-process role and returns the exit code.
func helperMain(role string) int {
	var err error
	switch role {
	default:
		err = fmt.Errorf("unknown helper role %q", role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}
