// Package rpc holds what every gRPC service of IPS Bridge shares: the
// interceptor chain in its fixed order (recovery, request info, logging,
// authentication, validation, authorization) and the translation of domain
// errors into canonical status codes with ErrorInfo details.
package rpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"runtime/debug"
	"strings"
	"time"

	"buf.build/go/protovalidate"
	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"

	"github.com/ipsbridge/ipsbridge/internal/authn"
)

// Domain is the ErrorInfo domain of every error IPS Bridge returns.
const Domain = "ipsbridge.nl"

// Info is what the audit log needs to know of a request besides the caller.
type Info struct {
	RequestID      string
	Purpose        string
	RemoteAddr     string
	IdempotencyKey string
}

type infoKey struct{}

// InfoFromContext returns the request's info; zero when absent.
func InfoFromContext(ctx context.Context) Info {
	i, _ := ctx.Value(infoKey{}).(Info)
	return i
}

// WithInfo returns a context carrying i.
func WithInfo(ctx context.Context, i Info) context.Context {
	return context.WithValue(ctx, infoKey{}, i)
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// DefaultPurpose is recorded when a caller gives no purpose.
const DefaultPurpose = "ips-trajectory"

func requestInfo(ctx context.Context) Info {
	md, _ := metadata.FromIncomingContext(ctx)
	first := func(k string) string {
		if v := md.Get(k); len(v) > 0 {
			return v[0]
		}
		return ""
	}
	i := Info{RequestID: first("x-request-id"), Purpose: first("x-purpose"), IdempotencyKey: first("idempotency-key")}
	if !requestIDPattern.MatchString(i.RequestID) {
		i.RequestID = uuid.NewString()
	}
	if len(i.Purpose) > 200 {
		i.Purpose = i.Purpose[:200]
	}
	if i.Purpose == "" {
		i.Purpose = DefaultPurpose
	}
	if len(i.IdempotencyKey) > 128 {
		i.IdempotencyKey = ""
	}
	var peerAddr string
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		peerAddr = p.Addr.String()
	}
	// The gateway passes the address it saw (authn.SetForwarded), the last
	// value of x-forwarded-for; keep the hop it came through too, since a
	// forwarded address is only as good as its sender, and what the client
	// claimed beside it, never instead of it.
	fwds := md.Get("x-forwarded-for")
	fwd := ""
	if len(fwds) > 0 {
		parts := strings.Split(fwds[len(fwds)-1], ",")
		fwd = strings.TrimSpace(parts[len(parts)-1])
	}
	if fwd != "" {
		i.RemoteAddr = fwd + " via " + peerAddr
	} else {
		i.RemoteAddr = peerAddr
	}
	if claimed := first("x-forwarded-for-claimed"); claimed != "" {
		if len(claimed) > 128 {
			claimed = claimed[:128]
		}
		i.RemoteAddr += " (claims " + claimed + ")"
	}
	return i
}

// ServerOptions returns the interceptor chain every service uses. extra
// interceptors (authorization) run last, after validation.
func ServerOptions(logger *slog.Logger, verifier *authn.Verifier, extra ...grpc.UnaryServerInterceptor) ([]grpc.ServerOption, error) {
	validator, err := protovalidate.New()
	if err != nil {
		return nil, fmt.Errorf("create validator: %w", err)
	}
	chain := []grpc.UnaryServerInterceptor{
		recoveryInterceptor(logger),
		infoInterceptor,
		loggingInterceptor(logger),
		authn.UnaryServerInterceptor(verifier),
		validationInterceptor(validator),
	}
	chain = append(chain, extra...)
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(chain...),
		grpc.MaxRecvMsgSize(4 << 20),
	}, nil
}

// NewServer is a service's gRPC server: the shared interceptors, then the
// service's own (its authorization), the service registered and reported
// serving by the standard health service.
func NewServer(logger *slog.Logger, verifier *authn.Verifier, desc *grpc.ServiceDesc, impl any, extra ...grpc.UnaryServerInterceptor) (*grpc.Server, *health.Server, error) {
	opts, err := ServerOptions(logger, verifier, extra...)
	if err != nil {
		return nil, nil, err
	}
	srv := grpc.NewServer(opts...)
	srv.RegisterService(desc, impl)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	hs.SetServingStatus(desc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	return srv, hs, nil
}

func recoveryInterceptor(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				logger.ErrorContext(ctx, "panic in handler", "method", info.FullMethod, "panic", r, "stack", string(debug.Stack()))
				resp, err = nil, status.Error(codes.Internal, "internal error")
			}
		}()
		return handler(ctx, req)
	}
}

func infoInterceptor(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	i := requestInfo(ctx)
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-request-id", i.RequestID))
	// A request id made here replaces a missing or malformed one in the
	// incoming metadata too, so that calls this request makes to other
	// services (authn.OutgoingContext) carry the same id.
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if ids := md.Get("x-request-id"); len(ids) != 1 || ids[0] != i.RequestID {
			md = md.Copy()
			md.Set("x-request-id", i.RequestID)
			ctx = metadata.NewIncomingContext(ctx, md)
		}
	}
	return handler(WithInfo(ctx, i), req)
}

func loggingInterceptor(logger *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		st := status.Convert(err)
		attrs := []any{
			"method", info.FullMethod, "code", st.Code().String(),
			"duration_ms", float64(time.Since(start).Microseconds()) / 1000,
			"request_id", InfoFromContext(ctx).RequestID,
		}
		if p, ok := authn.FromContext(ctx); ok {
			attrs = append(attrs, "subject", p.Subject, "org", p.OrgID, "role", p.Role)
		}
		level := slog.LevelInfo
		switch st.Code() {
		case codes.OK, codes.NotFound, codes.InvalidArgument, codes.PermissionDenied, codes.Unauthenticated,
			codes.FailedPrecondition, codes.Aborted, codes.AlreadyExists:
		default:
			level = slog.LevelError
			attrs = append(attrs, "error", st.Message())
		}
		logger.Log(ctx, level, "rpc", attrs...)
		return resp, err
	}
}

// validationInterceptor checks requests against the protovalidate rules in
// the contracts and answers INVALID_ARGUMENT with a BadRequest detail that
// names every violated field (AIP-193).
func validationInterceptor(v protovalidate.Validator) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		msg, ok := req.(proto.Message)
		if !ok {
			return handler(ctx, req)
		}
		if err := v.Validate(msg); err != nil {
			var verr *protovalidate.ValidationError
			if !errors.As(err, &verr) {
				return nil, status.Error(codes.Internal, "validation failed")
			}
			var fields []FieldViolation
			for _, viol := range verr.Violations {
				field := protovalidate.FieldPathString(viol.Proto.GetField())
				fields = append(fields, FieldViolation{Field: field, Description: viol.Proto.GetMessage()})
			}
			return nil, InvalidArgument("INVALID_REQUEST", fields...)
		}
		return handler(ctx, req)
	}
}

// FieldViolation names one bad field of a request.
type FieldViolation struct {
	Field       string
	Description string
}

// InvalidArgument builds an INVALID_ARGUMENT status whose message lists the
// violations and whose details carry them as a BadRequest.
func InvalidArgument(reason string, violations ...FieldViolation) error {
	var parts []string
	br := &errdetails.BadRequest{}
	for _, v := range violations {
		if v.Field != "" {
			parts = append(parts, v.Field+": "+v.Description)
		} else {
			parts = append(parts, v.Description)
		}
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: v.Field, Description: v.Description})
	}
	msg := "invalid request: " + strings.Join(parts, "; ")
	return withDetails(codes.InvalidArgument, msg, reason, nil, br)
}

// Error builds a status with an ErrorInfo detail. reason is an
// UPPER_SNAKE_CASE identifier clients may switch on.
func Error(code codes.Code, reason, msg string, meta map[string]string) error {
	return withDetails(code, msg, reason, meta)
}

func withDetails(code codes.Code, msg, reason string, meta map[string]string, extra ...protoadapt.MessageV1) error {
	st := status.New(code, msg)
	details := append([]protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: reason, Domain: Domain, Metadata: meta}}, extra...)
	if ds, err := st.WithDetails(details...); err == nil {
		return ds.Err()
	}
	return st.Err()
}

// Serve runs srv on lis until ctx ends, then stops it gracefully, falling
// back to a hard stop after grace.
func Serve(ctx context.Context, srv *grpc.Server, lis net.Listener, grace time.Duration, log *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return fmt.Errorf("grpc server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	GracefulStop(sctx, srv, log)
	return nil
}

// GracefulStop lets calls in flight finish until ctx ends, then cuts them
// off (long-lived streams would otherwise hold the shutdown forever).
func GracefulStop(ctx context.Context, srv *grpc.Server, log *slog.Logger) {
	done := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		log.Warn("grpc graceful stop timed out; closing remaining calls")
		srv.Stop()
		<-done
	}
}
