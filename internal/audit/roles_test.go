package audit_test

import (
	"testing"

	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/database/dbtest"
)

// A service's runtime role owns nothing: it may append to the audit log
// and read it, and nothing else — no UPDATE, DELETE, TRUNCATE, no
// disabling of the triggers, no DROP (issue 14, finding 5).
func TestRuntimeRoleOnlyAppends(t *testing.T) {
	ctx := testContext(t)
	owner, url := dbtest.New(t, audit.Migrations)
	rt := dbtest.Runtime(t, url, database.Runtime{Role: "ipsb_audit_test"})
	var who string
	if err := rt.QueryRow(ctx, `SELECT current_user`).Scan(&who); err != nil || who != "ipsb_audit_test" {
		t.Fatalf("runtime pool connects as %q (%v)", who, err)
	}
	mustRecord(t, ctx, rt, readEvent("client-1"))
	mustRecord(t, ctx, rt, readEvent("client-2"))
	for _, stmt := range []string{
		`UPDATE audit.events SET reason = 'nothing happened'`,
		`DELETE FROM audit.events WHERE seq = 2`,
		`TRUNCATE audit.events`,
		`ALTER TABLE audit.events DISABLE TRIGGER events_no_update_delete`,
		`ALTER TABLE audit.events DISABLE TRIGGER ALL`,
		`ALTER TABLE audit.events OWNER TO ipsb_audit_test`,
		`DROP TRIGGER events_no_update_delete ON audit.events`,
		`DROP TABLE audit.events`,
		`DROP SCHEMA audit CASCADE`,
		`CREATE OR REPLACE FUNCTION audit.reject_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
		`SET session_replication_role = replica`,
	} {
		_, err := rt.Exec(ctx, stmt)
		if code := database.Code(err); code != "42501" { // insufficient_privilege, also "must be owner"
			t.Errorf("as the runtime role, %s: %v (SQLSTATE %q), want insufficient privilege", stmt, err, code)
		}
	}
	var owns int
	if err := owner.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner
		WHERE r.rolname = 'ipsb_audit_test'`).Scan(&owns); err != nil || owns != 0 {
		t.Errorf("the runtime role owns %d relations (%v)", owns, err)
	}
	wantIntact(t, ctx, owner, 2)
}
