// Package domain holds the employment service's rules: what a valid
// employer contact, application and placement is, how a placement's hours
// and wage change over time, and the milestones derived from the placement
// history. Nothing here reads a clock or a database.
package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
)

// Errors the store and application layers return: the shared kinds of
// apperr, which rpc.Status translates, and this service's own.
var (
	ErrNotFound          = apperr.ErrNotFound
	ErrVersionConflict   = apperr.ErrVersionConflict
	ErrInvalid           = apperr.ErrInvalid
	ErrIdempotencyReused = apperr.ErrIdempotencyReused
	ErrPermissionDenied  = apperr.ErrPermissionDenied
	ErrAuditUnavailable  = apperr.ErrAuditUnavailable
	// ErrClientsUnavailable: the clients service, which decides access and
	// owns the trajectory, could not be asked.
	ErrClientsUnavailable = errors.New("clients service unavailable")
)

// FieldError is an invalid field; it wraps ErrInvalid and names the field.
type FieldError = apperr.FieldError

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Date is a civil date at midnight UTC.
type Date = time.Time

// ParseDate parses a YYYY-MM-DD date for the named field.
func ParseDate(field, s string) (Date, error) {
	if strings.TrimSpace(s) == "" {
		return Date{}, invalid(field, "is required (YYYY-MM-DD)")
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, invalid(field, "%q is not a date (YYYY-MM-DD)", s)
	}
	if d.Year() < 1900 || d.Year() > 2200 {
		return Date{}, invalid(field, "%s is out of range", s)
	}
	return d, nil
}

// Today returns the civil date of t in UTC.
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

// MaxHoursPerWeek is the most hours a week a placement may have; more is a
// typing error, not a job.
const MaxHoursPerWeek = 60

// MinHoursForMilestones is the N of "continuous employment of at least N
// hours a week" for the 3 and 6 month milestones. 12 until funding
// agreements, which will set it per funder, exist.
const MinHoursForMilestones = 12

// EmployerContact is one contact with an employer; ClientID is empty for
// general job development, which belongs to the specialist.
type EmployerContact struct {
	ID           string
	ClientID     string
	EmployerName string
	Date         Date
	FaceToFace   bool
	Notes        string
	SpecialistID string
	CreatedAt    time.Time
}

// Check validates a new contact.
func (c EmployerContact) Check(today Date) error {
	if strings.TrimSpace(c.EmployerName) == "" {
		return invalid("employer_contact.employer_name", "is required")
	}
	if len(c.EmployerName) > 200 {
		return invalid("employer_contact.employer_name", "is longer than 200 characters")
	}
	if c.Date.After(today) {
		return invalid("employer_contact.contact_date", "%s is in the future", FormatDate(c.Date))
	}
	if len(c.Notes) > 4000 {
		return invalid("employer_contact.notes", "is longer than 4000 characters")
	}
	return nil
}

// ApplicationStatus is where a job application stands.
type ApplicationStatus string

// Application statuses.
const (
	Applied   ApplicationStatus = "applied"
	Interview ApplicationStatus = "interview"
	Offered   ApplicationStatus = "offered"
	Rejected  ApplicationStatus = "rejected"
	Withdrawn ApplicationStatus = "withdrawn"
	Hired     ApplicationStatus = "hired"
)

// ApplicationStatuses lists every status.
var ApplicationStatuses = []ApplicationStatus{Applied, Interview, Offered, Rejected, Withdrawn, Hired}

// Application is a client's job application.
type Application struct {
	ID           string
	ClientID     string
	EmployerName string
	JobTitle     string
	Date         Date
	Status       ApplicationStatus
	Version      int64
	UpdatedAt    time.Time
}

// Check validates an application.
func (a Application) Check(today Date) error {
	if strings.TrimSpace(a.EmployerName) == "" {
		return invalid("application.employer_name", "is required")
	}
	if strings.TrimSpace(a.JobTitle) == "" {
		return invalid("application.job_title", "is required")
	}
	if len(a.EmployerName) > 200 || len(a.JobTitle) > 200 {
		return invalid("application", "employer_name and job_title are at most 200 characters")
	}
	if !slices.Contains(ApplicationStatuses, a.Status) {
		return invalid("application.status", "must be one of applied, interview, offered, rejected, withdrawn, hired")
	}
	if a.Date.After(today) {
		return invalid("application.application_date", "%s is in the future", FormatDate(a.Date))
	}
	return nil
}

// ContractKind is the kind of employment contract.
type ContractKind string

// Contract kinds.
const (
	Permanent      ContractKind = "permanent"
	Temporary      ContractKind = "temporary"
	ZeroHours      ContractKind = "zero_hours"
	OnCall         ContractKind = "on_call"
	SelfEmployed   ContractKind = "self_employed"
	Apprenticeship ContractKind = "apprenticeship"
)

// ContractKinds lists every kind.
var ContractKinds = []ContractKind{Permanent, Temporary, ZeroHours, OnCall, SelfEmployed, Apprenticeship}

// Terms are a placement's hours and wage from an effective date.
type Terms struct {
	Effective       Date
	HoursPerWeek    float64
	HourlyWageCents int64
	RecordedBy      string
	RecordedAt      time.Time
}

// Check validates terms; prefix names the message they came in.
func (t Terms) Check(prefix string) error {
	if !(t.HoursPerWeek > 0) || t.HoursPerWeek > MaxHoursPerWeek {
		return invalid(prefix+".hours_per_week", "%g is not more than 0 and at most %d", t.HoursPerWeek, MaxHoursPerWeek)
	}
	if t.HourlyWageCents <= 0 {
		return invalid(prefix+".hourly_wage_cents", "%d must be more than 0", t.HourlyWageCents)
	}
	// Above 1000 euro an hour is a typing error (cents entered twice).
	if t.HourlyWageCents > 100000 {
		return invalid(prefix+".hourly_wage_cents", "%d is more than 100000 (1000 euro an hour)", t.HourlyWageCents)
	}
	return nil
}

// Placement is one job of a client. Terms is the history of hours and
// wage, ordered by effective date (and, for the same date, by recording).
type Placement struct {
	ID           string
	ClientID     string
	EmployerName string
	JobTitle     string
	Start        Date
	ContractKind ContractKind
	Terms        []Terms
	End          Date // zero while active; the last day worked
	EndReason    string
	Version      int64
	UpdatedAt    time.Time
}

// Active reports whether the job has not been ended.
func (p Placement) Active() bool { return p.End.IsZero() }

// Current returns the terms in effect on the latest effective date.
func (p Placement) Current() Terms {
	if len(p.Terms) == 0 {
		return Terms{}
	}
	return p.Terms[len(p.Terms)-1]
}

// TermsOn returns the terms in effect on day d: the last entry effective
// on or before d (for the same date, the last recorded); false before the
// first.
func (p Placement) TermsOn(d Date) (Terms, bool) {
	var t Terms
	found := false
	for _, x := range p.Terms { // sorted by effective date
		if !x.Effective.After(d) {
			t, found = x, true
		}
	}
	return t, found
}

// Check validates a placement as a whole: start, kind, every terms entry
// and the order of the dates.
func (p Placement) Check() error {
	if strings.TrimSpace(p.EmployerName) == "" {
		return invalid("placement.employer_name", "is required")
	}
	if strings.TrimSpace(p.JobTitle) == "" {
		return invalid("placement.job_title", "is required")
	}
	if len(p.EmployerName) > 200 || len(p.JobTitle) > 200 {
		return invalid("placement", "employer_name and job_title are at most 200 characters")
	}
	if !slices.Contains(ContractKinds, p.ContractKind) {
		return invalid("placement.contract_kind", "is required")
	}
	if len(p.Terms) == 0 {
		return invalid("placement.hours_per_week", "is required")
	}
	if !p.End.IsZero() && p.End.Before(p.Start) {
		return invalid("end_date", "%s is before placement.start_date %s", FormatDate(p.End), FormatDate(p.Start))
	}
	for i, t := range p.Terms {
		if err := t.Check("terms"); err != nil {
			if i == 0 {
				return reprefix(err.(*FieldError), "placement")
			}
			return err
		}
		if t.Effective.Before(p.Start) {
			return invalid("terms.effective_date", "%s is before placement.start_date %s", FormatDate(t.Effective), FormatDate(p.Start))
		}
		if !p.End.IsZero() && t.Effective.After(p.End) {
			return invalid("terms.effective_date", "%s is after placement.end_date %s", FormatDate(t.Effective), FormatDate(p.End))
		}
	}
	return nil
}

// reprefix names the field as part of another message.
func reprefix(e *FieldError, prefix string) error {
	_, rest, _ := strings.Cut(e.Field, ".")
	return &FieldError{Field: prefix + "." + rest, Msg: e.Msg}
}

// ChangeTerms adds terms from an effective date. Terms with the same
// effective date as an earlier entry correct it; the earlier entry stays in
// the history, the later one counts.
func (p *Placement) ChangeTerms(t Terms) error {
	if !p.Active() {
		return invalid("placement", "has ended on %s; its terms can no longer change", FormatDate(p.End))
	}
	if err := t.Check("terms"); err != nil {
		return err
	}
	p.Terms = append(p.Terms, t)
	slices.SortStableFunc(p.Terms, func(a, b Terms) int { return a.Effective.Compare(b.Effective) })
	return p.Check()
}

// EndOn ends an active placement on its last day worked.
func (p *Placement) EndOn(end Date, reason string) error {
	if !p.Active() {
		return invalid("placement", "has already ended on %s", FormatDate(p.End))
	}
	if strings.TrimSpace(reason) == "" {
		return invalid("end_reason", "is required")
	}
	p.End, p.EndReason = end, strings.TrimSpace(reason)
	return p.Check()
}

// With is whom a follow-along contact was with.
type With string

// Follow-along counterparts.
const (
	WithClient   With = "client"
	WithEmployer With = "employer"
	WithBoth     With = "both"
)

// FollowAlongContact is follow-along support after a placement.
type FollowAlongContact struct {
	ID           string
	ClientID     string
	PlacementID  string
	Date         Date
	With         With
	Notes        string
	SpecialistID string
	CreatedAt    time.Time
}

// Check validates a follow-along contact.
func (c FollowAlongContact) Check(today Date) error {
	if c.With != WithClient && c.With != WithEmployer && c.With != WithBoth {
		return invalid("follow_along_contact.with", "is required (client, employer or both)")
	}
	if c.Date.After(today) {
		return invalid("follow_along_contact.contact_date", "%s is in the future", FormatDate(c.Date))
	}
	if len(c.Notes) > 8000 {
		return invalid("follow_along_contact.notes", "is longer than 8000 characters")
	}
	return nil
}
