package testplatform_test

import (
	"context"
	"testing"

	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/database/dbtest"
	benefitsserver "github.com/ipsbridge/ipsbridge/services/benefits/server"
	clientsserver "github.com/ipsbridge/ipsbridge/services/clients/server"
	employmentserver "github.com/ipsbridge/ipsbridge/services/employment/server"
	fidelityserver "github.com/ipsbridge/ipsbridge/services/fidelity/server"
	fundingserver "github.com/ipsbridge/ipsbridge/services/funding/server"
)

// TestMigrationsRoundTrip migrates every service's schema down to nothing
// and up again, so that each down migration really undoes its up migration.
func TestMigrationsRoundTrip(t *testing.T) {
	ctx := context.Background()
	for name, sets := range map[string][]database.Migrations{
		"clients":    clientsserver.Migrations,
		"employment": employmentserver.Migrations,
		"benefits":   benefitsserver.Migrations,
		"funding":    fundingserver.Migrations,
		"fidelity":   fidelityserver.Migrations,
	} {
		t.Run(name, func(t *testing.T) {
			pool, _ := dbtest.New(t, sets...)
			if err := database.MigrateDown(ctx, pool, sets...); err != nil {
				t.Fatalf("down: %v", err)
			}
			for _, s := range sets {
				var tables int
				if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename <> 'schema_version'`, s.Schema).Scan(&tables); err != nil {
					t.Fatal(err)
				}
				if tables != 0 {
					t.Errorf("schema %s keeps %d tables after migrating down", s.Schema, tables)
				}
			}
			if err := database.Migrate(ctx, pool, sets...); err != nil {
				t.Fatalf("up again: %v", err)
			}
		})
	}
}
