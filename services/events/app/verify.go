package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
	"github.com/ipsbridge/ipsbridge/internal/cloudevent"
	"github.com/ipsbridge/ipsbridge/internal/egress"
	"github.com/ipsbridge/ipsbridge/internal/webhook"
)

// ErrEndpointVerification: the endpoint did not pass the verification
// handshake; the message says what it answered.
var ErrEndpointVerification = fmt.Errorf("%w: endpoint verification failed", apperr.ErrFailedPrecondition)

// EventSource is the CloudEvents source of the events this service sends
// itself (the verification handshake).
const EventSource = "/ipsbridge/events"

// endpoints checks subscribers' URLs and runs the handshake, through the
// egress policy only.
type endpoints struct {
	policy egress.Policy
	client *http.Client
}

const urlField = "subscription.url"

// check parses an endpoint URL and refuses what may not be subscribed: not
// https (http only when the operator allows it), a user name or password, a
// fragment, or a host the egress policy refuses.
func (v *endpoints) check(ctx context.Context, raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", &apperr.FieldError{Field: urlField, Msg: "is required"}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", &apperr.FieldError{Field: urlField, Msg: "is not a URL"}
	}
	want := "https"
	if v.policy.AllowHTTP {
		want = "https (or http, allowed here)"
	}
	switch {
	case u.Scheme != "https" && !(u.Scheme == "http" && v.policy.AllowHTTP):
		return "", &apperr.FieldError{Field: urlField, Msg: "must be an absolute " + want + " URL"}
	case u.Hostname() == "":
		return "", &apperr.FieldError{Field: urlField, Msg: "has no host"}
	case u.User != nil:
		return "", &apperr.FieldError{Field: urlField, Msg: "must not carry a user name or password; authenticate the platform by its signature"}
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return "", &apperr.FieldError{Field: urlField, Msg: "must not have a fragment"}
	}
	if _, err := v.policy.CheckURL(ctx, raw); err != nil {
		if errors.Is(err, egress.ErrRefused) {
			return "", &apperr.FieldError{Field: urlField, Msg: err.Error()}
		}
		return "", fmt.Errorf("%w: %s: %v", ErrEndpointVerification, u.Redacted(), err)
	}
	return u.String(), nil
}

// maxAnswer bounds what is read of the endpoint's answer.
const maxAnswer = 64 << 10

// handshake sends the endpoint a verification event for the subscription,
// signed with keys, and checks that it answers 2xx echoing the challenge.
func (v *endpoints) handshake(ctx context.Context, subscriptionID, endpoint string, keys []webhook.SigningKey) error {
	challenge := webhook.VerificationChallenge()
	id, now := uuid.NewString(), time.Now()
	body, err := cloudevent.Marshal(webhook.NewVerificationEvent(id, EventSource, "subscriptions/"+subscriptionID, challenge, now))
	if err != nil {
		return fmt.Errorf("build verification event: %w", err)
	}
	signer, err := webhook.NewSigner(keys...)
	if err != nil {
		return err
	}
	headers, err := signer.Sign(id, now, body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return &apperr.FieldError{Field: urlField, Msg: err.Error()}
	}
	for k, vs := range headers {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", cloudevent.ContentType)
	req.Header.Set("User-Agent", "ipsbridge-events/1")
	resp, err := v.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: the endpoint could not be reached: %s", ErrEndpointVerification, unwrapURLError(err))
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%w: reading the endpoint's answer (%s) failed: %v", ErrEndpointVerification, resp.Status, err)
	}
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return fmt.Errorf("%w: the endpoint answered %s (redirects are not followed; subscribe the final URL)", ErrEndpointVerification, resp.Status)
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		return fmt.Errorf("%w: the endpoint answered %s to the verification event%s; it must answer 2xx with {\"challenge\": \"<the challenge sent>\"}",
			ErrEndpointVerification, resp.Status, snippet(answer))
	}
	if err := webhook.CheckVerificationResponse(answer, challenge); err != nil {
		return fmt.Errorf("%w: the endpoint answered %s but not with the challenge (%v)%s; it must answer {\"challenge\": \"<the challenge sent>\"}",
			ErrEndpointVerification, resp.Status, err, snippet(answer))
	}
	return nil
}

// snippet quotes the start of an answer for the message.
func snippet(b []byte) string {
	const n = 200
	if len(bytes.TrimSpace(b)) == 0 {
		return " with an empty body"
	}
	if len(b) > n {
		b = b[:n]
	}
	return fmt.Sprintf(" with the body %q", strings.ToValidUTF8(string(b), "\uFFFD"))
}

// unwrapURLError drops the method and URL net/http puts in front of an error.
func unwrapURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
