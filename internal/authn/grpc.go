package authn

import (
	"context"
	"errors"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Metadata keys shared by the gateway and the services.
const (
	// MDAuthorization carries "Bearer <jwt>".
	MDAuthorization = "authorization"
	// MDAuditCovered marks a call whose reads an earlier call of the same
	// request recorded already (see access.CoverSections); calls it makes
	// in turn are part of the same request.
	MDAuditCovered = "x-ipsb-audit-covered"
	// MDRequestID identifies one request across services and the audit log.
	MDRequestID = "x-request-id"
	// MDPurpose says why the caller accesses the data, for the audit log.
	MDPurpose = "x-purpose"
	// MDForwardedFor is the client's address chain, for the audit log.
	MDForwardedFor = "x-forwarded-for"
)

// healthPrefix is exempt from authentication: probes carry no token.
const healthPrefix = "/grpc.health.v1.Health/"

// Exempt reports whether fullMethod may be called without a token.
func Exempt(fullMethod string) bool {
	return strings.HasPrefix(fullMethod, healthPrefix)
}

// ParseBearer returns the token of an Authorization value "Bearer <token>".
// The scheme is case-insensitive (RFC 7235).
func ParseBearer(header string) (string, error) {
	header = strings.TrimSpace(header)
	if header == "" {
		return "", ErrMissingToken
	}
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", invalid("authorization is not a bearer token")
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", ErrMissingToken
	}
	return token, nil
}

// BearerToken returns the token of the authorization values of a request
// (HTTP header or gRPC metadata); more than one value is refused rather
// than guessing which one counts.
func BearerToken(values []string) (string, error) {
	switch len(values) {
	case 0:
		return "", ErrMissingToken
	case 1:
		return ParseBearer(values[0])
	default:
		return "", invalid("more than one authorization value")
	}
}

// TokenFromMetadata returns the bearer token of incoming gRPC metadata.
func TokenFromMetadata(md metadata.MD) (string, error) {
	return BearerToken(md.Get(MDAuthorization))
}

// Authenticate verifies the bearer token of the incoming gRPC call in ctx
// and returns ctx carrying the Principal. Its errors are gRPC statuses:
// Unauthenticated with the reason, or Unavailable when the keys to check
// the token cannot be had.
func (v *Verifier) Authenticate(ctx context.Context) (context.Context, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	raw, err := TokenFromMetadata(md)
	if err != nil {
		return ctx, status.Error(codes.Unauthenticated, err.Error())
	}
	p, err := v.Verify(ctx, raw)
	switch {
	case err == nil:
		return WithPrincipal(ctx, p), nil
	case errors.Is(err, ErrInvalidToken), errors.Is(err, ErrMissingToken):
		return ctx, status.Error(codes.Unauthenticated, err.Error())
	default:
		return ctx, status.Error(codes.Unavailable, "cannot verify tokens right now")
	}
}

// UnaryServerInterceptor authenticates every unary call except health checks
// and stores the caller in the context (see FromContext).
func UnaryServerInterceptor(v *Verifier) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if Exempt(info.FullMethod) {
			return handler(ctx, req)
		}
		ctx, err := v.Authenticate(ctx)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor is UnaryServerInterceptor for streaming calls.
func StreamServerInterceptor(v *Verifier) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if Exempt(info.FullMethod) {
			return handler(srv, ss)
		}
		ctx, err := v.Authenticate(ss.Context())
		if err != nil {
			return err
		}
		return handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
	}
}

type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }

// OutgoingContext prepares ctx for a call to another service on behalf of
// the caller: it forwards the caller's bearer token (the other service
// verifies it again) and the request id, purpose and client address of the
// incoming call, so that both audit records tell the same story.
func OutgoingContext(ctx context.Context) context.Context {
	var kv []string
	out, _ := metadata.FromOutgoingContext(ctx)
	if p, ok := FromContext(ctx); ok && p.Token != "" && len(out.Get(MDAuthorization)) == 0 {
		kv = append(kv, MDAuthorization, "Bearer "+p.Token)
	}
	if in, ok := metadata.FromIncomingContext(ctx); ok {
		for _, key := range []string{MDRequestID, MDPurpose, MDForwardedFor, MDAuditCovered} {
			if len(out.Get(key)) > 0 {
				continue // set by the caller already
			}
			for _, val := range in.Get(key) {
				kv = append(kv, key, val)
			}
		}
	}
	if len(kv) == 0 {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// MDForwardedForClaimed carries the X-Forwarded-For a client sent to the
// gateway: a claim kept beside the address the gateway saw, never instead.
const MDForwardedForClaimed = "x-forwarded-for-claimed"

// SetForwarded is the one way the gateway (REST, gRPC proxy and pages)
// tells the services where a request came from: x-forwarded-for becomes
// the address of the peer the gateway actually saw, and what the client
// itself claimed (its own X-Forwarded-For) travels separately as a claim.
func SetForwarded(md metadata.MD, peerHost, claimed string) {
	md.Delete(MDForwardedFor)
	md.Delete(MDForwardedForClaimed)
	if peerHost != "" {
		md.Set(MDForwardedFor, peerHost)
	}
	if claimed = strings.TrimSpace(claimed); claimed != "" {
		if len(claimed) > 256 {
			claimed = claimed[:256]
		}
		md.Set(MDForwardedForClaimed, claimed)
	}
}
