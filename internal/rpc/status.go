package rpc

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
)

// Status translates the shared error kinds into canonical statuses with
// ErrorInfo, once for every service; internal causes are logged, never
// sent. Services handle their own kinds first and pass the rest here.
func Status(ctx context.Context, log *slog.Logger, err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	var fe *apperr.FieldError
	switch {
	case errors.As(err, &fe):
		return InvalidArgument("INVALID_ARGUMENT", FieldViolation{Field: fe.Field, Description: fe.Msg})
	case errors.Is(err, apperr.ErrInvalid):
		return InvalidArgument("INVALID_ARGUMENT", FieldViolation{Description: strings.TrimPrefix(msg, "invalid: ")})
	case errors.Is(err, apperr.ErrNotFound):
		return Error(codes.NotFound, "NOT_FOUND", msg, nil)
	case errors.Is(err, apperr.ErrPermissionDenied):
		return Error(codes.PermissionDenied, "PERMISSION_DENIED", msg, nil)
	case errors.Is(err, apperr.ErrVersionConflict):
		return Error(codes.Aborted, "VERSION_CONFLICT", msg+"; read the resource again and retry", nil)
	case errors.Is(err, apperr.ErrIdempotencyReused):
		return Error(codes.FailedPrecondition, "IDEMPOTENCY_KEY_REUSED", "request_id was already used for a different request", nil)
	case errors.Is(err, apperr.ErrFailedPrecondition):
		return Error(codes.FailedPrecondition, "FAILED_PRECONDITION", msg, nil)
	case errors.Is(err, apperr.ErrAlreadyExists):
		return Error(codes.AlreadyExists, "ALREADY_EXISTS", msg, nil)
	case errors.Is(err, apperr.ErrAuditUnavailable):
		log.ErrorContext(ctx, "request failed closed", "err", err)
		return Error(codes.Unavailable, "AUDIT_UNAVAILABLE", "the audit log cannot be written; nothing was read or changed", nil)
	case errors.Is(err, apperr.ErrUnavailable), database.Unavailable(err):
		log.WarnContext(ctx, "dependency unavailable", "err", err)
		return Error(codes.Unavailable, "UNAVAILABLE", "the service cannot reach what it needs right now; retry later", nil)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return Error(codes.DeadlineExceeded, "DEADLINE_EXCEEDED", "request cancelled or timed out", nil)
	}
	log.ErrorContext(ctx, "internal error", "err", err)
	return Error(codes.Internal, "INTERNAL", "internal error", nil)
}

// Fingerprint identifies a request's content for idempotency checks.
func Fingerprint(m proto.Message) []byte {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	h := sha256.Sum256(b)
	return h[:]
}

// RequestID is the request's own request_id field, or else the
// Idempotency-Key the gateway forwarded.
func RequestID(ctx context.Context, field string) string {
	if field != "" {
		return field
	}
	return InfoFromContext(ctx).IdempotencyKey
}

// Idempotency is a write request's idempotency key (its request_id field,
// else the forwarded Idempotency-Key header) with the fingerprint of the
// request as a retry must repeat it: without the key itself and without
// any version or etag precondition (fields named version or etag, at any
// depth), so that a retry that read the resource again is still the same
// request. Without a key it is INVALID_ARGUMENT when required: a write that
// no version guards would be done twice by a blind retry.
func Idempotency(ctx context.Context, req proto.Message, required bool) (idempotency.Request, error) {
	body := proto.Clone(req)
	m := body.ProtoReflect()
	var field string
	if fd := m.Descriptor().Fields().ByName("request_id"); fd != nil && fd.Kind() == protoreflect.StringKind {
		field = m.Get(fd).String()
		m.Clear(fd)
	}
	clearPreconditions(m)
	key := RequestID(ctx, field)
	if key == "" && required {
		return idempotency.Request{}, InvalidArgument("INVALID_ARGUMENT", FieldViolation{Field: "request_id",
			Description: "is required (or an Idempotency-Key header), so that a retry never records twice"})
	}
	return idempotency.Request{Key: key, Fingerprint: Fingerprint(body)}, nil
}

// clearPreconditions clears the version and etag fields of m and of the
// messages it holds.
func clearPreconditions(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Name() == "version" || fd.Name() == "etag":
			m.Clear(fd)
		case fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap():
			clearPreconditions(v.Message())
		}
		return true
	})
}
