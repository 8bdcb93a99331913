// Package server wires the benefits service: database, migrations, policy,
// the clients service connection, token verification, interceptors and the
// gRPC server with health checks.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/config"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/internal/rpc"
	"github.com/ipsbridge/ipsbridge/internal/service"
	benefitsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/benefits/v1"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	"github.com/ipsbridge/ipsbridge/services/benefits/api"
	"github.com/ipsbridge/ipsbridge/services/benefits/app"
	"github.com/ipsbridge/ipsbridge/services/benefits/store"
)

// Config is the benefits service's configuration.
type Config struct {
	config.Common
	GRPCAddr    string `env:"IPSB_BENEFITS_GRPC_ADDR" envDefault:"127.0.0.1:9103"`
	ClientsAddr string `env:"IPSB_CLIENTS_ADDR" envDefault:"127.0.0.1:9101"`
}

// Verify reports settings that cannot work.
func (c Config) Verify() error {
	var errs []error
	if err := c.Common.Verify(); err != nil {
		errs = append(errs, err)
	}
	if _, _, err := net.SplitHostPort(c.GRPCAddr); err != nil {
		errs = append(errs, fmt.Errorf("IPSB_BENEFITS_GRPC_ADDR %q: %w", c.GRPCAddr, err))
	}
	if _, _, err := net.SplitHostPort(c.ClientsAddr); err != nil {
		errs = append(errs, fmt.Errorf("IPSB_CLIENTS_ADDR %q: %w", c.ClientsAddr, err))
	}
	return errors.Join(errs...)
}

// Migrations are the schemas this service applies at start-up: the shared
// audit log, the shared event outbox and its own.
var Migrations = []database.Migrations{audit.Migrations, outbox.Migrations, store.Migrations}

// Deps are what Build needs.
type Deps struct {
	Pool     *pgxpool.Pool
	Verifier *authn.Verifier
	Authz    *authz.Authorizer
	// Clients is the connection to the clients service.
	Clients  grpc.ClientConnInterface
	Notifier app.Notifier
	Logger   *slog.Logger
}

// Build returns the gRPC server with every interceptor and the health
// service registered.
func Build(d Deps) (*grpc.Server, *health.Server, error) {
	checker := access.New(clientsv1.NewClientsServiceClient(d.Clients), d.Authz)
	a := app.New(store.New(d.Pool), checker, d.Notifier, d.Logger)
	onDeny := audit.DenyRecorder(d.Pool, app.ServiceName, d.Logger)
	return rpc.NewServer(d.Logger, d.Verifier, &benefitsv1.BenefitsService_ServiceDesc, api.New(a, d.Logger),
		authz.UnaryServerInterceptor(d.Authz, api.Rules, a.ResolveSubject, onDeny))
}

// Run starts the service and serves until ctx ends.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, migrateOnly bool) error {
	// The connection is lazy: the clients service may start after this one.
	conn, err := grpc.NewClient(cfg.ClientsAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connect to the clients service at %s: %w", cfg.ClientsAddr, err)
	}
	defer conn.Close()
	return service.Run(ctx, service.Spec{
		Name: "benefits", Common: cfg.Common, GRPCAddr: cfg.GRPCAddr, Migrate: func(ctx context.Context, pool *pgxpool.Pool) error { return database.Migrate(ctx, pool, Migrations...) },
		Build: func(d service.Deps) (*grpc.Server, *health.Server, error) {
			return Build(Deps{Pool: d.Pool, Verifier: d.Verifier, Authz: d.Authz, Clients: conn, Logger: d.Logger})
		},
	}, logger, migrateOnly)
}
