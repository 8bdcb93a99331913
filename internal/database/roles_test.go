package database_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/database/dbtest"
)

// With only the owner's DATABASE_URL, a service migrates as the owner and
// serves as its derived runtime role, which owns nothing it migrated.
func TestOpenDerivesTheRuntimeRole(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	owner, url := dbtest.New(t)
	migrate := func(ctx context.Context, p *pgxpool.Pool) error {
		_, err := p.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS roletest;
			CREATE TABLE IF NOT EXISTS roletest.things (id int PRIMARY KEY);
			CREATE TABLE IF NOT EXISTS roletest.schema_version (version int);
			CREATE SCHEMA IF NOT EXISTS audit;
			CREATE TABLE IF NOT EXISTS audit.events (seq int)`)
		return err
	}
	rt := database.Runtime{Write: []string{"roletest"}}
	if p, err := database.Open(ctx, database.Access{OwnerURL: url}, "roletest", rt, migrate, true); err != nil || p != nil {
		t.Fatalf("migrate only: %v %v", p, err)
	}
	pool, err := database.Open(ctx, database.Access{OwnerURL: url, MaxConns: 2}, "roletest", rt, migrate, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var who string
	if err := pool.QueryRow(ctx, `SELECT current_user`).Scan(&who); err != nil || who != database.RoleFor("roletest") {
		t.Fatalf("serves as %q (%v)", who, err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO roletest.things VALUES (1)`); err != nil {
		t.Errorf("the runtime role cannot write its schema: %v", err)
	}
	for _, stmt := range []string{`DROP TABLE roletest.things`, `UPDATE roletest.schema_version SET version = 0`, `DELETE FROM audit.events`} {
		if _, err := pool.Exec(ctx, stmt); database.Code(err) != "42501" {
			t.Errorf("%s as the runtime role: %v", stmt, err)
		}
	}
	var n int
	if err := owner.QueryRow(ctx, `SELECT count(*) FROM roletest.things`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d rows (%v)", n, err)
	}
	// Without the owner, a service needs its runtime URL, and cannot migrate.
	if _, err := database.Open(ctx, database.Access{}, "roletest", rt, migrate, false); err == nil {
		t.Errorf("no URL at all accepted")
	}
	runtimeURL, _ := database.WithRole(url, database.RoleFor("roletest"), database.DerivedPassword(url, database.RoleFor("roletest")))
	if _, err := database.Open(ctx, database.Access{RuntimeURL: runtimeURL}, "roletest", rt, migrate, true); err == nil {
		t.Errorf("migrate without the owner accepted")
	}
}
