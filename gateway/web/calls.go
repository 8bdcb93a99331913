package web

import (
	"context"
	"net"
	"net/http"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authz"
)

// callTimeout bounds every service call a page makes.
const callTimeout = 15 * time.Second

// callContext is the context of the service calls one request makes: the
// signed-in person's own bearer token, the request id (so the audit log and
// the access log line up) and the browser's address, as the REST gateway
// forwards them.
func (h *Handler) callContext(r *http.Request, s *session) (context.Context, context.CancelFunc) {
	md := metadata.Pairs("authorization", "Bearer "+s.Token)
	// Every call of one page view carries the same request id: the audit
	// log ties them together (and records a page view once, see
	// access.CoverSections).
	id := r.Header.Get("X-Request-Id")
	if id == "" {
		id = uuid.NewString()
		r.Header.Set("X-Request-Id", id)
	}
	md.Set("x-request-id", id)
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = ""
	}
	authn.SetForwarded(md, host, r.Header.Get("X-Forwarded-For"))
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	return metadata.NewOutgoingContext(ctx, md), cancel
}

// subject is the signed-in person as the policy sees them.
func (s *session) subject() authz.Subject {
	return authz.Subject{UserID: s.UserID, OrgID: s.OrgID, OrgKind: s.OrgKind, RegionID: s.RegionID, Role: s.Role, Teams: s.Teams}
}

// roleMay says whether the person's role could ever do action on section;
// pages use it only to decide what to ask the services for.
func (h *Handler) roleMay(s *session, sec authz.Section, action authz.Action) bool {
	ok, err := h.az.RoleMay(s.subject(), sec, action)
	return err == nil && ok
}

// newKey returns a fresh idempotency key for a form.
func newKey() string { return "web-" + uuid.NewString() }

// refused reports whether a section call was refused for this person (it
// is then simply not shown).
func refused(err error) bool {
	c := status.Code(err)
	return c == codes.NotFound || c == codes.PermissionDenied
}
