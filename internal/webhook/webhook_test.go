package webhook

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The test vectors of the Standard Webhooks reference libraries
// (github.com/standard-webhooks/standard-webhooks, libraries/go:
// webhook_test.go TestWebhookSign and webhook_asymmetric_test.go
// TestAsymmetricWebhookSign; the other languages' tests use the same
// message). The asymmetric key there is given without its prefix; it is
// the 32-byte seed.
const (
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`

	vectorSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

	vectorPrivateKey   = "whsk_VEVTVFNJR05JTkdLRVlET05PVFVTRVRISVNGT1JBTlk="
	vectorSignatureV1a = "v1a,tQ9V2XOqn7jL/DQenEFpqIugdBVtiMmER5mhSkXBNwM0mkATuDe6KYYUuxqtaiHeYGb7KaaBRdM5WqyeFiL8Ag=="
)

func TestSpecVectors(t *testing.T) {
	secret := must(ParseSecret(vectorSecret))
	priv := must(ParsePrivateKey(vectorPrivateKey))
	at := time.Unix(vectorTimestamp, 0)

	for _, tc := range []struct {
		name string
		key  SigningKey
		want string
	}{
		{"v1", secret, vectorSignature},
		{"v1a", priv, vectorSignatureV1a},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := must(must(NewSigner(tc.key)).Sign(vectorID, at, []byte(vectorBody)))
			if got := h.Get(HeaderSignature); got != tc.want {
				t.Errorf("signature %s, want %s", got, tc.want)
			}
			if h.Get(HeaderID) != vectorID || h.Get(HeaderTimestamp) != strconv.Itoa(vectorTimestamp) {
				t.Errorf("headers %v", h)
			}
		})
	}

	// And the other way: the published signatures verify.
	v := must(NewVerifier([]VerificationKey{secret, priv.Public()}))
	h := http.Header{}
	h.Set(HeaderID, vectorID)
	h.Set(HeaderTimestamp, strconv.Itoa(vectorTimestamp))
	for _, sig := range []string{vectorSignature, vectorSignatureV1a} {
		h.Set(HeaderSignature, sig)
		if err := v.Verify(h, []byte(vectorBody), at.Add(time.Minute)); err != nil {
			t.Errorf("Verify(%s): %v", sig, err)
		}
	}
}

var (
	now  = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)
	body = []byte(`{"specversion":"1.0","id":"e-1","source":"/x","type":"t","data":{"n":1}}`)
)

const msgID = "5f0c1d7e-8a3b-4c2d-9e1f-0a1b2c3d4e5f"

func TestRoundTrip(t *testing.T) {
	secret := must(NewSecret())
	priv, pub := must2(NewKeyPair())
	for name, keys := range map[string]struct {
		sign   SigningKey
		verify VerificationKey
	}{
		"symmetric":  {secret, secret},
		"asymmetric": {priv, pub},
	} {
		t.Run(name, func(t *testing.T) {
			h := must(must(NewSigner(keys.sign)).Sign(msgID, now, body))
			if err := must(NewVerifier([]VerificationKey{keys.verify})).Verify(h, body, now); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// During a rotation the sender signs with the old and the new key; a
// receiver that has either one, or both, accepts the message.
func TestRotation(t *testing.T) {
	oldSecret, newSecret, otherSecret := must(NewSecret()), must(NewSecret()), must(NewSecret())
	priv, pub := must2(NewKeyPair())
	h := must(must(NewSigner(oldSecret, newSecret, priv)).Sign(msgID, now, body))
	if n := len(strings.Fields(h.Get(HeaderSignature))); n != 3 {
		t.Fatalf("%d signatures in %q, want 3", n, h.Get(HeaderSignature))
	}
	for name, keys := range map[string][]VerificationKey{
		"old only":         {oldSecret},
		"new only":         {newSecret},
		"both":             {oldSecret, newSecret},
		"public key only":  {pub},
		"other, then new":  {otherSecret, newSecret},
		"public and other": {otherSecret, pub},
	} {
		t.Run(name, func(t *testing.T) {
			if err := must(NewVerifier(keys)).Verify(h, body, now); err != nil {
				t.Error(err)
			}
		})
	}
	_, otherPub := must2(NewKeyPair())
	if err := must(NewVerifier([]VerificationKey{otherSecret, otherPub})).Verify(h, body, now); !errors.Is(err, ErrNoMatchingSignature) {
		t.Errorf("unrelated keys: %v, want ErrNoMatchingSignature", err)
	}
}

func TestTamperedMessages(t *testing.T) {
	secret := must(NewSecret())
	priv, pub := must2(NewKeyPair())
	v := must(NewVerifier([]VerificationKey{secret, pub}))
	for _, key := range []SigningKey{secret, priv} {
		signed := must(must(NewSigner(key)).Sign(msgID, now, body))
		for name, tamper := range map[string]func(h http.Header, b []byte) []byte{
			"body":       func(_ http.Header, b []byte) []byte { return append(b[:len(b)-1:len(b)-1], ' ', '}') },
			"empty body": func(http.Header, []byte) []byte { return nil },
			"id":         func(h http.Header, b []byte) []byte { h.Set(HeaderID, msgID+"x"); return b },
			"timestamp": func(h http.Header, b []byte) []byte {
				h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10))
				return b
			},
			"leading zero ts": func(h http.Header, b []byte) []byte { h.Set(HeaderTimestamp, "0"+h.Get(HeaderTimestamp)); return b },
			"signature byte": func(h http.Header, b []byte) []byte {
				s := []byte(h.Get(HeaderSignature))
				s[len(s)-3] ^= 1
				h.Set(HeaderSignature, string(s))
				return b
			},
			"version swapped": func(h http.Header, b []byte) []byte {
				version, value, _ := strings.Cut(h.Get(HeaderSignature), ",")
				other := map[string]string{VersionSymmetric: VersionAsymmetric, VersionAsymmetric: VersionSymmetric}[version]
				h.Set(HeaderSignature, other+","+value)
				return b
			},
		} {
			t.Run(fmt.Sprintf("%T/%s", key, name), func(t *testing.T) {
				h := signed.Clone()
				b := tamper(h, append([]byte(nil), body...))
				if err := v.Verify(h, b, now); !errors.Is(err, ErrNoMatchingSignature) {
					t.Errorf("Verify: %v, want ErrNoMatchingSignature", err)
				}
			})
		}
	}
}

func TestTimestampTolerance(t *testing.T) {
	secret := must(NewSecret())
	h := must(must(NewSigner(secret)).Sign(msgID, now, body))
	for _, tc := range []struct {
		name      string
		tolerance time.Duration
		at        time.Time
		want      error
	}{
		{"on time", 0, now, nil},
		{"at the edge, late", 0, now.Add(DefaultTolerance), nil},
		{"at the edge, early", 0, now.Add(-DefaultTolerance), nil},
		{"expired", 0, now.Add(DefaultTolerance + time.Second), ErrTooOld},
		{"from the future", 0, now.Add(-DefaultTolerance - time.Second), ErrTooNew},
		{"a day old", 0, now.Add(24 * time.Hour), ErrTooOld},
		{"short tolerance", 30 * time.Second, now.Add(31 * time.Second), ErrTooOld},
		{"short tolerance, future", 30 * time.Second, now.Add(-31 * time.Second), ErrTooNew},
		{"long tolerance", time.Hour, now.Add(59 * time.Minute), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []VerifierOption
			if tc.tolerance != 0 {
				opts = append(opts, WithTolerance(tc.tolerance))
			}
			err := must(NewVerifier([]VerificationKey{secret}, opts...)).Verify(h, body, tc.at)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("Verify at %v: %v, want %v", tc.at, err, tc.want)
			}
		})
	}
}

func TestMalformedHeaders(t *testing.T) {
	secret := must(NewSecret())
	v := must(NewVerifier([]VerificationKey{secret}))
	signed := must(must(NewSigner(secret)).Sign(msgID, now, body))
	valid := signed.Get(HeaderSignature)
	for _, tc := range []struct {
		name string
		edit func(http.Header)
		want error
	}{
		{"no headers", func(h http.Header) { clear(h) }, ErrMissingHeaders},
		{"no id", func(h http.Header) { h.Del(HeaderID) }, ErrMissingHeaders},
		{"empty id", func(h http.Header) { h.Set(HeaderID, "") }, ErrMissingHeaders},
		{"no timestamp", func(h http.Header) { h.Del(HeaderTimestamp) }, ErrMissingHeaders},
		{"no signature", func(h http.Header) { h.Del(HeaderSignature) }, ErrMissingHeaders},
		{"two ids", func(h http.Header) { h.Add(HeaderID, "other") }, ErrMalformedHeaders},
		{"two signatures", func(h http.Header) { h.Add(HeaderSignature, valid) }, ErrMalformedHeaders},
		{"id with a dot", func(h http.Header) { h.Set(HeaderID, "msg.1") }, ErrMalformedHeaders},
		{"id with a space", func(h http.Header) { h.Set(HeaderID, "msg 1") }, ErrMalformedHeaders},
		{"id too long", func(h http.Header) { h.Set(HeaderID, strings.Repeat("a", maxIDLen+1)) }, ErrMalformedHeaders},
		{"timestamp in ms", func(h http.Header) { h.Set(HeaderTimestamp, strconv.FormatInt(now.UnixMilli(), 10)) }, ErrTooNew},
		{"timestamp not a number", func(h http.Header) { h.Set(HeaderTimestamp, "soon") }, ErrMalformedHeaders},
		{"timestamp with sign", func(h http.Header) { h.Set(HeaderTimestamp, "+"+h.Get(HeaderTimestamp)) }, ErrMalformedHeaders},
		{"negative timestamp", func(h http.Header) { h.Set(HeaderTimestamp, "-1") }, ErrMalformedHeaders},
		{"fractional timestamp", func(h http.Header) { h.Set(HeaderTimestamp, h.Get(HeaderTimestamp)+".5") }, ErrMalformedHeaders},
		{"RFC 3339 timestamp", func(h http.Header) { h.Set(HeaderTimestamp, now.Format(time.RFC3339)) }, ErrMalformedHeaders},
		{"timestamp overflows", func(h http.Header) { h.Set(HeaderTimestamp, "99999999999999999999") }, ErrMalformedHeaders},
		{"too many signatures", func(h http.Header) {
			h.Set(HeaderSignature, strings.TrimSpace(strings.Repeat(valid+" ", maxSignatures+1)))
		}, ErrMalformedHeaders},
		{"only unknown versions", func(h http.Header) { h.Set(HeaderSignature, "v2,"+strings.SplitN(valid, ",", 2)[1]) }, ErrNoMatchingSignature},
		{"no comma", func(h http.Header) { h.Set(HeaderSignature, "v1") }, ErrNoMatchingSignature},
		{"empty value", func(h http.Header) { h.Set(HeaderSignature, "v1,") }, ErrNoMatchingSignature},
		{"not base64", func(h http.Header) { h.Set(HeaderSignature, "v1,***") }, ErrNoMatchingSignature},
		{"hex instead of base64", func(h http.Header) { h.Set(HeaderSignature, "v1,"+fmt.Sprintf("%x", secret.mac([]byte("x")))) }, ErrNoMatchingSignature},
		// Unknown versions and broken entries are skipped, not fatal: the
		// valid one among them counts.
		{"valid among others", func(h http.Header) {
			h.Set(HeaderSignature, "v2,abc v1,*** v1a,AAAA nocomma "+valid+" v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=")
		}, nil},
		{"extra spaces", func(h http.Header) { h.Set(HeaderSignature, "  "+valid+"   v1,x  ") }, nil},
		{"lower-case header names", func(h http.Header) {
			clear(h)
			h["webhook-id"] = []string{msgID} // as a proxy might pass them; Get does not find these
		}, ErrMissingHeaders},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := signed.Clone()
			tc.edit(h)
			err := v.Verify(h, body, now)
			if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) {
				t.Errorf("Verify: %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSignRefuses(t *testing.T) {
	s := must(NewSigner(must(NewSecret())))
	for name, id := range map[string]string{"empty": "", "dot": "a.b", "newline": "a\nb", "non-ASCII": "é"} {
		if _, err := s.Sign(id, now, body); err == nil {
			t.Errorf("Sign with id %s (%q) succeeded", name, id)
		}
	}
	if _, err := s.Sign(msgID, time.Unix(-1, 0), body); err == nil {
		t.Error("Sign before 1970 succeeded")
	}
}

func TestConstructorsRefuse(t *testing.T) {
	if _, err := NewSigner(); err == nil {
		t.Error("NewSigner() succeeded")
	}
	if _, err := NewSigner(nil); err == nil {
		t.Error("NewSigner(nil) succeeded")
	}
	if _, err := NewVerifier(nil); err == nil {
		t.Error("NewVerifier(nil) succeeded")
	}
	if _, err := NewVerifier([]VerificationKey{nil}); err == nil {
		t.Error("NewVerifier([nil]) succeeded")
	}
	if _, err := NewVerifier([]VerificationKey{must(NewSecret())}, WithTolerance(0)); err == nil {
		t.Error("NewVerifier with zero tolerance succeeded")
	}
}

// FuzzVerify: any headers and body are either refused with one of the
// package's errors or carry a signature entry that really signs them.
func FuzzVerify(f *testing.F) {
	secret := must(ParseSecret(vectorSecret))
	v := must(NewVerifier([]VerificationKey{secret}, WithTolerance(time.Duration(1<<62))))
	f.Add(vectorID, strconv.Itoa(vectorTimestamp), vectorSignature, []byte(vectorBody))
	f.Add(vectorID, strconv.Itoa(vectorTimestamp), "v2,abc v1a,x "+vectorSignature+" v1,", []byte(vectorBody))
	f.Add("a", "0", "v1,AAAA", []byte{})
	f.Add("msg.1", "-1", ",,, v1 ,", []byte("x"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sig)
		// Set would store values with bytes HTTP cannot carry; the
		// verifier must cope with whatever the map holds.
		err := v.Verify(h, body, time.Unix(vectorTimestamp, 0))
		if err != nil {
			for _, known := range []error{ErrMissingHeaders, ErrMalformedHeaders, ErrTooOld, ErrTooNew, ErrNoMatchingSignature} {
				if errors.Is(err, known) {
					return
				}
			}
			t.Fatalf("Verify: unexpected error %v", err)
		}
		want := secret.mac(signedContent(id, ts, body))
		for _, f := range strings.Fields(sig) {
			if v, b64, _ := strings.Cut(f, ","); v == VersionSymmetric {
				if got, err := base64.StdEncoding.DecodeString(b64); err == nil && bytes.Equal(got, want) {
					return
				}
			}
		}
		t.Fatalf("Verify accepted id %q ts %q sig %q body %q, which the secret does not sign", id, ts, sig, body)
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func must2[A, B any](a A, b B, err error) (A, B) {
	if err != nil {
		panic(err)
	}
	return a, b
}
