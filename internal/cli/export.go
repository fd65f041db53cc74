package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/smartlead-etl/smartlead-etl/export"
)

func (e *env) cmdExport(ctx context.Context, args []string) error {
	var c dbFlags
	var l logFlags
	fs := newFlags("export", "--out DIR [flags]", "Write the warehouse as Hive-partitioned Parquet files (ZSTD) with a manifest.json.", envPrefix)
	c.register(fs)
	l.register(fs)
	out := fs.String("out", "", "output directory")
	all := fs.Bool("all-snapshots", false, "export every snapshot of the history tables, not only the latest")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usageErrorf("export: --out DIR is required")
	}
	if fs.NArg() > 0 {
		return usageErrorf("export: unexpected argument %q", fs.Arg(0))
	}
	if err := validate(fs, append(append(c.checks(true), l.checks()...), flagCheck{"out", func() error { return checkOutDir(*out) }})); err != nil {
		return err
	}
	log, err := e.newLogger(l, e.stderr)
	if err != nil {
		return err
	}
	return e.exportTo(ctx, c, *out, *all, log, e.stdout)
}

// exportTo writes the Parquet export of the warehouse c names to dir. A
// warehouse without a snapshot exports nothing and creates no folder.
func (e *env) exportTo(ctx context.Context, c dbFlags, dir string, all bool, log *slog.Logger, stdout io.Writer) error {
	store, err := openReadOnly(ctx, c)
	if err != nil {
		return err
	}
	defer store.Close()
	prev, err := store.LatestSucceeded(ctx)
	if err != nil {
		return err
	}
	if prev == nil {
		return errors.New("export: the warehouse has no succeeded run yet: nothing to export (run `smartlead-etl run` first)")
	}
	m, err := export.Export(ctx, store.DB(), dir, export.Options{AllSnapshots: all})
	if err != nil {
		return err
	}
	var rows int64
	for _, t := range m.Tables {
		rows += t.Rows
	}
	log.Info("parquet export written", "dir", dir, "tables", len(m.Tables), "rows", rows, "run_id", m.RunID)
	fmt.Fprintf(stdout, "exported %d tables (%d rows) to %s\n", len(m.Tables), rows, dir)
	return nil
}
