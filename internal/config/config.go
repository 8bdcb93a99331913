// Package config reads the settings every IPS Bridge service shares from the
// environment, with defaults for the local setup, and checks them before
// anything starts.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/mtls"
)

// Common is embedded in each service's configuration.
type Common struct {
	// DatabaseURL is the owner role: it runs the migrations.
	DatabaseURL string `env:"DATABASE_URL"`
	// DatabaseRuntimeURL is the service's own runtime role, which owns
	// nothing; empty: derived from DatabaseURL (database.Open).
	DatabaseRuntimeURL string        `env:"IPSB_DATABASE_RUNTIME_URL"`
	DBMaxConns         int32         `env:"IPSB_DB_MAX_CONNS" envDefault:"16"`
	LogLevel           string        `env:"IPSB_LOG_LEVEL" envDefault:"info"`
	LogFormat          string        `env:"IPSB_LOG_FORMAT" envDefault:"json"`
	OIDCIssuer         string        `env:"IPSB_OIDC_ISSUER" envDefault:"ipsbridge-dev"`
	OIDCAudience       string        `env:"IPSB_OIDC_AUDIENCE" envDefault:"ipsbridge"`
	JWKSFile           string        `env:"IPSB_OIDC_JWKS_FILE"`
	JWKSURL            string        `env:"IPSB_OIDC_JWKS_URL"`
	TokenLeeway        time.Duration `env:"IPSB_OIDC_LEEWAY" envDefault:"30s"`
	// PolicyFiles are regional policy files (CSV, same format as the
	// default policy) by which a region tightens the default agreement.
	PolicyFiles []string `env:"IPSB_POLICY_FILES" envSeparator:","`
	// TLS is the service's identity on the internal hops (mutual TLS);
	// empty: plain gRPC.
	TLS mtls.Config
	// ShutdownGrace is how long in-flight requests get on SIGTERM.
	ShutdownGrace time.Duration `env:"IPSB_SHUTDOWN_GRACE" envDefault:"15s"`
	// ProfileAddr, when set, serves Go's profiles (net/http/pprof) there,
	// for an operator measuring where a request's time goes; keep it on
	// loopback.
	ProfileAddr string `env:"IPSB_PPROF_ADDR"`
}

// Load fills cfg (a struct embedding Common) from the environment.
func Load(cfg any) error {
	if err := env.Parse(cfg); err != nil {
		return fmt.Errorf("read configuration: %w", err)
	}
	return nil
}

// Verify reports settings that cannot work.
func (c Common) Verify() error {
	var errs []error
	if c.DatabaseURL == "" && c.DatabaseRuntimeURL == "" {
		errs = append(errs, errors.New("DATABASE_URL (the owner, for migrations) or IPSB_DATABASE_RUNTIME_URL is required"))
	}
	if err := c.TLS.Verify(); err != nil {
		errs = append(errs, fmt.Errorf("mutual TLS (IPSB_TLS_*): %w", err))
	}
	if err := c.Authn().Verify(); err != nil {
		errs = append(errs, fmt.Errorf("token verification (IPSB_OIDC_*): %w", err))
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Database is how the service reaches PostgreSQL.
func (c Common) Database() database.Access {
	return database.Access{OwnerURL: c.DatabaseURL, RuntimeURL: c.DatabaseRuntimeURL, MaxConns: c.DBMaxConns}
}

// VerifyWith is every service's Verify: the common settings, each named
// listen or dial address (host:port, keyed by its environment variable),
// and the service's own checks (nil for none), reported together.
func (c Common) VerifyWith(addrs map[string]string, own ...error) error {
	errs := []error{c.Verify()}
	for _, name := range slices.Sorted(maps.Keys(addrs)) {
		if _, _, err := net.SplitHostPort(addrs[name]); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %w", name, addrs[name], err))
		}
	}
	return errors.Join(append(errs, own...)...)
}

// Authn returns the token verifier's settings.
func (c Common) Authn() authn.Config {
	return authn.Config{Issuer: c.OIDCIssuer, Audience: c.OIDCAudience, JWKSFile: c.JWKSFile, JWKSURL: c.JWKSURL, Leeway: c.TokenLeeway}
}

// RegionalPolicies reads the regional policy files.
func (c Common) RegionalPolicies() ([]string, error) {
	var out []string
	for _, f := range c.PolicyFiles {
		b, err := os.ReadFile(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("read regional policy: %w", err)
		}
		out = append(out, string(b))
	}
	return out, nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("IPSB_LOG_LEVEL %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// Logger returns the service's structured logger.
func (c Common) Logger(service string) *slog.Logger {
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if c.LogFormat == "text" {
		h = slog.NewTextHandler(os.Stderr, opts)
	} else {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	return slog.New(h).With("service", service)
}
