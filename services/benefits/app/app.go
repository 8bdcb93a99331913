// Package app holds the benefits service's use cases. Each one asks the
// clients service (through internal/access) what the caller may do with the
// client, applies this service's row-level rules on top, does the work and
// records the access in the audit log: a write's record in the write's own
// transaction, a read's record before the data leaves, a refusal as well.
//
// Row-level rules on the benefits section:
//   - a UWV or municipality caller (officer or partner system) sees and
//     changes only the benefits its own organisation pays;
//   - a benefits counsellor sees all of the client's benefits, and alone
//     assigns counselling and records sessions;
//   - the client's own employment specialist (Decision.Summary) sees a
//     summary without amounts and may ask for counselling: a counselling
//     request is a write the policy does not spell out, allowed here to
//     whoever may write benefits or holds the summary, i.e. the client's
//     own specialist;
//   - clinicians and everyone else see nothing.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/rpc"
	"github.com/ipsbridge/ipsbridge/services/benefits/domain"
	"github.com/ipsbridge/ipsbridge/services/benefits/store"
)

// ServiceName is how this service signs its audit records.
const ServiceName = "benefits"

// Counsellor is the role that counsels clients on benefits.
const Counsellor = "benefits_counsellor"

// Service is the benefits service's application layer.
type Service struct {
	st       *store.Store
	checker  *access.Checker
	notifier Notifier
	log      *slog.Logger
}

// New returns the application layer. notifier nil means the table notifier.
func New(st *store.Store, checker *access.Checker, notifier Notifier, log *slog.Logger) *Service {
	if notifier == nil {
		notifier = TableNotifier{}
	}
	return &Service{st: st, checker: checker, notifier: notifier, log: log}
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
		return authz.Subject{}, authn.Principal{}, fmt.Errorf("%w: no verified caller", domain.ErrPermissionDenied)
	}
	return sub, p, nil
}

var benefitsSection = []string{string(authz.Benefits)}

func event(ctx context.Context, sub authz.Subject, p authn.Principal, clientID string, secs []string, action string, outcome audit.Outcome, reason string) audit.Event {
	info := rpc.InfoFromContext(ctx)
	return audit.Event{
		Service: ServiceName, ActorID: p.Subject, OnBehalfOf: p.OnBehalfOf, OrgID: sub.OrgID, Role: sub.Role,
		ClientID: clientID, Sections: secs, Action: action, Outcome: outcome, Reason: reason,
		RequestID: info.RequestID, Purpose: info.Purpose, RemoteAddr: info.RemoteAddr,
	}
}

// record writes an audit record outside a write transaction; its failure
// fails the request.
func (s *Service) record(ctx context.Context, e audit.Event) error {
	if err := audit.Record(ctx, s.st.Pool(), e); err != nil {
		s.log.ErrorContext(ctx, "audit record failed", "err", err, "client", e.ClientID, "action", e.Action)
		return fmt.Errorf("%w: %v", domain.ErrAuditUnavailable, err)
	}
	return nil
}

// call is one authorised request about one client.
type call struct {
	sub   authz.Subject
	p     authn.Principal
	d     authz.Decision
	facts authz.ClientFacts
	id    string
	act   string
}

// refuse audits a refusal and returns err.
func (s *Service) refuse(ctx context.Context, c call, err error) error {
	if aerr := s.record(ctx, event(ctx, c.sub, c.p, c.id, benefitsSection, c.act, audit.Denied, err.Error())); aerr != nil {
		return aerr
	}
	return err
}

// allow decides whether the caller may do act with the client: ok says
// from the decision whether it is allowed, and why not. A caller who may
// see nothing of the client gets NotFound; every refusal is audited.
func (s *Service) allow(ctx context.Context, clientID, act string, ok func(c call) string) (call, error) {
	sub, p, err := caller(ctx)
	if err != nil {
		return call{}, err
	}
	c := call{sub: sub, p: p, id: clientID, act: act}
	c.d, c.facts, err = s.checker.Decide(ctx, sub, clientID)
	if errors.Is(err, access.ErrNoAccess) {
		return c, s.refuse(ctx, c, fmt.Errorf("client %s: %w", clientID, domain.ErrNotFound))
	}
	if err != nil {
		return c, err
	}
	if reason := ok(c); reason != "" {
		return c, s.refuse(ctx, c, fmt.Errorf("%w: %s", domain.ErrPermissionDenied, reason))
	}
	return c, nil
}

func mayRead(c call) string {
	if !c.d.Read[authz.Benefits] {
		return fmt.Sprintf("role %s may not read benefits of this client", c.sub.Role)
	}
	return ""
}

func mayWrite(c call) string {
	if !c.d.Write[authz.Benefits] {
		return fmt.Sprintf("role %s may not write benefits of this client", c.sub.Role)
	}
	return ""
}

// isPayerKind: the caller's organisation pays benefits.
func isPayerKind(sub authz.Subject) bool {
	return sub.OrgKind == "uwv" || sub.OrgKind == "municipality"
}

// sees applies the row-level rule to one benefit.
func sees(c call, b domain.Benefit) bool {
	if !c.d.Read[authz.Benefits] {
		return false
	}
	if c.sub.Role == Counsellor {
		return true
	}
	return isPayerKind(c.sub) && b.PayerOrgID == c.sub.OrgID
}

// write runs fn in a transaction and records the allowed access in it. A
// failure of fn is returned unaudited when it is bad input (nothing was
// accessed), and audited as a refusal when it is a row-level denial.
func (s *Service) write(ctx context.Context, c call, reason string, fn func(tx pgx.Tx) error) error {
	err := s.st.InTx(ctx, func(tx pgx.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, event(ctx, c.sub, c.p, c.id, benefitsSection, c.act, audit.Allowed, reason)); err != nil {
			return fmt.Errorf("%w: %v", domain.ErrAuditUnavailable, err)
		}
		return nil
	})
	if errors.Is(err, domain.ErrPermissionDenied) || errors.Is(err, domain.ErrNotFound) {
		return s.refuse(ctx, c, err)
	}
	return err
}

// readDone records an allowed read.
func (s *Service) readDone(ctx context.Context, c call, reason string) error {
	return s.record(ctx, event(ctx, c.sub, c.p, c.id, benefitsSection, c.act, audit.Allowed, reason))
}
