package web

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authn/devkeys"
)

// Issue 14, finding 10: cookies are Secure (and __Host-) by default, also
// when no https public URL is configured (the Kubernetes configuration
// sets none); only a local setup that says it serves plain http drops it.
func TestCookiesSecureByDefault(t *testing.T) {
	dir := t.TempDir()
	if err := devkeys.Ensure(dir); err != nil {
		t.Fatal(err)
	}
	v, err := authn.NewVerifier(context.Background(), authn.Config{Issuer: devkeys.DevIssuer, Audience: devkeys.DevAudience,
		JWKSFile: devkeys.JWKSPath(dir), Leeway: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	conn, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	for _, c := range []struct {
		cfg    Config
		secure bool
	}{
		{Config{Enabled: true, SessionTTL: time.Hour}, true},
		{Config{Enabled: true, SessionTTL: time.Hour, PublicURL: "http://ips.example.org"}, true},
		{Config{Enabled: true, SessionTTL: time.Hour, PublicURL: "https://ips.example.org"}, true},
		{Config{Enabled: true, SessionTTL: time.Hour, DevLogin: true, DevKeyDir: dir, InsecureCookies: true}, false},
	} {
		h, err := New(context.Background(), Deps{Config: c.cfg, Clients: conn, Verifier: v})
		if err != nil {
			t.Fatal(err)
		}
		w := httptest.NewRecorder()
		if err := h.saveSession(w, &session{Token: "tok", Expires: time.Now().Add(time.Hour).Unix(), CSRF: "c"}); err != nil {
			t.Fatal(err)
		}
		ck := w.Result().Cookies()[0]
		if ck.Secure != c.secure || strings.HasPrefix(ck.Name, "__Host-") != c.secure {
			t.Errorf("%+v: cookie %s Secure %v, want %v", c.cfg, ck.Name, ck.Secure, c.secure)
		}
	}
	if err := (Config{Enabled: true, SessionTTL: time.Hour, PublicURL: "https://ips.example.org", InsecureCookies: true}).Verify(true); err == nil {
		t.Errorf("insecure cookies with an https public URL accepted")
	}
}
