package webhook

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretSerialisation(t *testing.T) {
	s := must(NewSecret())
	if !strings.HasPrefix(s.String(), SecretPrefix) || len(s.key) != newSecretBytes {
		t.Fatalf("NewSecret: %d bytes, %q", len(s.key), s.String()[:len(SecretPrefix)])
	}
	again := must(ParseSecret(s.String()))
	if !bytes.Equal(again.key, s.key) {
		t.Error("ParseSecret(s.String()) differs from s")
	}
	if must(NewSecret()).String() == s.String() {
		t.Error("two new secrets are equal")
	}
}

func TestParseSecretRefuses(t *testing.T) {
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, n)) }
	for name, s := range map[string]string{
		"no prefix":       b64(32),
		"other prefix":    PublicKeyPrefix + b64(32),
		"too short":       SecretPrefix + b64(MinSecretBytes-1),
		"too long":        SecretPrefix + b64(MaxSecretBytes+1),
		"empty":           SecretPrefix,
		"not base64":      SecretPrefix + "!!!!",
		"url-safe base64": SecretPrefix + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 30)),
		"missing padding": SecretPrefix + base64.RawStdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 25)),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseSecret(s); !errors.Is(err, ErrInvalidKey) {
				t.Errorf("ParseSecret: %v, want ErrInvalidKey", err)
			}
		})
	}
	// Go's base64 skips line breaks; a secret pasted with one still works.
	if _, err := ParseSecret(SecretPrefix + b64(32) + "\n"); err != nil {
		t.Errorf("trailing newline: %v", err)
	}
	for _, n := range []int{MinSecretBytes, MaxSecretBytes} {
		if _, err := ParseSecret(SecretPrefix + b64(n)); err != nil {
			t.Errorf("secret of %d bytes: %v", n, err)
		}
	}
}

func TestKeyPairSerialisation(t *testing.T) {
	priv, pub := must2(NewKeyPair())
	if !priv.Public().key.Equal(pub.key) {
		t.Fatal("Public() is not the pair's public key")
	}
	if got := must(ParsePrivateKey(priv.String())); !got.key.Equal(priv.key) {
		t.Error("ParsePrivateKey(priv.String()) differs")
	}
	if got := must(ParsePublicKey(pub.String())); !got.key.Equal(pub.key) {
		t.Error("ParsePublicKey(pub.String()) differs")
	}
	// The 64-byte form (seed and public key) is read as well.
	full := PrivateKeyPrefix + base64.StdEncoding.EncodeToString(priv.key)
	if got := must(ParsePrivateKey(full)); !got.key.Equal(priv.key) {
		t.Error("64-byte private key differs")
	}
	_, other := must2(NewKeyPair())
	mixed := PrivateKeyPrefix + base64.StdEncoding.EncodeToString(append(priv.key.Seed(), other.key...))
	if _, err := ParsePrivateKey(mixed); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("seed with a foreign public half: %v, want ErrInvalidKey", err)
	}
	for name, s := range map[string]string{
		"short private":  PrivateKeyPrefix + base64.StdEncoding.EncodeToString(make([]byte, 31)),
		"short public":   PublicKeyPrefix + base64.StdEncoding.EncodeToString(make([]byte, 31)),
		"public as priv": PrivateKeyPrefix + pub.String()[len(PublicKeyPrefix):] + "AA",
	} {
		_, err1 := ParsePrivateKey(s)
		_, err2 := ParsePublicKey(s)
		if err1 == nil || err2 == nil {
			t.Errorf("%s: ParsePrivateKey %v, ParsePublicKey %v; want errors", name, err1, err2)
		}
	}
	if len(pub.key) != ed25519.PublicKeySize {
		t.Errorf("public key of %d bytes", len(pub.key))
	}
}

func TestParseKeyDispatch(t *testing.T) {
	secret := must(NewSecret())
	priv, pub := must2(NewKeyPair())
	if k, err := ParseSigningKey(secret.String()); err != nil || k.(Secret).String() != secret.String() {
		t.Errorf("ParseSigningKey(secret): %v", err)
	}
	if k, err := ParseSigningKey(priv.String()); err != nil || k.(PrivateKey).String() != priv.String() {
		t.Errorf("ParseSigningKey(private): %v", err)
	}
	if k, err := ParseVerificationKey(secret.String()); err != nil || k.(Secret).String() != secret.String() {
		t.Errorf("ParseVerificationKey(secret): %v", err)
	}
	if k, err := ParseVerificationKey(pub.String()); err != nil || k.(PublicKey).String() != pub.String() {
		t.Errorf("ParseVerificationKey(public): %v", err)
	}
	if _, err := ParseSigningKey(pub.String()); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("ParseSigningKey(public): %v", err)
	}
	// The private key is refused for verification with a reason that
	// names the mistake.
	if _, err := ParseVerificationKey(priv.String()); !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), PublicKeyPrefix) {
		t.Errorf("ParseVerificationKey(private): %v", err)
	}
}

// An error or a log line never shows the secret.
func TestSecretsStayOutOfLogsAndErrors(t *testing.T) {
	secret := must(NewSecret())
	priv, _ := must2(NewKeyPair())
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("keys", "secret", secret, "private", priv)
	for _, s := range []string{secret.String(), priv.String()} {
		if strings.Contains(buf.String(), s) {
			t.Errorf("log shows the key: %s", buf.String())
		}
		if _, err := ParsePublicKey(s + "x"); err == nil || strings.Contains(err.Error(), s[6:]) {
			t.Errorf("error shows the key: %v", err)
		}
	}
}
