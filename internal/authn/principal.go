// Package authn verifies who is calling: bearer JWTs from an OpenID Connect
// provider (or the dev signing key), checked for issuer, audience, expiry and
// signature. The gateway verifies them at the edge and forwards the same
// token; every service verifies it again, so no service trusts a plain header.
package authn

import "context"

// Principal is the verified caller of a request.
type Principal struct {
	// Subject is the user's or partner system's id (the "sub" claim).
	Subject string
	// Name is the display name ("name" claim), for audit trails and pages.
	Name string
	// OrgID is the caller's organisation ("org" claim).
	OrgID string
	// Role is the caller's role in that organisation ("role" claim), e.g.
	// employment_specialist, benefits_officer, partner_system.
	Role string
	// Teams are the MHA teams the caller belongs to ("teams" claim).
	Teams []string
	// OnBehalfOf is the person a partner system acts for ("act"."sub" claim,
	// RFC 8693), when given.
	OnBehalfOf string
	// Token is the raw bearer token, forwarded to downstream services.
	Token string
}

type principalKey struct{}

// WithPrincipal returns a context carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the verified caller, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}
