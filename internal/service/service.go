// Package service is the start-up every IPS Bridge gRPC service shares:
// read and check the configuration, connect to PostgreSQL and migrate, load
// the policy and the token verifier, then serve until SIGINT or SIGTERM and
// drain gracefully. A service supplies its name, its migrations, how to
// build its gRPC server and the tasks it runs beside serving.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/config"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/rpc"
)

// Config is a service's configuration: it embeds config.Common and checks
// its own settings.
type Config interface {
	Verify() error
	Logger(service string) *slog.Logger
}

// Main is the whole of a service's main function. "NAME migrate" applies the
// migrations and exits (for a Kubernetes Job).
func Main[C Config](name string, run func(ctx context.Context, cfg C, logger *slog.Logger, migrateOnly bool) error) {
	if err := mainErr(name, run); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

func mainErr[C Config](name string, run func(context.Context, C, *slog.Logger, bool) error) error {
	migrateOnly := len(os.Args) > 1 && os.Args[1] == "migrate"
	if len(os.Args) > 1 && !migrateOnly {
		return fmt.Errorf("unknown subcommand %q (only \"migrate\")", os.Args[1])
	}
	var cfg C
	if err := config.Load(&cfg); err != nil {
		return err
	}
	if err := cfg.Verify(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, cfg, cfg.Logger(name), migrateOnly)
}

// Deps are what the shared start-up hands a service's Build.
type Deps struct {
	Pool     *pgxpool.Pool
	Verifier *authn.Verifier
	Authz    *authz.Authorizer
	Logger   *slog.Logger
}

// Spec describes one service to Run.
type Spec struct {
	Name     string
	Common   config.Common
	GRPCAddr string
	// Migrate brings the database to the service's schema version. It runs
	// as the owner role (DATABASE_URL).
	Migrate func(context.Context, *pgxpool.Pool) error
	// Runtime is what the service's runtime role may do; the role owns
	// nothing. Zero: read and write the schema named like the service,
	// call the clients schema's functions, append to the outbox (and, as
	// always, to the audit log).
	Runtime database.Runtime
	// Build returns the gRPC server with its health service.
	Build func(Deps) (*grpc.Server, *health.Server, error)
	// Background are tasks that run beside serving, started after Build
	// (and not for "migrate"). Their context ends at shutdown, when serving
	// stops; Run waits for them before it closes the pool. A task returns
	// when its context ends; an error it returns is fatal: the service
	// shuts down and Run returns it. A task that should outlive a failure
	// (a periodic job) logs it and carries on instead.
	Background []func(ctx context.Context, d Deps) error
}

// Run starts a service and serves until ctx ends.
func Run(ctx context.Context, s Spec, logger *slog.Logger, migrateOnly bool) error {
	rt := s.Runtime
	if len(rt.Write) == 0 {
		rt = database.Runtime{Role: rt.Role, Write: []string{s.Name}, Call: []string{"clients"}, Outbox: true}
	}
	pool, err := database.Open(ctx, s.Common.Database(), s.Name, rt, s.Migrate, migrateOnly)
	if err != nil {
		return err
	}
	if migrateOnly {
		logger.InfoContext(ctx, "migrations applied")
		return nil
	}
	defer pool.Close()
	regional, err := s.Common.RegionalPolicies()
	if err != nil {
		return err
	}
	az, err := authz.New(regional...)
	if err != nil {
		return err
	}
	verifier, err := authn.NewVerifier(ctx, s.Common.Authn())
	if err != nil {
		return err
	}
	defer verifier.Close()
	deps := Deps{Pool: pool, Verifier: verifier, Authz: az, Logger: logger}
	srv, hs, err := s.Build(deps)
	if err != nil {
		return err
	}
	// With IPSB_TLS_* set, only clients with a certificate of the
	// platform's CA get past the handshake.
	lis, err := s.Common.TLS.Listen(s.GRPCAddr)
	if err != nil {
		return err
	}
	logger.InfoContext(ctx, s.Name+" service listening", "addr", lis.Addr().String())
	// gctx ends at shutdown, when serving fails or when a background task
	// fails; each of these stops the others.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		<-gctx.Done()
		hs.Shutdown() // tell load balancers first, then drain
		return nil
	})
	g.Go(func() error { return rpc.Serve(gctx, srv, lis, s.Common.ShutdownGrace, logger) })
	g.Go(func() error { return WatchDatabase(gctx, pool, hs, DatabaseCheckInterval, logger) })
	if s.Common.ProfileAddr != "" {
		g.Go(func() error { return ServeProfiles(gctx, s.Common.ProfileAddr, logger) })
	}
	for i, task := range s.Background {
		g.Go(func() error {
			err := task(gctx, deps)
			if err == nil || (gctx.Err() != nil && errors.Is(err, context.Canceled)) {
				return nil // stopped at shutdown
			}
			return fmt.Errorf("%s background task %d: %w", s.Name, i, err)
		})
	}
	return g.Wait()
}
