// Package domain holds the clients service's rules: the IPS phases and the
// transitions between them, the BSN eleven-test and its masking, and the
// errors the other layers translate.
package domain

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
)

// Errors the store and application layers return: the shared kinds of
// apperr, which rpc.Status translates, and this service's own.
var (
	ErrNotFound          = apperr.ErrNotFound
	ErrVersionConflict   = apperr.ErrVersionConflict
	ErrInvalidTransition = errors.New("invalid phase transition")
	ErrInvalid           = apperr.ErrInvalid
	ErrAlreadyExists     = apperr.ErrAlreadyExists
	ErrIdempotencyReused = apperr.ErrIdempotencyReused
	ErrPermissionDenied  = apperr.ErrPermissionDenied
	ErrAuditUnavailable  = apperr.ErrAuditUnavailable
)

// Phase is where a client stands in the IPS trajectory.
type Phase string

const (
	Referral    Phase = "referral"
	Intake      Phase = "intake"
	JobSearch   Phase = "job_search"
	Employed    Phase = "employed"
	FollowAlong Phase = "follow_along"
	Closed      Phase = "closed"
)

// transitions lists the steps IPS allows: forward through the trajectory,
// back to job search when a job ends or is lost, back to employment from
// follow-along support with a new job, closing from any open phase, and
// reopening a closed trajectory at intake (zero exclusion: anyone who wants
// to work again may return).
var transitions = map[Phase][]Phase{
	Referral:    {Intake, Closed},
	Intake:      {JobSearch, Closed},
	JobSearch:   {Employed, Closed},
	Employed:    {FollowAlong, JobSearch, Closed},
	FollowAlong: {Employed, JobSearch, Closed},
	Closed:      {Intake},
}

// Valid reports whether p is a known phase.
func (p Phase) Valid() bool {
	_, ok := transitions[p]
	return ok
}

// PhaseForJobs is where the trajectory goes when the client's jobs change,
// given how many of its placements are active after the change: a client
// with an active job is employed (from job_search or follow_along); a
// client whose last job ended goes back to job_search (from employed or
// follow_along). Any other phase (referral, intake, closed) is left alone,
// as is a phase that already follows: move is false then. The specialist
// moves those by hand.
func PhaseForJobs(cur Phase, activeJobs int) (to Phase, reason string, move bool) {
	switch {
	case activeJobs > 0 && (cur == JobSearch || cur == FollowAlong):
		return Employed, "job started", true
	case activeJobs == 0 && (cur == Employed || cur == FollowAlong):
		return JobSearch, "last job ended", true
	}
	return cur, "", false
}

// CheckTransition returns nil when a trajectory may move from one phase to
// another, and an error wrapping ErrInvalidTransition saying which moves
// are allowed otherwise. Closing needs a reason.
func CheckTransition(from, to Phase, reason string) error {
	if !to.Valid() {
		return fmt.Errorf("%w: unknown phase %q", ErrInvalid, to)
	}
	allowed := transitions[from]
	for _, p := range allowed {
		if p == to {
			if to == Closed && strings.TrimSpace(reason) == "" {
				return fmt.Errorf("%w: closing a trajectory needs a reason", ErrInvalid)
			}
			return nil
		}
	}
	names := make([]string, len(allowed))
	for i, p := range allowed {
		names[i] = string(p)
	}
	return fmt.Errorf("%w: from %s a trajectory may move to %s, not to %s",
		ErrInvalidTransition, from, strings.Join(names, " or "), to)
}

// ValidBSN applies the eleven-test to a citizen service number: nine digits
// d1..d9 with 9·d1 + 8·d2 + … + 2·d8 − 1·d9 divisible by 11.
func ValidBSN(bsn string) bool {
	if len(bsn) != 9 {
		return false
	}
	sum := 0
	for i, r := range bsn {
		if r < '0' || r > '9' {
			return false
		}
		w := 9 - i
		if i == 8 {
			w = -1
		}
		sum += w * int(r-'0')
	}
	return sum%11 == 0 && bsn != "000000000"
}

// MaskBSN hides all but the last three digits.
func MaskBSN(bsn string) string {
	if len(bsn) <= 3 {
		return strings.Repeat("*", len(bsn))
	}
	return strings.Repeat("*", len(bsn)-3) + bsn[len(bsn)-3:]
}

// Identity is the identity section.
type Identity struct {
	GivenName   string
	FamilyName  string
	DateOfBirth string // YYYY-MM-DD or ""
	Email       string
	Phone       string
	Address     string
	BSN         string
	Version     int64
	UpdatedAt   time.Time
}

// Check validates an identity as a whole.
func (i Identity) Check() error {
	if strings.TrimSpace(i.GivenName) == "" || strings.TrimSpace(i.FamilyName) == "" {
		return fmt.Errorf("%w: identity.given_name and identity.family_name are required", ErrInvalid)
	}
	if i.BSN != "" && !ValidBSN(i.BSN) {
		return fmt.Errorf("%w: identity.bsn %s fails the eleven-test", ErrInvalid, MaskBSN(i.BSN))
	}
	if i.DateOfBirth != "" {
		d, err := time.Parse(time.DateOnly, i.DateOfBirth)
		if err != nil {
			return fmt.Errorf("%w: identity.date_of_birth %q is not a date (YYYY-MM-DD)", ErrInvalid, i.DateOfBirth)
		}
		if d.After(time.Now()) || d.Year() < 1900 {
			return fmt.Errorf("%w: identity.date_of_birth %s is not a plausible birth date", ErrInvalid, i.DateOfBirth)
		}
	}
	return nil
}

// PhaseChange is one step of a trajectory.
type PhaseChange struct {
	From, To Phase
	At       time.Time
	By       string
	Reason   string
}

// Trajectory is the trajectory section.
type Trajectory struct {
	Phase          Phase
	TeamID         string
	SpecialistID   string
	InvolvedOrgIDs []string
	ClosingReason  string
	PhaseStartedAt time.Time
	ReferredAt     time.Time
	History        []PhaseChange
	Version        int64
	UpdatedAt      time.Time
	// IntakeAt is when the trajectory last moved to intake; zero before.
	IntakeAt time.Time
}

// WorkGoals is the vocational profile.
type WorkGoals struct {
	Preferences          string
	Goals                string
	Strengths            string
	SupportWishes        string
	PreferredOccupations []string
	DesiredHoursPerWeek  int32
	Version              int64
	UpdatedAt            time.Time
	UpdatedBy            string
}

// ClinicalInput is what the treatment team says matters for work.
type ClinicalInput struct {
	Notes              string
	WorkConsiderations string
	Version            int64
	UpdatedAt          time.Time
	UpdatedBy          string
	// Entries are every dated entry, the most recent first.
	Entries []ClinicalEntry
}

// ClinicalEntry is one dated note of the treatment team about work.
type ClinicalEntry struct {
	ID                 string
	Date               time.Time
	Notes              string
	WorkConsiderations string
	AuthorID           string
	CreatedAt          time.Time
}

// Consent is the client's consent for one organisation and section.
type Consent struct {
	ID        string
	ClientID  string
	OrgID     string
	Section   string
	GrantedAt time.Time
	GrantedBy string
	RevokedAt *time.Time
	RevokedBy string
}

// Client is a client's record; sections are nil when not loaded.
type Client struct {
	ID            string
	MHAOrgID      string
	RegionID      string
	CreatedAt     time.Time
	CreatedBy     string
	Identity      *Identity
	Trajectory    *Trajectory
	WorkGoals     *WorkGoals
	ClinicalInput *ClinicalInput
}
