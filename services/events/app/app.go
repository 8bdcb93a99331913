// Package app holds the events API's use cases: an organisation's
// subscriptions and their dead letters (for its org_admin), and the pull
// feed of events (for its partner system).
//
// Who may call what is the shared policy's organisation-level
// pseudo-sections: subscriptions (read, write) and events (read), checked
// by the interceptor and again here. A subscription is its organisation's
// alone: every lookup is scoped to the caller's organisation, so another
// organisation's id is not found. The feed filters every event with the
// same judge (services/events/visibility) as webhook delivery, for the
// caller, at the time of reading.
//
// Audit: every change to a subscription and every read of dead letters
// (they name clients) is recorded with the section "subscriptions"; every
// page of the feed records one read per client it discloses, with the
// sections of that client's events, before the page leaves.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/apperr"
	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/egress"
	"github.com/ipsbridge/ipsbridge/internal/rpc"
	"github.com/ipsbridge/ipsbridge/internal/webhook"
	"github.com/ipsbridge/ipsbridge/services/events/store"
	"github.com/ipsbridge/ipsbridge/services/events/visibility"
)

// ServiceName is how this service signs its audit records.
const ServiceName = "events"

// Config is what the use cases need besides their dependencies.
type Config struct {
	// Egress decides which endpoint URLs may be subscribed and reached.
	Egress egress.Policy
	// VerifyTimeout bounds the verification handshake with an endpoint.
	VerifyTimeout time.Duration
	// Sealer seals signing secrets at rest (nil: stored as they are; tests
	// only).
	Sealer *webhook.Sealer
}

// Service is the events API's application layer.
type Service struct {
	st     *store.Store
	path   *access.Path
	az     *authz.Authorizer
	judge  *visibility.Judge
	verify *endpoints
	sealer *webhook.Sealer
	log    *slog.Logger
}

// New returns the application layer.
func New(st *store.Store, path *access.Path, judge *visibility.Judge, cfg Config, log *slog.Logger) *Service {
	if cfg.VerifyTimeout <= 0 {
		cfg.VerifyTimeout = 10 * time.Second
	}
	return &Service{st: st, path: path, az: path.Authorizer(), judge: judge, log: log, sealer: cfg.Sealer,
		verify: &endpoints{policy: cfg.Egress, client: cfg.Egress.Client(cfg.VerifyTimeout)}}
}

func caller(ctx context.Context) (authz.Subject, authn.Principal, error) {
	c, err := access.CallerFrom(ctx)
	return c.Sub, c.P, err
}

// orgCaller returns the caller when the policy lets its role do action on
// the organisation-level section.
func (s *Service) orgCaller(ctx context.Context, section authz.Section, action authz.Action) (authz.Subject, authn.Principal, error) {
	sub, p, err := caller(ctx)
	if err != nil {
		return sub, p, err
	}
	ok, err := s.az.OrgAllowed(sub, section, action)
	if err != nil {
		return sub, p, err
	}
	if !ok {
		return sub, p, fmt.Errorf("%w: role %s of a %s organisation may not %s %s", apperr.ErrPermissionDenied, sub.Role, sub.OrgKind, action, section)
	}
	return sub, p, nil
}

var subscriptionsSection = []string{string(authz.Subscriptions)}

func event(ctx context.Context, sub authz.Subject, p authn.Principal, clientID string, sections []string, action, reason string) audit.Event {
	secs := make([]authz.Section, len(sections))
	for i, s := range sections {
		secs[i] = authz.Section(s)
	}
	c := access.Caller{Sub: sub, P: p, Info: rpc.InfoFromContext(ctx)}
	return c.Event(ServiceName, clientID, secs, action, audit.Allowed, reason)
}

// call is an authorised caller.
type call struct {
	sub authz.Subject
	p   authn.Principal
}
