// Package server wires the fidelity service: database, migrations and the
// scale versions, policy, connections to the services whose figures it
// measures, token verification, interceptors and the gRPC server with
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
	"github.com/ipsbridge/ipsbridge/internal/rpc"
	"github.com/ipsbridge/ipsbridge/internal/service"
	fidelityv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/fidelity/v1"
	"github.com/ipsbridge/ipsbridge/services/fidelity/api"
	"github.com/ipsbridge/ipsbridge/services/fidelity/app"
	"github.com/ipsbridge/ipsbridge/services/fidelity/domain"
	"github.com/ipsbridge/ipsbridge/services/fidelity/store"
)

// Config is the fidelity service's configuration.
type Config struct {
	config.Common
	GRPCAddr       string `env:"IPSB_FIDELITY_GRPC_ADDR" envDefault:"127.0.0.1:9107"`
	ClientsAddr    string `env:"IPSB_CLIENTS_ADDR" envDefault:"127.0.0.1:9101"`
	EmploymentAddr string `env:"IPSB_EMPLOYMENT_ADDR" envDefault:"127.0.0.1:9102"`
	BenefitsAddr   string `env:"IPSB_BENEFITS_ADDR" envDefault:"127.0.0.1:9103"`
}

// Verify reports settings that cannot work.
func (c Config) Verify() error {
	return c.Common.VerifyWith(map[string]string{
		"IPSB_FIDELITY_GRPC_ADDR": c.GRPCAddr, "IPSB_CLIENTS_ADDR": c.ClientsAddr,
		"IPSB_EMPLOYMENT_ADDR": c.EmploymentAddr, "IPSB_BENEFITS_ADDR": c.BenefitsAddr,
	})
}

// Migrations are the schemas this service applies at start-up: the shared
// audit log and its own.
var Migrations = []database.Migrations{audit.Migrations, store.Migrations}

// Runtime is what the fidelity service's runtime role may do: its own
// schema, the clients schema's published functions (organization_of,
// access_facts, user_of), and the audit log. It writes no domain events
// and reads no other service's tables: team figures and the sample come
// from the other services' RPCs.
var Runtime = database.Runtime{Role: database.RoleFor("fidelity"), Write: []string{"fidelity"}, Call: []string{"clients"}}

// Migrate applies the migrations and seeds the scale versions shipped with
// the service (a version already seeded must not have changed).
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	if err := database.Migrate(ctx, pool, Migrations...); err != nil {
		return err
	}
	files, err := domain.ScaleJSON()
	if err != nil {
		return err
	}
	return store.SeedScales(ctx, pool, files)
}

// Deps are what Build needs.
type Deps struct {
	Pool     *pgxpool.Pool
	Verifier *authn.Verifier
	Authz    *authz.Authorizer
	// Figures is how team figures are asked of the other services (and,
	// when it is also an app.Sampler, the chart-review sample).
	Figures app.Figures
	Logger  *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Build returns the gRPC server with every interceptor and the health
// service registered.
func Build(d Deps) (*grpc.Server, *health.Server, error) {
	scales, err := domain.LoadScales()
	if err != nil {
		return nil, nil, err
	}
	path := access.New(access.Config{Service: app.ServiceName, Pool: d.Pool, Authz: d.Authz, Logger: d.Logger})
	sampler, _ := d.Figures.(app.Sampler)
	a := app.New(store.New(d.Pool), path, scales, d.Figures, sampler, d.Logger, d.Now)
	return rpc.NewServer(d.Logger, d.Verifier, &fidelityv1.FidelityService_ServiceDesc, api.New(a, d.Logger),
		path.Interceptor(api.Rules))
}

// Run starts the service and serves until ctx ends.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, migrateOnly bool) error {
	// Connections are lazy: the other services may start after this one.
	transport, err := cfg.TLS.DialOption()
	if err != nil {
		return err
	}
	var conns []*grpc.ClientConn
	for _, addr := range []string{cfg.EmploymentAddr, cfg.ClientsAddr, cfg.BenefitsAddr} {
		// rpc.Dial's prompt reconnects; transport replaces its plain-text
		// default when mutual TLS is configured.
		conn, err := rpc.Dial(addr, transport)
		if err != nil {
			return fmt.Errorf("connect to %s: %w", addr, err)
		}
		defer conn.Close()
		conns = append(conns, conn)
	}
	return service.Run(ctx, service.Spec{
		Name: "fidelity", Common: cfg.Common, GRPCAddr: cfg.GRPCAddr, Migrate: Migrate, Runtime: Runtime,
		Build: func(d service.Deps) (*grpc.Server, *health.Server, error) {
			return Build(Deps{Pool: d.Pool, Verifier: d.Verifier, Authz: d.Authz, Figures: NewFigures(conns[0], conns[1], conns[2]), Logger: d.Logger})
		},
	}, logger, migrateOnly)
}
