// Command smartlead-etl loads SmartLead cold-email analytics into a DuckDB
// warehouse. The commands live in internal/cli; this file only embeds the
// SQL they need and hands over.
package main

import (
	"embed"
	"os"

	"github.com/smartlead-etl/smartlead-etl/internal/cli"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

//go:embed sql
var sqlFiles embed.FS

func main() {
	os.Exit(cli.Main(sqlFiles, version))
}
