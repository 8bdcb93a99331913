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
}

// Service is the events API's application layer.
type Service struct {
	st      *store.Store
	checker *access.Checker
	az      *authz.Authorizer
	judge   *visibility.Judge
	verify  *endpoints
	log     *slog.Logger
}

// New returns the application layer.
func New(st *store.Store, checker *access.Checker, judge *visibility.Judge, cfg Config, log *slog.Logger) *Service {
	if cfg.VerifyTimeout <= 0 {
		cfg.VerifyTimeout = 10 * time.Second
	}
	return &Service{st: st, checker: checker, az: checker.Authorizer(), judge: judge, log: log,
		verify: &endpoints{policy: cfg.Egress, client: cfg.Egress.Client(cfg.VerifyTimeout)}}
}

// ResolveSubject is the authz.SubjectResolver: the clients service's
// directory says who the caller is.
func (s *Service) ResolveSubject(ctx context.Context, p authn.Principal) (authz.Subject, error) {
	return s.checker.ResolveSubject(ctx, p)
}

func caller(ctx context.Context) (authz.Subject, authn.Principal, error) {
	sub, ok := authz.SubjectFromContext(ctx)
	p, ok2 := authn.FromContext(ctx)
	if !ok || !ok2 {
		return authz.Subject{}, authn.Principal{}, fmt.Errorf("%w: no verified caller", apperr.ErrPermissionDenied)
	}
	return sub, p, nil
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
	info := rpc.InfoFromContext(ctx)
	return audit.Event{
		Service: ServiceName, ActorID: p.Subject, OnBehalfOf: p.OnBehalfOf, OrgID: sub.OrgID, Role: sub.Role,
		ClientID: clientID, Sections: sections, Action: action, Outcome: audit.Allowed, Reason: reason,
		RequestID: info.RequestID, Purpose: info.Purpose, RemoteAddr: info.RemoteAddr,
	}
}

// record writes an audit record; its failure fails the request.
func record(ctx context.Context, q audit.Querier, e audit.Event) error {
	if err := audit.Record(ctx, q, e); err != nil {
		return fmt.Errorf("%w: %v", apperr.ErrAuditUnavailable, err)
	}
	return nil
}

// call is an authorised caller.
type call struct {
	sub authz.Subject
	p   authn.Principal
}
