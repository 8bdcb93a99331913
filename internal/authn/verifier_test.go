package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"go.uber.org/goleak"

	"github.com/ipsbridge/ipsbridge/internal/authn/devkeys"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	testIssuer   = "https://idp.example.test"
	testAudience = "ipsbridge"
)

// signer is a private key with its kid, standing in for an OIDC provider.
type signer struct {
	alg jwa.SignatureAlgorithm
	key jwk.Key
}

func newES256(t testing.TB, kid string) signer {
	t.Helper()
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return importSigner(t, raw, kid, jwa.ES256())
}

func newEdDSA(t testing.TB, kid string) signer {
	t.Helper()
	_, raw, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return importSigner(t, raw, kid, jwa.EdDSA())
}

func importSigner(t testing.TB, raw any, kid string, alg jwa.SignatureAlgorithm) signer {
	t.Helper()
	key, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := key.Set(jwk.KeyIDKey, kid); err != nil {
		t.Fatal(err)
	}
	return signer{alg: alg, key: key}
}

func (s signer) public(t testing.TB) jwk.Key {
	t.Helper()
	pub, err := s.key.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// sign signs claims as they are, so tests can leave out or break any claim.
func (s signer) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.Sign(payload, jws.WithKey(s.alg, s.key))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func writeJWKS(t testing.TB, keys ...jwk.Key) string {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		if err := set.AddKey(k); err != nil {
			t.Fatal(err)
		}
	}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func validClaims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss":   testIssuer,
		"aud":   []string{testAudience, "other"},
		"sub":   "es-anna",
		"name":  "Anna de Vries",
		"org":   "mha-noord",
		"role":  "employment_specialist",
		"teams": []string{"noord-team-a"},
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
	}
}

func with(claims map[string]any, key string, val any) map[string]any {
	if val == nil {
		delete(claims, key)
	} else {
		claims[key] = val
	}
	return claims
}

func newFileVerifier(t testing.TB, keys ...jwk.Key) *Verifier {
	t.Helper()
	v, err := NewVerifier(context.Background(), Config{
		Issuer:   testIssuer,
		Audience: testAudience,
		JWKSFile: writeJWKS(t, keys...),
		Leeway:   30 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

func TestVerifyValidToken(t *testing.T) {
	s := newES256(t, "k1")
	other := newEdDSA(t, "k2")
	v := newFileVerifier(t, s.public(t), other.public(t))

	raw := s.sign(t, with(validClaims(), "act", map[string]any{"sub": "person-7"}))
	p, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := Principal{
		Subject:    "es-anna",
		Name:       "Anna de Vries",
		OrgID:      "mha-noord",
		Role:       "employment_specialist",
		Teams:      []string{"noord-team-a"},
		OnBehalfOf: "person-7",
		Token:      raw,
	}
	if p.Subject != want.Subject || p.Name != want.Name || p.OrgID != want.OrgID || p.Role != want.Role ||
		strings.Join(p.Teams, ",") != strings.Join(want.Teams, ",") || p.OnBehalfOf != want.OnBehalfOf || p.Token != want.Token {
		t.Errorf("principal = %+v, want %+v", p, want)
	}

	// The second key of the set verifies its own tokens; a single audience
	// string is as good as an array.
	p, err = v.Verify(context.Background(), other.sign(t, with(validClaims(), "aud", testAudience)))
	if err != nil {
		t.Fatalf("Verify EdDSA: %v", err)
	}
	if p.Subject != "es-anna" {
		t.Errorf("subject = %q", p.Subject)
	}
}

func TestVerifyWithinLeeway(t *testing.T) {
	s := newES256(t, "k1")
	v := newFileVerifier(t, s.public(t))
	now := time.Now()
	claims := validClaims()
	claims["exp"] = now.Add(-10 * time.Second).Unix()
	claims["nbf"] = now.Add(10 * time.Second).Unix()
	if _, err := v.Verify(context.Background(), s.sign(t, claims)); err != nil {
		t.Fatalf("token within leeway rejected: %v", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	s := newES256(t, "k1")
	forger := newES256(t, "k1")   // same kid, different key
	stranger := newES256(t, "k9") // kid not in the set
	v := newFileVerifier(t, s.public(t))
	now := time.Now()

	valid := s.sign(t, validClaims())
	parts := strings.Split(valid, ".")
	tampered := func() string {
		claims := validClaims()
		claims["role"] = "ips_supervisor"
		payload, _ := json.Marshal(claims)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + parts[2]
	}()
	unsigned := func(header string) string {
		payload, _ := json.Marshal(validClaims())
		return base64.RawURLEncoding.EncodeToString([]byte(header)) + "." +
			base64.RawURLEncoding.EncodeToString(payload) + "."
	}
	// HS256 with the public key as the HMAC secret: the classic confusion.
	hmacWithPublicKey := func() string {
		pubJSON, _ := json.Marshal(s.public(t))
		payload, _ := json.Marshal(validClaims())
		hdr := jws.NewHeaders()
		_ = hdr.Set(jws.KeyIDKey, "k1")
		out, err := jws.Sign(payload, jws.WithKey(jwa.HS256(), pubJSON, jws.WithProtectedHeaders(hdr)))
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}()

	tests := []struct {
		name  string
		token string
		want  string
	}{
		{"expired", s.sign(t, with(validClaims(), "exp", now.Add(-time.Hour).Unix())), "token expired"},
		{"not yet valid", s.sign(t, with(validClaims(), "nbf", now.Add(time.Hour).Unix())), "token not yet valid"},
		{"issued in the future", s.sign(t, with(validClaims(), "iat", now.Add(time.Hour).Unix())), "token issued in the future"},
		{"no exp", s.sign(t, with(validClaims(), "exp", nil)), "token lacks claim exp"},
		{"wrong issuer", s.sign(t, with(validClaims(), "iss", "https://evil.example")), `token issuer "https://evil.example" is not "https://idp.example.test"`},
		{"no issuer", s.sign(t, with(validClaims(), "iss", nil)), "token lacks claim iss"},
		{"wrong audience", s.sign(t, with(validClaims(), "aud", []string{"someone-else"})), `token audience "someone-else" is not "ipsbridge"`},
		{"no audience", s.sign(t, with(validClaims(), "aud", nil)), "token lacks claim aud"},
		{"forged with another key", forger.sign(t, validClaims()), "token signature invalid"},
		{"unknown key", stranger.sign(t, validClaims()), `token signed by unknown key "k9"`},
		{"tampered payload", tampered, "token signature invalid"},
		{"alg none", unsigned(`{"alg":"none","kid":"k1"}`), "token algorithm none is not allowed"},
		{"alg none without kid", unsigned(`{"alg":"none"}`), "token algorithm none is not allowed"},
		{"hmac with public key", hmacWithPublicKey, `token algorithm "HS256" is not accepted`},
		{"signature stripped", parts[0] + "." + parts[1] + ".", "token signature missing"},
		{"missing sub", s.sign(t, with(validClaims(), "sub", nil)), "token lacks claim sub"},
		{"missing org", s.sign(t, with(validClaims(), "org", nil)), "token lacks claim org"},
		{"empty org", s.sign(t, with(validClaims(), "org", "")), "token lacks claim org"},
		{"missing role", s.sign(t, with(validClaims(), "role", nil)), "token lacks claim role"},
		{"org not a string", s.sign(t, with(validClaims(), "org", 42)), "token claim org is not a string"},
		{"teams not strings", s.sign(t, with(validClaims(), "teams", []any{"a", 1})), "token claim teams is not an array of strings"},
		{"teams a string", s.sign(t, with(validClaims(), "teams", "a")), "token claim teams is not an array of strings"},
		{"act without sub", s.sign(t, with(validClaims(), "act", map[string]any{"iss": "x"})), "token claim act lacks sub"},
		{"garbage", "not-a-token", "token malformed: not a compact JWS"},
		{"bad base64", "a.b.c", "token malformed"},
		{"too large", strings.Repeat("a", MaxTokenSize+1), "token too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tt.token)
			if err == nil {
				t.Fatal("token accepted")
			}
			if !errors.Is(err, ErrInvalidToken) {
				t.Errorf("error %v does not match ErrInvalidToken", err)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
		})
	}

	if _, err := v.Verify(context.Background(), ""); !errors.Is(err, ErrMissingToken) {
		t.Errorf("empty token: %v, want ErrMissingToken", err)
	}
}

// A token without kid is accepted only when the key set has one key.
func TestVerifyWithoutKid(t *testing.T) {
	s := newES256(t, "k1")
	anon := signer{alg: s.alg, key: s.key}
	noKid, err := s.key.Clone()
	if err != nil {
		t.Fatal(err)
	}
	_ = noKid.Remove(jwk.KeyIDKey)
	anon.key = noKid
	raw := anon.sign(t, validClaims())

	if _, err := newFileVerifier(t, s.public(t)).Verify(context.Background(), raw); err != nil {
		t.Errorf("single-key set: %v", err)
	}
	_, err = newFileVerifier(t, s.public(t), newES256(t, "k2").public(t)).Verify(context.Background(), raw)
	if err == nil || err.Error() != "token lacks header kid" {
		t.Errorf("two-key set: %v, want token lacks header kid", err)
	}
}

func TestConfigVerify(t *testing.T) {
	ok := Config{Issuer: "i", Audience: "a", JWKSFile: "/x"}
	if err := ok.Verify(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no issuer", Config{Audience: "a", JWKSFile: "/x"}, "issuer is required"},
		{"no audience", Config{Issuer: "i", JWKSFile: "/x"}, "audience is required"},
		{"no keys", Config{Issuer: "i", Audience: "a"}, "one of JWKS URL and JWKS file is required"},
		{"both keys", Config{Issuer: "i", Audience: "a", JWKSFile: "/x", JWKSURL: "https://idp/jwks"}, "only one of"},
		{"plain http", Config{Issuer: "i", Audience: "a", JWKSURL: "http://idp.example/jwks"}, "must be https"},
		{"negative leeway", Config{Issuer: "i", Audience: "a", JWKSFile: "/x", Leeway: -time.Second}, "leeway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Verify()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Verify() = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	if err := (Config{Issuer: "i", Audience: "a", JWKSURL: "http://127.0.0.1:1/jwks"}).Verify(); err != nil {
		t.Errorf("http on loopback rejected: %v", err)
	}
}

func TestNewVerifierBadFile(t *testing.T) {
	_, err := NewVerifier(context.Background(), Config{Issuer: "i", Audience: "a", JWKSFile: filepath.Join(t.TempDir(), "missing.json")})
	if err == nil || !strings.Contains(err.Error(), "reading JWKS file") {
		t.Errorf("missing file: %v", err)
	}
}

// The key set fetched from a URL is used, and a token signed with a key
// the provider rotated in is accepted after a refresh.
func TestVerifyJWKSURL(t *testing.T) {
	first := newES256(t, "k1")
	second := newES256(t, "k2")
	var current atomic.Value
	current.Store([]jwk.Key{first.public(t)})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		set := jwk.NewSet()
		for _, k := range current.Load().([]jwk.Key) {
			_ = set.AddKey(k)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(set)
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := NewVerifier(ctx, Config{Issuer: testIssuer, Audience: testAudience, JWKSURL: srv.URL + "/jwks"})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()

	if _, err := v.Verify(ctx, first.sign(t, validClaims())); err != nil {
		t.Fatalf("first key: %v", err)
	}
	current.Store([]jwk.Key{first.public(t), second.public(t)})
	if _, err := v.Verify(ctx, second.sign(t, validClaims())); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	// Forced refreshes are rate limited: an unknown kid right after does not
	// fetch again, and is simply refused.
	if _, err := v.Verify(ctx, newES256(t, "k3").sign(t, validClaims())); err == nil || !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("unknown key: %v", err)
	}
}

func TestNewVerifierUnreachableURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/jwks"
	srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := NewVerifier(ctx, Config{Issuer: "i", Audience: "a", JWKSURL: url})
	if err == nil {
		v.Close()
		t.Fatal("NewVerifier succeeded without a reachable key set")
	}
}

// Tokens from the dev signing key verify against its jwks.json.
func TestDevKeys(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "devkeys")
	if err := devkeys.Ensure(dir); err != nil {
		t.Fatal(err)
	}
	priv, err := os.Stat(filepath.Join(dir, devkeys.PrivateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if priv.Mode().Perm() != 0o600 {
		t.Errorf("private key mode = %v, want 0600", priv.Mode().Perm())
	}
	pub, err := os.Stat(devkeys.JWKSPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if pub.Mode().Perm() != 0o644 {
		t.Errorf("public key set mode = %v, want 0644", pub.Mode().Perm())
	}
	before, _ := os.ReadFile(devkeys.JWKSPath(dir))
	if err := devkeys.Ensure(dir); err != nil {
		t.Fatal(err)
	}
	if after, _ := os.ReadFile(devkeys.JWKSPath(dir)); string(after) != string(before) {
		t.Error("second Ensure changed the key set")
	}
	if strings.Contains(string(before), `"d"`) {
		t.Error("public key set contains private key material")
	}

	raw, err := devkeys.Sign(dir, devkeys.Claims{
		Subject: "uwv-system", Name: "UWV koppelvlak", Org: "uwv-noord", Role: "partner_system",
		Teams: []string{"t1", "t2"}, OnBehalfOf: "uwv-gijs",
	}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := jws.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if kid, ok := msg.Signatures()[0].ProtectedHeaders().KeyID(); !ok || kid == "" {
		t.Error("dev token has no kid header")
	}
	v, err := NewVerifier(context.Background(), Config{
		Issuer: devkeys.DevIssuer, Audience: devkeys.DevAudience, JWKSFile: devkeys.JWKSPath(dir),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	p, err := v.Verify(context.Background(), raw)
	if err != nil {
		t.Fatal(err)
	}
	if p.Subject != "uwv-system" || p.OrgID != "uwv-noord" || p.Role != "partner_system" ||
		p.Name != "UWV koppelvlak" || p.OnBehalfOf != "uwv-gijs" || strings.Join(p.Teams, ",") != "t1,t2" {
		t.Errorf("principal = %+v", p)
	}

	// Overridden audience: refused by a verifier for the dev audience.
	raw, err = devkeys.Sign(dir, devkeys.Claims{Subject: "s", Org: "o", Role: "r", Audience: "elsewhere"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), raw); err == nil || !strings.Contains(err.Error(), "audience") {
		t.Errorf("other audience: %v", err)
	}
	if _, err := devkeys.Sign(dir, devkeys.Claims{Subject: "s"}, time.Hour); err == nil {
		t.Error("Sign without org and role succeeded")
	}
}

func FuzzVerify(f *testing.F) {
	s := newES256(f, "k1")
	v := newFileVerifier(f, s.public(f))
	valid := s.sign(f, validClaims())
	parts := strings.Split(valid, ".")
	f.Add(valid)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("a.b.c")
	f.Add("...")
	f.Add("")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","kid":"k1","crit":["x"]}`)) + "." + parts[1] + "." + parts[2])
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := v.Verify(context.Background(), raw)
		if err == nil && raw != valid {
			// Anything else that verifies must still be a complete principal.
			if p.Subject == "" || p.OrgID == "" || p.Role == "" {
				t.Fatalf("accepted incomplete principal %+v", p)
			}
		}
	})
}
