// Package apperr holds the error kinds every service's domain and store
// return, so that one translation (rpc.Status) turns each into the same gRPC
// code everywhere. A service's domain package re-exports them under its own
// names and adds the kinds only it has.
package apperr

import "errors"

var (
	ErrNotFound           = errors.New("not found")
	ErrPermissionDenied   = errors.New("permission denied")
	ErrVersionConflict    = errors.New("version conflict")
	ErrInvalid            = errors.New("invalid")
	ErrAlreadyExists      = errors.New("already exists")
	ErrFailedPrecondition = errors.New("failed precondition")
	ErrIdempotencyReused  = errors.New("idempotency key reused with a different request")
	// ErrAuditUnavailable: the audit record could not be written, so the
	// request fails and nothing is returned or changed (fail-closed).
	ErrAuditUnavailable = errors.New("audit log unavailable")
	// ErrUnavailable: something the request depends on (the database, the
	// directory, another service) could not be reached; a retry may
	// succeed. Never a denial: an outage must not read as "no access".
	ErrUnavailable = errors.New("unavailable")
)

// FieldError is an invalid field; it wraps ErrInvalid and names the field.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return "invalid: " + e.Field + ": " + e.Msg }

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *FieldError) Unwrap() error { return ErrInvalid }
