// Package app holds the fidelity service's use cases, one file each group.
// Every request goes through the shared request path (internal/access):
// the policy's organisation-level lines for the pseudo-section fidelity
// decide the role, this package's row rules decide the review or team, and
// each access is audited (a write's record in its own transaction).
//
// Row rules:
//   - an IPS supervisor (MHA) requests, self-assesses, comments and
//     tracks the action plan only for its own teams;
//   - a fidelity reviewer sees the reviews assigned to it, and requested
//     reviews of its region waiting for a reviewer; scores only its own
//     assigned reviews, and never a review of its own organisation;
//   - a decision maker sees bands and history of its own region's teams;
//   - a funding officer sees the same bands and histories (a funding
//     agreement may require a minimum band), never a review.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	"github.com/ipsbridge/ipsbridge/services/fidelity/domain"
	"github.com/ipsbridge/ipsbridge/services/fidelity/store"
)

// ServiceName is how this service signs its audit records.
const ServiceName = "fidelity"

// Roles with a part in a review.
const (
	Supervisor    = "ips_supervisor"
	Reviewer      = "fidelity_reviewer"
	DecisionMaker = "decision_maker"
)

// Service is the fidelity service's application layer.
type Service struct {
	st      *store.Store
	path    *access.Path
	scales  domain.Scales
	newest  string
	figures Figures
	sampler Sampler
	log     *slog.Logger
	now     func() time.Time
}

// New returns the application layer. now nil means time.Now.
func New(st *store.Store, path *access.Path, scales domain.Scales, figures Figures, sampler Sampler, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	newest := ""
	for id := range scales {
		if id > newest {
			newest = id
		}
	}
	return &Service{st: st, path: path, scales: scales, newest: newest, figures: figures, sampler: sampler, log: log, now: now}
}

// Today is the service's civil date.
func (s *Service) Today() domain.Date {
	t := s.now().UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// Scale returns a scale version.
func (s *Service) Scale(id string) (*domain.Scale, error) {
	if id == "" {
		id = s.newest
	}
	sc := s.scales[id]
	if sc == nil {
		return nil, &domain.FieldError{Field: "scale_id", Msg: fmt.Sprintf("%q is not a known scale version", id)}
	}
	return sc, nil
}

// Scales returns every scale version, oldest id first.
func (s *Service) Scales() []*domain.Scale {
	var out []*domain.Scale
	for _, sc := range s.scales {
		out = append(out, sc)
	}
	slices.SortFunc(out, func(a, b *domain.Scale) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func op(action authz.Action, subject string) access.OrgOp {
	return access.OrgOp{Section: authz.Fidelity, Action: action, Subject: subject}
}

// mayRead is the row rule of reading a review.
func mayRead(c access.Caller, r *domain.Review) bool {
	switch c.Sub.Role {
	case Supervisor:
		return c.Sub.OrgID == r.OrgID && slices.Contains(c.Sub.Teams, r.TeamID)
	case Reviewer:
		return r.ReviewerID == c.Sub.UserID || (r.Status == domain.Requested && r.RegionID == c.Sub.RegionID && r.OrgID != c.Sub.OrgID)
	case DecisionMaker:
		return r.RegionID == c.Sub.RegionID && r.Status == domain.Final
	}
	return false
}

// isTeamSupervisor: the caller supervises the review's team.
func isTeamSupervisor(c access.Caller, r *domain.Review) bool {
	return c.Sub.Role == Supervisor && c.Sub.OrgID == r.OrgID && slices.Contains(c.Sub.Teams, r.TeamID)
}

// isAssignedReviewer: the caller is the review's reviewer, and independent.
func isAssignedReviewer(c access.Caller, r *domain.Review) bool {
	return c.Sub.Role == Reviewer && r.ReviewerID == c.Sub.UserID && c.Sub.OrgID != r.OrgID
}

func denied(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{domain.ErrPermissionDenied}, args...)...)
}

// change runs one idempotent write of a review: decides the write on the
// shared path, locks the review, checks the version read (0: no check) and
// the row rule, runs fn and records the access in the same transaction. A
// retry with the same key returns the review as it is and changes nothing.
// A row-level refusal is audited.
func (s *Service) change(ctx context.Context, method, reviewID string, version int64, k idempotency.Request,
	rule func(c access.Caller, r *domain.Review) error, fn func(tx pgx.Tx, c access.Caller, r *domain.Review) error) (*domain.Review, error) {
	o := op(authz.Write, "review "+reviewID+": "+method)
	c, err := s.path.Org(ctx, o)
	if err != nil {
		return nil, err
	}
	err = s.path.OrgWrite(ctx, c, o, func(ctx context.Context, tx pgx.Tx) error {
		_, _, err := store.Keys.Once(ctx, tx, idempotency.For(c.Sub.UserID, method, k), func() (idempotency.Result, error) {
			r, err := s.st.Get(ctx, tx, reviewID, true)
			if err != nil {
				return idempotency.Result{}, err
			}
			if !mayRead(c, r) && !isAssignedReviewer(c, r) && !isTeamSupervisor(c, r) {
				return idempotency.Result{}, fmt.Errorf("review %s: %w", reviewID, domain.ErrNotFound)
			}
			if err := rule(c, r); err != nil {
				return idempotency.Result{}, err
			}
			if version > 0 && r.Version != version {
				return idempotency.Result{}, fmt.Errorf("%w: review %s is at version %d, not %d; read it again", domain.ErrVersionConflict, reviewID, r.Version, version)
			}
			if err := fn(tx, c, r); err != nil {
				return idempotency.Result{}, err
			}
			return idempotency.Result{ResourceID: reviewID}, nil
		})
		return err
	})
	if errors.Is(err, domain.ErrPermissionDenied) || errors.Is(err, domain.ErrNotFound) {
		return nil, s.path.OrgRefuse(ctx, c, o, err)
	}
	if err != nil {
		return nil, err
	}
	return s.st.Read(ctx, reviewID)
}
