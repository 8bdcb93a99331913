package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/ipsbridge/ipsbridge/gateway/web"
	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/mtls"
)

// Config is the gateway's configuration, read from the environment.
type Config struct {
	// HTTPAddr serves REST/JSON, /openapi.json, /healthz and /readyz.
	HTTPAddr string `env:"IPSB_GATEWAY_HTTP_ADDR" envDefault:"127.0.0.1:8080"`
	// GRPCAddr serves gRPC for every service, proxied to the backends.
	GRPCAddr string `env:"IPSB_GATEWAY_GRPC_ADDR" envDefault:"127.0.0.1:9090"`
	// ProfileAddr, when set, serves Go's profiles there (loopback only).
	ProfileAddr string `env:"IPSB_PPROF_ADDR"`

	// Backend addresses; empty means the service is not deployed.
	ClientsAddr    string `env:"IPSB_CLIENTS_ADDR" envDefault:"127.0.0.1:9101"`
	EmploymentAddr string `env:"IPSB_EMPLOYMENT_ADDR"`
	BenefitsAddr   string `env:"IPSB_BENEFITS_ADDR"`
	// EventsAddr is the events service (subscriptions, dead letters, the
	// pull feed); it listens on 127.0.0.1:9104 by default.
	EventsAddr string `env:"IPSB_EVENTS_ADDR"`
	// FundingAddr is the funding service (agreements, trajectory
	// applications, claims); it listens on 127.0.0.1:9106 by default.
	FundingAddr string `env:"IPSB_FUNDING_ADDR"`
	// FidelityAddr is the fidelity service (reviews, measured items); it
	// listens on 127.0.0.1:9107 by default.
	FidelityAddr string `env:"IPSB_FIDELITY_ADDR"`

	// OIDC token verification; exactly one of JWKSFile and JWKSURL.
	OIDCIssuer   string        `env:"IPSB_OIDC_ISSUER" envDefault:"ipsbridge-dev"`
	OIDCAudience string        `env:"IPSB_OIDC_AUDIENCE" envDefault:"ipsbridge"`
	JWKSFile     string        `env:"IPSB_OIDC_JWKS_FILE"`
	JWKSURL      string        `env:"IPSB_OIDC_JWKS_URL"`
	OIDCLeeway   time.Duration `env:"IPSB_OIDC_LEEWAY" envDefault:"30s"`

	// ShutdownTimeout bounds the graceful shutdown of both listeners.
	ShutdownTimeout time.Duration `env:"IPSB_GATEWAY_SHUTDOWN_TIMEOUT" envDefault:"15s"`
	// LogLevel is debug, info, warn or error.
	LogLevel slog.Level `env:"IPSB_LOG_LEVEL" envDefault:"info"`
	// LogFormat is json (for log collectors) or text (for people).
	LogFormat string `env:"IPSB_LOG_FORMAT" envDefault:"json"`

	// Web configures the pages under /ui/ (IPSB_WEB_*).
	Web web.Config
	// TLS is the gateway's identity towards the services (mutual TLS,
	// IPSB_TLS_*); empty: plain gRPC to them.
	TLS mtls.Config
}

// DefaultConfig returns the defaults, as if the environment were empty.
func DefaultConfig() Config {
	var c Config
	if err := env.ParseWithOptions(&c, env.Options{Environment: map[string]string{}}); err != nil {
		panic(fmt.Sprintf("gateway config defaults: %v", err)) // a broken tag, caught by tests
	}
	return c
}

// LoadConfig reads the configuration from the environment over the
// defaults. Call Verify on the result.
func LoadConfig() (Config, error) {
	var c Config
	if err := env.Parse(&c); err != nil {
		return Config{}, fmt.Errorf("reading environment: %w", err)
	}
	return c, nil
}

// Verify reports every setting that cannot work, so that one start shows
// all of them.
func (c Config) Verify() error {
	var errs []error
	if err := c.TLS.Verify(); err != nil {
		errs = append(errs, fmt.Errorf("mutual TLS (IPSB_TLS_*): %w", err))
	}
	for _, a := range []struct{ name, addr string }{
		{"IPSB_GATEWAY_HTTP_ADDR", c.HTTPAddr},
		{"IPSB_GATEWAY_GRPC_ADDR", c.GRPCAddr},
		{"IPSB_CLIENTS_ADDR", c.ClientsAddr},
	} {
		if a.addr == "" {
			errs = append(errs, fmt.Errorf("%s is required", a.name))
		}
	}
	for _, a := range []struct{ name, addr string }{
		{"IPSB_GATEWAY_HTTP_ADDR", c.HTTPAddr},
		{"IPSB_GATEWAY_GRPC_ADDR", c.GRPCAddr},
		{"IPSB_CLIENTS_ADDR", c.ClientsAddr},
		{"IPSB_EMPLOYMENT_ADDR", c.EmploymentAddr},
		{"IPSB_BENEFITS_ADDR", c.BenefitsAddr},
		{"IPSB_EVENTS_ADDR", c.EventsAddr},
		{"IPSB_FIDELITY_ADDR", c.FidelityAddr},
	} {
		if a.addr == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(a.addr); err != nil || port == "" {
			errs = append(errs, fmt.Errorf("%s %q is not host:port", a.name, a.addr))
		}
	}
	if c.HTTPAddr != "" && c.HTTPAddr == c.GRPCAddr {
		errs = append(errs, fmt.Errorf("IPSB_GATEWAY_HTTP_ADDR and IPSB_GATEWAY_GRPC_ADDR are both %q", c.HTTPAddr))
	}
	if c.OIDCIssuer == "" {
		errs = append(errs, errors.New("IPSB_OIDC_ISSUER is required"))
	}
	if c.OIDCAudience == "" {
		errs = append(errs, errors.New("IPSB_OIDC_AUDIENCE is required"))
	}
	switch {
	case c.JWKSFile == "" && c.JWKSURL == "":
		errs = append(errs, errors.New("one of IPSB_OIDC_JWKS_FILE and IPSB_OIDC_JWKS_URL is required (for the local setup: IPSB_OIDC_JWKS_FILE=.local/devkeys/jwks.json, made by scripts/token -init)"))
	case c.JWKSFile != "" && c.JWKSURL != "":
		errs = append(errs, errors.New("set only one of IPSB_OIDC_JWKS_FILE and IPSB_OIDC_JWKS_URL"))
	case c.JWKSURL != "":
		// Only the URL is in question here; the rest is checked above.
		urlOnly := authn.Config{Issuer: "-", Audience: "-", JWKSURL: c.JWKSURL}
		if err := urlOnly.Verify(); err != nil {
			errs = append(errs, fmt.Errorf("IPSB_OIDC_JWKS_URL: %w", err))
		}
	}
	if c.OIDCLeeway < 0 || c.OIDCLeeway > 5*time.Minute {
		errs = append(errs, fmt.Errorf("IPSB_OIDC_LEEWAY %s is not between 0s and 5m", c.OIDCLeeway))
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		errs = append(errs, fmt.Errorf("IPSB_LOG_FORMAT %q is not json or text", c.LogFormat))
	}
	if err := c.Web.Verify(c.JWKSFile != ""); err != nil {
		errs = append(errs, err)
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("IPSB_GATEWAY_SHUTDOWN_TIMEOUT %s must be positive", c.ShutdownTimeout))
	}
	return errors.Join(errs...)
}

// NewLogger returns the logger the configuration asks for, writing to w.
func (c Config) NewLogger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func (c Config) authn() authn.Config {
	return authn.Config{
		Issuer:   c.OIDCIssuer,
		Audience: c.OIDCAudience,
		JWKSFile: c.JWKSFile,
		JWKSURL:  c.JWKSURL,
		Leeway:   c.OIDCLeeway,
	}
}
