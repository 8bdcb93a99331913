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
	ID         string
	ClientID   string
	Kind       Kind
	PayerOrgID string
	// MonthlyAmountCents is what the benefit pays per month under the
	// latest row of its history (Amounts), after any earnings offset the
	// payer reported; under a suspension, the amount suspended.
	MonthlyAmountCents int64
	Start              time.Time
	End                *time.Time
	Status             Status
	Version            int64
	UpdatedAt          time.Time
	// Amounts is the amount's history, oldest first; the first row starts
	// on Start.
	Amounts []Amount
	Basis   Basis
}

// AmountSource says where a row of a benefit's amount history came from.
type AmountSource string

const (
	FromRecord     AmountSource = "recorded"  // the benefit as first recorded
	FromAdjustment AmountSource = "adjusted"  // a payer's decision from a date
	FromSuspension AmountSource = "suspended" // payment suspended from a date
	FromCorrection AmountSource = "corrected" // the payer corrected the amount in force
	FromMigration  AmountSource = "migrated"  // carried over from before the history existed
)

// Amount is the benefit's amount from a date until the next row's.
type Amount struct {
	From time.Time
	// Cents is the benefit before any offset of earnings: what it pays
	// without work. The calculation starts from it, so earnings the payer
	// already offset are never deducted a second time.
	Cents int64
	// EarningsOffsetCents is what the payer reported it offsets for
	// earnings from From on: it pays Cents − EarningsOffsetCents.
	EarningsOffsetCents int64
	Suspended           bool
	Source              AmountSource
}

// PaidCents is what the benefit pays per month under this row.
func (a Amount) PaidCents() int64 {
	if a.Suspended {
		return 0
	}
	return a.Cents - a.EarningsOffsetCents
}

// AmountOn returns the row in force on d.
func (b Benefit) AmountOn(d time.Time) (Amount, bool) {
	var out Amount
	found := false
	for _, a := range b.Amounts {
		if !a.From.After(d) {
			out, found = a, true
		}
	}
	return out, found
}

// setAmount puts a into the history: it replaces a row from the same date
// and keeps later rows, which are later decisions.
func (b *Benefit) setAmount(a Amount) {
	i := 0
	for i < len(b.Amounts) && b.Amounts[i].From.Before(a.From) {
		i++
	}
	if i < len(b.Amounts) && b.Amounts[i].From.Equal(a.From) {
		b.Amounts[i] = a
	} else {
		b.Amounts = append(b.Amounts[:i], append([]Amount{a}, b.Amounts[i:]...)...)
	}
	// A suspension keeps the amount that is suspended; Status says it is.
	last := b.Amounts[len(b.Amounts)-1]
	b.MonthlyAmountCents = last.Cents - last.EarningsOffsetCents
}

// SetInitialAmount starts the history of a new benefit with its amount.
func (b *Benefit) SetInitialAmount() {
	b.Amounts = []Amount{{From: b.Start, Cents: b.MonthlyAmountCents, Source: FromRecord}}
}

// CorrectAmount corrects the amount paid under the latest row: the payer
// says the amount in force is cents (after the same earnings offset).
func (b *Benefit) CorrectAmount(cents int64) {
	if len(b.Amounts) == 0 {
		b.SetInitialAmount()
	}
	last := b.Amounts[len(b.Amounts)-1]
	// A suspended row stays suspended: a correction is no decision to pay.
	last.Cents, last.Source = cents+last.EarningsOffsetCents, FromCorrection
	b.setAmount(last)
}

// Basis holds what the payer knows of the benefit's basis, needed for the
// WW's and WGA's rules; zero values are unknown.
type Basis struct {
	// PreviousWageCents is the monthly wage the benefit is based on
	// (maandloon): WW, WGA, IVA.
	PreviousWageCents int64
	// ResidualCapacityCents is what UWV says the client can still earn per
	// month (restverdiencapaciteit): WGA.
	ResidualCapacityCents int64
	// DisabilityPercent is the degree of disability, 35 to 100: WGA.
	DisabilityPercent int32
	// WageRelatedEnd is the first day after the WGA's wage-related phase.
	WageRelatedEnd *time.Time
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
	for i, a := range b.Amounts {
		if i == 0 && !a.From.Equal(b.Start) || i > 0 && !a.From.After(b.Amounts[i-1].From) {
			return fmt.Errorf("%w: the amount history must start on start_date and go forward in time", ErrInvalid)
		}
		if a.Cents < 0 || a.Cents > MaxMonthlyCents || a.EarningsOffsetCents < 0 || a.EarningsOffsetCents > a.Cents {
			return fmt.Errorf("%w: amount from %s: %d with an earnings offset of %d is out of range", ErrInvalid, a.From.Format(time.DateOnly), a.Cents, a.EarningsOffsetCents)
		}
	}
	return b.Basis.check(b)
}

func (x Basis) check(b Benefit) error {
	if x.PreviousWageCents < 0 || x.PreviousWageCents > MaxMonthlyCents || x.ResidualCapacityCents < 0 || x.ResidualCapacityCents > MaxMonthlyCents {
		return fmt.Errorf("%w: benefit.previous_monthly_wage_cents and residual_earning_capacity_cents are between 0 and %d", ErrInvalid, MaxMonthlyCents)
	}
	if x.PreviousWageCents > 0 && b.Kind != WW && b.Kind != WIAWGA && b.Kind != WIAIVA {
		return fmt.Errorf("%w: benefit.previous_monthly_wage_cents is only for WW and WIA benefits", ErrInvalid)
	}
	if b.Kind != WIAWGA && (x.ResidualCapacityCents != 0 || x.DisabilityPercent != 0 || x.WageRelatedEnd != nil) {
		return fmt.Errorf("%w: residual earning capacity, disability and the end of the wage-related phase are only for a WGA benefit", ErrInvalid)
	}
	if x.DisabilityPercent != 0 && (x.DisabilityPercent < 35 || x.DisabilityPercent > 100) {
		return fmt.Errorf("%w: benefit.disability_percent %d is not between 35 and 100", ErrInvalid, x.DisabilityPercent)
	}
	if x.WageRelatedEnd != nil && !x.WageRelatedEnd.After(b.Start) {
		return fmt.Errorf("%w: benefit.wage_related_end_date is not after start_date", ErrInvalid)
	}
	return nil
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
	ID        string
	ClientID  string
	BenefitID string
	Kind      DecisionKind
	Effective time.Time
	// MonthlyAmountCents is, for an adjustment, what the benefit pays from
	// Effective on.
	MonthlyAmountCents int64
	// EarningsOffsetCents is, for an adjustment, the part of the amount the
	// payer no longer pays because it offsets the client's earnings: the
	// benefit before the offset is MonthlyAmountCents + EarningsOffsetCents.
	EarningsOffsetCents int64
	Reason              string
	ReportedBy          string
	ReceivedAt          time.Time
}

// Apply changes b as the decision says: an adjustment or a suspension adds
// a row to the amount history from its date (later rows stay), an end sets
// the end date. The status says where the benefit stands after the latest
// decision.
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
		if d.MonthlyAmountCents < 0 || d.EarningsOffsetCents < 0 || d.MonthlyAmountCents+d.EarningsOffsetCents > MaxMonthlyCents {
			return fmt.Errorf("%w: monthly_amount_cents %d plus earnings_offset_cents %d is not between 0 and %d", ErrInvalid, d.MonthlyAmountCents, d.EarningsOffsetCents, MaxMonthlyCents)
		}
		if len(b.Amounts) == 0 {
			b.SetInitialAmount()
		}
		b.setAmount(Amount{From: d.Effective, Cents: d.MonthlyAmountCents + d.EarningsOffsetCents, EarningsOffsetCents: d.EarningsOffsetCents, Source: FromAdjustment})
		b.Status = Active
	case SuspendedFrom:
		if d.MonthlyAmountCents != 0 || d.EarningsOffsetCents != 0 {
			return fmt.Errorf("%w: monthly_amount_cents and earnings_offset_cents are only for an adjustment", ErrInvalid)
		}
		if len(b.Amounts) == 0 {
			b.SetInitialAmount()
		}
		in, _ := b.AmountOn(d.Effective)
		b.setAmount(Amount{From: d.Effective, Cents: in.Cents, EarningsOffsetCents: in.EarningsOffsetCents, Suspended: true, Source: FromSuspension})
		b.Status = Suspended
	case EndedOn:
		if d.MonthlyAmountCents != 0 || d.EarningsOffsetCents != 0 {
			return fmt.Errorf("%w: monthly_amount_cents and earnings_offset_cents are only for an adjustment", ErrInvalid)
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
