package e2e_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	gwserver "github.com/ipsbridge/ipsbridge/gateway/server"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/database/dbtest"
	"github.com/ipsbridge/ipsbridge/internal/service"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	empserver "github.com/ipsbridge/ipsbridge/services/employment/server"
)

// /readyz says whether a request can succeed: while the employment
// service's database refuses connections (its backends terminated, new
// ones not allowed) the gateway is unready and names the service; when the
// database is back, ready again.
func TestReadyzFollowsAServicesDatabase(t *testing.T) {
	p := testplatform.Start(t)
	ctx := context.Background()
	if err := database.Migrate(ctx, p.Pool, empserver.Migrations...); err != nil {
		t.Fatal(err)
	}
	az, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	// The service's own pool, as in production, watched as service.Run
	// watches it (more often, for a short test).
	pool, err := pgxpool.New(ctx, p.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	srv, hs, err := empserver.Build(empserver.Deps{Pool: pool, Verifier: p.Verifier, Authz: az,
		Clients: testplatform.Dial(t, p.ClientsAddr), Logger: testplatform.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	watched := make(chan error, 1)
	go func() { watched <- service.WatchDatabase(wctx, pool, hs, 50*time.Millisecond, testplatform.Logger()) }()
	t.Cleanup(func() {
		stop()
		if err := <-watched; err != nil {
			t.Errorf("watch: %v", err)
		}
	})
	empAddr := testplatform.Serve(t, srv)
	e := startGateway(t, p, func(c *gwserver.Config) { c.EmploymentAddr = empAddr })

	// readyz polls until /readyz answers status; the state changes within
	// a few pings, the bound is only against a hang.
	readyz := func(status int) reply {
		t.Helper()
		var r reply
		for range 200 {
			if r = e.do("GET", "/readyz", "", nil); r.status == status {
				return r
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("/readyz never answered %d; last %d %s", status, r.status, r.raw)
		return r
	}
	readyz(200)

	cfg, err := pgx.ParseConfig(p.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	db := pgx.Identifier{cfg.Database}.Sanitize()
	admin, err := pgx.Connect(ctx, dbtest.AdminURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close(context.Background()) })
	allow := func(on bool) {
		t.Helper()
		if _, err := admin.Exec(ctx, "ALTER DATABASE "+db+" ALLOW_CONNECTIONS "+map[bool]string{true: "true", false: "false"}[on]); err != nil {
			t.Fatal(err)
		}
	}
	allow(false)
	t.Cleanup(func() { allow(true) })
	if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, cfg.Database); err != nil {
		t.Fatal(err)
	}
	r := readyz(503)
	if got := get(r.body, "backends", "employment"); got != "NOT_SERVING" {
		t.Errorf("/readyz while employment's database is down: employment %v, want NOT_SERVING: %s", got, r.raw)
	}
	if got := get(r.body, "backends", "clients"); got != "SERVING" {
		t.Errorf("/readyz: clients %v, want SERVING (not watched here): %s", got, r.raw)
	}

	allow(true)
	readyz(200)
}
