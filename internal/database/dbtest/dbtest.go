// Package dbtest gives each test its own PostgreSQL database, copied from a
// template that is migrated once per set of migrations (CREATE DATABASE …
// TEMPLATE is far faster than migrating every time).
//
// DATABASE_URL must name a role that may create databases; scripts/test
// starts a private cluster and sets it.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/database"
)

// AdminURL returns DATABASE_URL or fails the test: tests never silently skip
// their database.
func AdminURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		tb.Fatal("DATABASE_URL is not set; run the tests with scripts/test, which starts PostgreSQL")
	}
	return url
}

// New returns a pool on a fresh database with the given migrations applied,
// dropped when the test ends. It also returns the database's URL, for
// servers the test starts.
func New(tb testing.TB, sets ...database.Migrations) (*pgxpool.Pool, string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin := AdminURL(tb)

	tpl, err := ensureTemplate(ctx, admin, sets)
	if err != nil {
		tb.Fatalf("prepare template database: %v", err)
	}
	name := "t_" + randomHex(8)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("connect to %s: %v", admin, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tpl)); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	url, err := withDatabase(admin, name)
	if err != nil {
		tb.Fatal(err)
	}
	pool, err := database.Connect(ctx, url, 8)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Logf("drop test database: %v", err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name)); err != nil {
			tb.Logf("drop test database %s: %v", name, err)
		}
	})
	return pool, url
}

func ensureTemplate(ctx context.Context, admin string, sets []database.Migrations) (string, error) {
	key, err := fingerprint(sets)
	if err != nil {
		return "", err
	}
	tpl := "tpl_" + key
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	// Test binaries of different packages run in parallel: one builds the
	// template, the others wait for it.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", tpl); err != nil {
		return "", err
	}
	defer conn.Exec(context.Background(), "SELECT pg_advisory_unlock(hashtext($1))", tpl) //nolint:errcheck
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", tpl).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return tpl, nil
	}
	build := tpl + "_build"
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+build+" WITH (FORCE)"); err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+build); err != nil {
		return "", err
	}
	url, err := withDatabase(admin, build)
	if err != nil {
		return "", err
	}
	pool, err := database.Connect(ctx, url, 2)
	if err != nil {
		return "", err
	}
	err = database.Migrate(ctx, pool, sets...)
	pool.Close()
	if err != nil {
		return "", err
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", build, tpl)); err != nil {
		return "", err
	}
	return tpl, nil
}

// fingerprint names a template after the content of its migrations, so a
// changed migration gets a fresh template.
func fingerprint(sets []database.Migrations) (string, error) {
	h := sha256.New()
	for _, set := range sets {
		fmt.Fprintf(h, "schema %s\n", set.Schema)
		var names []string
		err := fs.WalkDir(set.FS, ".", func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				names = append(names, path)
			}
			return nil
		})
		if err != nil {
			return "", fmt.Errorf("walk migrations of %s: %w", set.Schema, err)
		}
		sort.Strings(names)
		for _, n := range names {
			b, err := fs.ReadFile(set.FS, n)
			if err != nil {
				return "", err
			}
			fmt.Fprintf(h, "%s %d\n", n, len(b))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:20], nil
}

// withDatabase points a connection string, URL or keyword/value form, at
// another database.
func withDatabase(conn, name string) (string, error) {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		u, err := url.Parse(conn)
		if err != nil {
			return "", fmt.Errorf("parse DATABASE_URL: %w", err)
		}
		u.Path = "/" + name
		return u.String(), nil
	}
	// In keyword/value form a later keyword wins.
	return conn + " dbname=" + name, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Runtime returns a pool on the test database at url connected as the
// runtime role rt (created when missing and granted what rt says, as a
// service does at start-up), closed when the test ends. Servers under test
// use it, so a missing grant fails the test as it would fail the service.
func Runtime(tb testing.TB, url string, rt database.Runtime) *pgxpool.Pool {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	owner, err := database.Connect(ctx, url, 2)
	if err != nil {
		tb.Fatal(err)
	}
	defer owner.Close()
	password := database.DerivedPassword(AdminURL(tb), rt.Role)
	var missing *database.MissingError
	if err := database.GrantRuntime(ctx, owner, rt, password); err != nil && !errors.As(err, &missing) {
		tb.Fatalf("runtime role %s: %v", rt.Role, err)
	}
	runtimeURL, err := database.WithRole(url, rt.Role, password)
	if err != nil {
		tb.Fatal(err)
	}
	pool, err := database.Connect(ctx, runtimeURL, 8)
	if err != nil {
		tb.Fatalf("connect as %s: %v", rt.Role, err)
	}
	tb.Cleanup(pool.Close)
	return pool
}
