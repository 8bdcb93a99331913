// Package server wires the events service: database, migrations, policy,
// the clients service connection, token verification, the egress policy
// for endpoint verification, interceptors and the gRPC server with health
// checks.
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
	"github.com/ipsbridge/ipsbridge/internal/egress"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/internal/rpc"
	"github.com/ipsbridge/ipsbridge/internal/service"
	"github.com/ipsbridge/ipsbridge/internal/webhook"
	eventsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/events/v1"
	"github.com/ipsbridge/ipsbridge/services/events/api"
	"github.com/ipsbridge/ipsbridge/services/events/app"
	"github.com/ipsbridge/ipsbridge/services/events/store"
	"github.com/ipsbridge/ipsbridge/services/events/visibility"
)

// Config is the events service's configuration.
type Config struct {
	config.Common
	GRPCAddr string `env:"IPSB_EVENTS_GRPC_ADDR" envDefault:"127.0.0.1:9104"`
	// The egress policy, as the dispatcher's: internal networks endpoints
	// may be in (CIDRs or addresses), networks refused although public, and
	// whether plain http is allowed (development only).
	EgressAllow     string `env:"IPSB_EGRESS_ALLOW"`
	EgressDeny      string `env:"IPSB_EGRESS_DENY"`
	EgressAllowHTTP bool   `env:"IPSB_EGRESS_ALLOW_HTTP" envDefault:"false"`
	// VerifyTimeout bounds the verification handshake with an endpoint.
	VerifyTimeout time.Duration `env:"IPSB_EVENTS_VERIFY_TIMEOUT" envDefault:"10s"`
	// SealingKeys are the operator's keys that encrypt webhook signing
	// secrets at rest (webhook.ParseSealer: base64, the sealing key first;
	// the dispatcher needs the same).
	SealingKeys string `env:"IPSB_WEBHOOK_SEALING_KEYS"`
}

// Verify reports settings that cannot work.
func (c Config) Verify() error {
	var own []error
	if _, err := c.Egress(); err != nil {
		own = append(own, err)
	}
	if _, err := webhook.ParseSealer(c.SealingKeys); err != nil {
		own = append(own, fmt.Errorf("IPSB_WEBHOOK_SEALING_KEYS: %w", err))
	}
	if c.VerifyTimeout <= 0 || c.VerifyTimeout > time.Minute {
		own = append(own, fmt.Errorf("IPSB_EVENTS_VERIFY_TIMEOUT %s is not between 0s and 1m", c.VerifyTimeout))
	}
	return c.Common.VerifyWith(map[string]string{"IPSB_EVENTS_GRPC_ADDR": c.GRPCAddr}, own...)
}

// Egress returns the egress policy the settings describe.
func (c Config) Egress() (egress.Policy, error) {
	allow, err := egress.ParsePrefixes(c.EgressAllow)
	if err != nil {
		return egress.Policy{}, fmt.Errorf("IPSB_EGRESS_ALLOW: %w", err)
	}
	deny, err := egress.ParsePrefixes(c.EgressDeny)
	if err != nil {
		return egress.Policy{}, fmt.Errorf("IPSB_EGRESS_DENY: %w", err)
	}
	return egress.Policy{Allow: allow, Deny: deny, AllowHTTP: c.EgressAllowHTTP}, nil
}

// Migrations are the schemas this service applies at start-up: the audit
// log, the outbox (which the dispatcher drains into the log) and the events
// schema. The feed's judge reads the clients schema's access facts, which
// the clients service migrates.
var Migrations = []database.Migrations{audit.Migrations, outbox.Migrations, store.Migrations}

// Deps are what Build needs.
type Deps struct {
	Pool     *pgxpool.Pool
	Verifier *authn.Verifier
	Authz    *authz.Authorizer
	// Egress decides which endpoints may be subscribed and reached.
	Egress egress.Policy
	// VerifyTimeout bounds the handshake; 0 means 10 s.
	VerifyTimeout time.Duration
	// Sealer encrypts signing secrets at rest; nil only in tests.
	Sealer *webhook.Sealer
	Logger *slog.Logger
}

// Runtime is what the events service's runtime role may do: its own schema,
// the clients schema's access functions and the audit log.
var Runtime = database.Runtime{Role: database.RoleFor("events"), Write: []string{"events"}, Call: []string{"clients"}}

// Build returns the gRPC server with every interceptor and the health
// service registered.
func Build(d Deps) (*grpc.Server, *health.Server, error) {
	path := access.New(access.Config{Service: app.ServiceName, Pool: d.Pool, Authz: d.Authz, Logger: d.Logger})
	a := app.New(store.New(d.Pool), path, visibility.New(d.Pool, d.Authz),
		app.Config{Egress: d.Egress, VerifyTimeout: d.VerifyTimeout, Sealer: d.Sealer}, d.Logger)
	return rpc.NewServer(d.Logger, d.Verifier, &eventsv1.EventsService_ServiceDesc, api.New(a, d.Logger),
		path.Interceptor(api.Rules))
}

// Run starts the service and serves until ctx ends.
func Run(ctx context.Context, cfg Config, logger *slog.Logger, migrateOnly bool) error {
	policy, err := cfg.Egress()
	if err != nil {
		return err
	}
	sealer, err := webhook.ParseSealer(cfg.SealingKeys)
	if err != nil {
		return fmt.Errorf("IPSB_WEBHOOK_SEALING_KEYS: %w", err)
	}
	return service.Run(ctx, service.Spec{
		Name: "events", Common: cfg.Common, GRPCAddr: cfg.GRPCAddr, Runtime: Runtime,
		Migrate: func(ctx context.Context, pool *pgxpool.Pool) error {
			if err := database.Migrate(ctx, pool, Migrations...); err != nil {
				return err
			}
			// Secrets stored before they were sealed, and any sealed with
			// an older operator key, are sealed with the current one.
			return store.SealSigningKeys(ctx, pool, sealer)
		},
		Build: func(d service.Deps) (*grpc.Server, *health.Server, error) {
			return Build(Deps{Pool: d.Pool, Verifier: d.Verifier, Authz: d.Authz, Egress: policy,
				VerifyTimeout: cfg.VerifyTimeout, Sealer: sealer, Logger: d.Logger})
		},
	}, logger, migrateOnly)
}
