package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authn/devkeys"
)

func TestToken(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	var out, errOut bytes.Buffer
	if err := run([]string{"-keys", dir, "-init"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	jwks := strings.TrimSpace(out.String())
	if !filepath.IsAbs(jwks) || jwks != devkeys.JWKSPath(dir) {
		t.Errorf("-init printed %q", jwks)
	}

	out.Reset()
	if err := run([]string{"-keys", dir, "-ttl", "1h", "employment_specialist", "mha-noord", "es-bram"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	v, err := authn.NewVerifier(context.Background(), authn.Config{
		Issuer: devkeys.DevIssuer, Audience: devkeys.DevAudience, JWKSFile: jwks,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	p, err := v.Verify(context.Background(), strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "es-bram" || p.OrgID != "mha-noord" || p.Role != "employment_specialist" ||
		p.Name != "Bram Jansen" || strings.Join(p.Teams, ",") != "noord-team-b" {
		t.Errorf("principal = %+v", p)
	}

	err = run([]string{"-keys", dir, "employment_specialist", "uwv-noord"}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "valid ROLE ORG pairs") ||
		!strings.Contains(err.Error(), "es-anna, es-bram") {
		t.Errorf("unknown pair: %v", err)
	}
	if err := run([]string{"-keys", dir, "clinician"}, &out, &errOut); err == nil {
		t.Error("missing ORG accepted")
	}
}
