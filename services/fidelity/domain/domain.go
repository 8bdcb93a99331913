// Package domain holds the fidelity service's rules: the IPS-25 scale as
// versioned data (scales/*.json), how a figure the platform measures is
// scored with an item's anchors, the bands of a total, and the life of a
// review (requested → assigned → draft → final) with what each step
// allows. Nothing here reads a clock or a database.
package domain

import (
	"fmt"
	"strings"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
)

// Errors the store and application layers return: the shared kinds of
// apperr, which rpc.Status translates.
var (
	ErrNotFound           = apperr.ErrNotFound
	ErrVersionConflict    = apperr.ErrVersionConflict
	ErrInvalid            = apperr.ErrInvalid
	ErrIdempotencyReused  = apperr.ErrIdempotencyReused
	ErrPermissionDenied   = apperr.ErrPermissionDenied
	ErrFailedPrecondition = apperr.ErrFailedPrecondition
)

// FieldError is an invalid field; it wraps ErrInvalid and names the field.
type FieldError = apperr.FieldError

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Status is where a review stands.
type Status string

const (
	// Requested: the MHA asked for a review; no reviewer yet.
	Requested Status = "requested"
	// Assigned: an independent reviewer is assigned and the visit
	// scheduled; the supervisor may self-assess, the reviewer scores.
	Assigned Status = "assigned"
	// Draft: the reviewer shared a draft; the team may comment on factual
	// errors and the reviewer may still change scores.
	Draft Status = "draft"
	// Final: the report is final; scores never change again, only the
	// action plan's progress.
	Final Status = "final"
)

// Open reports whether the review is under way: records may be sampled and
// scores changed.
func (s Status) Open() bool { return s == Assigned || s == Draft }

// Review is one fidelity review of one team.
type Review struct {
	ID          string
	TeamID      string
	OrgID       string // the team's MHA
	RegionID    string
	ScaleID     string
	PeriodFrom  time.Time
	PeriodTo    time.Time
	Status      Status
	RequestedBy string
	RequestedAt time.Time
	ReviewerID  string
	ReviewerOrg string
	ScheduledOn time.Time
	Strengths   string
	Recommend   string
	FinalisedAt time.Time
	Version     int64
	Scores      []Score // the reviewer's
	Self        []Score // the supervisor's self-assessment
	Comments    []Comment
	Actions     []ActionItem
}

// Score is one item's score with its evidence.
type Score struct {
	ItemCode string
	Score    int
	Evidence string
	By       string
	At       time.Time
}

// Comment is the team's remark on a draft.
type Comment struct {
	ID       string
	ItemCode string // empty: about the report as a whole
	Text     string
	By       string
	At       time.Time
}

// ActionItem is one point of the action plan.
type ActionItem struct {
	ID     string
	Text   string
	Owner  string
	Due    time.Time
	DoneAt time.Time
}

// Done reports whether the item is done.
func (a ActionItem) Done() bool { return !a.DoneAt.IsZero() }

// Total is the sum of the reviewer's scores, computed, never typed; complete
// says whether every item of the scale is scored.
func (r *Review) Total(s *Scale) (total int, complete bool) {
	scored := map[string]bool{}
	for _, sc := range r.Scores {
		total += sc.Score
		scored[sc.ItemCode] = true
	}
	return total, len(scored) == len(s.Items)
}

// SelfTotal is the sum of the self-assessment's scores.
func (r *Review) SelfTotal(s *Scale) (total int, complete bool) {
	scored := map[string]bool{}
	for _, sc := range r.Self {
		total += sc.Score
		scored[sc.ItemCode] = true
	}
	return total, len(scored) == len(s.Items)
}

// MaxEvidence bounds an evidence note or comment.
const MaxEvidence = 4000

// CheckScore checks one score against the review's scale: the item must be
// of that scale version and the score 1 to 5.
func CheckScore(s *Scale, itemCode string, score int, evidence string) error {
	if _, ok := s.Item(itemCode); !ok {
		return invalid("item_code", "%q is not an item of scale %s (the review's version)", itemCode, s.ID)
	}
	if score < 1 || score > 5 {
		return invalid("score", "must be 1 to 5, not %d", score)
	}
	if len(evidence) > MaxEvidence {
		return invalid("evidence", "is longer than %d characters", MaxEvidence)
	}
	return nil
}

// CheckReviewerScore checks a reviewer's score: CheckScore, with the
// evidence that backs it, on an open review.
func (r *Review) CheckReviewerScore(s *Scale, itemCode string, score int, evidence string) error {
	if err := r.mayScore(); err != nil {
		return err
	}
	if err := CheckScore(s, itemCode, score, evidence); err != nil {
		return err
	}
	if strings.TrimSpace(evidence) == "" {
		return invalid("evidence", "is required: say what the score rests on")
	}
	return nil
}

func (r *Review) mayScore() error {
	switch r.Status {
	case Final:
		return fmt.Errorf("%w: review %s is final; its scores cannot change", ErrFailedPrecondition, r.ID)
	case Requested:
		return fmt.Errorf("%w: review %s has no reviewer yet", ErrFailedPrecondition, r.ID)
	}
	return nil
}

// CheckSelfAssessment: the supervisor self-assesses before the reviewer
// shares a draft.
func (r *Review) CheckSelfAssessment() error {
	if r.Status != Requested && r.Status != Assigned {
		return fmt.Errorf("%w: review %s is %s; a self-assessment comes before the draft", ErrFailedPrecondition, r.ID, r.Status)
	}
	return nil
}

// CheckAssign: a reviewer is assigned to a requested or assigned review,
// from an organisation other than the reviewed one.
func (r *Review) CheckAssign(reviewerOrg, reviewerRole string, scheduled time.Time) error {
	if r.Status != Requested && r.Status != Assigned {
		return fmt.Errorf("%w: review %s is %s; its reviewer can no longer change", ErrFailedPrecondition, r.ID, r.Status)
	}
	if reviewerRole != "fidelity_reviewer" {
		return invalid("reviewer_id", "is not a fidelity reviewer (role %s)", reviewerRole)
	}
	if reviewerOrg == r.OrgID {
		return fmt.Errorf("%w: reviewer is of %s, the reviewed organisation; a fidelity review must be independent", ErrPermissionDenied, reviewerOrg)
	}
	if scheduled.IsZero() {
		return invalid("scheduled_on", "is required")
	}
	return nil
}

// CheckDraft: the reviewer shares a draft when every item is scored.
func (r *Review) CheckDraft(s *Scale) error {
	if r.Status != Assigned {
		return fmt.Errorf("%w: review %s is %s, not assigned", ErrFailedPrecondition, r.ID, r.Status)
	}
	if _, complete := r.Total(s); !complete {
		return fmt.Errorf("%w: review %s: score every item of %s before sharing a draft", ErrFailedPrecondition, r.ID, s.ID)
	}
	return nil
}

// CheckComment: the team comments on a draft.
func (r *Review) CheckComment(s *Scale, itemCode, text string) error {
	if r.Status != Draft {
		return fmt.Errorf("%w: review %s is %s; the team comments on a draft", ErrFailedPrecondition, r.ID, r.Status)
	}
	if itemCode != "" {
		if _, ok := s.Item(itemCode); !ok {
			return invalid("item_code", "%q is not an item of scale %s", itemCode, s.ID)
		}
	}
	if strings.TrimSpace(text) == "" || len(text) > MaxEvidence {
		return invalid("text", "must be 1 to %d characters", MaxEvidence)
	}
	return nil
}

// CheckFinalise: a draft becomes final with strengths and recommendations.
func (r *Review) CheckFinalise(s *Scale, strengths, recommendations string, actions []ActionItem) error {
	if r.Status != Draft {
		return fmt.Errorf("%w: review %s is %s; only a draft can be finalised", ErrFailedPrecondition, r.ID, r.Status)
	}
	if _, complete := r.Total(s); !complete {
		return fmt.Errorf("%w: review %s is not fully scored", ErrFailedPrecondition, r.ID)
	}
	if strings.TrimSpace(strengths) == "" {
		return invalid("strengths", "is required")
	}
	if strings.TrimSpace(recommendations) == "" {
		return invalid("recommendations", "is required")
	}
	for i, a := range actions {
		if err := CheckActionItem(a); err != nil {
			return fmt.Errorf("action_items[%d]: %w", i, err)
		}
	}
	return nil
}

// CheckActionItem checks one action plan item.
func CheckActionItem(a ActionItem) error {
	if strings.TrimSpace(a.Text) == "" || len(a.Text) > 1000 {
		return invalid("text", "must be 1 to 1000 characters")
	}
	if strings.TrimSpace(a.Owner) == "" {
		return invalid("owner", "is required")
	}
	if a.Due.IsZero() {
		return invalid("due_date", "is required")
	}
	return nil
}

// ParseDate parses a YYYY-MM-DD date for the named field.
func ParseDate(field, s string) (Date, error) {
	if strings.TrimSpace(s) == "" {
		return Date{}, invalid(field, "is required (YYYY-MM-DD)")
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, invalid(field, "%q is not a date (YYYY-MM-DD)", s)
	}
	if d.Year() < 2000 || d.Year() > 2200 {
		return Date{}, invalid(field, "%s is out of range", s)
	}
	return d, nil
}

// CheckPeriod checks a review period.
func CheckPeriod(from, to time.Time) error {
	if !to.After(from) {
		return invalid("period_to", "must be after period_from")
	}
	if to.Sub(from) > 3*366*24*time.Hour {
		return invalid("period_to", "a period is at most three years")
	}
	return nil
}

// Date is a civil date at midnight UTC.
type Date = time.Time
