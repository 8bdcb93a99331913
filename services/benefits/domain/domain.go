// Package domain holds the benefits service's rules: which organisation may
// pay which benefit, what a valid benefit situation and decision are, and
// the income-effect calculation with its dated parameter tables (rules.go).
package domain

import (
	"fmt"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
)

// Errors the store and application layers return: the shared kinds of
// apperr, which rpc.Status translates, and this service's own.
var (
	ErrNotFound           = apperr.ErrNotFound
	ErrVersionConflict    = apperr.ErrVersionConflict
	ErrInvalid            = apperr.ErrInvalid
	ErrIdempotencyReused  = apperr.ErrIdempotencyReused
	ErrPermissionDenied   = apperr.ErrPermissionDenied
	ErrFailedPrecondition = apperr.ErrFailedPrecondition
	ErrAuditUnavailable   = apperr.ErrAuditUnavailable
)

// Kind is a benefit kind.
type Kind string

const (
	WIAWGA          Kind = "wia_wga"
	WIAIVA          Kind = "wia_iva"
	Wajong          Kind = "wajong"
	WW              Kind = "ww"
	Participatiewet Kind = "participatiewet"
	Supplement      Kind = "supplement"
)

// payers lists the organisation kinds that pay each benefit kind: WIA,
// Wajong and WW are UWV's (Wet SUWI), the Participatiewet the
// municipality's; supplements are paid by either.
var payers = map[Kind][]string{
	WIAWGA: {"uwv"}, WIAIVA: {"uwv"}, Wajong: {"uwv"}, WW: {"uwv"},
	Participatiewet: {"municipality"}, Supplement: {"uwv", "municipality"},
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool { _, ok := payers[k]; return ok }

// CheckPayer returns an error when an organisation of orgKind cannot pay a
// benefit of kind k.
func CheckPayer(k Kind, orgKind string) error {
	if !k.Valid() {
		return fmt.Errorf("%w: unknown benefit kind %q", ErrInvalid, k)
	}
	for _, p := range payers[k] {
		if p == orgKind {
			return nil
		}
	}
	return fmt.Errorf("%w: a %s benefit is paid by %v, not by a %s organisation", ErrInvalid, k, payers[k], orgKind)
}

// Status is where a benefit stands.
type Status string

const (
	Active    Status = "active"
	Suspended Status = "suspended"
	Ended     Status = "ended"
)

// Benefit is one benefit situation of a client, as its payer reported it.
type Benefit struct {
	ID                 string
	ClientID           string
	Kind               Kind
	PayerOrgID         string
	MonthlyAmountCents int64
	Start              time.Time
	End                *time.Time
	Status             Status
	Version            int64
	UpdatedAt          time.Time
}

// MaxMonthlyCents bounds amounts: no benefit is €100,000 a month.
const MaxMonthlyCents = 10_000_000

// Check validates a benefit as a whole.
func (b Benefit) Check() error {
	if !b.Kind.Valid() {
		return fmt.Errorf("%w: benefit.kind %q is not a known benefit kind", ErrInvalid, b.Kind)
	}
	if b.MonthlyAmountCents < 0 || b.MonthlyAmountCents > MaxMonthlyCents {
		return fmt.Errorf("%w: benefit.monthly_amount_cents %d is not between 0 and %d", ErrInvalid, b.MonthlyAmountCents, MaxMonthlyCents)
	}
	if b.Start.IsZero() {
		return fmt.Errorf("%w: benefit.start_date is required", ErrInvalid)
	}
	if b.End != nil && !b.End.After(b.Start) {
		return fmt.Errorf("%w: benefit.end_date %s is not after start_date %s", ErrInvalid, b.End.Format(time.DateOnly), b.Start.Format(time.DateOnly))
	}
	return nil
}

// ActiveOn reports whether the benefit pays on day d.
func (b Benefit) ActiveOn(d time.Time) bool {
	if b.Status != Active || d.Before(b.Start) {
		return false
	}
	return b.End == nil || d.Before(*b.End)
}

// DecisionKind is what a payer decided.
type DecisionKind string

const (
	Adjusted      DecisionKind = "adjusted"
	SuspendedFrom DecisionKind = "suspended"
	EndedOn       DecisionKind = "ended"
)

// Decision is a decision a paying organisation reported.
type Decision struct {
	ID                 string
	ClientID           string
	BenefitID          string
	Kind               DecisionKind
	Effective          time.Time
	MonthlyAmountCents int64
	Reason             string
	ReportedBy         string
	ReceivedAt         time.Time
}

// Apply changes b as the decision says. The benefit keeps its current state
// only (the decision history holds the past): an adjustment sets the amount,
// a suspension the status, an end the end date and status.
func (d Decision) Apply(b *Benefit) error {
	if b.Status == Ended {
		return fmt.Errorf("%w: benefit %s has ended; no further decisions apply", ErrFailedPrecondition, b.ID)
	}
	if d.Effective.Before(b.Start) {
		return fmt.Errorf("%w: effective_date %s is before the benefit's start_date %s", ErrInvalid,
			d.Effective.Format(time.DateOnly), b.Start.Format(time.DateOnly))
	}
	switch d.Kind {
	case Adjusted:
		if d.MonthlyAmountCents < 0 || d.MonthlyAmountCents > MaxMonthlyCents {
			return fmt.Errorf("%w: monthly_amount_cents %d is not between 0 and %d", ErrInvalid, d.MonthlyAmountCents, MaxMonthlyCents)
		}
		b.MonthlyAmountCents = d.MonthlyAmountCents
		b.Status = Active
	case SuspendedFrom:
		if d.MonthlyAmountCents != 0 {
			return fmt.Errorf("%w: monthly_amount_cents is only for an adjustment", ErrInvalid)
		}
		b.Status = Suspended
	case EndedOn:
		if d.MonthlyAmountCents != 0 {
			return fmt.Errorf("%w: monthly_amount_cents is only for an adjustment", ErrInvalid)
		}
		if !d.Effective.After(b.Start) {
			return fmt.Errorf("%w: a benefit cannot end on or before its start_date %s", ErrInvalid, b.Start.Format(time.DateOnly))
		}
		e := d.Effective
		b.End, b.Status = &e, Ended
	default:
		return fmt.Errorf("%w: unknown decision kind %q", ErrInvalid, d.Kind)
	}
	return nil
}

// ParseDate parses a YYYY-MM-DD date; field names the request field for the
// error.
func ParseDate(field, s string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s %q is not a date (YYYY-MM-DD)", ErrInvalid, field, s)
	}
	return d, nil
}
