package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/ipsbridge/ipsbridge/internal/config"
)

func TestVerifyWith(t *testing.T) {
	c := config.Common{DatabaseURL: "postgres://x@localhost/db", LogLevel: "info", OIDCIssuer: "i", OIDCAudience: "a", JWKSFile: "/dev/null"}
	if err := c.VerifyWith(map[string]string{"IPSB_X_ADDR": "127.0.0.1:9101"}); err != nil {
		t.Fatalf("good settings: %v", err)
	}
	own := errors.New("IPSB_OWN: wrong")
	err := c.VerifyWith(map[string]string{"IPSB_B_ADDR": "nohost", "IPSB_A_ADDR": ":x:"}, nil, own)
	if err == nil {
		t.Fatal("bad addresses accepted")
	}
	msg := err.Error()
	// Every problem named, addresses in a stable order, the service's own too.
	if !strings.Contains(msg, "IPSB_A_ADDR") || !strings.Contains(msg, "IPSB_B_ADDR") || !errors.Is(err, own) ||
		strings.Index(msg, "IPSB_A_ADDR") > strings.Index(msg, "IPSB_B_ADDR") {
		t.Errorf("error %q", msg)
	}
	c.DatabaseURL = ""
	if err := c.VerifyWith(nil); err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("common settings not checked: %v", err)
	}
}
