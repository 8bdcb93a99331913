package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
	"github.com/ipsbridge/ipsbridge/internal/authn"
)

// Requirement is a section and action a method may need; a method lists the
// requirements of which the caller's role must meet at least one.
type Requirement struct {
	Section Section
	Action  Action
}

// Public marks a method that needs no caller at all (health checks).
var Public = []Requirement{}

// Authenticated marks a method any verified caller whose organisation is in
// the directory may call; it touches no client data.
var Authenticated = []Requirement{{}}

// SubjectResolver turns a verified principal into a policy subject (the
// service looks up the organisation's kind and region).
type SubjectResolver func(ctx context.Context, p authn.Principal) (Subject, error)

// DenyHook is told of every call the interceptor refuses, so that the
// service can audit it.
// reqs are the method's requirements, none of which the caller's role meets.
type DenyHook func(ctx context.Context, s Subject, fullMethod string, reqs []Requirement, req any, reason string)

type subjectKey struct{}

// SubjectFromContext returns the subject the interceptor resolved.
func SubjectFromContext(ctx context.Context) (Subject, bool) {
	s, ok := ctx.Value(subjectKey{}).(Subject)
	return s, ok
}

// WithSubject returns a context carrying s.
func WithSubject(ctx context.Context, s Subject) context.Context {
	return context.WithValue(ctx, subjectKey{}, s)
}

// UnaryServerInterceptor enforces the method-level part of the policy: the
// caller's role must be able to meet at least one of the method's
// requirements with some client, or the call is refused before any lookup.
// Methods missing from rules are refused: a new method must be given its
// requirements before anyone can call it. Section-level and per-client
// decisions are made by the handlers, which know the client.
func UnaryServerInterceptor(a *Authorizer, rules map[string][]Requirement, resolve SubjectResolver, onDeny DenyHook) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		reqs, known := rules[info.FullMethod]
		if known && len(reqs) == 0 {
			return handler(ctx, req)
		}
		p, ok := authn.FromContext(ctx)
		if !ok {
			return nil, status.Error(codes.Unauthenticated, "no verified caller")
		}
		s, err := resolve(ctx, p)
		if err != nil {
			slog.WarnContext(ctx, "resolve caller", "subject", p.Subject, "org", p.OrgID, "err", err)
			// Only a directory that answered "no such organisation" denies;
			// a lookup that failed is an outage, and a caller retries that.
			if errors.Is(err, apperr.ErrPermissionDenied) {
				return nil, status.Errorf(codes.PermissionDenied, "caller %s of organisation %s is not known here", p.Subject, p.OrgID)
			}
			return nil, status.Error(codes.Unavailable, "the directory cannot be read right now; retry later")
		}
		if !known {
			if onDeny != nil {
				onDeny(ctx, s, info.FullMethod, nil, req, "method not covered by the policy")
			}
			return nil, status.Errorf(codes.PermissionDenied, "%s is not covered by the access policy", info.FullMethod)
		}
		for _, r := range reqs {
			if r == (Requirement{}) {
				return handler(WithSubject(ctx, s), req)
			}
			ok, err := a.RoleMay(s, r.Section, r.Action)
			if err != nil {
				return nil, status.Error(codes.Internal, "authorization failed")
			}
			if ok {
				return handler(WithSubject(ctx, s), req)
			}
		}
		reason := fmt.Sprintf("role %s of a %s organisation may not call this method", s.Role, s.OrgKind)
		if onDeny != nil {
			onDeny(ctx, s, info.FullMethod, reqs, req, reason)
		}
		return nil, status.Error(codes.PermissionDenied, reason)
	}
}
