package app_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/database/dbtest"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	"github.com/ipsbridge/ipsbridge/services/employment/app"
	"github.com/ipsbridge/ipsbridge/services/employment/domain"
	"github.com/ipsbridge/ipsbridge/services/employment/store"
)

// BenchmarkCaseloadFacts measures the part of a caseload page that reads
// this service's tables (last contacts, placements with terms, milestones)
// for one specialist's 20 clients, with 10,000 and 100,000 clients' rows in
// the tables. The cost stays flat: every query goes by client id.
func BenchmarkCaseloadFacts(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			ctx := context.Background()
			pool, _ := dbtest.New(b, audit.Migrations, store.Migrations)
			ids := make([]string, n)
			for i := range ids {
				ids[i] = uuid.NewString()
			}
			start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			var contacts, placements, terms, follow [][]any
			for i, id := range ids {
				for j := range 3 {
					contacts = append(contacts, []any{uuid.NewString(), id, "es-x", "Employer", start.AddDate(0, 0, i%30+j), j == 0})
				}
				pid := uuid.NewString()
				placements = append(placements, []any{pid, id, "Employer", "Job", start.AddDate(0, 1, i%30), "permanent", "es-x", "es-x"})
				terms = append(terms, []any{pid, start.AddDate(0, 1, i%30), 16.0, int64(1500), "es-x"},
					[]any{pid, start.AddDate(0, 3, i%30), 24.0, int64(1550), "es-x"})
				follow = append(follow, []any{uuid.NewString(), id, start.AddDate(0, 4, 0), "client", "es-x"})
			}
			for _, c := range []struct {
				table string
				cols  []string
				rows  [][]any
			}{
				{"employer_contacts", []string{"id", "client_id", "specialist_id", "employer_name", "contact_date", "face_to_face"}, contacts},
				{"placements", []string{"id", "client_id", "employer_name", "job_title", "start_date", "contract_kind", "created_by", "updated_by"}, placements},
				{"placement_terms", []string{"placement_id", "effective_date", "hours_per_week", "hourly_wage_cents", "recorded_by"}, terms},
				{"follow_along_contacts", []string{"id", "client_id", "contact_date", "with_whom", "specialist_id"}, follow},
			} {
				if _, err := pool.CopyFrom(ctx, pgx.Identifier{"employment", c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
					b.Fatalf("copy %s: %v", c.table, err)
				}
			}
			if _, err := pool.Exec(ctx, "ANALYZE"); err != nil {
				b.Fatal(err)
			}
			now := start.AddDate(0, 8, 0)
			svc := app.New(store.New(pool), nil, nil, testplatform.Logger(), func() time.Time { return now })
			page := map[string]domain.Date{}
			for _, id := range ids[n/2 : n/2+20] { // one specialist's 20 clients
				page[id] = start
			}
			b.ResetTimer()
			for b.Loop() {
				facts, err := svc.CaseloadFacts(ctx, page)
				if err != nil || len(facts) != 20 {
					b.Fatalf("%d facts, %v", len(facts), err)
				}
			}
		})
	}
}
