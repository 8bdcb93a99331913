package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/database/dbtest"
	"github.com/ipsbridge/ipsbridge/services/benefits/store"
)

// TestAmountHistoryCarriesDataOver: benefits and decisions written before
// the amount history existed (schema version 1) get their history from
// the migration: the recorded amount, each adjustment and suspension from
// its date (the latest report for a date counts), the first adjustment
// carried back to the start when the amount before it is unknown, and a
// later correction on the latest row. Down and up again works.
func TestAmountHistoryCarriesDataOver(t *testing.T) {
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	if err := database.MigrateTo(ctx, pool, 1, store.Migrations); err != nil {
		t.Fatal(err)
	}
	const (
		plain     = "00000000-0000-0000-0000-000000000001"
		adjusted  = "00000000-0000-0000-0000-000000000002"
		atStart   = "00000000-0000-0000-0000-000000000003"
		corrected = "00000000-0000-0000-0000-000000000004"
		client    = "00000000-0000-0000-0000-0000000000c1"
	)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	for id, cents := range map[string]int{plain: 100000, adjusted: 118000, atStart: 90000, corrected: 95000} {
		status := "active"
		if id == adjusted {
			status = "suspended"
		}
		exec(`INSERT INTO benefits.benefits (id, client_id, kind, payer_org_id, monthly_amount_cents, start_date, status, created_by, updated_by)
			VALUES ($1, $2, 'wia_wga', 'uwv-noord', $3, '2025-01-01', $4, 'x', 'x')`, id, client, cents, status)
	}
	decision := func(n int, benefit, kind, date string, cents int, received string) {
		exec(`INSERT INTO benefits.decisions (id, benefit_id, client_id, org_id, kind, effective_date, monthly_amount_cents, reported_by, received_at)
			VALUES ($1, $2, $3, 'uwv-noord', $4, $5, $6, 'x', $7)`, fmt.Sprintf("00000000-0000-0000-0000-0000000000d%d", n), benefit, client, kind, date, cents, received)
	}
	decision(1, adjusted, "adjusted", "2026-03-01", 117054, "2026-02-20T10:00:00Z")
	decision(2, adjusted, "adjusted", "2026-03-01", 118000, "2026-02-21T10:00:00Z") // a later report for the same date
	decision(3, adjusted, "suspended", "2026-06-01", 0, "2026-05-20T10:00:00Z")
	decision(4, atStart, "adjusted", "2025-01-01", 90000, "2025-01-10T10:00:00Z")
	decision(5, corrected, "adjusted", "2026-02-01", 90000, "2026-01-10T10:00:00Z")

	if err := database.Migrate(ctx, pool, store.Migrations); err != nil {
		t.Fatal(err)
	}
	history := func(id string) string {
		rows, err := pool.Query(ctx, `SELECT effective_date::text, amount_cents, suspended, source FROM benefits.benefit_amounts
			WHERE benefit_id = $1 ORDER BY effective_date`, id)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var date, source string
			var cents int
			var suspended bool
			if err := rows.Scan(&date, &cents, &suspended, &source); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s %d %v %s", date, cents, suspended, source))
		}
		return strings.Join(out, "; ")
	}
	for id, want := range map[string]string{
		plain:     "2025-01-01 100000 false recorded",
		adjusted:  "2025-01-01 118000 false migrated; 2026-03-01 118000 false adjusted; 2026-06-01 118000 true suspended",
		atStart:   "2025-01-01 90000 false adjusted",
		corrected: "2025-01-01 90000 false migrated; 2026-02-01 95000 false corrected",
	} {
		if got := history(id); got != want {
			t.Errorf("%s:\n got %s\nwant %s", id, got, want)
		}
	}

	if err := database.MigrateDown(ctx, pool, store.Migrations); err != nil {
		t.Fatal(err)
	}
	if err := database.Migrate(ctx, pool, store.Migrations); err != nil {
		t.Fatal(err)
	}
}
