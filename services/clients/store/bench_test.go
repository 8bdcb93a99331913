package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/database/dbtest"
	"github.com/ipsbridge/ipsbridge/services/clients/store"
)

// fill bulk-loads n clients spread over the seeded teams, each involving
// UWV with a consent for placements, and returns their ids.
func fill(b *testing.B, pool *pgxpool.Pool, n int) []string {
	b.Helper()
	ctx := context.Background()
	if err := store.New(pool).SeedDirectory(ctx); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, n)
	teams := []string{"noord-team-a", "noord-team-b"}
	now := time.Now()
	var clients, trajectories, orgs, consents [][]any
	for i := range ids {
		ids[i] = uuid.NewString()
		clients = append(clients, []any{ids[i], "mha-noord", "region-noord", now, "es-anna"})
		trajectories = append(trajectories, []any{ids[i], "job_search", teams[i%2], fmt.Sprintf("es-%d", i%40), now})
		orgs = append(orgs, []any{ids[i], "uwv-noord"})
		consents = append(consents, []any{uuid.NewString(), ids[i], "uwv-noord", "placements", "es-anna"})
	}
	copyRows := func(table string, cols []string, rows [][]any) {
		if _, err := pool.CopyFrom(ctx, pgx.Identifier{"clients", table}, cols, pgx.CopyFromRows(rows)); err != nil {
			b.Fatalf("copy %s: %v", table, err)
		}
	}
	copyRows("clients", []string{"id", "mha_org_id", "region_id", "created_at", "created_by"}, clients)
	copyRows("trajectories", []string{"client_id", "phase", "team_id", "specialist_id", "enrolled_at"}, trajectories)
	copyRows("trajectory_organizations", []string{"client_id", "org_id"}, orgs)
	copyRows("consents", []string{"id", "client_id", "org_id", "section", "granted_by"}, consents)
	if _, err := pool.Exec(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	return ids
}

// BenchmarkAccessDecision measures one authorization decision as a request
// makes it: the client's facts from PostgreSQL (relations, consents) and the
// policy's verdict, with 100 and 100,000 clients in the database.
func BenchmarkAccessDecision(b *testing.B) {
	az, err := authz.New()
	if err != nil {
		b.Fatal(err)
	}
	officer := authz.Subject{UserID: "uwv-gijs", OrgID: "uwv-noord", OrgKind: "uwv", RegionID: "region-noord", Role: "benefits_officer"}
	for _, n := range []int{100, 100_000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			pool, _ := dbtest.New(b, audit.Migrations, store.Migrations)
			ids := fill(b, pool, n)
			ctx := context.Background()
			b.ResetTimer()
			for b.Loop() {
				id := ids[rand.IntN(len(ids))]
				all, err := access.Facts(ctx, pool, officer.OrgID, []string{id}, false, false)
				facts, found := all[id]
				if err != nil || !found {
					b.Fatalf("facts: %v %v", found, err)
				}
				ok, err := az.Allowed(officer, facts, authz.Placements, authz.Read)
				if err != nil || !ok {
					b.Fatalf("decision: %v %v", ok, err)
				}
			}
		})
	}
}

// BenchmarkTeamCandidates measures one page of a team's caseload list (the
// query behind ListClients for MHA staff) with 500 clients in the team and
// 10,000 or 100,000 clients of other teams in the database: the cost must
// not grow with the other teams.
func BenchmarkTeamCandidates(b *testing.B) {
	for _, others := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("other-teams-clients=%d", others), func(b *testing.B) {
			pool, _ := dbtest.New(b, audit.Migrations, store.Migrations)
			ctx := context.Background()
			if err := store.New(pool).SeedDirectory(ctx); err != nil {
				b.Fatal(err)
			}
			// Team a gets 500 clients; the rest go to team b and to the
			// other MHA's team.
			now := time.Now()
			var clients, trajectories [][]any
			for i := range 500 + others {
				id := uuid.NewString()
				org, region, team := "mha-noord", "region-noord", "noord-team-a"
				switch {
				case i >= 500 && i%2 == 0:
					team = "noord-team-b"
				case i >= 500:
					org, region, team = "mha-oost", "region-oost", "oost-team-a"
				}
				clients = append(clients, []any{id, org, region, now.Add(time.Duration(i) * time.Microsecond), "seed"})
				trajectories = append(trajectories, []any{id, "job_search", team, "es-x", now.Add(time.Duration(i) * time.Microsecond)})
			}
			for table, rows := range map[string][][]any{"clients": clients} {
				if _, err := pool.CopyFrom(ctx, pgx.Identifier{"clients", table}, []string{"id", "mha_org_id", "region_id", "created_at", "created_by"}, pgx.CopyFromRows(rows)); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := pool.CopyFrom(ctx, pgx.Identifier{"clients", "trajectories"}, []string{"client_id", "phase", "team_id", "specialist_id", "enrolled_at"}, pgx.CopyFromRows(trajectories)); err != nil {
				b.Fatal(err)
			}
			if _, err := pool.Exec(ctx, "ANALYZE"); err != nil {
				b.Fatal(err)
			}
			st := store.New(pool)
			sup := authz.Subject{UserID: "sup-eva", OrgID: "mha-noord", OrgKind: "mha", Role: "ips_supervisor", Teams: []string{"noord-team-a"}}
			b.ResetTimer()
			for b.Loop() {
				rows, err := st.Candidates(ctx, sup, store.Cursor{CreatedAt: now.Add(250 * time.Microsecond)}, store.ListFilter{}, 26)
				if err != nil || len(rows) != 26 {
					b.Fatalf("page: %d rows, %v", len(rows), err)
				}
			}
		})
	}
}
