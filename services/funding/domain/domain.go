// Package domain holds the funding service's rules: agreements whose fee
// schedules are data with validity dates, the trajectory application's
// states and who moves them, and which fee parts a client's work history
// earns under an agreement. Nothing here touches a database or the network.
package domain

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
)

// The shared error kinds, under this service's names.
var (
	ErrNotFound           = apperr.ErrNotFound
	ErrPermissionDenied   = apperr.ErrPermissionDenied
	ErrVersionConflict    = apperr.ErrVersionConflict
	ErrInvalid            = apperr.ErrInvalid
	ErrFailedPrecondition = apperr.ErrFailedPrecondition
	ErrAlreadyExists      = apperr.ErrAlreadyExists
)

// Invalid is an invalid field.
func Invalid(field, format string, args ...any) error { return invalid(field, format, args...) }

func invalid(field, format string, args ...any) error {
	return &apperr.FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Precondition is a failed precondition.
func Precondition(format string, args ...any) error { return precondition(format, args...) }

func precondition(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFailedPrecondition, fmt.Sprintf(format, args...))
}

// Date is a civil date at midnight UTC.
type Date = time.Time

// ParseDate parses a YYYY-MM-DD date for the named field; empty gives def.
func ParseDate(field, s string, def Date) (Date, error) {
	if s == "" {
		if def.IsZero() {
			return Date{}, invalid(field, "is required (YYYY-MM-DD)")
		}
		return def, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, invalid(field, "%q is not a date (YYYY-MM-DD)", s)
	}
	if d.Year() < 2000 || d.Year() > 2100 {
		return Date{}, invalid(field, "%s is out of range", s)
	}
	return d, nil
}

// Today is the civil date of t in UTC.
func Today(t time.Time) Date {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// FormatDate formats a date as YYYY-MM-DD, or "" for the zero date.
func FormatDate(d Date) string {
	if d.IsZero() {
		return ""
	}
	return d.Format(time.DateOnly)
}

// TargetGroup is a benefit situation an agreement funds trajectories for.
type TargetGroup string

// The target groups; the first three are UWV's benefits, social assistance
// the municipality's.
const (
	WIA              TargetGroup = "wia"
	Wajong           TargetGroup = "wajong"
	WW               TargetGroup = "ww"
	SocialAssistance TargetGroup = "social_assistance"
	NoBenefit        TargetGroup = "no_benefit"
)

// TargetGroups lists every target group.
var TargetGroups = []TargetGroup{WIA, Wajong, WW, SocialAssistance, NoBenefit}

// Condition is when a fee part is earned.
type Condition string

// The conditions.
const (
	OnApproval     Condition = "approval"
	OnJobStart     Condition = "job_start"
	ContinuousWork Condition = "continuous_work"
	OnEndReport    Condition = "end_report"
)

// Fixed reports whether a part is a fixed part (not pay for performance).
func (c Condition) Fixed() bool { return c == OnApproval || c == OnEndReport }

// FeePart is one payment of a schedule.
type FeePart struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Condition   Condition `json:"condition"`
	AmountCents int64     `json:"amount_cents"`
	// Months: for ContinuousWork.
	Months int `json:"months,omitempty"`
	// MinHours: for OnJobStart and ContinuousWork, 0 for any.
	MinHours float64 `json:"min_hours,omitempty"`
}

// Schedule is the fee schedule in force from ValidFrom on.
type Schedule struct {
	ValidFrom Date      `json:"valid_from"`
	Parts     []FeePart `json:"parts"`
}

// Total is the most one trajectory can earn under the schedule.
func (s Schedule) Total() int64 {
	var t int64
	for _, p := range s.Parts {
		t += p.AmountCents
	}
	return t
}

// Check validates a schedule; field names the message it came in.
func (s Schedule) Check(field string) error {
	if s.ValidFrom.IsZero() {
		return invalid(field+".valid_from", "is required")
	}
	if len(s.Parts) == 0 {
		return invalid(field+".parts", "a schedule needs at least one part")
	}
	seen := map[string]bool{}
	for i, p := range s.Parts {
		f := fmt.Sprintf("%s.parts[%d]", field, i)
		if seen[p.ID] {
			return invalid(f+".part_id", "%q appears twice", p.ID)
		}
		seen[p.ID] = true
		if p.AmountCents <= 0 {
			return invalid(f+".amount_cents", "must be more than 0")
		}
		switch p.Condition {
		case ContinuousWork:
			if p.Months < 1 {
				return invalid(f+".months", "continuous work needs at least 1 month")
			}
		case OnApproval, OnEndReport, OnJobStart:
			if p.Months != 0 {
				return invalid(f+".months", "only continuous work counts months")
			}
			if p.Condition != OnJobStart && p.MinHours != 0 {
				return invalid(f+".min_hours_per_week", "only job start and continuous work have an hours threshold")
			}
		default:
			return invalid(f+".condition", "unknown condition %q", p.Condition)
		}
		if p.MinHours < 0 || p.MinHours > 60 {
			return invalid(f+".min_hours_per_week", "must be 0 to 60")
		}
	}
	return nil
}

// Agreement is a funding agreement between a funder and an MHA.
type Agreement struct {
	ID                 string
	Name               string
	FunderOrgID        string
	MHAOrgID           string
	RegionID           string
	ValidFrom          Date
	ValidUntil         Date
	BudgetTrajectories int
	BudgetCents        int64
	TargetGroups       []TargetGroup
	FundedMonths       int
	MaxExtensionMonths int
	AdvancePercent     int
	MinFidelityBand    string
	Schedules          []Schedule
	Version            int64
	UpdatedAt          time.Time
}

// FidelityBands are the IPS-25 bands an agreement may require, lowest
// first.
var FidelityBands = []string{"", "fair", "good", "exemplary"}

// Check validates an agreement before it is stored. The budget must add
// up: the trajectories it covers, each at the most the costliest schedule
// pays, must fit the euros.
func (a Agreement) Check() error {
	switch {
	case len(a.Name) == 0 || len(a.Name) > 200:
		return invalid("agreement.name", "must be 1 to 200 characters")
	case a.MHAOrgID == "":
		return invalid("agreement.mha_organization_id", "is required")
	case a.ValidFrom.IsZero() || a.ValidUntil.IsZero():
		return invalid("agreement.valid_from", "valid_from and valid_until are required")
	case !a.ValidUntil.After(a.ValidFrom):
		return invalid("agreement.valid_until", "must be after valid_from")
	case a.BudgetTrajectories < 1 || a.BudgetTrajectories > 100000:
		return invalid("agreement.budget_trajectories", "must be 1 to 100000")
	case a.BudgetCents < 1:
		return invalid("agreement.budget_cents", "must be more than 0")
	case len(a.TargetGroups) == 0:
		return invalid("agreement.target_groups", "name at least one target group")
	case a.FundedMonths != 24 && a.FundedMonths != 36:
		return invalid("agreement.funded_months", "must be 24 or 36")
	case a.MaxExtensionMonths < 0 || a.MaxExtensionMonths > 12:
		return invalid("agreement.max_extension_months", "must be 0 to 12")
	case a.AdvancePercent < 0 || a.AdvancePercent > 100:
		return invalid("agreement.advance_percent", "must be 0 to 100")
	case !slices.Contains(FidelityBands, a.MinFidelityBand):
		return invalid("agreement.min_fidelity_band", "must be empty, fair, good or exemplary")
	case len(a.Schedules) == 0:
		return invalid("agreement.schedules", "an agreement needs a fee schedule")
	}
	for _, g := range a.TargetGroups {
		if !slices.Contains(TargetGroups, g) {
			return invalid("agreement.target_groups", "unknown target group %q", g)
		}
	}
	for i, s := range a.Schedules {
		f := fmt.Sprintf("agreement.schedules[%d]", i)
		if err := s.Check(f); err != nil {
			return err
		}
		if i > 0 && !s.ValidFrom.After(a.Schedules[i-1].ValidFrom) {
			return invalid(f+".valid_from", "schedules must be in order of valid_from, each later than the one before")
		}
		if s.ValidFrom.After(a.ValidUntil) {
			return invalid(f+".valid_from", "is after the agreement ends")
		}
	}
	if a.Schedules[0].ValidFrom.After(a.ValidFrom) {
		return invalid("agreement.schedules[0].valid_from", "the first schedule must be in force when the agreement starts")
	}
	var most int64
	for _, s := range a.Schedules {
		most = max(most, s.Total())
	}
	if most > math.MaxInt64/int64(a.BudgetTrajectories) || most*int64(a.BudgetTrajectories) > a.BudgetCents {
		return invalid("agreement.budget_cents", "the amounts do not add up: %d trajectories at up to %d cents each need %d cents, the budget is %d",
			a.BudgetTrajectories, most, most*int64(a.BudgetTrajectories), a.BudgetCents)
	}
	return nil
}

// ScheduleOn returns the schedule in force on d.
func (a Agreement) ScheduleOn(d Date) (Schedule, bool) {
	var out Schedule
	found := false
	for _, s := range a.Schedules {
		if !s.ValidFrom.After(d) {
			out, found = s, true
		}
	}
	return out, found
}

// Party reports whether org is the funder or the MHA of the agreement.
func (a Agreement) Party(org string) bool { return org == a.FunderOrgID || org == a.MHAOrgID }
