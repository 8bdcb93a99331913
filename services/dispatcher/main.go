// Command dispatcher delivers domain events to partner systems: it relays
// the services' outbox into the event log and sends each delivery as a
// signed CloudEvent (services/events/dispatch). Run several replicas; they
// share the work. "dispatcher migrate" applies the migrations and exits.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/config"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/egress"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/internal/webhook"
	"github.com/ipsbridge/ipsbridge/services/events/dispatch"
	"github.com/ipsbridge/ipsbridge/services/events/store"
)

// Config is the dispatcher's configuration.
type Config struct {
	// DatabaseURL is the owner role (migrations); DatabaseRuntimeURL the
	// dispatcher's own role, derived from it when empty (database.Open).
	DatabaseURL        string        `env:"DATABASE_URL"`
	DatabaseRuntimeURL string        `env:"IPSB_DATABASE_RUNTIME_URL"`
	DBMaxConns         int32         `env:"IPSB_DB_MAX_CONNS" envDefault:"8"`
	LogLevel           string        `env:"IPSB_LOG_LEVEL" envDefault:"info"`
	LogFormat          string        `env:"IPSB_LOG_FORMAT" envDefault:"json"`
	PolicyFiles        []string      `env:"IPSB_POLICY_FILES" envSeparator:","`
	ShutdownGrace      time.Duration `env:"IPSB_SHUTDOWN_GRACE" envDefault:"15s"`
	// HealthAddr serves /healthz for probes.
	HealthAddr  string        `env:"IPSB_DISPATCHER_HEALTH_ADDR" envDefault:"127.0.0.1:9105"`
	Worker      string        `env:"IPSB_DISPATCHER_WORKER"`
	Concurrency int           `env:"IPSB_DISPATCHER_CONCURRENCY" envDefault:"16"`
	Batch       int           `env:"IPSB_DISPATCHER_BATCH" envDefault:"64"`
	Timeout     time.Duration `env:"IPSB_DISPATCHER_TIMEOUT" envDefault:"10s"`
	Lease       time.Duration `env:"IPSB_DISPATCHER_LEASE" envDefault:"45s"`
	Poll        time.Duration `env:"IPSB_DISPATCHER_POLL" envDefault:"1s"`
	BackoffBase time.Duration `env:"IPSB_DISPATCHER_BACKOFF_BASE" envDefault:"5s"`
	BackoffCap  time.Duration `env:"IPSB_DISPATCHER_BACKOFF_CAP" envDefault:"6h"`
	// MaxAge is how long a delivery is retried before it is dead-lettered.
	MaxAge time.Duration `env:"IPSB_DISPATCHER_MAX_AGE" envDefault:"72h"`
	// EgressAllow lists internal networks webhooks may reach (CIDRs).
	EgressAllow string `env:"IPSB_EGRESS_ALLOW"`
	EgressDeny  string `env:"IPSB_EGRESS_DENY"`
	// EgressAllowHTTP permits plain-http endpoints (development only).
	EgressAllowHTTP bool `env:"IPSB_EGRESS_ALLOW_HTTP" envDefault:"false"`
	// SealingKeys open the sealed signing secrets (the events service's).
	SealingKeys string `env:"IPSB_WEBHOOK_SEALING_KEYS"`
}

func (c Config) common() config.Common {
	return config.Common{DatabaseURL: c.DatabaseURL, LogLevel: c.LogLevel, LogFormat: c.LogFormat, PolicyFiles: c.PolicyFiles}
}

func (c Config) dispatch() (dispatch.Config, error) {
	allow, err := egress.ParsePrefixes(c.EgressAllow)
	if err != nil {
		return dispatch.Config{}, fmt.Errorf("IPSB_EGRESS_ALLOW: %w", err)
	}
	deny, err := egress.ParsePrefixes(c.EgressDeny)
	if err != nil {
		return dispatch.Config{}, fmt.Errorf("IPSB_EGRESS_DENY: %w", err)
	}
	worker := c.Worker
	if worker == "" {
		host, _ := os.Hostname()
		worker = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	sealer, err := webhook.ParseSealer(c.SealingKeys)
	if err != nil {
		return dispatch.Config{}, fmt.Errorf("IPSB_WEBHOOK_SEALING_KEYS: %w", err)
	}
	return dispatch.Config{Worker: worker, Sealer: sealer, Concurrency: c.Concurrency, Batch: c.Batch, Lease: c.Lease,
		Timeout: c.Timeout, Poll: c.Poll,
		Backoff: dispatch.Backoff{Base: c.BackoffBase, Cap: c.BackoffCap, MaxAge: c.MaxAge, MaxRetryAfter: 24 * time.Hour},
		Egress:  egress.Policy{Allow: allow, Deny: deny, AllowHTTP: c.EgressAllowHTTP}}, nil
}

// Verify reports settings that cannot work.
func (c Config) Verify() error {
	var errs []error
	if c.DatabaseURL == "" && c.DatabaseRuntimeURL == "" {
		errs = append(errs, errors.New("DATABASE_URL (the owner, for migrations) or IPSB_DATABASE_RUNTIME_URL is required"))
	}
	if c.Lease <= c.Timeout {
		errs = append(errs, fmt.Errorf("IPSB_DISPATCHER_LEASE (%s) must exceed IPSB_DISPATCHER_TIMEOUT (%s)", c.Lease, c.Timeout))
	}
	if c.BackoffBase <= 0 || c.BackoffCap < c.BackoffBase {
		errs = append(errs, errors.New("IPSB_DISPATCHER_BACKOFF_BASE must be positive and at most IPSB_DISPATCHER_BACKOFF_CAP"))
	}
	if _, err := c.dispatch(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Migrations are the schemas the dispatcher reads and writes. The clients
// schema (whose access_facts function it calls) is the clients service's.
var Migrations = []database.Migrations{audit.Migrations, outbox.Migrations, store.Migrations}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "dispatcher:", err)
		os.Exit(1)
	}
}

func run() error {
	migrateOnly := len(os.Args) > 1 && os.Args[1] == "migrate"
	if len(os.Args) > 1 && !migrateOnly {
		return fmt.Errorf("unknown subcommand %q (only \"migrate\")", os.Args[1])
	}
	var cfg Config
	if err := config.Load(&cfg); err != nil {
		return err
	}
	if err := cfg.Verify(); err != nil {
		return err
	}
	logger := cfg.common().Logger("dispatcher")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	pool, err := database.Open(ctx, database.Access{OwnerURL: cfg.DatabaseURL, RuntimeURL: cfg.DatabaseRuntimeURL, MaxConns: cfg.DBMaxConns},
		"dispatcher", dispatch.Runtime, func(ctx context.Context, p *pgxpool.Pool) error { return database.Migrate(ctx, p, Migrations...) }, migrateOnly)
	if err != nil {
		return err
	}
	if migrateOnly {
		logger.InfoContext(ctx, "migrations applied")
		return nil
	}
	defer pool.Close()
	regional, err := cfg.common().RegionalPolicies()
	if err != nil {
		return err
	}
	az, err := authz.New(regional...)
	if err != nil {
		return err
	}
	dc, _ := cfg.dispatch()
	d := dispatch.New(dc, pool, az, logger)

	health := &http.Server{Addr: cfg.HealthAddr, ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/healthz" {
				http.NotFound(w, r)
				return
			}
			if err := pool.Ping(r.Context()); err != nil {
				http.Error(w, "database unreachable", http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte("ok\n"))
		})}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		logger.InfoContext(gctx, "dispatcher running", "worker", dc.Worker, "health", cfg.HealthAddr)
		return d.Run(gctx)
	})
	g.Go(func() error {
		if err := health.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("health endpoint: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
		defer cancel()
		return health.Shutdown(sctx)
	})
	err = g.Wait()
	logger.Info("dispatcher stopped")
	return err
}
