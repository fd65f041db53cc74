package cli

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/smartlead-etl/smartlead-etl/dashboard"
	"github.com/smartlead-etl/smartlead-etl/load"
)

func (e *env) cmdDashboard(ctx context.Context, args []string) error {
	var c dbFlags
	fs := newFlags("dashboard", "--out FILE.html [flags]", "Write the warehouse as one self-contained HTML page with charts and filters: no network needed to view it, safe to email or publish (it names the warehouse file, never its directory).", envPrefix)
	c.register(fs)
	out := fs.String("out", "", "the HTML file to write (mode 0600; replaced whole)")
	// dashboard once took --log-format and --log-level; it writes no log.
	fs.ignore(runFlagSet(&runConfig{}), "log-format", "log-level")
	if err := e.parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usageErrorf("dashboard: --out FILE.html is required")
	}
	if fs.NArg() > 0 {
		return usageErrorf("dashboard: unexpected argument %q", fs.Arg(0))
	}
	if err := validate(fs, append(c.checks(true), flagCheck{"out", func() error { return checkOutFile(*out) }})); err != nil {
		return err
	}
	store, err := openReadOnly(ctx, c)
	if err != nil {
		return err
	}
	defer store.Close()
	n, took, err := e.writeDashboard(ctx, store, c.db, *out)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "dashboard written to %s (%s, %s)\n", *out, sizeString(n), took.Round(time.Millisecond))
	return nil
}

// runDashboard writes the page after a successful run when --dashboard is
// set; it reads the warehouse as a reader would, through a read-only store.
func (e *env) runDashboard(ctx context.Context, cfg runConfig, log *slog.Logger) error {
	if cfg.dashboard == "" {
		return nil
	}
	store, err := openReadOnly(ctx, cfg.dbFlags)
	if err != nil {
		return err
	}
	defer store.Close()
	n, took, err := e.writeDashboard(ctx, store, cfg.db, cfg.dashboard)
	if err != nil {
		return err
	}
	log.Info("dashboard written", "file", cfg.dashboard, "bytes", n, "took", took.Round(time.Millisecond))
	return nil
}

func (e *env) writeDashboard(ctx context.Context, store *load.Store, db, out string) (int, time.Duration, error) {
	start := time.Now()
	page, err := dashboard.Generate(ctx, store, dashboard.Options{
		Reports: e.reports(), Warehouse: filepath.Base(db), Version: e.Version,
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
