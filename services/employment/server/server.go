// Package server wires the employment service: database, migrations, the
// connection to the clients service (which decides access and owns the
// trajectory), token verification, interceptors and the gRPC server with
// health checks.
package server

import (
	"context"
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
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/internal/rpc"
	"github.com/ipsbridge/ipsbridge/internal/service"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
	"github.com/ipsbridge/ipsbridge/services/employment/api"
	"github.com/ipsbridge/ipsbridge/services/employment/app"
	"github.com/ipsbridge/ipsbridge/services/employment/store"
)

// Config is the employment service's configuration.
type Config struct {
	config.Common
	GRPCAddr    string `env:"IPSB_EMPLOYMENT_GRPC_ADDR" envDefault:"127.0.0.1:9102"`
	ClientsAddr string `env:"IPSB_CLIENTS_ADDR" envDefault:"127.0.0.1:9101"`
	// MilestoneSweep is how often the service announces the milestones the
	// passing of time has reached (3 and 6 months of employment); 0 turns
	// the sweep off. Every replica may sweep: announcements are idempotent.
	MilestoneSweep time.Duration `env:"IPSB_MILESTONE_SWEEP_INTERVAL" envDefault:"10m"`
}

// Verify reports settings that cannot work.
func (c Config) Verify() error {
	var own []error
	if c.MilestoneSweep != 0 && c.MilestoneSweep < time.Second {
		own = append(own, fmt.Errorf("IPSB_MILESTONE_SWEEP_INTERVAL %s: must be 0 (off) or at least 1s", c.MilestoneSweep))
	}
	return c.Common.VerifyWith(map[string]string{"IPSB_EMPLOYMENT_GRPC_ADDR": c.GRPCAddr, "IPSB_CLIENTS_ADDR": c.ClientsAddr}, own...)
}

// Migrations are the schemas this service applies at start-up: the shared
// audit log, the shared event outbox and its own.
var Migrations = []database.Migrations{audit.Migrations, outbox.Migrations, store.Migrations}

// Deps are what Build needs.
type Deps struct {
	Pool     *pgxpool.Pool
	Verifier *authn.Verifier
	Authz    *authz.Authorizer
	// Clients is a connection to the clients service.
	Clients grpc.ClientConnInterface
	Logger  *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Build returns the gRPC server with every interceptor and the health
// service registered.
func Build(d Deps) (*grpc.Server, *health.Server, error) {
	clients := clientsv1.NewClientsServiceClient(d.Clients)
	// Funding facts: milestones are read under funding agreements (the
	// funded relation), from the funding schema's published parties.
	path := access.New(access.Config{Service: app.ServiceName, Pool: d.Pool, Authz: d.Authz, Logger: d.Logger, FundingFacts: true})
	a := app.New(store.New(d.Pool), path, clients, d.Logger, d.Now)
	return rpc.NewServer(d.Logger, d.Verifier, &employmentv1.EmploymentService_ServiceDesc, api.New(a, d.Logger),
		path.Interceptor(api.Rules))
}

// SweepMilestones runs a's milestone sweep now and then every interval
// until ctx ends; a failed sweep is logged and tried again at the next
// tick.
func SweepMilestones(ctx context.Context, a *app.Service, every time.Duration, now func() time.Time, log *slog.Logger) {
	if now == nil {
		now = time.Now
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		n, err := a.AnnounceDueMilestones(ctx, now())
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.ErrorContext(ctx, "milestone sweep failed", "err", err, "announced", n)
		case n > 0:
			log.InfoContext(ctx, "milestones announced", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Runtime is what the employment service's runtime role may do: its own
// schema, the clients schema's access functions, the clients tables the
// region figures (store/stats.go) and the team figures (store/team.go)
// read, the outbox and the audit log.
var Runtime = database.Runtime{Role: database.RoleFor("employment"), Write: []string{"employment"},
	Read: []string{"clients.clients", "clients.phase_changes", "clients.trajectories"}, Call: []string{"clients"}, Outbox: true}

// Migrate applies the service's migrations.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return database.Migrate(ctx, pool, Migrations...)
}

// Run starts the service and serves until ctx ends.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, migrateOnly bool) error {
	// The connection is lazy: the clients service may start after this one.
	transport, err := cfg.TLS.DialOption()
	if err != nil {
		return err
	}
	// rpc.Dial's prompt reconnects; transport replaces its plain-text
	// default when mutual TLS is configured.
	conn, err := rpc.Dial(cfg.ClientsAddr, transport)
	if err != nil {
		return fmt.Errorf("connect to the clients service at %s: %w", cfg.ClientsAddr, err)
	}
	defer conn.Close()
	spec := service.Spec{
		Name: "employment", Common: cfg.Common, GRPCAddr: cfg.GRPCAddr, Migrate: Migrate, Runtime: Runtime,
		Build: func(d service.Deps) (*grpc.Server, *health.Server, error) {
			return Build(Deps{Pool: d.Pool, Verifier: d.Verifier, Authz: d.Authz, Clients: conn, Logger: d.Logger})
		},
	}
	if cfg.MilestoneSweep > 0 {
		// The sweep runs beside gRPC serving and stops with it; it needs
		// neither a caller nor the clients service.
		spec.Background = append(spec.Background, func(ctx context.Context, d service.Deps) error {
			SweepMilestones(ctx, app.New(store.New(d.Pool), nil, nil, d.Logger, nil), cfg.MilestoneSweep, nil, d.Logger)
			return nil
		})
	}
	return service.Run(ctx, spec, logger, migrateOnly)
}
