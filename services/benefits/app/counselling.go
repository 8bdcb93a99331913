package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/apperr"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	"github.com/ipsbridge/ipsbridge/services/benefits/domain"
	"github.com/ipsbridge/ipsbridge/services/benefits/store"
)

// mayRequestCounselling: whoever may write benefits, or the client's own
// employment specialist (who holds the summary), may ask for counselling.
func mayRequestCounselling(c call) string {
	if c.Decision.Write[authz.Benefits] || c.Decision.Summary {
		return ""
	}
	return fmt.Sprintf("role %s may not ask for benefits counselling for this client", c.Sub.Role)
}

func mayCounsel(c call) string {
	if r := mayWrite(c); r != "" {
		return r
	}
	if c.Sub.Role != Counsellor {
		return "only a benefits counsellor counsels"
	}
	return ""
}

// withoutSessions hides session notes from everyone but counsellors.
func withoutSessions(role string, rs []store.CounsellingRequest) []store.CounsellingRequest {
	if role == Counsellor {
		return rs
	}
	for i := range rs {
		rs[i].Sessions = nil
	}
	return rs
}

// CreateCounsellingRequest opens a counselling request, optionally naming
// the counsellor. A retry with the same idempotency key opens nothing and
// gets the first answer.
func (s *Service) CreateCounsellingRequest(ctx context.Context, clientID, reason, counsellorID string, k idempotency.Request) (store.CounsellingRequest, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return store.CounsellingRequest{}, &apperr.FieldError{Field: "counselling_request.reason", Msg: "is required: say what the client needs counselling about"}
	}
	c, err := s.allow(ctx, clientID, "write", mayRequestCounselling)
	if err != nil {
		return store.CounsellingRequest{}, err
	}
	var out store.CounsellingRequest
	err = s.write(ctx, c, "counselling requested", func(tx pgx.Tx) error {
		var err error
		out, _, err = once(ctx, tx, c, "CreateCounsellingRequest", k, func() (store.CounsellingRequest, error) {
			r, err := store.InsertCounsellingRequest(ctx, tx, clientID, reason, counsellorID, c.Sub.UserID)
			if err != nil {
				return r, err
			}
			return r, emit(ctx, tx, counsellingRequestedEvent(c.Facts.RegionID, r))
		})
		return err
	})
	return out, err
}

// ListCounsellingRequests lists the client's requests; sessions only for
// counsellors.
func (s *Service) ListCounsellingRequests(ctx context.Context, clientID string) ([]store.CounsellingRequest, error) {
	c, err := s.allow(ctx, clientID, "read", func(c call) string {
		if c.Decision.Summary || mayRead(c) == "" {
			return ""
		}
		return mayRead(c)
	})
	if err != nil {
		return nil, err
	}
	rs, err := s.st.CounsellingRequests(ctx, clientID)
	if err != nil {
		return nil, err
	}
	return withoutSessions(c.Sub.Role, rs), s.readDone(ctx, c, "counselling requests")
}

// AssignCounsellingRequest assigns a counsellor (the caller when empty).
func (s *Service) AssignCounsellingRequest(ctx context.Context, clientID, requestID, counsellorID string, k idempotency.Request) (store.CounsellingRequest, error) {
	c, err := s.allow(ctx, clientID, "write", mayCounsel)
	if err != nil {
		return store.CounsellingRequest{}, err
	}
	if counsellorID == "" {
		counsellorID = c.Sub.UserID
	}
	var out store.CounsellingRequest
	err = s.write(ctx, c, "counsellor "+counsellorID+" assigned", func(tx pgx.Tx) error {
		var err error
		out, _, err = once(ctx, tx, c, "AssignCounsellingRequest", k, func() (store.CounsellingRequest, error) {
			return s.st.UpdateCounsellingRequest(ctx, tx, clientID, requestID, func(r *store.CounsellingRequest) (*store.Session, error) {
				if r.Status != "open" {
					return nil, fmt.Errorf("%w: counselling request %s is closed", domain.ErrFailedPrecondition, requestID)
				}
				r.CounsellorID = counsellorID
				return nil, nil
			})
		})
		return err
	})
	return out, err
}

// RecordSession records a counselling session by the calling counsellor,
// assigning them when the request has no counsellor yet. A retry with the
// same idempotency key records nothing and gets the first answer.
func (s *Service) RecordSession(ctx context.Context, clientID, requestID string, sess store.Session, closeRequest bool, k idempotency.Request) (store.CounsellingRequest, error) {
	c, err := s.allow(ctx, clientID, "write", mayCounsel)
	if err != nil {
		return store.CounsellingRequest{}, err
	}
	if sess.Date.After(time.Now().AddDate(0, 0, 1)) {
		return store.CounsellingRequest{}, fmt.Errorf("%w: session.session_date %s is in the future", domain.ErrInvalid, sess.Date.Format(time.DateOnly))
	}
	var out store.CounsellingRequest
	err = s.write(ctx, c, "counselling session recorded", func(tx pgx.Tx) error {
		var err error
		out, _, err = once(ctx, tx, c, "RecordCounsellingSession", k, func() (store.CounsellingRequest, error) {
			return s.st.UpdateCounsellingRequest(ctx, tx, clientID, requestID, func(r *store.CounsellingRequest) (*store.Session, error) {
				if r.Status != "open" {
					return nil, fmt.Errorf("%w: counselling request %s is closed", domain.ErrFailedPrecondition, requestID)
				}
				if r.CounsellorID == "" {
					r.CounsellorID = c.Sub.UserID
				}
				if closeRequest {
					r.Status = "closed"
				}
				sess.CounsellorID = c.Sub.UserID
				return &sess, nil
			})
		})
		return err
	})
	return out, err
}

// ListOpenCounsellingRequests lists the calling counsellor's open requests,
// and the unassigned ones of clients they may counsel when asked. Each
// listed client's access is decided now and audited.
func (s *Service) ListOpenCounsellingRequests(ctx context.Context, unassigned bool) ([]store.CounsellingRequest, error) {
	cl, err := access.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	rs, err := s.st.OpenRequests(ctx, cl.Sub.UserID, unassigned, cl.Sub.OrgID, cl.Sub.RegionID)
	if err != nil {
		return nil, err
	}
	out, err := perClient(ctx, s, rs, func(r store.CounsellingRequest) string { return r.ClientID }, mayRead)
	if err != nil {
		return nil, err
	}
	return withoutSessions(cl.Sub.Role, out), nil
}

// perClient keeps the items whose client the caller may still access
// (consent may have been revoked since): one decision for all their
// clients, and one list record per client shown.
func perClient[T any](ctx context.Context, s *Service, items []T, clientOf func(T) string, ok func(call) string) ([]T, error) {
	var ids []string
	for _, it := range items {
		if id := clientOf(it); !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	op := access.Op{Action: "list", Sections: benefitsSection}
	op.Rule = func(a *access.Access) string { return ok(newCall(a, op)) }
	var out []T
	err := s.path.ReadMany(ctx, ids, op, func(allowed map[string]*access.Access) error {
		for _, it := range items {
			if a := allowed[clientOf(it)]; a != nil {
				a.Touch(authz.Benefits)
				out = append(out, it)
			}
		}
		return nil
	})
	return out, err
}
