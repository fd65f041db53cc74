package load

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// migrationName is NNN_name.sql; NNN orders the migrations.
var migrationName = regexp.MustCompile(`^(\d+)_([a-z0-9_]+)\.sql$`)

type migration struct {
	version int
	name    string
	file    string
}

// migrations lists the NNN_name.sql files at schema's root in order.
func migrations(schema fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(schema, ".")
	if err != nil {
		return nil, fmt.Errorf("load: read schema migrations: %w", err)
	}
	var ms []migration
	seen := map[int]string{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("load: schema file %q: name must be NNN_name.sql", e.Name())
		}
		v, err := strconv.Atoi(m[1])
		if err != nil {
			return nil, fmt.Errorf("load: schema file %q: version: %w", e.Name(), err)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("load: schema files %q and %q share version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		ms = append(ms, migration{version: v, name: m[2], file: e.Name()})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("load: no migrations found (expected NNN_name.sql files at the schema root)")
	}
	slices.SortFunc(ms, func(a, b migration) int { return a.version - b.version })
	return ms, nil
}

// migrate applies the migrations not yet in schema_migrations, each in its
// own transaction with its schema_migrations row, so a crash leaves either
// all or none of a migration.
func migrate(ctx context.Context, db *sql.DB, schema fs.FS, log *slog.Logger, now func() time.Time) error {
	ms, err := migrations(schema)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)`); err != nil {
		return fmt.Errorf("load: create schema_migrations: %w", err)
	}
	applied := map[int]bool{}
	rows, err := db.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("load: read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("load: read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("load: read schema_migrations: %w", err)
	}
	known := map[int]bool{}
	for _, m := range ms {
		known[m.version] = true
	}
	for v := range applied {
		if !known[v] {
			return fmt.Errorf("load: the database has schema migration %d, which this program does not know: it was written by a newer version", v)
		}
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		body, err := fs.ReadFile(schema, m.file)
		if err != nil {
			return fmt.Errorf("load: read migration %s: %w", m.file, err)
		}
		if err := inTx(ctx, db, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx,
				`INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.version, m.name, now())
			return err
		}); err != nil {
			return fmt.Errorf("load: apply migration %s: %w", m.file, err)
		}
		log.Info("schema migration applied", "version", m.version, "name", m.name)
	}
	return nil
}

// inTx runs fn in a transaction, committing if it returns nil.
func inTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}
