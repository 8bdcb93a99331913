// Package server wires the benefits service: database, migrations, policy,
// the clients service connection, token verification, interceptors and the
// gRPC server with health checks.
package server

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/config"
	"github.com/ipsbridge/ipsbridge/internal/consumer"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/internal/rpc"
	"github.com/ipsbridge/ipsbridge/internal/service"
	benefitsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/benefits/v1"
	"github.com/ipsbridge/ipsbridge/services/benefits/api"
	"github.com/ipsbridge/ipsbridge/services/benefits/app"
	"github.com/ipsbridge/ipsbridge/services/benefits/store"
)

// Config is the benefits service's configuration.
type Config struct {
	config.Common
	GRPCAddr string `env:"IPSB_BENEFITS_GRPC_ADDR" envDefault:"127.0.0.1:9103"`
}

// Verify reports settings that cannot work.
func (c Config) Verify() error {
	return c.Common.VerifyWith(map[string]string{"IPSB_BENEFITS_GRPC_ADDR": c.GRPCAddr})
}

// Migrations are the schemas this service applies at start-up: the shared
// audit log, the shared event outbox, the event consumers' cursors and its
// own.
var Migrations = []database.Migrations{audit.Migrations, outbox.Migrations, consumer.Migrations, store.Migrations}

// Deps are what Build needs.
type Deps struct {
	Pool     *pgxpool.Pool
	Verifier *authn.Verifier
	Authz    *authz.Authorizer
	Notifier app.Notifier
	Logger   *slog.Logger
}

// Build returns the gRPC server with every interceptor and the health
// service registered.
func Build(d Deps) (*grpc.Server, *health.Server, error) {
	a, path := newApp(d)
	return rpc.NewServer(d.Logger, d.Verifier, &benefitsv1.BenefitsService_ServiceDesc, api.New(a, d.Logger),
		path.Interceptor(api.Rules))
}

func newApp(d Deps) (*app.Service, *access.Path) {
	path := access.New(access.Config{Service: app.ServiceName, Pool: d.Pool, Authz: d.Authz, Logger: d.Logger})
	return app.New(store.New(d.Pool), path, d.Notifier, d.Logger), path
}

// Consumers are the event consumers the service runs beside serving: job
// changes become the counsellor's task and the payers' notices.
func Consumers(d Deps) []consumer.Config {
	a, _ := newApp(d)
	return []consumer.Config{a.JobConsumer()}
}

// Runtime is what the benefits service's runtime role may do: its own
// schema and its event consumer's cursors, the event log it consumes, the
// two clients tables the team figures read (store/team.go), the clients
// schema's access functions, the outbox and the audit log.
var Runtime = database.Runtime{Role: database.RoleFor("benefits"), Write: []string{"benefits", "consumer"},
	Read: []string{"events.log", "clients.clients", "clients.trajectories"}, Call: []string{"clients"}, Outbox: true}

// Run starts the service and serves until ctx ends.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, migrateOnly bool) error {
	return service.Run(ctx, service.Spec{
		Name: "benefits", Common: cfg.Common, GRPCAddr: cfg.GRPCAddr, Runtime: Runtime, Migrate: func(ctx context.Context, pool *pgxpool.Pool) error {
			if err := database.Migrate(ctx, pool, Migrations...); err != nil {
				return err
			}
			return consumer.Start(ctx, pool, app.JobConsumerName)
		},
		Build: func(d service.Deps) (*grpc.Server, *health.Server, error) {
			return Build(Deps{Pool: d.Pool, Verifier: d.Verifier, Authz: d.Authz, Logger: d.Logger})
		},
		Background: []func(context.Context, service.Deps) error{
			func(ctx context.Context, d service.Deps) error {
				return consumer.Task(d.Pool, d.Logger, Consumers(Deps{Pool: d.Pool, Authz: d.Authz, Logger: d.Logger})...)(ctx)
			},
		},
	}, logger, migrateOnly)
}
