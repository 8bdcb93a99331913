package database

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Runtime is what a service's runtime database role may do. Migrations run
// as the owner (DATABASE_URL); a service serves as its runtime role, which
// owns nothing, so it can neither alter nor drop a table, nor disable a
// trigger, and may only append to the audit log: INSERT and SELECT on
// audit.events (SELECT because the chaining trigger reads the tip with the
// inserter's rights), no UPDATE, DELETE or TRUNCATE.
type Runtime struct {
	// Role is the role's name; empty means the default for the service
	// (RoleFor).
	Role string
	// Write are schemas whose tables the role reads and writes and whose
	// sequences and functions it uses: the service's own.
	Write []string
	// Read are tables of other schemas ("schema.table") it may SELECT.
	Read []string
	// Call are schemas whose published functions it executes (e.g. the
	// clients schema's access_facts, which are SECURITY DEFINER).
	Call []string
	// Outbox: the role appends domain events to outbox.events.
	Outbox bool
}

// RoleFor is the default runtime role of a service.
func RoleFor(service string) string { return "ipsb_" + service }

// GrantRuntime creates the runtime role when it does not exist (with
// LOGIN, and password when not empty; an existing role's password is set
// only when password is not empty) and grants it exactly what r says, on
// the objects the migrations made. It runs as the owner, after Migrate, on
// every start, so new tables are covered.
func GrantRuntime(ctx context.Context, pool *pgxpool.Pool, r Runtime, password string) error {
	if r.Role == "" {
		return errors.New("database: runtime role without a name")
	}
	role := pgx.Identifier{r.Role}.Sanitize()
	var stmts []string
	for _, s := range r.Write {
		schema := pgx.Identifier{s}.Sanitize()
		stmts = append(stmts,
			"GRANT USAGE ON SCHEMA "+schema+" TO "+role,
			"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "+schema+" TO "+role,
			"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "+schema+" TO "+role,
			"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA "+schema+" TO "+role,
			// The migrations' bookkeeping is the owner's.
			"REVOKE ALL ON TABLE "+schema+".schema_version FROM "+role,
		)
	}
	// Another service's table or schema may not exist yet (that service
	// has not migrated): it is left out now and granted on a later call
	// (Open keeps calling while something is missing).
	var missing []string
	for _, t := range r.Read {
		schema, table, ok := strings.Cut(t, ".")
		if !ok {
			return fmt.Errorf("database: read grant %q is not schema.table", t)
		}
		if ok, err := exists(ctx, pool, `SELECT to_regclass($1) IS NOT NULL`, pgx.Identifier{schema, table}.Sanitize()); err != nil {
			return err
		} else if !ok {
			missing = append(missing, t)
			continue
		}
		stmts = append(stmts, "GRANT USAGE ON SCHEMA "+pgx.Identifier{schema}.Sanitize()+" TO "+role,
			"GRANT SELECT ON TABLE "+pgx.Identifier{schema, table}.Sanitize()+" TO "+role)
	}
	for _, s := range r.Call {
		if ok, err := exists(ctx, pool, `SELECT to_regnamespace($1) IS NOT NULL`, pgx.Identifier{s}.Sanitize()); err != nil {
			return err
		} else if !ok {
			missing = append(missing, s)
			continue
		}
		stmts = append(stmts, "GRANT USAGE ON SCHEMA "+pgx.Identifier{s}.Sanitize()+" TO "+role)
	}
	if r.Outbox {
		stmts = append(stmts, "GRANT USAGE ON SCHEMA outbox TO "+role,
			"GRANT INSERT ON ALL TABLES IN SCHEMA outbox TO "+role,
			"GRANT USAGE ON ALL SEQUENCES IN SCHEMA outbox TO "+role,
			"REVOKE ALL ON TABLE outbox.schema_version FROM "+role)
	}
	stmts = append(stmts, "GRANT USAGE ON SCHEMA audit TO "+role,
		"REVOKE ALL ON TABLE audit.events FROM "+role,
		"GRANT INSERT, SELECT ON TABLE audit.events TO "+role)
	if err := ensureRole(ctx, pool, r.Role, password); err != nil {
		return err
	}
	for _, s := range stmts {
		if err := retryConcurrent(ctx, func() error { _, err := pool.Exec(ctx, s); return err }); err != nil {
			return fmt.Errorf("database: %s: %w", s, err)
		}
	}
	if len(missing) > 0 {
		return &MissingError{Objects: missing}
	}
	return nil
}

// MissingError says which of another service's objects a runtime role
// could not be granted yet because they do not exist; everything else was
// granted.
type MissingError struct{ Objects []string }

func (e *MissingError) Error() string {
	return "database: not granted yet, they do not exist: " + strings.Join(e.Objects, ", ")
}

func exists(ctx context.Context, pool *pgxpool.Pool, query, name string) (bool, error) {
	var ok bool
	if err := pool.QueryRow(ctx, query, name).Scan(&ok); err != nil {
		return false, fmt.Errorf("database: look up %s: %w", name, err)
	}
	return ok, nil
}

// regrant grants again every two seconds until nothing is missing or ctx
// ends: another service's migrations made what was missing.
func regrant(ctx context.Context, ownerURL string, rt Runtime, password string) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		owner, err := Connect(ctx, ownerURL, 1)
		if err != nil {
			continue
		}
		err = GrantRuntime(ctx, owner, rt, password)
		owner.Close()
		var missing *MissingError
		if !errors.As(err, &missing) {
			return // granted (or a real error, which the next start reports)
		}
	}
}

// ensureRole creates a login role, or sets the password of an existing one.
// Roles belong to the whole cluster: two services (or two test databases)
// may get here at once, so "already exists" is success.
func ensureRole(ctx context.Context, pool *pgxpool.Pool, name, password string) error {
	role := pgx.Identifier{name}.Sanitize()
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("database: look up role %s: %w", name, err)
	}
	pw := ""
	if password != "" {
		pw = " PASSWORD " + quoteLiteral(password)
	}
	if !exists {
		_, err := pool.Exec(ctx, "CREATE ROLE "+role+" LOGIN NOINHERIT"+pw)
		if err == nil {
			return nil
		}
		if c := Code(err); c != "42710" && c != UniqueViolation { // duplicate_object: created meanwhile
			return fmt.Errorf("database: create role %s: %w", name, err)
		}
	}
	if pw == "" {
		return nil
	}
	if err := retryConcurrent(ctx, func() error { _, err := pool.Exec(ctx, "ALTER ROLE "+role+" LOGIN"+pw); return err }); err != nil {
		return fmt.Errorf("database: set the password of role %s: %w", name, err)
	}
	return nil
}

// retryConcurrent retries catalogue updates that raced another session
// ("tuple concurrently updated").
func retryConcurrent(ctx context.Context, fn func() error) error {
	var err error
	for i := range 8 {
		if err = fn(); err == nil {
			return nil
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || (pgErr.Code != "XX000" && pgErr.Code != SerializationFailure && pgErr.Code != UniqueViolation) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(i+1) * 10 * time.Millisecond):
		}
	}
	return err
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// DerivedPassword is the runtime role's password when only the owner's
// DATABASE_URL is configured (scripts/dev, tests): a secret derived from
// the owner's connection string, the same on every start.
func DerivedPassword(ownerURL, role string) string {
	sum := sha256.Sum256([]byte("ipsbridge runtime role\x00" + role + "\x00" + ownerURL))
	return hex.EncodeToString(sum[:16])
}

// WithRole returns the connection string conn with another user and
// password (URL or keyword/value form).
func WithRole(conn, role, password string) (string, error) {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		u, err := url.Parse(conn)
		if err != nil {
			return "", fmt.Errorf("database: parse DATABASE_URL: %w", err)
		}
		u.User = url.UserPassword(role, password)
		return u.String(), nil
	}
	// In keyword/value form a later keyword wins.
	return conn + " user=" + role + " password=" + quoteLiteral(password), nil
}

// RoleOf returns the user a connection string connects as ("" when it
// names none).
func RoleOf(conn string) (string, error) {
	cfg, err := pgconn.ParseConfig(conn)
	if err != nil {
		return "", fmt.Errorf("database: parse connection string: %w", err)
	}
	return cfg.User, nil
}

// Access is how a service reaches its database.
type Access struct {
	// OwnerURL (DATABASE_URL) is the role that owns the schemas and runs
	// the migrations. Empty: the service does not migrate (a Kubernetes
	// Deployment whose migrations ran in a Job).
	OwnerURL string
	// RuntimeURL (IPSB_DATABASE_RUNTIME_URL) is the role the service serves
	// as. Empty: derived from OwnerURL (role RoleFor(service), password
	// DerivedPassword), created and granted at start-up.
	RuntimeURL string
	MaxConns   int32
}

// Open migrates (as the owner, when OwnerURL is set), grants the runtime
// role what rt says and returns a pool connected as the runtime role; with
// migrateOnly it returns a nil pool after granting.
func Open(ctx context.Context, a Access, service string, rt Runtime, migrate func(context.Context, *pgxpool.Pool) error, migrateOnly bool) (*pgxpool.Pool, error) {
	if a.OwnerURL == "" && a.RuntimeURL == "" {
		return nil, errors.New("database: set DATABASE_URL (the owner, for migrations) or IPSB_DATABASE_RUNTIME_URL")
	}
	runtimeURL, password := a.RuntimeURL, ""
	if rt.Role == "" {
		rt.Role = RoleFor(service)
	}
	if runtimeURL == "" {
		password = DerivedPassword(a.OwnerURL, rt.Role)
		u, err := WithRole(a.OwnerURL, rt.Role, password)
		if err != nil {
			return nil, err
		}
		runtimeURL = u
	} else {
		role, err := RoleOf(runtimeURL)
		if err != nil {
			return nil, err
		}
		rt.Role = role
	}
	if a.OwnerURL != "" {
		owner, err := Connect(ctx, a.OwnerURL, 2)
		if err != nil {
			return nil, err
		}
		err = migrate(ctx, owner)
		if err == nil {
			err = GrantRuntime(ctx, owner, rt, password)
			// Another service's object is not there yet: its grant follows
			// once that service has migrated (a migrate Job leaves it to
			// the service's own start).
			if missing := (*MissingError)(nil); errors.As(err, &missing) {
				if !migrateOnly {
					go regrant(ctx, a.OwnerURL, rt, password)
				}
				err = nil
			}
		}
		owner.Close()
		if err != nil {
			return nil, err
		}
	}
	if migrateOnly {
		if a.OwnerURL == "" {
			return nil, errors.New("database: migrate needs DATABASE_URL, the owner role")
		}
		return nil, nil
	}
	return Connect(ctx, runtimeURL, a.MaxConns)
}
