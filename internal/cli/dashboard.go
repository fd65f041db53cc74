package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/smartlead-etl/smartlead-etl/dashboard"
	"github.com/smartlead-etl/smartlead-etl/load"
)

func cmdDashboard(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := newFlagSet("dashboard --out FILE.html [flags]", "Write the warehouse as one self-contained HTML page with charts and filters: no network needed to view it, safe to email or publish (it names the warehouse file, never its directory).")
	c.register(fs)
	out := fs.String("out", "", "the HTML file to write (mode 0600; replaced whole)")
	if err := parseFlags(fs, args, stderr); err != nil {
		return err
	}
	if *out == "" {
		return usageErrorf("dashboard: --out FILE.html is required")
	}
	if fs.NArg() > 0 {
		return usageErrorf("dashboard: unexpected argument %q", fs.Arg(0))
	}
	store, err := openReadOnly(ctx, c)
	if err != nil {
		return err
	}
	defer store.Close()
	n, took, err := writeDashboard(ctx, store, c.db, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "dashboard written to %s (%s, %s)\n", *out, sizeString(n), took.Round(time.Millisecond))
	return nil
}

// runDashboard writes the page after a successful run when --dashboard is
// set; it reads the warehouse as a reader would, through a read-only store.
func runDashboard(ctx context.Context, cfg runConfig, log *slog.Logger) error {
	if cfg.dashboard == "" {
		return nil
	}
	store, err := openReadOnly(ctx, cfg.common)
	if err != nil {
		return err
	}
	defer store.Close()
	n, took, err := writeDashboard(ctx, store, cfg.db, cfg.dashboard)
	if err != nil {
		return err
	}
	log.Info("dashboard written", "file", cfg.dashboard, "bytes", n, "took", took.Round(time.Millisecond))
	return nil
}

func writeDashboard(ctx context.Context, store *load.Store, db, out string) (int, time.Duration, error) {
	start := time.Now()
	page, err := dashboard.Generate(ctx, store, dashboard.Options{
		Reports: reportsFS(), Warehouse: filepath.Base(db), Version: version,
	})
	if err != nil {
		return 0, 0, err
	}
	if err := dashboard.WriteFile(out, page); err != nil {
		return 0, 0, err
	}
	return len(page), time.Since(start), nil
}

func sizeString(n int) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.0f KB", float64(n)/1024)
	}
	return fmt.Sprintf("%.2f MB", float64(n)/(1<<20))
}
