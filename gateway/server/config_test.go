package server

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ipsbridge/ipsbridge/gateway/web"
)

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	want := Config{
		HTTPAddr:        "127.0.0.1:8080",
		GRPCAddr:        "127.0.0.1:9090",
		ClientsAddr:     "127.0.0.1:9101",
		OIDCIssuer:      "ipsbridge-dev",
		OIDCAudience:    "ipsbridge",
		OIDCLeeway:      30 * time.Second,
		ShutdownTimeout: 15 * time.Second,
		LogLevel:        slog.LevelInfo,
		LogFormat:       "json",
		Web:             web.Config{Enabled: true, SessionTTL: 8 * time.Hour, DevKeyDir: ".local/devkeys", OIDCScopes: "openid profile"},
	}
	if c != want {
		t.Errorf("DefaultConfig() = %+v, want %+v", c, want)
	}
	// The defaults lack only the key set.
	err := c.Verify()
	if err == nil || strings.Count(err.Error(), "\n") != 0 || !strings.Contains(err.Error(), "IPSB_OIDC_JWKS_FILE") {
		t.Errorf("Verify() of defaults = %v", err)
	}
	c.JWKSFile = "/keys/jwks.json"
	if err := c.Verify(); err != nil {
		t.Errorf("Verify() = %v", err)
	}
}

func TestLoadConfig(t *testing.T) {
	t.Setenv("IPSB_GATEWAY_HTTP_ADDR", ":8081")
	t.Setenv("IPSB_EMPLOYMENT_ADDR", "employment:9102")
	t.Setenv("IPSB_OIDC_JWKS_URL", "https://idp.example/jwks")
	t.Setenv("IPSB_LOG_LEVEL", "debug")
	t.Setenv("IPSB_OIDC_LEEWAY", "1m")
	c, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTPAddr != ":8081" || c.EmploymentAddr != "employment:9102" || c.JWKSURL != "https://idp.example/jwks" ||
		c.LogLevel != slog.LevelDebug || c.OIDCLeeway != time.Minute || c.GRPCAddr != "127.0.0.1:9090" {
		t.Errorf("LoadConfig() = %+v", c)
	}
	if err := c.Verify(); err != nil {
		t.Errorf("Verify() = %v", err)
	}

	t.Setenv("IPSB_LOG_LEVEL", "loud")
	if _, err := LoadConfig(); err == nil {
		t.Error("bad log level accepted")
	}
}

func TestConfigVerify(t *testing.T) {
	base := DefaultConfig()
	base.JWKSFile = "/keys/jwks.json"
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"both key sources", func(c *Config) { c.JWKSURL = "https://idp/jwks" }, "only one of"},
		{"http JWKS URL", func(c *Config) { c.JWKSFile, c.JWKSURL = "", "http://idp.example/jwks" }, "must be https"},
		{"no clients", func(c *Config) { c.ClientsAddr = "" }, "IPSB_CLIENTS_ADDR is required"},
		{"bad address", func(c *Config) { c.BenefitsAddr = "benefits" }, `IPSB_BENEFITS_ADDR "benefits" is not host:port`},
		{"same listeners", func(c *Config) { c.GRPCAddr = c.HTTPAddr }, "both"},
		{"no issuer", func(c *Config) { c.OIDCIssuer = "" }, "IPSB_OIDC_ISSUER is required"},
		{"no audience", func(c *Config) { c.OIDCAudience = "" }, "IPSB_OIDC_AUDIENCE is required"},
		{"leeway", func(c *Config) { c.OIDCLeeway = time.Hour }, "IPSB_OIDC_LEEWAY"},
		{"shutdown", func(c *Config) { c.ShutdownTimeout = 0 }, "IPSB_GATEWAY_SHUTDOWN_TIMEOUT"},
		{"log format", func(c *Config) { c.LogFormat = "xml" }, "IPSB_LOG_FORMAT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.edit(&c)
			if err := c.Verify(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Verify() = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestRoute(t *testing.T) {
	c := DefaultConfig()
	c.BenefitsAddr = "127.0.0.1:9103"
	bs, err := dialBackends(c.services(), c.TLS)
	if err != nil {
		t.Fatal(err)
	}
	defer closeBackends(bs)
	if len(bs) != 2 {
		t.Fatalf("%d backends, want clients and benefits", len(bs))
	}
	for method, want := range map[string]string{
		"/ipsbridge.clients.v1.ClientsService/GetClient":            "clients",
		"/ipsbridge.benefits.v1.BenefitsService/Get":                "benefits",
		"/ipsbridge.employment.v1.EmploymentService/Get":            "",
		"/ipsbridge.clientsx.v1.Other/Get":                          "",
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": "",
	} {
		got := ""
		if b := route(bs, method); b != nil {
			got = b.name
		}
		if got != want {
			t.Errorf("route(%s) = %q, want %q", method, got, want)
		}
	}
}

func TestValidRequestID(t *testing.T) {
	for id, want := range map[string]bool{
		"abc":                    true,
		"A-Z_0.9":                true,
		strings.Repeat("x", 128): true,
		strings.Repeat("x", 129): false,
		"":                       false,
		"a b":                    false,
		"a/b":                    false,
		"é":                      false,
		"id\n":                   false,
	} {
		if got := validRequestID(id); got != want {
			t.Errorf("validRequestID(%q) = %v", id, got)
		}
	}
}
