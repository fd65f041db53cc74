package load

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/smartlead-etl/smartlead-etl/internal/privfile"
)

// DefaultLockWait is how long Open waits for another process's lock when
// Options.LockWait is zero.
const DefaultLockWait = 10 * time.Second

// DefaultMemoryLimit bounds DuckDB's buffer memory when Options.MemoryLimit
// is empty. DuckDB's own default (80% of RAM) is wrong for a nightly job on
// a shared machine, and a load streams: it needs little.
const DefaultMemoryLimit = "192MB"

// Options configure a Store. The zero value is ready to use.
type Options struct {
	// LockWait is how long to wait for another process's DuckDB file lock
	// before giving up with a *LockedError: 0 means DefaultLockWait, a
	// negative value means do not wait.
	LockWait time.Duration
	// Retain keeps the rows of the last Retain succeeded runs in each
	// history table (0 = keep all). The latest succeeded run is never
	// deleted. Applied at each commit.
	Retain int
	// Logger receives one line per migration, run start and run end; nil
	// discards them.
	Logger *slog.Logger
	// MemoryLimit is DuckDB's memory_limit setting, e.g. "512MB"; empty
	// means DefaultMemoryLimit.
	MemoryLimit string
	// Threads is DuckDB's threads setting; 0 leaves DuckDB's default (one
	// per core).
	Threads int
	// Now is the clock used for finished_at and run ids; nil means time.Now.
	Now func() time.Time
	// CommitWait is how long a released store (see [Store.ReleaseWarehouse])
	// waits for readers to let go of the warehouse when it must write to
	// it (commit, abort): 0 means DefaultCommitWait.
	CommitWait time.Duration
	// WarehouseOnly opens the warehouse without the side file: for a
	// process that writes only its own tables (the webhook receiver's
	// merge), which must neither wait for a run's side file nor settle it.
	WarehouseOnly bool
}

// DefaultCommitWait is how long a commit waits for readers by default.
const DefaultCommitWait = 5 * time.Minute

func (o Options) lockWait() time.Duration {
	if o.LockWait == 0 {
		return DefaultLockWait
	}
	return o.LockWait
}

func (o Options) commitWait() time.Duration {
	if o.CommitWait > 0 {
		return o.CommitWait
	}
	return DefaultCommitWait
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// ErrLocked is matched (errors.Is) by every *LockedError.
var ErrLocked = errors.New("database file is locked by another process")

// LockedError reports that another process holds the DuckDB file.
type LockedError struct {
	Path    string
	PID     int           // the holder's process id; 0 when DuckDB does not say
	Program string        // the holder's executable when DuckDB says, else ""
	Waited  time.Duration // how long Open waited before giving up
}

func (e *LockedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "database %s is locked by another process", e.Path)
	switch {
	case e.PID != 0 && e.Program != "":
		fmt.Fprintf(&b, " (PID %d, %s)", e.PID, e.Program)
	case e.PID != 0:
		fmt.Fprintf(&b, " (PID %d)", e.PID)
	}
	fmt.Fprintf(&b, "; gave up after waiting %s", e.Waited.Round(time.Millisecond))
	return b.String()
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// Store is an open warehouse. It is safe for concurrent use.
type Store struct {
	db       *sql.DB
	path     string
	opts     Options
	log      *slog.Logger
	readOnly bool

	// The instance's catalogs: the warehouse and the side file (see
	// sidefile.go), and q, which qualifies @w. and @s. table names in SQL
	// with them.
	whCatalog, stageCatalog string
	q                       *strings.Replacer
	// released is set once ReleaseWarehouse moved the instance onto the
	// side file, with the warehouse attached read-only between writes.
	released bool
	peeked   bool       // a read-only store tried to attach the side file
	whMu     sync.Mutex // serialises attaching and detaching the warehouse

	mu     sync.Mutex
	active *Run // the run in progress, at most one
}

// Open opens (creating if needed) the warehouse at path and applies the
// pending migrations from schema, whose root holds NNN_name.sql files
// (main passes fs.Sub of the embedded sql/schema). Each migration runs in
// its own transaction and is recorded in schema_migrations.
//
// A warehouse it creates is private (0600, in directories it creates 0700);
// an existing one keeps its mode. DuckDB creates its WAL and temporary
// files with 0666 minus the umask: the command tightens the umask for
// those (privfile.Umask).
func Open(ctx context.Context, path string, schema fs.FS, opts Options) (*Store, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := privfile.MkdirAll(dir); err != nil {
			return nil, fmt.Errorf("load: create directory for %s: %w", path, err)
		}
	}
	_, statErr := os.Stat(path)
	s, err := open(ctx, path, opts, false)
	if err != nil {
		return nil, err
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		if err := privfile.Restrict(path); err != nil {
			_ = s.db.Close()
			return nil, fmt.Errorf("load: make %s private: %w", path, err)
		}
	}
	if err := migrate(ctx, s.db, schema, s.log, opts.now); err != nil {
		_ = s.db.Close()
		return nil, err
	}
	if !opts.WarehouseOnly {
		if err := s.openSideFile(ctx); err != nil {
			_ = s.db.Close()
			return nil, err
		}
	}
	return s, nil
}

// OpenReadOnly opens an existing warehouse for reports, queries and export:
// DuckDB's access_mode=read_only, no migrations. Several read-only
// processes may share the file; a writer excludes them (and vice versa),
// which Options.LockWait covers.
func OpenReadOnly(ctx context.Context, path string, opts Options) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("load: open warehouse: %w", err)
	}
	s, err := open(ctx, path, opts, true)
	if err != nil {
		return nil, err
	}
	var n int
	err = s.db.QueryRowContext(ctx,
		`SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'`).Scan(&n)
	if err == nil && n == 0 {
		err = fmt.Errorf("load: %s is not a smartlead-etl warehouse (no schema_migrations table)", path)
	}

	if err != nil {
		_ = s.db.Close()
		return nil, err
	}
	return s, nil
}

func open(ctx context.Context, path string, opts Options, readOnly bool) (*Store, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dsn := path + "?" + dsnValues(opts, readOnly).Encode()

	wait := opts.lockWait()
	var connector *duckdb.Connector
	err := retryLocked(ctx, path, wait, func() error {
		var err error
		connector, err = duckdb.NewConnector(dsn, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	s := &Store{db: sql.OpenDB(connector), path: path, opts: opts, log: log, readOnly: readOnly}
	if err := s.nameCatalogs(ctx, ""); err != nil {
		_ = s.db.Close()
		return nil, err
	}
	return s, nil
}

// dsnValues are the instance's settings.
func dsnValues(opts Options, readOnly bool) url.Values {
	q := url.Values{}
	mem := opts.MemoryLimit
	if mem == "" {
		mem = DefaultMemoryLimit
	}
	q.Set("memory_limit", mem)
	// Hand freed memory back to the OS promptly: a load allocates and frees
	// far more than memory_limit over its life, and the allocator's
	// default retention alone pushed a 1M-lead load's RSS about 40MB up.
	q.Set("allocator_background_threads", "true")
	q.Set("allocator_flush_threshold", "8MB")
	if opts.Threads > 0 {
		q.Set("threads", strconv.Itoa(opts.Threads))
	}
	if readOnly {
		q.Set("access_mode", "read_only")
	}
	return q
}

// DuckDB's lock conflict, as the version in go.mod words it (pinned by
// TestLockErrorMessage): `IO Error: Could not set lock on file "...":
// Conflicting lock is held in /usr/bin/prog (PID 1234). See also ...`.
var (
	lockMessage = regexp.MustCompile(`Could not set lock on file`)
	lockHolder  = regexp.MustCompile(`Conflicting lock is held in (.*?) \(PID (\d+)\)`)
)

// lockError returns a *LockedError when err is DuckDB's lock conflict on
// path, nil for any other error: the one place that reads the driver's
// text.
func lockError(path string, err error) *LockedError {
	msg := err.Error()
	if !lockMessage.MatchString(msg) {
		return nil
	}
	le := &LockedError{Path: path}
	if m := lockHolder.FindStringSubmatch(msg); m != nil {
		le.Program = m[1]
		le.PID, _ = strconv.Atoi(m[2])
	}
	return le
}

// retryLocked calls try until it succeeds, fails with something other than
// a lock conflict, or wait has passed, backing off from 50ms to 1s.
func retryLocked(ctx context.Context, path string, wait time.Duration, try func() error) error {
	start := time.Now()
	deadline := start.Add(wait)
	backoff := 50 * time.Millisecond
	for {
		err := try()
		if err == nil {
			return nil
		}
		le := lockError(path, err)
		if le == nil {
			return fmt.Errorf("load: open %s: %w", path, err)
		}
		left := time.Until(deadline)
		if left <= 0 {
			le.Waited = time.Since(start)
			return le
		}
		t := time.NewTimer(min(backoff, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("load: waiting for the lock on %s: %w", path, ctx.Err())
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// DB returns the underlying database, for reports and ad-hoc queries.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database. A run still active is left 'running' (and
// marked failed by the next BeginRun), exactly as if the process had died.
func (s *Store) Close() error {
	s.mu.Lock()
	r := s.active
	s.active = nil
	s.mu.Unlock()
	if r != nil {
		_ = r.closeAppenders(context.Background(), false)
		r.ended = true
		r.closeConn()
	}
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("load: close %s: %w", s.path, err)
	}
	return nil
}

// ReadOnly reports whether the store was opened with [OpenReadOnly].
func (s *Store) ReadOnly() bool { return s.readOnly }
