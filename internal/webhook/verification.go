package webhook

import (
	"bytes"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/cloudevent"
)

// The subscription verification handshake. When a subscription is created
// the platform sends its endpoint a signed event of VerificationEventType
// whose data is VerificationData with a fresh challenge. The endpoint
// verifies the signature like any other message and answers 2xx with the
// JSON body {"challenge":"<the same string>"}. Only then does the platform
// deliver events there: so a typo in a URL, or someone else's server, does
// not receive partners' data.
const (
	VerificationEventType = "nl.ipsbridge.subscription.verification.v1"
	// VerificationResponseContentType is the Content-Type of the answer.
	VerificationResponseContentType = "application/json"
	// maxChallengeLen bounds what a receiver echoes.
	maxChallengeLen = 256
)

// ErrVerificationFailed: an answer to the handshake, or the handshake event
// itself, is not as the protocol says.
var ErrVerificationFailed = errors.New("subscription verification failed")

// VerificationData is the data of the handshake event and, with the same
// challenge, the body of the answer.
type VerificationData struct {
	Challenge string `json:"challenge"`
}

// VerificationChallenge returns a new random challenge (128 bits and more,
// in base32 text, so it needs no escaping anywhere).
func VerificationChallenge() string {
	return rand.Text()
}

// NewVerificationEvent returns the handshake event for the subscription
// named by subject, sent from source at at.
func NewVerificationEvent(id, source, subject, challenge string, at time.Time) cloudevent.Event {
	data, _ := json.Marshal(VerificationData{Challenge: challenge}) // a string field always encodes
	return cloudevent.Event{
		SpecVersion:     cloudevent.SpecVersion,
		ID:              id,
		Source:          source,
		Type:            VerificationEventType,
		Subject:         subject,
		Time:            at.UTC(),
		DataContentType: cloudevent.DataContentTypeJSON,
		Data:            data,
	}
}

// VerificationResponse returns the body a receiver answers the handshake
// event e with. The caller has verified e's signature first: answering an
// unsigned handshake would vouch for messages the receiver never checked.
func VerificationResponse(e cloudevent.Event) ([]byte, error) {
	if e.Type != VerificationEventType {
		return nil, fmt.Errorf("%w: event type %q is not %q", ErrVerificationFailed, e.Type, VerificationEventType)
	}
	d, err := readVerificationData(e.Data)
	if err != nil {
		return nil, fmt.Errorf("handshake event %s: %w", e.ID, err)
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode handshake answer: %w", err)
	}
	return b, nil
}

// CheckVerificationResponse checks the body of the endpoint's answer (whose
// status the caller has checked to be 2xx) against the challenge sent.
func CheckVerificationResponse(body []byte, challenge string) error {
	if challenge == "" {
		return errors.New("check handshake answer: no challenge was sent")
	}
	d, err := readVerificationData(body)
	if err != nil {
		return fmt.Errorf("handshake answer: %w", err)
	}
	// Constant time, out of habit with anything a caller must prove it knows.
	if subtle.ConstantTimeCompare([]byte(d.Challenge), []byte(challenge)) != 1 {
		return fmt.Errorf("%w: the answer has another challenge", ErrVerificationFailed)
	}
	return nil
}

func readVerificationData(b []byte) (VerificationData, error) {
	var d VerificationData
	if err := json.Unmarshal(bytes.TrimSpace(b), &d); err != nil {
		return VerificationData{}, fmt.Errorf("%w: not a JSON object with a challenge: %w", ErrVerificationFailed, err)
	}
	if d.Challenge == "" || len(d.Challenge) > maxChallengeLen {
		return VerificationData{}, fmt.Errorf("%w: challenge of %d bytes, want 1 to %d", ErrVerificationFailed, len(d.Challenge), maxChallengeLen)
	}
	return d, nil
}
