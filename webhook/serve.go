package webhook

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/smartlead-etl/smartlead-etl/internal/spool"
	"github.com/smartlead-etl/smartlead-etl/load"
)

// DefaultMergeEvery is how often the receiver merges by default. Each
// merge opens and closes the warehouse, a fixed cost: merging every
// second halved the receiver's throughput under load on two cores.
const DefaultMergeEvery = 5 * time.Second

// Config configures [Serve]. Zero values take the defaults noted.
type Config struct {
	DB     string // the warehouse; the spool is load.EventsDir(DB)
	Schema fs.FS  // sql/schema, for opening the warehouse to merge
	Secret string // from SecretEnv; "" accepts unauthenticated deliveries
	Logger *slog.Logger
	// MergeEvery is how often the merger tries to move new events into
	// the warehouse (default 5s). It only opens the warehouse when there
	// is something to merge and no other process holds it.
	MergeEvery time.Duration
	// ShutdownGrace bounds how long a stopping receiver waits for the
	// deliveries in flight (default 25s: systemd's stop timeout is 90s,
	// SmartLead's answer deadline 30s).
	ShutdownGrace time.Duration
	// SpoolRetry is how often, after a failed write or fsync (a full
	// disk), the spool tries to write again (default spool.DefaultRetryEvery).
	SpoolRetry time.Duration
	// Ready, if set, is called once the receiver accepts deliveries.
	Ready func(addr net.Addr)
}

// SecretEnv is the environment variable that holds the webhook secret
// (never a flag: a command line is visible in ps).
const SecretEnv = "SMARTLEAD_WEBHOOK_SECRET"

// Serve receives deliveries on ln until ctx is done, then stops
// gracefully: it stops accepting connections, answers the deliveries in
// flight (each is durable before its 200), merges what the spool holds
// if the warehouse is free, and returns nil. It fails at once if another
// receiver writes to the same spool.
func Serve(ctx context.Context, ln net.Listener, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.MergeEvery <= 0 {
		cfg.MergeEvery = DefaultMergeEvery
	}
	if cfg.ShutdownGrace <= 0 {
		cfg.ShutdownGrace = 25 * time.Second
	}
	w, err := spool.Open(load.EventsDir(cfg.DB), spool.Options{RetryEvery: cfg.SpoolRetry, OnChange: func(err error) {
		if err != nil {
			log.Error("webhook spool: cannot write; deliveries are refused (503) and /healthz answers 503 until a write succeeds again",
				"error", err)
			return
		}
		log.Info("webhook spool: writes succeed again; deliveries are accepted")
	}})
	if err != nil {
		return err
	}
	if cfg.Secret == "" {
		log.Warn(SecretEnv + " is not set: deliveries are accepted without authentication")
	}
	h := NewHandler(w, cfg.Secret, log)
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	m := &merger{cfg: cfg, log: log, w: w}
	mctx, stopMerger := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { m.loop(mctx) })

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("webhook receiver listening", "addr", ln.Addr().String(), "path", Path, "db", cfg.DB, "spool", w.Dir())
	if cfg.Ready != nil {
		cfg.Ready(ln.Addr())
	}

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("webhook receiver: deliveries still in flight at shutdown were dropped unanswered", "error", err)
	}
	stopMerger()
	wg.Wait()
	c := h.Counts()
	cerr := w.Close()
	m.merge(sctx, 2*time.Second) // what arrived since the last merge, if the warehouse is free
	log.Info("webhook receiver stopped", "received", c.Received, "acknowledged", c.Acknowledged,
		"rejected", c.Rejected, "unauthorized", c.Unauthorized, "failed", c.Failed)
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("webhook receiver: %w", serveErr)
	}
	return cerr
}

// merger moves spooled records into the warehouse when it is free.
type merger struct {
	cfg    Config
	log    *slog.Logger
	w      *spool.Writer
	merged int64 // spool records known merged (Writer.Stats().Records at the last merge)
	busy   bool  // the last attempt found the warehouse locked
}

func (m *merger) loop(ctx context.Context) {
	lowerPriority()
	m.merge(ctx, -1) // a backlog left by a previous receiver
	t := time.NewTicker(m.cfg.MergeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if m.w.Stats().Records != m.merged || m.busy {
				m.merge(ctx, -1)
			}
		}
	}
}

// merge opens the warehouse (waiting at most lockWait for another
// process's lock; negative: not at all), merges and closes it at once,
// so the receiver never holds the warehouse between deliveries.
func (m *merger) merge(ctx context.Context, lockWait time.Duration) {
	records := m.w.Stats().Records
	// One DuckDB thread: the merge must not take the cores that answer
	// deliveries.
	store, err := load.Open(ctx, m.cfg.DB, m.cfg.Schema, load.Options{LockWait: lockWait, Logger: m.log, Threads: 1, WarehouseOnly: true})
	if errors.Is(err, load.ErrLocked) {
		if !m.busy {
			m.log.Info("warehouse in use by another process; events stay spooled until it is free (a run merges them at its commit)")
		}
		m.busy = true
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			m.log.Error("webhook merge: could not open the warehouse; events stay spooled", "error", err)
		}
		return
	}
	res, err := store.MergeEvents(ctx)
	if cerr := store.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if ctx.Err() == nil {
			m.log.Error("webhook merge failed; events stay spooled", "error", err)
		}
		return
	}
	m.busy = false
	m.merged = records
	if res.Events+res.Rejects+res.Duplicates > 0 || res.TornBytes > 0 {
		m.log.Info("webhook events merged", "events", res.Events, "duplicates", res.Duplicates,
			"rejects", res.Rejects, "torn_bytes", res.TornBytes)
	}
}
