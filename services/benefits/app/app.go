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
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
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
	path     *access.Path
	notifier Notifier
	log      *slog.Logger
}

// New returns the application layer on the service's request path.
// notifier nil means the table notifier.
func New(st *store.Store, path *access.Path, notifier Notifier, log *slog.Logger) *Service {
	if notifier == nil {
		notifier = TableNotifier{}
	}
	return &Service{st: st, path: path, notifier: notifier, log: log}
}

var benefitsSection = []authz.Section{authz.Benefits}

// call is one decided request about one client (caller, facts and
// decision, which this service's row-level rules look at) and the
// operation it was decided for.
type call struct {
	*access.Access
	op access.Op
}

func newCall(a *access.Access, op access.Op) call { return call{Access: a, op: op} }

// allow decides on the request path whether the caller may do act with the
// client: ok says from the decision whether it is allowed, and why not. A
// caller who may see nothing of the client gets NotFound; every refusal is
// audited.
func (s *Service) allow(ctx context.Context, clientID, act string, ok func(c call) string) (call, error) {
	op := access.Op{Action: act, Sections: benefitsSection}
	op.Rule = func(a *access.Access) string { return ok(newCall(a, op)) }
	a, err := s.path.Decide(ctx, clientID, op)
	if err != nil {
		return call{}, err
	}
	return newCall(a, op), nil
}

// refuse audits a row-level refusal and returns err.
func (s *Service) refuse(ctx context.Context, c call, err error) error {
	return s.path.Refuse(ctx, c.Access, c.op, err)
}

func mayRead(c call) string {
	if !c.Decision.Read[authz.Benefits] {
		return fmt.Sprintf("role %s may not read benefits of this client", c.Sub.Role)
	}
	return ""
}

func mayWrite(c call) string {
	if !c.Decision.Write[authz.Benefits] {
		return fmt.Sprintf("role %s may not write benefits of this client", c.Sub.Role)
	}
	return ""
}

// isPayerKind: the caller's organisation pays benefits.
func isPayerKind(sub authz.Subject) bool {
	return sub.OrgKind == "uwv" || sub.OrgKind == "municipality"
}

// sees applies the row-level rule to one benefit.
func sees(c call, b domain.Benefit) bool {
	if !c.Decision.Read[authz.Benefits] {
		return false
	}
	if c.Sub.Role == Counsellor {
		return true
	}
	return isPayerKind(c.Sub) && b.PayerOrgID == c.Sub.OrgID
}

// write runs fn in a transaction with the access's audit record. A failure
// of fn is returned unaudited when it is bad input (nothing was accessed),
// and audited as a refusal when it is a row-level denial.
// once runs write in tx under the caller's idempotency key for method
// (internal/idempotency), its answer stored as JSON with the key: a retry
// with the same key and request runs nothing and gets the first answer
// (replay true). A request without a key just runs write.
func once[T any](ctx context.Context, tx pgx.Tx, c call, method string, k idempotency.Request, write func() (T, error)) (out T, replay bool, err error) {
	r, replay, err := store.Keys.Once(ctx, tx, c.Key(method, k), func() (idempotency.Result, error) {
		var err error
		if out, err = write(); err != nil {
			return idempotency.Result{}, err
		}
		b, err := json.Marshal(out)
		return idempotency.Result{Response: b}, err
	})
	if err != nil || !replay {
		return out, false, err
	}
	var first T
	if err := json.Unmarshal(r.Response, &first); err != nil {
		return first, true, fmt.Errorf("first answer of %s: %w", method, err)
	}
	return first, true, nil
}

func (s *Service) write(ctx context.Context, c call, reason string, fn func(tx pgx.Tx) error) error {
	op := c.op
	op.Reason = reason
	err := s.path.WriteDecided(ctx, c.Access, op, func(_ context.Context, tx pgx.Tx) error { return fn(tx) })
	if errors.Is(err, domain.ErrPermissionDenied) || errors.Is(err, domain.ErrNotFound) {
		return s.refuse(ctx, c, err)
	}
	return err
}

// readDone records an allowed read.
func (s *Service) readDone(ctx context.Context, c call, reason string) error {
	op := c.op
	op.Reason = reason
	return s.path.Done(ctx, c.Access, op)
}
