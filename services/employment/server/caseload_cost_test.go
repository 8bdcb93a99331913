package server_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
	clientsserver "github.com/ipsbridge/ipsbridge/services/clients/server"
	"github.com/ipsbridge/ipsbridge/services/employment/server"
)

// statementCounter counts every statement a pool sends (pgx's tracer sees
// each query, exec and batch entry).
type statementCounter struct{ n atomic.Int64 }

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *statementCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	c.n.Add(int64(d.Batch.Len()))
	return ctx
}
func (c *statementCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *statementCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// TestCaseloadCostIsConstant: a caseload page costs one call to the clients
// service and the same number of SQL statements (in both services) for a
// page of 5 or of 20, and whether the region has no other clients or 30 of
// another team's; and each listed client gets one audit record for the
// whole request.
func TestCaseloadCostIsConstant(t *testing.T) {
	p := testplatform.Start(t)
	ctx := context.Background()
	if err := database.Migrate(ctx, p.Pool, server.Migrations...); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(p.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	var stmts statementCounter
	cfg.ConnConfig.Tracer = &stmts
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	az, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	cs, _, err := clientsserver.Build(clientsserver.Deps{Pool: pool, Verifier: p.Verifier, Authz: az, Logger: testplatform.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	clientsAddr := testplatform.Serve(t, cs)
	var calls atomic.Int64
	countCalls := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		calls.Add(1)
		return invoker(ctx, method, req, reply, cc, opts...)
	}
	conn, err := grpc.NewClient(clientsAddr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithUnaryInterceptor(countCalls))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	es, _, err := server.Build(server.Deps{Pool: pool, Verifier: p.Verifier, Authz: az, Clients: conn, Logger: testplatform.Logger(), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	emp := employmentv1.NewEmploymentServiceClient(testplatform.Dial(t, testplatform.Serve(t, es)))
	cli := clientsv1.NewClientsServiceClient(testplatform.Dial(t, clientsAddr))

	enrol := func(user, team string, n int) []string {
		var ids []string
		for i := range n {
			r, err := cli.CreateClient(p.As(t, user), &clientsv1.CreateClientRequest{RequestId: fmt.Sprintf("cost-%s-%d", user, i), Client: &clientsv1.Client{
				Identity: &clientsv1.Identity{GivenName: "Client", FamilyName: fmt.Sprint(i)}, Trajectory: &clientsv1.Trajectory{TeamId: team},
			}})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, r.GetClient().GetClientId())
		}
		return ids
	}
	own := enrol("es-anna", "noord-team-a", 25)
	anna := p.As(t, "es-anna")
	type cost struct{ calls, stmts int64 }
	page := func(size int32) cost {
		t.Helper()
		c0, s0 := calls.Load(), stmts.n.Load()
		r, err := emp.ListCaseload(anna, &employmentv1.ListCaseloadRequest{PageSize: size})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.GetEntries()) != int(size) || len(r.GetLoads()) != 1 || r.GetLoads()[0].GetClientCount() != 25 {
			t.Fatalf("page of %d: %d entries, loads %v", size, len(r.GetEntries()), r.GetLoads())
		}
		return cost{calls.Load() - c0, stmts.n.Load() - s0}
	}
	page(5) // warms the caches (organisations, verified tokens)
	small, large := page(5), page(20)
	enrol("es-bram", "noord-team-b", 30)
	crowded := page(20)
	t.Logf("caseload page: 5 clients %+v, 20 clients %+v, 20 clients with 30 of another team %+v", small, large, crowded)
	if small.calls != 1 || large != small || crowded != small {
		t.Errorf("cost grows: page of 5 %+v, of 20 %+v, of 20 beside another team's 30 %+v", small, large, crowded)
	}

	// One audit record per listed client for the request, listing the
	// sections both services read.
	var before int
	if err := p.Pool.QueryRow(ctx, `SELECT count(*) FROM audit.events WHERE client_id = $1`, own[0]).Scan(&before); err != nil {
		t.Fatal(err)
	}
	page(5)
	rows, err := p.Pool.Query(ctx, `SELECT service, sections FROM audit.events WHERE client_id = $1 ORDER BY seq OFFSET $2`, own[0], before)
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		Service  string
		Sections []string
	}
	recs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[rec])
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("a caseload page wrote %d audit records of a listed client, want 1: %+v", len(recs), recs)
	}
	for _, want := range []string{"identity", "trajectory", "job_search", "placements", "milestones"} {
		if !slices.Contains(recs[0].Sections, want) {
			t.Errorf("the record lists %v, not %s", recs[0].Sections, want)
		}
	}
}
