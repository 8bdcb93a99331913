package authn

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
)

// TestVerifiedTokenCache: a token verified once is answered from the cache
// (its signature is not checked again), but never past its own expiry nor
// verifiedTTL after it was checked; a failed token is never cached.
func TestVerifiedTokenCache(t *testing.T) {
	s := newES256(t, "k1")
	v := newFileVerifier(t, s.public(t))
	now := time.Now()
	v.now = func() time.Time { return now }
	claims := validClaims()
	claims["exp"] = now.Add(2 * time.Minute).Unix()
	token := s.sign(t, claims)
	if _, err := v.Verify(context.Background(), token); err != nil {
		t.Fatal(err)
	}
	// Take the key away: only the cache can still accept the token.
	v.fixed = jwk.NewSet()
	if p, err := v.Verify(context.Background(), token); err != nil || p.Subject != "es-anna" || p.Token != token {
		t.Fatalf("cached token: %+v, %v", p, err)
	}
	// Past exp the cache does not answer; the leeway is the verifier's, and
	// without the key the token now fails.
	now = now.Add(2*time.Minute + time.Second)
	if _, err := v.Verify(context.Background(), token); err == nil {
		t.Fatal("a token past its expiry was answered from the cache")
	}

	// A long-lived token is checked again after verifiedTTL.
	v.fixed = nil
	v2 := newFileVerifier(t, s.public(t))
	now2 := time.Now()
	v2.now = func() time.Time { return now2 }
	long := s.sign(t, validClaims()) // an hour
	if _, err := v2.Verify(context.Background(), long); err != nil {
		t.Fatal(err)
	}
	v2.fixed = jwk.NewSet()
	now2 = now2.Add(verifiedTTL + time.Second)
	if _, err := v2.Verify(context.Background(), long); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("after verifiedTTL the token must be verified again: %v", err)
	}

	// A forged token fails and is not cached.
	forged := token[:len(token)-4] + "AAAA"
	for range 2 {
		if _, err := v2.Verify(context.Background(), forged); err == nil {
			t.Fatal("forged token accepted")
		}
	}
}
