//go:build tools

// This file pins modules the packages are being written against, so that
// go.mod and go.sum stay complete while they land. Removed once imported.
package main

import (
	_ "github.com/duckdb/duckdb-go/v2"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/sourcegraph/conc/pool"
	_ "github.com/spf13/pflag"
	_ "github.com/stretchr/testify/assert"
	_ "github.com/stretchr/testify/require"
	_ "go.uber.org/goleak"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/term"
)
