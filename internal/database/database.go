// Package database connects services to PostgreSQL and applies their
// migrations. Every service owns one schema; migrations are SQL files
// embedded in the service binary and applied at start-up.
package database

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/puddle/v2"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
)

// Migrations is one schema's migration files (tern format:
// NNN_name.sql with "---- create above / drop below ----").
type Migrations struct {
	Schema string
	FS     fs.FS
}

// Embedded returns a schema's migrations from the "migrations" directory
// of an embedded file system (//go:embed migrations/*.sql).
func Embedded(schema string, files fs.FS) Migrations {
	sub, err := fs.Sub(files, "migrations")
	if err != nil {
		// Only an invalid path fails, and the path is fixed.
		panic(fmt.Sprintf("database: migrations of %s: %v", schema, err))
	}
	return Migrations{Schema: schema, FS: sub}
}

// Connect opens a pool and checks that the server answers.
func Connect(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return pool, nil
}

// Migrate brings every schema to its newest version. Safe to run from
// several replicas at once: tern serialises migrators with an advisory lock.
func Migrate(ctx context.Context, pool *pgxpool.Pool, sets ...Migrations) error {
	return migrateTo(ctx, pool, -1, sets...)
}

// MigrateDown reverts every schema to version 0, in reverse order. Used by
// the migration round-trip tests and the migrate subcommand.
func MigrateDown(ctx context.Context, pool *pgxpool.Pool, sets ...Migrations) error {
	rev := make([]Migrations, len(sets))
	for i, s := range sets {
		rev[len(sets)-1-i] = s
	}
	return migrateTo(ctx, pool, 0, rev...)
}

// MigrateTo brings one schema to version target, up or down: for tests that
// check how a migration carries existing data over.
func MigrateTo(ctx context.Context, pool *pgxpool.Pool, target int32, set Migrations) error {
	return migrateTo(ctx, pool, target, set)
}

func migrateTo(ctx context.Context, pool *pgxpool.Pool, target int32, sets ...Migrations) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection for migrations: %w", err)
	}
	defer conn.Release()
	for _, set := range sets {
		if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{set.Schema}.Sanitize()); err != nil {
			return fmt.Errorf("create schema %s: %w", set.Schema, err)
		}
		m, err := migrate.NewMigrator(ctx, conn.Conn(), set.Schema+".schema_version")
		if err != nil {
			return fmt.Errorf("migrator for %s: %w", set.Schema, err)
		}
		if err := m.LoadMigrations(set.FS); err != nil {
			return fmt.Errorf("load migrations for %s: %w", set.Schema, err)
		}
		if target < 0 {
			err = m.Migrate(ctx)
		} else {
			err = m.MigrateTo(ctx, target)
		}
		if err != nil {
			return fmt.Errorf("migrate %s: %w", set.Schema, err)
		}
	}
	return nil
}

// SQLSTATE codes the stores classify; see PostgreSQL's errcodes appendix.
const (
	UniqueViolation      = "23505"
	ForeignKeyViolation  = "23503"
	CheckViolation       = "23514"
	SerializationFailure = "40001"
	DeadlockDetected     = "40P01"
	RaiseException       = "P0001"
)

// Code returns the SQLSTATE of a PostgreSQL error, or "".
func Code(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// Constraint returns the constraint a PostgreSQL error names, or "".
func Constraint(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.ConstraintName
	}
	return ""
}

// InTx runs fn in a transaction, committing when it returns nil. Transactions
// that fail with a serialization failure or deadlock are retried a few times,
// so fn must be safe to run again.
func InTx(ctx context.Context, pool *pgxpool.Pool, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	const attempts = 4
	var err error
	for i := 0; i < attempts; i++ {
		err = pgx.BeginTxFunc(ctx, pool, opts, fn)
		code := Code(err)
		if code != SerializationFailure && code != DeadlockDetected {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(i+1) * 5 * time.Millisecond):
		}
	}
	return err
}

// Unavailable reports whether err means the database could not be reached
// or is not serving (connection refused or lost, server shutting down or
// starting, too many connections, pool closed), as opposed to a refused or
// failed statement: the request may succeed when retried.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"): // connection exception
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // admin/crash shutdown, cannot connect now
			return true
		case pgErr.Code == "53300": // too many connections
			return true
		}
		return false
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	// pgx reports a connection that died under a statement, and a pool
	// that is closed, by these errors; they carry no SQLSTATE.
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, puddle.ErrClosedPool) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
