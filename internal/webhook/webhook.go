// Package webhook signs and verifies webhooks the way the Standard Webhooks
// specification (https://www.standardwebhooks.com/) lays down, so that a
// partner can check them with any of its libraries as well as with ours.
//
// A message carries three headers: webhook-id (the same on every retry, the
// receiver's idempotency key), webhook-timestamp (Unix seconds of this
// attempt) and webhook-signature (space-separated "version,base64" entries).
// The signed content is "{id}.{timestamp}.{body}", signed with HMAC-SHA256
// ("v1", a shared Secret) or ed25519 ("v1a", a PrivateKey whose PublicKey
// the partner holds).
//
// Keys rotate without downtime: the Signer signs with every key it has, the
// old and the new during the rotation window, and a Verifier accepts a
// message when any entry matches any of its keys.
package webhook

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The headers of a signed message. Go writes them canonicalised
// (Webhook-Id); HTTP header names are case-insensitive.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// DefaultTolerance is how far the timestamp of a message may be from the
// verifier's clock, either way, as the spec suggests: enough for clock skew
// and a slow network, short enough that a captured message cannot be
// replayed later.
const DefaultTolerance = 5 * time.Minute

const (
	// maxIDLen bounds webhook-id; the platform's ids are UUIDs.
	maxIDLen = 256
	// maxSignatures bounds the entries of webhook-signature a verifier
	// tries, so that a forged header with thousands of entries cannot make
	// it spend a signature check on each. A sender has one entry a key, two
	// or three during a rotation.
	maxSignatures = 10
)

// The reasons Verify refuses a message. Their texts are short enough to
// answer the sender with.
var (
	ErrMissingHeaders      = errors.New("missing webhook headers")
	ErrMalformedHeaders    = errors.New("malformed webhook headers")
	ErrTooOld              = errors.New("webhook timestamp too old")
	ErrTooNew              = errors.New("webhook timestamp too new")
	ErrNoMatchingSignature = errors.New("no matching webhook signature")
)

// Signer signs messages with one or more keys.
type Signer struct {
	keys []SigningKey
}

// NewSigner returns a signer that puts one signature a key in every
// message, in the order given.
func NewSigner(keys ...SigningKey) (*Signer, error) {
	if len(keys) == 0 {
		return nil, errors.New("webhook signer: no signing key")
	}
	for i, k := range keys {
		if k == nil {
			return nil, fmt.Errorf("webhook signer: signing key %d is nil", i)
		}
	}
	return &Signer{keys: keys}, nil
}

// Sign returns the three headers for a message with the given id, sent at
// ts, with exactly body as the request body. id is visible ASCII without
// '.', at most 256 bytes: the spec forbids '.' so that the signed content
// cannot be split another way.
func (s *Signer) Sign(id string, ts time.Time, body []byte) (http.Header, error) {
	if err := checkID(id); err != nil {
		return nil, fmt.Errorf("sign webhook: %w", err)
	}
	if ts.Unix() < 0 {
		return nil, fmt.Errorf("sign webhook %s: timestamp %v before 1970", id, ts)
	}
	timestamp := strconv.FormatInt(ts.Unix(), 10)
	content := signedContent(id, timestamp, body)
	sigs := make([]string, len(s.keys))
	for i, k := range s.keys {
		sigs[i] = k.signature(content)
	}
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, timestamp)
	h.Set(HeaderSignature, strings.Join(sigs, " "))
	return h, nil
}

// Verifier checks messages against one or more keys.
type Verifier struct {
	keys      []VerificationKey
	tolerance time.Duration
}

// A VerifierOption changes a Verifier's defaults.
type VerifierOption func(*Verifier)

// WithTolerance sets how far a message's timestamp may be from now, either
// way; DefaultTolerance without it.
func WithTolerance(d time.Duration) VerifierOption {
	return func(v *Verifier) { v.tolerance = d }
}

// NewVerifier returns a verifier that accepts a message signed by any of
// keys: during a rotation, the old and the new.
func NewVerifier(keys []VerificationKey, opts ...VerifierOption) (*Verifier, error) {
	if len(keys) == 0 {
		return nil, errors.New("webhook verifier: no verification key")
	}
	for i, k := range keys {
		if k == nil {
			return nil, fmt.Errorf("webhook verifier: verification key %d is nil", i)
		}
	}
	v := &Verifier{keys: keys, tolerance: DefaultTolerance}
	for _, o := range opts {
		o(v)
	}
	if v.tolerance <= 0 {
		return nil, fmt.Errorf("webhook verifier: tolerance %v is not positive", v.tolerance)
	}
	return v, nil
}

// Verify checks the headers h of a message with exactly body as its body,
// received at now. It returns nil when the timestamp is within the
// tolerance of now and one signature entry matches one key; otherwise an
// error that wraps one of ErrMissingHeaders, ErrMalformedHeaders, ErrTooOld,
// ErrTooNew or ErrNoMatchingSignature. Entries of versions other than v1
// and v1a are ignored, as the spec asks, so that a sender may add a new
// scheme next to the old ones.
//
// Verify does not remember ids: replays within the tolerance are the
// caller's to catch, by webhook-id.
func (v *Verifier) Verify(h http.Header, body []byte, now time.Time) error {
	id, timestamp, sigHeader, err := readHeaders(h)
	if err != nil {
		return err
	}
	sec, err := parseTimestamp(timestamp)
	if err != nil {
		return err
	}
	// Checked before the signatures: a message outside the window is
	// refused whatever its signatures, so checking them first would only
	// cost work.
	sent := time.Unix(sec, 0)
	if now.Sub(sent) > v.tolerance {
		return fmt.Errorf("%w: sent %s, %v before now", ErrTooOld, sent.UTC().Format(time.RFC3339), now.Sub(sent).Round(time.Second))
	}
	if sent.Sub(now) > v.tolerance {
		return fmt.Errorf("%w: sent %s, %v after now", ErrTooNew, sent.UTC().Format(time.RFC3339), sent.Sub(now).Round(time.Second))
	}
	entries, err := parseSignatures(sigHeader)
	if err != nil {
		return err
	}
	content := signedContent(id, timestamp, body)
	known := 0
	for _, e := range entries {
		if e.version != VersionSymmetric && e.version != VersionAsymmetric {
			continue
		}
		known++
		sig, err := base64.StdEncoding.DecodeString(e.value)
		if err != nil {
			continue // an entry that cannot be decoded matches nothing
		}
		for _, k := range v.keys {
			if k.verify(e.version, sig, content) {
				return nil
			}
		}
	}
	if known == 0 {
		return fmt.Errorf("%w: no %s or %s entry", ErrNoMatchingSignature, VersionSymmetric, VersionAsymmetric)
	}
	return ErrNoMatchingSignature
}

// signedContent is "{id}.{timestamp}.{body}", the timestamp exactly as in
// the header.
func signedContent(id, timestamp string, body []byte) []byte {
	b := make([]byte, 0, len(id)+len(timestamp)+len(body)+2)
	b = append(b, id...)
	b = append(b, '.')
	b = append(b, timestamp...)
	b = append(b, '.')
	return append(b, body...)
}

// readHeaders returns the three headers, each of which must be there once.
func readHeaders(h http.Header) (id, timestamp, signature string, err error) {
	var missing []string
	vals := [3]string{}
	for i, name := range []string{HeaderID, HeaderTimestamp, HeaderSignature} {
		switch vs := h.Values(name); {
		case len(vs) == 0 || vs[0] == "":
			missing = append(missing, name)
		case len(vs) > 1:
			// Two ids or timestamps leave open which one was signed.
			return "", "", "", fmt.Errorf("%w: %s given %d times", ErrMalformedHeaders, name, len(vs))
		default:
			vals[i] = vs[0]
		}
	}
	if len(missing) > 0 {
		return "", "", "", fmt.Errorf("%w: %s", ErrMissingHeaders, strings.Join(missing, ", "))
	}
	if err := checkID(vals[0]); err != nil {
		return "", "", "", fmt.Errorf("%w: %w", ErrMalformedHeaders, err)
	}
	return vals[0], vals[1], vals[2], nil
}

func checkID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("webhook-id of %d bytes, want 1 to %d", len(id), maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' || c == '.' {
			return fmt.Errorf("webhook-id has %q at %d; want visible ASCII other than '.'", c, i)
		}
	}
	return nil
}

// parseTimestamp reads Unix seconds: digits only, no sign or spaces, since
// the string is signed as it stands.
func parseTimestamp(s string) (int64, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: webhook-timestamp is not Unix seconds", ErrMalformedHeaders)
		}
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: webhook-timestamp: %w", ErrMalformedHeaders, err)
	}
	return sec, nil
}

type signatureEntry struct {
	version, value string
}

// parseSignatures splits webhook-signature into its entries. An entry
// without a comma is kept with an empty value: like an unknown version, it
// matches nothing.
func parseSignatures(header string) ([]signatureEntry, error) {
	fields := strings.Fields(header)
	if len(fields) > maxSignatures {
		return nil, fmt.Errorf("%w: %d signatures, at most %d are tried", ErrMalformedHeaders, len(fields), maxSignatures)
	}
	entries := make([]signatureEntry, len(fields))
	for i, f := range fields {
		version, value, _ := strings.Cut(f, ",")
		entries[i] = signatureEntry{version: version, value: value}
	}
	return entries, nil
}
