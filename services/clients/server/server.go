// Package server wires the clients service: database, migrations, policy,
// token verification, interceptors and the gRPC server with health checks.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

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
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	"github.com/ipsbridge/ipsbridge/services/clients/api"
	"github.com/ipsbridge/ipsbridge/services/clients/app"
	"github.com/ipsbridge/ipsbridge/services/clients/store"
)

// Config is the clients service's configuration.
type Config struct {
	config.Common
	GRPCAddr string `env:"IPSB_CLIENTS_GRPC_ADDR" envDefault:"127.0.0.1:9101"`
	// SeedDemo loads the demo regions, organisations, teams and users.
	SeedDemo bool `env:"IPSB_SEED_DEMO" envDefault:"false"`
	// CheckpointDir, when set, receives a signed checkpoint of the audit
	// chain's head every CheckpointInterval, signed with the ed25519 key in
	// CheckpointKey (audit.WriteCheckpoint). The directory should be
	// write-once storage the services cannot rewrite.
	CheckpointDir      string        `env:"IPSB_AUDIT_CHECKPOINT_DIR"`
	CheckpointKey      string        `env:"IPSB_AUDIT_CHECKPOINT_KEY"`
	CheckpointInterval time.Duration `env:"IPSB_AUDIT_CHECKPOINT_INTERVAL" envDefault:"5m"`
}

// Verify reports settings that cannot work.
func (c Config) Verify() error {
	var own []error
	if c.CheckpointDir != "" {
		if _, err := audit.LoadCheckpointKey(c.CheckpointKey); err != nil {
			own = append(own, fmt.Errorf("IPSB_AUDIT_CHECKPOINT_KEY: %w", err))
		}
		if c.CheckpointInterval <= 0 {
			own = append(own, errors.New("IPSB_AUDIT_CHECKPOINT_INTERVAL must be positive"))
		}
	}
	return c.Common.VerifyWith(map[string]string{"IPSB_CLIENTS_GRPC_ADDR": c.GRPCAddr}, own...)
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
	Logger   *slog.Logger
}

// Build returns the gRPC server with every interceptor and the health
// service registered.
func Build(d Deps) (*grpc.Server, *health.Server, error) {
	a, path := newApp(d)
	return rpc.NewServer(d.Logger, d.Verifier, &clientsv1.ClientsService_ServiceDesc, api.New(a, d.Logger),
		path.Interceptor(api.Rules))
}

func newApp(d Deps) (*app.Service, *access.Path) {
	// Funding facts: the MHA's funding officer reads the identity and
	// trajectory of the clients under its agreements (the funded relation).
	path := access.New(access.Config{Service: app.ServiceName, Pool: d.Pool, Authz: d.Authz, Logger: d.Logger, OwnsTrajectories: true,
		FundingFacts: true})
	return app.New(store.New(d.Pool), path, d.Logger), path
}

// Consumers are the event consumers the service runs beside serving: the
// trajectory phase follows the client's jobs.
func Consumers(d Deps) []consumer.Config {
	a, _ := newApp(d)
	return []consumer.Config{a.PhaseConsumer()}
}

// Runtime is what the clients service's runtime role may do: its own
// schema and its event consumer's cursors, the event log it consumes, the
// outbox and (always) appending to the audit log.
var Runtime = database.Runtime{Role: database.RoleFor("clients"), Write: []string{"clients", "consumer"}, Read: []string{"events.log"}, Outbox: true}

// Migrate applies the service's migrations and, when asked, the demo seed.
func Migrate(ctx context.Context, pool *pgxpool.Pool, seed bool) error {
	if err := database.Migrate(ctx, pool, Migrations...); err != nil {
		return err
	}
	if err := consumer.Start(ctx, pool, app.PhaseConsumerName); err != nil {
		return err
	}
	if seed {
		if err := store.New(pool).SeedDirectory(ctx); err != nil {
			return fmt.Errorf("seed demo directory: %w", err)
		}
	}
	return nil
}

// Run starts the service and serves until ctx ends.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, migrateOnly bool) error {
	background := []func(context.Context, service.Deps) error{
		func(ctx context.Context, d service.Deps) error {
			return consumer.Task(d.Pool, d.Logger, Consumers(Deps{Pool: d.Pool, Authz: d.Authz, Logger: d.Logger})...)(ctx)
		},
	}
	if cfg.CheckpointDir != "" {
		key, err := audit.LoadCheckpointKey(cfg.CheckpointKey)
		if err != nil {
			return err
		}
		background = append(background, func(ctx context.Context, d service.Deps) error {
			return audit.RunCheckpoints(ctx, d.Pool, cfg.CheckpointDir, key, cfg.CheckpointInterval, d.Logger)
		})
	}
	return service.Run(ctx, service.Spec{
		Name: "clients", Common: cfg.Common, GRPCAddr: cfg.GRPCAddr, Background: background,
		Migrate: func(ctx context.Context, pool *pgxpool.Pool) error { return Migrate(ctx, pool, cfg.SeedDemo) },
		Runtime: Runtime,
		Build: func(d service.Deps) (*grpc.Server, *health.Server, error) {
			return Build(Deps{Pool: d.Pool, Verifier: d.Verifier, Authz: d.Authz, Logger: d.Logger})
		},
	}, logger, migrateOnly)
}
