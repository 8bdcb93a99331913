// Package devkeys holds the signing key of the local setup: it plays the
// OpenID Connect provider, so that scripts/token can hand out bearer tokens
// that the gateway and the services verify exactly like real ones (against
// the public jwks.json, with IPSB_OIDC_JWKS_FILE). Never use it in
// production: the private key sits unencrypted on disk.
package devkeys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// Defaults of the local setup; the gateway's and services' IPSB_OIDC_ISSUER
// and IPSB_OIDC_AUDIENCE default to the same values.
const (
	DevIssuer   = "ipsbridge-dev"
	DevAudience = "ipsbridge"
)

// File names inside the key directory.
const (
	PrivateKeyFile = "signing-key.jwk.json"
	PublicKeyFile  = "jwks.json"
)

// Claims are the claims of a dev token. Issuer and Audience default to
// DevIssuer and DevAudience.
type Claims struct {
	Subject    string
	Name       string
	Org        string
	Role       string
	Teams      []string
	OnBehalfOf string
	Issuer     string
	Audience   string
	// IssuedAt backdates the token (tests of expired tokens); now when zero.
	IssuedAt time.Time
}

// JWKSPath is the public key set in dir, for IPSB_OIDC_JWKS_FILE.
func JWKSPath(dir string) string { return filepath.Join(dir, PublicKeyFile) }

// Ensure creates, on first run, an ES256 private key (0600) and the public
// key set (0644) in dir. Later runs keep the key, so tokens stay valid
// across restarts, and rewrite the public set only if it is missing.
// Concurrent first runs agree on one key.
func Ensure(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating key directory: %w", err)
	}
	privPath := filepath.Join(dir, PrivateKeyFile)
	if _, err := os.Stat(privPath); errors.Is(err, os.ErrNotExist) {
		if err := createPrivateKey(privPath); err != nil {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("checking signing key: %w", err)
	}
	key, err := readPrivateKey(dir)
	if err != nil {
		return err
	}
	pubPath := JWKSPath(dir)
	if existing, err := jwk.ReadFile(pubPath); err == nil {
		kid, _ := key.KeyID()
		if _, ok := existing.LookupKeyID(kid); ok {
			return nil
		}
	}
	return writePublicSet(pubPath, key)
}

func createPrivateKey(path string) error {
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating signing key: %w", err)
	}
	key, err := jwk.Import(raw)
	if err != nil {
		return fmt.Errorf("importing signing key: %w", err)
	}
	if err := jwk.AssignKeyID(key); err != nil {
		return fmt.Errorf("assigning key id: %w", err)
	}
	if err := key.Set(jwk.AlgorithmKey, jwa.ES256()); err != nil {
		return fmt.Errorf("setting key algorithm: %w", err)
	}
	if err := key.Set(jwk.KeyUsageKey, jwk.ForSignature); err != nil {
		return fmt.Errorf("setting key use: %w", err)
	}
	data, err := json.MarshalIndent(key, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding signing key: %w", err)
	}
	// Write aside, then link into place: link fails if another process
	// created the key meanwhile, and then its key wins.
	tmp, err := writeTemp(filepath.Dir(path), data, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("installing signing key: %w", err)
	}
	return nil
}

func writePublicSet(path string, key jwk.Key) error {
	pub, err := key.PublicKey()
	if err != nil {
		return fmt.Errorf("deriving public key: %w", err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		return fmt.Errorf("building key set: %w", err)
	}
	data, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding key set: %w", err)
	}
	tmp, err := writeTemp(filepath.Dir(path), data, 0o644)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("installing key set: %w", err)
	}
	return nil
}

func writeTemp(dir string, data []byte, mode os.FileMode) (string, error) {
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", fmt.Errorf("creating temporary file: %w", err)
	}
	name := f.Name()
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("writing %s: %w", name, err)
	}
	return name, nil
}

func readPrivateKey(dir string) (jwk.Key, error) {
	data, err := os.ReadFile(filepath.Join(dir, PrivateKeyFile))
	if err != nil {
		return nil, fmt.Errorf("reading signing key: %w", err)
	}
	key, err := jwk.ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("parsing signing key: %w", err)
	}
	if private, err := jwk.IsPrivateKey(key); err != nil || !private {
		return nil, fmt.Errorf("%s is not a private key", PrivateKeyFile)
	}
	if _, ok := key.KeyID(); !ok {
		return nil, fmt.Errorf("%s has no key id", PrivateKeyFile)
	}
	return key, nil
}

// Sign returns a token for claims, valid for ttl, signed with the key in dir
// (created if missing). The header carries the key's kid.
func Sign(dir string, claims Claims, ttl time.Duration) (string, error) {
	if claims.Subject == "" || claims.Org == "" || claims.Role == "" {
		return "", errors.New("subject, org and role are required")
	}
	if ttl <= 0 {
		return "", fmt.Errorf("ttl %s is not positive", ttl)
	}
	if err := Ensure(dir); err != nil {
		return "", err
	}
	key, err := readPrivateKey(dir)
	if err != nil {
		return "", err
	}
	iss, aud := claims.Issuer, claims.Audience
	if iss == "" {
		iss = DevIssuer
	}
	if aud == "" {
		aud = DevAudience
	}
	now := claims.IssuedAt
	if now.IsZero() {
		now = time.Now()
	}
	b := jwt.NewBuilder().
		Issuer(iss).
		Audience([]string{aud}).
		Subject(claims.Subject).
		IssuedAt(now).
		NotBefore(now).
		Expiration(now.Add(ttl)).
		JwtID(uuid.NewString()).
		Claim("org", claims.Org).
		Claim("role", claims.Role)
	if claims.Name != "" {
		b = b.Claim("name", claims.Name)
	}
	if len(claims.Teams) > 0 {
		b = b.Claim("teams", claims.Teams)
	}
	if claims.OnBehalfOf != "" {
		b = b.Claim("act", map[string]any{"sub": claims.OnBehalfOf})
	}
	tok, err := b.Build()
	if err != nil {
		return "", fmt.Errorf("building token: %w", err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), key))
	if err != nil {
		return "", fmt.Errorf("signing token: %w", err)
	}
	return string(signed), nil
}
