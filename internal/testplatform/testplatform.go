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
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authn/devkeys"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/database/dbtest"
	"github.com/ipsbridge/ipsbridge/internal/mtls"
	"github.com/ipsbridge/ipsbridge/internal/seed"
	clientsserver "github.com/ipsbridge/ipsbridge/services/clients/server"
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
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
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
