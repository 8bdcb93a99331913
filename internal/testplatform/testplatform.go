// Package testplatform starts IPS Bridge services in-process for tests: a
// fresh migrated and seeded database, real gRPC servers on loopback sockets,
// and real signed tokens for the seeded users.
package testplatform

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authn/devkeys"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/consumer"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/database/dbtest"
	"github.com/ipsbridge/ipsbridge/internal/mtls"
	"github.com/ipsbridge/ipsbridge/internal/rpc"
	"github.com/ipsbridge/ipsbridge/internal/seed"
	clientsserver "github.com/ipsbridge/ipsbridge/services/clients/server"
	eventsstore "github.com/ipsbridge/ipsbridge/services/events/store"
	"github.com/ipsbridge/ipsbridge/services/events/visibility"
)

// Platform is a running set of services for one test.
type Platform struct {
	// Pool is the owner's (the role that migrated): for the test's own
	// checks. Servers get RuntimePool.
	Pool        *pgxpool.Pool
	DatabaseURL string
	KeyDir      string
	Verifier    *authn.Verifier
	ClientsAddr string
}

// Logger returns a logger that writes to the test log only with -v and
// IPSB_TEST_LOG set, so failures stay readable.
func Logger() *slog.Logger {
	if os.Getenv("IPSB_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Start migrates a fresh database, seeds the demo directory and starts the
// clients service on a loopback port.
func Start(tb testing.TB) *Platform {
	tb.Helper()
	ctx := context.Background()
	pool, url := dbtest.New(tb, clientsserver.Migrations...)
	if err := clientsserver.Migrate(ctx, pool, true); err != nil {
		tb.Fatalf("seed: %v", err)
	}
	keyDir := tb.TempDir()
	if err := devkeys.Ensure(keyDir); err != nil {
		tb.Fatal(err)
	}
	verifier, err := authn.NewVerifier(ctx, authn.Config{
		Issuer: devkeys.DevIssuer, Audience: devkeys.DevAudience, JWKSFile: devkeys.JWKSPath(keyDir), Leeway: time.Second,
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(verifier.Close)
	az, err := authz.New()
	if err != nil {
		tb.Fatal(err)
	}
	// The service runs as its runtime role, as in production; the test
	// keeps the owner's pool for its own checks.
	runtime := dbtest.Runtime(tb, url, clientsserver.Runtime)
	srv, _, err := clientsserver.Build(clientsserver.Deps{Pool: runtime, Verifier: verifier, Authz: az, Logger: Logger()})
	if err != nil {
		tb.Fatal(err)
	}
	addr := Serve(tb, srv)
	return &Platform{Pool: pool, DatabaseURL: url, KeyDir: keyDir, Verifier: verifier, ClientsAddr: addr}
}

// RuntimePool returns a pool on the platform's database as the runtime
// role rt, for another service the test starts.
func (p *Platform) RuntimePool(tb testing.TB, rt database.Runtime) *pgxpool.Pool {
	return dbtest.Runtime(tb, p.DatabaseURL, rt)
}

// Serve runs a gRPC server on a loopback port until the test ends.
func Serve(tb testing.TB, srv *grpc.Server) string {
	return ServeTLS(tb, srv, mtls.Config{})
}

// ServeTLS runs a gRPC server on a loopback port until the test ends, with
// mutual TLS when identity is configured (as service.Run does).
func ServeTLS(tb testing.TB, srv *grpc.Server, identity mtls.Config) string {
	tb.Helper()
	lis, err := identity.Listen("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	tb.Cleanup(func() {
		srv.GracefulStop()
		if err := <-done; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			tb.Errorf("grpc server: %v", err)
		}
	})
	return lis.Addr().String()
}

// Token signs a token for a seeded user.
func (p *Platform) Token(tb testing.TB, userID string) string {
	tb.Helper()
	u, ok := seed.FindUser("", "", userID)
	if !ok {
		tb.Fatalf("no seeded user %s", userID)
	}
	tok, err := devkeys.Sign(p.KeyDir, devkeys.Claims{Subject: u.ID, Name: u.Name, Org: u.OrgID, Role: u.Role, Teams: u.Teams}, time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// Dial returns a client connection to addr.
func Dial(tb testing.TB, addr string) *grpc.ClientConn {
	tb.Helper()
	conn, err := rpc.Dial(addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// As returns a context carrying userID's bearer token.
func (p *Platform) As(tb testing.TB, userID string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+p.Token(tb, userID))
}

// FollowEvents runs what carries domain events between the services until
// the test ends, as the dispatcher and the services' background tasks do
// in production: it migrates the events schema, relays the outbox into
// the event log (without delivering to partners) and runs the clients
// service's event consumers and the extra ones given.
func (p *Platform) FollowEvents(tb testing.TB, extra ...consumer.Config) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := database.Migrate(ctx, p.Pool, eventsstore.Migrations); err != nil {
		tb.Fatalf("events migrations: %v", err)
	}
	az, err := authz.New()
	if err != nil {
		tb.Fatal(err)
	}
	cfgs := append(clientsserver.Consumers(clientsserver.Deps{Pool: p.Pool, Authz: az, Logger: Logger()}), extra...)
	for i := range cfgs {
		cfgs[i].Poll, cfgs[i].BackoffBase, cfgs[i].BackoffCap = 200*time.Millisecond, 20*time.Millisecond, 200*time.Millisecond
	}
	// Registered before the test's first write, so that none is missed.
	var cs []*consumer.Consumer
	for _, cfg := range cfgs {
		c := consumer.New(p.Pool, cfg, Logger())
		if err := c.Register(ctx); err != nil {
			tb.Fatal(err)
		}
		cs = append(cs, c)
	}
	done := make(chan error, 2)
	go func() {
		errs := make(chan error, len(cs))
		for _, c := range cs {
			go func() { errs <- c.Run(ctx) }()
		}
		var all []error
		for range cs {
			all = append(all, <-errs)
		}
		done <- errors.Join(all...)
	}()
	go func() {
		st := eventsstore.New(p.Pool)
		// The relay judges each event per subscribing organisation (no
		// delivery for one that may not see it), as the dispatcher's does.
		az, err := authz.New()
		if err != nil {
			done <- err
			return
		}
		judge := visibility.New(p.Pool, az)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				done <- nil
				return
			case <-t.C:
				if _, err := st.Relay(ctx, 500, judge); err != nil && ctx.Err() == nil {
					Logger().Error("relay", "err", err)
				}
			}
		}
	}()
	tb.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				tb.Errorf("events: %v", err)
			}
		}
	})
}

// Eventually waits until cond holds, checking every few milliseconds, and
// fails the test when it does not within limit: for effects that follow a
// write asynchronously (an event consumer's), where limit is the promise
// being tested, not a guess at timing.
func Eventually(tb testing.TB, limit time.Duration, what string, cond func() bool) time.Duration {
	tb.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			tb.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}
