package webhook

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// A subscription's signing secrets are what a partner trusts a webhook by:
// whoever reads them can forge deliveries. They are stored sealed with an
// operator key (AES-256-GCM), bound to their subscription, so a copy of the
// database (a backup, a read-only role) holds nothing usable.

// sealedPrefix marks a sealed secret: "sealed:v1:<key id>:<base64(nonce |
// ciphertext)>". Anything else is a secret stored before sealing.
const sealedPrefix = "sealed:v1:"

// Sealer seals and opens stored secrets. The first key seals; every key
// opens, so the operator key can be rotated (new key first, old ones after
// until every secret was sealed again).
type Sealer struct {
	keys []sealKey
}

type sealKey struct {
	id   string
	aead cipher.AEAD
}

// NewSealer returns a sealer with 32-byte keys, the sealing one first.
func NewSealer(keys ...[]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("webhook: no sealing key")
	}
	s := &Sealer{}
	for i, k := range keys {
		if len(k) != 32 {
			return nil, fmt.Errorf("webhook: sealing key %d has %d bytes, want 32", i+1, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("webhook: sealing key %d: %w", i+1, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("webhook: sealing key %d: %w", i+1, err)
		}
		sum := sha256.Sum256(k)
		s.keys = append(s.keys, sealKey{id: hex.EncodeToString(sum[:4]), aead: aead})
	}
	return s, nil
}

// ParseSealer reads the keys from their configuration: base64 keys of 32
// bytes separated by commas or white space, the sealing key first.
func ParseSealer(text string) (*Sealer, error) {
	var keys [][]byte
	for _, f := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		k, err := base64.StdEncoding.DecodeString(f)
		if err != nil {
			return nil, fmt.Errorf("webhook: sealing key: %w", err)
		}
		keys = append(keys, k)
	}
	return NewSealer(keys...)
}

// NewSealingKey returns a random key as ParseSealer reads it.
func NewSealingKey() (string, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return "", fmt.Errorf("webhook: sealing key: %w", err)
	}
	return base64.StdEncoding.EncodeToString(k), nil
}

// Current reports whether a stored secret is sealed with the sealing key.
func (s *Sealer) Current(stored string) bool {
	return s != nil && strings.HasPrefix(stored, sealedPrefix+s.keys[0].id+":")
}

// Sealed reports whether a stored secret is sealed.
func Sealed(stored string) bool { return strings.HasPrefix(stored, sealedPrefix) }

// Seal encrypts secret for storage, bound to bind (the subscription id): a
// sealed secret copied to another subscription does not open. A nil Sealer
// (tests only: the services refuse to start without a key) stores the
// secret as it is.
func (s *Sealer) Seal(secret, bind string) (string, error) {
	if s == nil {
		return secret, nil
	}
	k := s.keys[0]
	nonce := make([]byte, k.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("webhook: seal: %w", err)
	}
	out := k.aead.Seal(nonce, nonce, []byte(secret), []byte(bind))
	return sealedPrefix + k.id + ":" + base64.RawStdEncoding.EncodeToString(out), nil
}

// Open decrypts a stored secret bound to bind. A secret stored before
// sealing (no prefix) is returned as it is.
func (s *Sealer) Open(stored, bind string) (string, error) {
	if !Sealed(stored) {
		return stored, nil
	}
	if s == nil {
		return "", errors.New("webhook: the secret is sealed and no sealing key is configured")
	}
	id, body, ok := strings.Cut(strings.TrimPrefix(stored, sealedPrefix), ":")
	if !ok {
		return "", errors.New("webhook: malformed sealed secret")
	}
	raw, err := base64.RawStdEncoding.DecodeString(body)
	if err != nil {
		return "", fmt.Errorf("webhook: malformed sealed secret: %w", err)
	}
	for _, k := range s.keys {
		if k.id != id {
			continue
		}
		n := k.aead.NonceSize()
		if len(raw) < n {
			return "", errors.New("webhook: malformed sealed secret")
		}
		plain, err := k.aead.Open(nil, raw[:n], raw[n:], []byte(bind))
		if err != nil {
			return "", errors.New("webhook: sealed secret does not open (wrong key or subscription)")
		}
		return string(plain), nil
	}
	return "", fmt.Errorf("webhook: secret sealed with key %s, which is not configured", id)
}
