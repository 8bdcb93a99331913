// Package server wires the funding service: database and migrations, the
// connections to the employment service (work histories) and the benefits
// service (a client's benefits), token verification, interceptors and the
// gRPC server with health checks.
package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

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
	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
	fundingv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/funding/v1"
	"github.com/ipsbridge/ipsbridge/services/funding/adapters"
	"github.com/ipsbridge/ipsbridge/services/funding/api"
	"github.com/ipsbridge/ipsbridge/services/funding/app"
	"github.com/ipsbridge/ipsbridge/services/funding/store"
)

// Config is the funding service's configuration.
type Config struct {
	config.Common
	GRPCAddr       string `env:"IPSB_FUNDING_GRPC_ADDR" envDefault:"127.0.0.1:9106"`
	EmploymentAddr string `env:"IPSB_EMPLOYMENT_ADDR" envDefault:"127.0.0.1:9102"`
	BenefitsAddr   string `env:"IPSB_BENEFITS_ADDR" envDefault:"127.0.0.1:9103"`
}

// Verify reports settings that cannot work.
func (c Config) Verify() error {
	return c.Common.VerifyWith(map[string]string{
		"IPSB_FUNDING_GRPC_ADDR": c.GRPCAddr, "IPSB_EMPLOYMENT_ADDR": c.EmploymentAddr, "IPSB_BENEFITS_ADDR": c.BenefitsAddr,
	})
}

// Migrations are the schemas this service applies at start-up: the shared
// audit log, the shared event outbox and its own.
var Migrations = []database.Migrations{audit.Migrations, outbox.Migrations, store.Migrations}

// Deps are what Build needs.
type Deps struct {
	Pool       *pgxpool.Pool
	Verifier   *authn.Verifier
	Authz      *authz.Authorizer
	Employment grpc.ClientConnInterface
	Benefits   grpc.ClientConnInterface
	Logger     *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Build returns the gRPC server with every interceptor and the health
// service registered.
func Build(d Deps) (*grpc.Server, *health.Server, error) {
	path := access.New(access.Config{Service: app.ServiceName, Pool: d.Pool, Authz: d.Authz, Logger: d.Logger, FundingFacts: true})
	a := app.New(store.New(d.Pool), path,
		adapters.Employment{C: employmentv1.NewEmploymentServiceClient(d.Employment)},
		adapters.Benefits{C: benefitsv1.NewBenefitsServiceClient(d.Benefits)}, d.Logger, d.Now)
	return rpc.NewServer(d.Logger, d.Verifier, &fundingv1.FundingService_ServiceDesc, api.New(a, d.Logger), path.Interceptor(api.Rules))
}

// Migrate applies the service's migrations.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	return database.Migrate(ctx, pool, Migrations...)
}

// Run starts the service and serves until ctx ends.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, migrateOnly bool) error {
	// The connections are lazy: the other services may start after this one.
	emp, err := grpc.NewClient(cfg.EmploymentAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connect to the employment service at %s: %w", cfg.EmploymentAddr, err)
	}
	defer emp.Close()
	ben, err := grpc.NewClient(cfg.BenefitsAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connect to the benefits service at %s: %w", cfg.BenefitsAddr, err)
	}
	defer ben.Close()
	return service.Run(ctx, service.Spec{
		Name: "funding", Common: cfg.Common, GRPCAddr: cfg.GRPCAddr, Migrate: Migrate,
		Build: func(d service.Deps) (*grpc.Server, *health.Server, error) {
			return Build(Deps{Pool: d.Pool, Verifier: d.Verifier, Authz: d.Authz, Employment: emp, Benefits: ben, Logger: d.Logger})
		},
	}, logger, migrateOnly)
}
