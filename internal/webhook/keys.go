package webhook

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
)

// The prefixes of the spec's key serialisations: they tell a human what a
// string is and let ParseSigningKey and ParseVerificationKey pick the
// scheme without further configuration.
const (
	SecretPrefix     = "whsec_" // symmetric secret (HMAC-SHA256, v1)
	PrivateKeyPrefix = "whsk_"  // ed25519 private key (v1a)
	PublicKeyPrefix  = "whpk_"  // ed25519 public key (v1a)
)

// The signature versions of the spec: the part before the comma of each
// entry of webhook-signature.
const (
	VersionSymmetric  = "v1"
	VersionAsymmetric = "v1a"
)

// The lengths the spec allows for a symmetric secret: at least 192 bits, at
// most 512.
const (
	MinSecretBytes = 24
	MaxSecretBytes = 64
	// newSecretBytes is what NewSecret makes: 256 bits, as strong as
	// HMAC-SHA256 itself.
	newSecretBytes = 32
)

// ErrInvalidKey: a secret or key string is not of the expected form.
var ErrInvalidKey = errors.New("invalid webhook key")

// A SigningKey signs messages: a Secret or a PrivateKey.
type SigningKey interface {
	// signature returns one entry of webhook-signature, "version,base64".
	signature(content []byte) string
}

// A VerificationKey checks signatures: a Secret or a PublicKey.
type VerificationKey interface {
	// verify reports whether sig is a valid signature of content of the
	// given version under this key; a version the key does not use is
	// simply not valid.
	verify(version string, sig, content []byte) bool
}

// Secret is a symmetric signing secret, used by both the platform and the
// partner. Its String is the secret itself; it is redacted in slog output.
type Secret struct {
	key []byte
}

// NewSecret returns a new random secret.
func NewSecret() (Secret, error) {
	key := make([]byte, newSecretBytes)
	if _, err := rand.Read(key); err != nil {
		return Secret{}, fmt.Errorf("read random secret: %w", err)
	}
	return Secret{key: key}, nil
}

// ParseSecret reads a secret in its serialised form, "whsec_" followed by
// the standard base64 of 24 to 64 bytes.
func ParseSecret(s string) (Secret, error) {
	key, err := decodeKey(s, SecretPrefix)
	if err != nil {
		return Secret{}, err
	}
	if len(key) < MinSecretBytes || len(key) > MaxSecretBytes {
		return Secret{}, fmt.Errorf("%w: secret of %d bytes, want %d to %d", ErrInvalidKey, len(key), MinSecretBytes, MaxSecretBytes)
	}
	return Secret{key: key}, nil
}

// String returns the serialised secret, "whsec_…". Treat it as a password.
func (s Secret) String() string { return SecretPrefix + base64.StdEncoding.EncodeToString(s.key) }

// LogValue keeps the secret out of logs written with log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(SecretPrefix + "[redacted]") }

func (s Secret) signature(content []byte) string {
	return VersionSymmetric + "," + base64.StdEncoding.EncodeToString(s.mac(content))
}

func (s Secret) verify(version string, sig, content []byte) bool {
	// hmac.Equal takes the same time whatever the contents, so a forger
	// learns nothing about the right signature from how long a wrong one
	// takes to refuse.
	return version == VersionSymmetric && len(s.key) > 0 && hmac.Equal(sig, s.mac(content))
}

func (s Secret) mac(content []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(content)
	return m.Sum(nil)
}

// PrivateKey is an ed25519 signing key, kept by the platform only. Its
// String is the key itself; it is redacted in slog output.
type PrivateKey struct {
	key ed25519.PrivateKey
}

// PublicKey is the ed25519 key a partner verifies with; it may be shared
// freely.
type PublicKey struct {
	key ed25519.PublicKey
}

// NewKeyPair returns a new random ed25519 key pair.
func NewKeyPair() (PrivateKey, PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return PrivateKey{}, PublicKey{}, fmt.Errorf("generate ed25519 key: %w", err)
	}
	return PrivateKey{key: priv}, PublicKey{key: pub}, nil
}

// ParsePrivateKey reads a private key in its serialised form, "whsk_"
// followed by the standard base64 of the 32-byte ed25519 seed (the form the
// Standard Webhooks libraries write). The 64-byte form of Go and libsodium,
// seed then public key, is accepted too.
func ParsePrivateKey(s string) (PrivateKey, error) {
	b, err := decodeKey(s, PrivateKeyPrefix)
	if err != nil {
		return PrivateKey{}, err
	}
	switch len(b) {
	case ed25519.SeedSize:
		return PrivateKey{key: ed25519.NewKeyFromSeed(b)}, nil
	case ed25519.PrivateKeySize:
		k := ed25519.NewKeyFromSeed(b[:ed25519.SeedSize])
		// The second half must be the seed's own public key, or the key
		// would sign with one identity and claim another.
		if !k.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(b[ed25519.SeedSize:])) {
			return PrivateKey{}, fmt.Errorf("%w: the public half does not belong to the seed", ErrInvalidKey)
		}
		return PrivateKey{key: k}, nil
	}
	return PrivateKey{}, fmt.Errorf("%w: private key of %d bytes, want %d", ErrInvalidKey, len(b), ed25519.SeedSize)
}

// ParsePublicKey reads a public key in its serialised form, "whpk_"
// followed by the standard base64 of the 32-byte ed25519 public key.
func ParsePublicKey(s string) (PublicKey, error) {
	b, err := decodeKey(s, PublicKeyPrefix)
	if err != nil {
		return PublicKey{}, err
	}
	if len(b) != ed25519.PublicKeySize {
		return PublicKey{}, fmt.Errorf("%w: public key of %d bytes, want %d", ErrInvalidKey, len(b), ed25519.PublicKeySize)
	}
	return PublicKey{key: b}, nil
}

// Public returns the public key of k.
func (k PrivateKey) Public() PublicKey {
	return PublicKey{key: k.key.Public().(ed25519.PublicKey)}
}

// String returns the serialised key, "whsk_" and the seed. Treat it as a
// password.
func (k PrivateKey) String() string {
	return PrivateKeyPrefix + base64.StdEncoding.EncodeToString(k.key.Seed())
}

// LogValue keeps the key out of logs written with log/slog.
func (k PrivateKey) LogValue() slog.Value { return slog.StringValue(PrivateKeyPrefix + "[redacted]") }

// String returns the serialised key, "whpk_…".
func (k PublicKey) String() string {
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(k.key)
}

func (k PrivateKey) signature(content []byte) string {
	return VersionAsymmetric + "," + base64.StdEncoding.EncodeToString(ed25519.Sign(k.key, content))
}

func (k PublicKey) verify(version string, sig, content []byte) bool {
	return version == VersionAsymmetric && len(k.key) == ed25519.PublicKeySize && ed25519.Verify(k.key, content, sig)
}

// ParseSigningKey reads a secret ("whsec_…") or a private key ("whsk_…").
func ParseSigningKey(s string) (SigningKey, error) {
	switch {
	case strings.HasPrefix(s, SecretPrefix):
		return ParseSecret(s)
	case strings.HasPrefix(s, PrivateKeyPrefix):
		return ParsePrivateKey(s)
	}
	return nil, fmt.Errorf("%w: a signing key starts with %q or %q", ErrInvalidKey, SecretPrefix, PrivateKeyPrefix)
}

// ParseVerificationKey reads a secret ("whsec_…") or a public key
// ("whpk_…").
func ParseVerificationKey(s string) (VerificationKey, error) {
	switch {
	case strings.HasPrefix(s, SecretPrefix):
		return ParseSecret(s)
	case strings.HasPrefix(s, PublicKeyPrefix):
		return ParsePublicKey(s)
	case strings.HasPrefix(s, PrivateKeyPrefix):
		// Said plainly, because handing a partner the private key instead
		// of the public one is an easy and serious mistake.
		return nil, fmt.Errorf("%w: a private key (%q) is for signing; verify with its public key (%q)", ErrInvalidKey, PrivateKeyPrefix, PublicKeyPrefix)
	}
	return nil, fmt.Errorf("%w: a verification key starts with %q or %q", ErrInvalidKey, SecretPrefix, PublicKeyPrefix)
}

// decodeKey checks the prefix and decodes the base64 after it. The error
// never quotes the string, which may be a secret.
func decodeKey(s, prefix string) ([]byte, error) {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return nil, fmt.Errorf("%w: does not start with %q", ErrInvalidKey, prefix)
	}
	b, err := base64.StdEncoding.Strict().DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("%w: %s key is not standard base64: %w", ErrInvalidKey, prefix, err)
	}
	return b, nil
}
