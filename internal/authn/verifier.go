package authn

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// MaxTokenSize bounds the bearer tokens we are willing to parse; real ones
// are well under 2 KiB, so anything larger is refused before any decoding.
const MaxTokenSize = 8 << 10

// ErrInvalidToken is matched (errors.Is) by every error Verify returns for a
// token that is malformed, forged, expired or otherwise unacceptable. Other
// errors mean the token could not be checked at all (key set unavailable).
var ErrInvalidToken = errors.New("invalid token")

// ErrMissingToken is returned when a request carries no bearer token.
var ErrMissingToken = errors.New("missing bearer token")

// tokenError carries a reason that is safe to send back to the caller: it
// never includes the token, key material or anything else secret.
type tokenError struct{ reason string }

func (e *tokenError) Error() string        { return e.reason }
func (e *tokenError) Is(target error) bool { return target == ErrInvalidToken }

func invalid(format string, args ...any) error {
	return &tokenError{reason: fmt.Sprintf(format, args...)}
}

// Config says which tokens a Verifier accepts.
type Config struct {
	// Issuer is the required "iss" claim.
	Issuer string
	// Audience must be one of the token's "aud" values.
	Audience string
	// JWKSURL is the OIDC provider's jwks_uri; the key set is cached and
	// refreshed in the background. Exactly one of JWKSURL and JWKSFile.
	JWKSURL string
	// JWKSFile is a local key set, read once (the dev signing key).
	JWKSFile string
	// Leeway is the clock skew tolerated on exp, nbf and iat.
	Leeway time.Duration
}

// Verify reports a configuration that cannot work.
func (c Config) Verify() error {
	var errs []error
	if c.Issuer == "" {
		errs = append(errs, errors.New("issuer is required"))
	}
	if c.Audience == "" {
		errs = append(errs, errors.New("audience is required"))
	}
	switch {
	case c.JWKSURL == "" && c.JWKSFile == "":
		errs = append(errs, errors.New("one of JWKS URL and JWKS file is required"))
	case c.JWKSURL != "" && c.JWKSFile != "":
		errs = append(errs, errors.New("only one of JWKS URL and JWKS file may be set"))
	case c.JWKSURL != "":
		if err := checkJWKSURL(c.JWKSURL); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Leeway < 0 || c.Leeway > 5*time.Minute {
		errs = append(errs, fmt.Errorf("leeway %s is not between 0 and 5m", c.Leeway))
	}
	return errors.Join(errs...)
}

// checkJWKSURL allows plain http only on the loopback interface: keys fetched
// over an unauthenticated channel could be swapped by anyone on the path.
func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("JWKS URL: %w", err)
	}
	switch {
	case u.Scheme == "https" && u.Host != "":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	default:
		return fmt.Errorf("JWKS URL %q must be https (http only for localhost)", raw)
	}
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// acceptedAlgorithms are the asymmetric algorithms an OIDC provider uses.
// Symmetric (HS*) algorithms are refused so that a public key can never be
// abused as an HMAC secret, and "none" is refused outright.
var acceptedAlgorithms = []string{
	"ES256", "ES384", "ES512",
	"EdDSA", "Ed25519",
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
}

// Verifier checks bearer tokens. It is safe for concurrent use.
type Verifier struct {
	cfg Config
	now func() time.Time

	// fixed is the key set read from JWKSFile.
	fixed jwk.Set
	// cache refreshes the key set from JWKSURL.
	cache *jwk.Cache
	// cancel stops the cache's goroutines.
	cancel context.CancelFunc

	mu          sync.Mutex
	lastRefresh time.Time

	// verified remembers tokens that passed, by the hash of the token, so
	// that the gateway and each service check a token's signature once and
	// not on every request and hop. An entry is used only before the
	// token's own expiry and at most verifiedTTL after it was checked, so a
	// key withdrawn from the provider's set stops counting soon after.
	verified *lru.Cache[[sha256.Size]byte, verifiedToken]
}

type verifiedToken struct {
	p     Principal
	until time.Time
}

// Bounds of the verified-token cache: enough for every active user of a
// large region; each entry is a few hundred bytes.
const (
	verifiedEntries = 20000
	verifiedTTL     = 5 * time.Minute
)

// NewVerifier loads the key set and returns a Verifier. With a JWKSURL the
// first fetch must succeed (within ctx); refreshes then run in the
// background until Close.
func NewVerifier(ctx context.Context, cfg Config) (*Verifier, error) {
	if err := cfg.Verify(); err != nil {
		return nil, fmt.Errorf("authn config: %w", err)
	}
	v := &Verifier{cfg: cfg, now: time.Now}
	var err error
	if v.verified, err = lru.New[[sha256.Size]byte, verifiedToken](verifiedEntries); err != nil {
		return nil, fmt.Errorf("token cache: %w", err)
	}
	if cfg.JWKSFile != "" {
		set, err := jwk.ReadFile(cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("reading JWKS file %s: %w", cfg.JWKSFile, err)
		}
		if set.Len() == 0 {
			return nil, fmt.Errorf("JWKS file %s holds no keys", cfg.JWKSFile)
		}
		v.fixed = set
		return v, nil
	}

	// The cache's goroutines must outlive ctx (which may be a start-up
	// deadline), so they get their own context, ended by Close.
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	cache, err := jwk.NewCache(cctx, httprc.NewClient())
	if err != nil {
		cancel()
		return nil, fmt.Errorf("starting JWKS cache: %w", err)
	}
	v.cache, v.cancel = cache, cancel
	if err := cache.Register(ctx, cfg.JWKSURL); err != nil {
		v.Close()
		return nil, fmt.Errorf("fetching JWKS from %s: %w", cfg.JWKSURL, err)
	}
	return v, nil
}

// Close stops refreshing the key set. Verify must not be called afterwards.
func (v *Verifier) Close() {
	if v.cancel == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = v.cache.Shutdown(ctx)
	v.cancel()
}

// keySet returns the current key set; refresh asks for a fresh copy of a
// fetched one (for a key id we do not know yet: the provider rotated keys).
func (v *Verifier) keySet(ctx context.Context, refresh bool) (jwk.Set, error) {
	if v.fixed != nil {
		return v.fixed, nil
	}
	if refresh {
		v.mu.Lock()
		// At most one forced refresh a minute, so that tokens with made-up key
		// ids cannot make us hammer the provider.
		allowed := v.now().Sub(v.lastRefresh) > time.Minute
		if allowed {
			v.lastRefresh = v.now()
		}
		v.mu.Unlock()
		if allowed {
			if set, err := v.cache.Refresh(ctx, v.cfg.JWKSURL); err == nil {
				return set, nil
			}
		}
	}
	set, err := v.cache.Lookup(ctx, v.cfg.JWKSURL)
	if err != nil {
		return nil, fmt.Errorf("token keys unavailable: %w", err)
	}
	return set, nil
}

// Verify checks raw (a compact JWS) and returns the caller it names. An
// error matching ErrInvalidToken says in its message what is wrong. A token
// that passed before is answered from the verified-token cache until its
// expiry.
func (v *Verifier) Verify(ctx context.Context, raw string) (Principal, error) {
	if raw == "" {
		return Principal{}, ErrMissingToken
	}
	if len(raw) > MaxTokenSize {
		return Principal{}, invalid("token too large")
	}
	key := sha256.Sum256([]byte(raw))
	now := v.now()
	if e, ok := v.verified.Get(key); ok {
		if now.Before(e.until) {
			return e.p, nil
		}
		v.verified.Remove(key)
	}
	p, exp, err := v.verify(ctx, raw)
	if err != nil {
		return Principal{}, err
	}
	until := now.Add(verifiedTTL)
	if exp.Before(until) {
		until = exp
	}
	v.verified.Add(key, verifiedToken{p: p, until: until})
	return p, nil
}

// verify checks a token's signature and claims; exp is its expiry.
func (v *Verifier) verify(ctx context.Context, raw string) (p Principal, exp time.Time, err error) {
	if strings.Count(raw, ".") != 2 {
		return Principal{}, time.Time{}, invalid("token malformed: not a compact JWS")
	}
	msg, err := jws.Parse([]byte(raw), jws.WithCompact())
	if err != nil || len(msg.Signatures()) != 1 {
		if strings.HasSuffix(raw, ".") {
			return Principal{}, time.Time{}, invalid("token signature missing")
		}
		return Principal{}, time.Time{}, invalid("token malformed")
	}
	hdr := msg.Signatures()[0].ProtectedHeaders()
	alg, ok := hdr.Algorithm()
	switch {
	case !ok:
		return Principal{}, time.Time{}, invalid("token lacks header alg")
	case strings.EqualFold(alg.String(), jwa.NoSignature().String()):
		return Principal{}, time.Time{}, invalid("token algorithm none is not allowed")
	case !slices.Contains(acceptedAlgorithms, alg.String()):
		return Principal{}, time.Time{}, invalid("token algorithm %q is not accepted", clip(alg.String()))
	}

	key, err := v.lookupKey(ctx, hdr)
	if err != nil {
		return Principal{}, time.Time{}, err
	}
	if kalg, ok := key.Algorithm(); ok && kalg.String() != alg.String() {
		return Principal{}, time.Time{}, invalid("token algorithm %s does not match its key", alg)
	}
	payload, err := jws.Verify([]byte(raw), jws.WithKey(alg, key))
	if err != nil {
		return Principal{}, time.Time{}, invalid("token signature invalid")
	}
	// A signed payload that is itself a JWS would be parsed as a nested
	// token; we only issue flat claim sets.
	if p := bytes.TrimSpace(payload); len(p) == 0 || p[0] != '{' {
		return Principal{}, time.Time{}, invalid("token claims malformed")
	}
	tok, err := jwt.Parse(payload, jwt.WithVerify(false), jwt.WithValidate(false))
	if err != nil {
		return Principal{}, time.Time{}, invalid("token claims malformed")
	}
	if err := v.validate(tok); err != nil {
		return Principal{}, time.Time{}, err
	}
	if p, err = principalFrom(tok); err != nil {
		return Principal{}, time.Time{}, err
	}
	p.Token = raw
	exp, _ = tok.Expiration() // validate made sure it is there
	return p, exp, nil
}

// lookupKey finds the key the token names by its kid; a token without a kid
// is accepted only when the set has a single key.
func (v *Verifier) lookupKey(ctx context.Context, hdr jws.Headers) (jwk.Key, error) {
	set, err := v.keySet(ctx, false)
	if err != nil {
		return nil, err
	}
	kid, ok := hdr.KeyID()
	if !ok || kid == "" {
		if set.Len() == 1 {
			key, _ := set.Key(0)
			return key, nil
		}
		return nil, invalid("token lacks header kid")
	}
	if key, ok := set.LookupKeyID(kid); ok {
		return key, nil
	}
	if v.cache != nil {
		if set, err = v.keySet(ctx, true); err != nil {
			return nil, err
		}
		if key, ok := set.LookupKeyID(kid); ok {
			return key, nil
		}
	}
	return nil, invalid("token signed by unknown key %q", clip(kid))
}

func (v *Verifier) validate(tok jwt.Token) error {
	iss, ok := tok.Issuer()
	if !ok || iss == "" {
		return invalid("token lacks claim iss")
	}
	if iss != v.cfg.Issuer {
		return invalid("token issuer %q is not %q", clip(iss), v.cfg.Issuer)
	}
	aud, ok := tok.Audience()
	if !ok || len(aud) == 0 {
		return invalid("token lacks claim aud")
	}
	if !slices.Contains(aud, v.cfg.Audience) {
		return invalid("token audience %q is not %q", clip(strings.Join(aud, ",")), v.cfg.Audience)
	}
	if _, ok := tok.Expiration(); !ok {
		return invalid("token lacks claim exp")
	}
	err := jwt.Validate(tok,
		jwt.WithAcceptableSkew(v.cfg.Leeway),
		jwt.WithClock(jwt.ClockFunc(v.now)),
	)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, jwt.TokenExpiredError()):
		return invalid("token expired")
	case errors.Is(err, jwt.TokenNotYetValidError()):
		return invalid("token not yet valid")
	case errors.Is(err, jwt.InvalidIssuedAtError()):
		return invalid("token issued in the future")
	default:
		return invalid("token claims invalid")
	}
}

func principalFrom(tok jwt.Token) (Principal, error) {
	var p Principal
	var err error
	if p.Subject, err = requiredString(tok, "sub"); err != nil {
		return Principal{}, err
	}
	if p.OrgID, err = requiredString(tok, "org"); err != nil {
		return Principal{}, err
	}
	if p.Role, err = requiredString(tok, "role"); err != nil {
		return Principal{}, err
	}
	if tok.Has("name") {
		if err := tok.Get("name", &p.Name); err != nil {
			return Principal{}, invalid("token claim name is not a string")
		}
	}
	if tok.Has("teams") {
		var raw any
		if err := tok.Get("teams", &raw); err != nil {
			return Principal{}, invalid("token claim teams is not an array of strings")
		}
		if p.Teams, err = stringSlice(raw); err != nil {
			return Principal{}, err
		}
	}
	if tok.Has("act") {
		var raw any
		if err := tok.Get("act", &raw); err != nil {
			return Principal{}, invalid("token claim act is not an object")
		}
		act, ok := raw.(map[string]any)
		if !ok {
			return Principal{}, invalid("token claim act is not an object")
		}
		sub, ok := act["sub"].(string)
		if !ok || sub == "" {
			return Principal{}, invalid("token claim act lacks sub")
		}
		p.OnBehalfOf = sub
	}
	return p, nil
}

func requiredString(tok jwt.Token, name string) (string, error) {
	if name == "sub" {
		s, ok := tok.Subject()
		if !ok || s == "" {
			return "", invalid("token lacks claim sub")
		}
		return s, nil
	}
	if !tok.Has(name) {
		return "", invalid("token lacks claim %s", name)
	}
	var s string
	if err := tok.Get(name, &s); err != nil {
		return "", invalid("token claim %s is not a string", name)
	}
	if s == "" {
		return "", invalid("token lacks claim %s", name)
	}
	return s, nil
}

func stringSlice(raw any) ([]string, error) {
	switch vals := raw.(type) {
	case []string:
		return slices.Clone(vals), nil
	case []any:
		out := make([]string, 0, len(vals))
		for _, v := range vals {
			s, ok := v.(string)
			if !ok {
				return nil, invalid("token claim teams is not an array of strings")
			}
			out = append(out, s)
		}
		return out, nil
	default:
		return nil, invalid("token claim teams is not an array of strings")
	}
}

// clip keeps caller-controlled values in error messages short.
func clip(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}
