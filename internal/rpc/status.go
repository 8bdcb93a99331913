package rpc

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
	"github.com/ipsbridge/ipsbridge/internal/database"
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
