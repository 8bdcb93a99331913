package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	"github.com/ipsbridge/ipsbridge/services/fidelity/domain"
	"github.com/ipsbridge/ipsbridge/services/fidelity/store"
)

// RequestReview records the request of a review of one of the caller's
// teams, on scaleID (empty: the newest version).
func (s *Service) RequestReview(ctx context.Context, teamID string, from, to domain.Date, scaleID string, k idempotency.Request) (*domain.Review, error) {
	if err := domain.CheckPeriod(from, to); err != nil {
		return nil, err
	}
	sc, err := s.Scale(scaleID)
	if err != nil {
		return nil, err
	}
	o := op(authz.Write, "request review of team "+teamID)
	c, err := s.path.Org(ctx, o)
	if err != nil {
		return nil, err
	}
	if c.Sub.Role != Supervisor || !slices.Contains(c.Sub.Teams, teamID) {
		return nil, s.path.OrgRefuse(ctx, c, o, denied("only the IPS supervisor of team %s requests its review", teamID))
	}
	id := uuid.NewString()
	err = s.path.OrgWrite(ctx, c, o, func(ctx context.Context, tx pgx.Tx) error {
		res, _, err := store.Keys.Once(ctx, tx, idempotency.For(c.Sub.UserID, "RequestReview", k), func() (idempotency.Result, error) {
			r := &domain.Review{ID: id, TeamID: teamID, OrgID: c.Sub.OrgID, RegionID: c.Sub.RegionID, ScaleID: sc.ID,
				PeriodFrom: from, PeriodTo: to, RequestedBy: c.Sub.UserID}
			if err := s.st.CreateReview(ctx, tx, r); err != nil {
				return idempotency.Result{}, err
			}
			return idempotency.Result{ResourceID: id}, nil
		})
		if err != nil {
			return err
		}
		id = res.ResourceID // a retry: the review the first request made
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.st.Read(ctx, id)
}

// AssignReviewer assigns reviewerID and the visit date. The team's
// supervisor or a fidelity reviewer assigns; the reviewer must be a
// fidelity reviewer of another organisation than the reviewed one.
func (s *Service) AssignReviewer(ctx context.Context, reviewID, reviewerID string, on domain.Date, version int64, k idempotency.Request) (*domain.Review, error) {
	u, err := s.path.Directory().User(ctx, reviewerID)
	if err != nil {
		if errors.Is(err, access.ErrUnknownUser) {
			return nil, &domain.FieldError{Field: "reviewer_id", Msg: fmt.Sprintf("%q is not a user of the directory", reviewerID)}
		}
		return nil, err
	}
	rule := func(c access.Caller, r *domain.Review) error {
		if !isTeamSupervisor(c, r) && c.Sub.Role != Reviewer {
			return denied("only the team's supervisor or a fidelity reviewer assigns a reviewer")
		}
		return r.CheckAssign(u.OrgID, u.Role, on)
	}
	return s.change(ctx, "AssignReviewer", reviewID, version, k, rule, func(tx pgx.Tx, _ access.Caller, r *domain.Review) error {
		r.ReviewerID, r.ReviewerOrg, r.ScheduledOn, r.Status = u.ID, u.OrgID, on, domain.Assigned
		return s.st.SaveHeader(ctx, tx, r)
	})
}

// SubmitSelfAssessment records the supervisor's own scores.
func (s *Service) SubmitSelfAssessment(ctx context.Context, reviewID, scaleID string, scores []domain.Score, version int64, k idempotency.Request) (*domain.Review, error) {
	rule := func(c access.Caller, r *domain.Review) error {
		if !isTeamSupervisor(c, r) {
			return denied("only the team's supervisor self-assesses")
		}
		return r.CheckSelfAssessment()
	}
	return s.change(ctx, "SubmitSelfAssessment", reviewID, version, k, rule, func(tx pgx.Tx, c access.Caller, r *domain.Review) error {
		sc, err := s.reviewScale(r, scaleID)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for i, x := range scores {
			if err := domain.CheckScore(sc, x.ItemCode, x.Score, x.Evidence); err != nil {
				return fmt.Errorf("scores[%d]: %w", i, err)
			}
			if seen[x.ItemCode] {
				return &domain.FieldError{Field: fmt.Sprintf("scores[%d].item_code", i), Msg: x.ItemCode + " is scored twice"}
			}
			seen[x.ItemCode] = true
			x.By = c.Sub.UserID
			if err := s.st.PutScore(ctx, tx, r.ID, "self", x); err != nil {
				return err
			}
		}
		return s.st.SaveHeader(ctx, tx, r)
	})
}

// reviewScale returns the review's scale version, refusing a request made
// for another version.
func (s *Service) reviewScale(r *domain.Review, scaleID string) (*domain.Scale, error) {
	if scaleID != "" && scaleID != r.ScaleID {
		return nil, &domain.FieldError{Field: "scale_id", Msg: fmt.Sprintf("review %s is scored on %s, not %s", r.ID, r.ScaleID, scaleID)}
	}
	sc := s.scales[r.ScaleID]
	if sc == nil {
		return nil, fmt.Errorf("%w: scale %s of review %s is not shipped with this service", domain.ErrFailedPrecondition, r.ScaleID, r.ID)
	}
	return sc, nil
}

// ScoreItem records the assigned reviewer's score of one item.
func (s *Service) ScoreItem(ctx context.Context, reviewID, scaleID string, x domain.Score, version int64, k idempotency.Request) (*domain.Review, error) {
	rule := func(c access.Caller, r *domain.Review) error {
		if !isAssignedReviewer(c, r) {
			return denied("only the review's independent reviewer scores it")
		}
		return nil
	}
	return s.change(ctx, "ScoreItem", reviewID, version, k, rule, func(tx pgx.Tx, c access.Caller, r *domain.Review) error {
		sc, err := s.reviewScale(r, scaleID)
		if err != nil {
			return err
		}
		if err := r.CheckReviewerScore(sc, x.ItemCode, x.Score, x.Evidence); err != nil {
			return err
		}
		x.By = c.Sub.UserID
		if err := s.st.PutScore(ctx, tx, r.ID, "review", x); err != nil {
			return err
		}
		return s.st.SaveHeader(ctx, tx, r)
	})
}

// ShareDraft shares the fully scored review with the team.
func (s *Service) ShareDraft(ctx context.Context, reviewID string, version int64, k idempotency.Request) (*domain.Review, error) {
	rule := func(c access.Caller, r *domain.Review) error {
		if !isAssignedReviewer(c, r) {
			return denied("only the review's reviewer shares its draft")
		}
		return nil
	}
	return s.change(ctx, "ShareDraft", reviewID, version, k, rule, func(tx pgx.Tx, _ access.Caller, r *domain.Review) error {
		sc, err := s.reviewScale(r, "")
		if err != nil {
			return err
		}
		if err := r.CheckDraft(sc); err != nil {
			return err
		}
		r.Status = domain.Draft
		return s.st.SaveHeader(ctx, tx, r)
	})
}

// CommentOnDraft records the team's remark on a draft.
func (s *Service) CommentOnDraft(ctx context.Context, reviewID, itemCode, text string, k idempotency.Request) (*domain.Review, error) {
	rule := func(c access.Caller, r *domain.Review) error {
		if !isTeamSupervisor(c, r) {
			return denied("only the reviewed team comments on its draft")
		}
		return nil
	}
	return s.change(ctx, "CommentOnDraft", reviewID, 0, k, rule, func(tx pgx.Tx, c access.Caller, r *domain.Review) error {
		sc, err := s.reviewScale(r, "")
		if err != nil {
			return err
		}
		if err := r.CheckComment(sc, itemCode, text); err != nil {
			return err
		}
		return s.st.AddComment(ctx, tx, r.ID, domain.Comment{ID: uuid.NewString(), ItemCode: itemCode, Text: text, By: c.Sub.UserID})
	})
}

// FinaliseReview makes the draft final with its report and action plan.
func (s *Service) FinaliseReview(ctx context.Context, reviewID, strengths, recommendations string, actions []domain.ActionItem, version int64, k idempotency.Request) (*domain.Review, error) {
	rule := func(c access.Caller, r *domain.Review) error {
		if !isAssignedReviewer(c, r) {
			return denied("only the review's reviewer finalises it")
		}
		return nil
	}
	return s.change(ctx, "FinaliseReview", reviewID, version, k, rule, func(tx pgx.Tx, _ access.Caller, r *domain.Review) error {
		sc, err := s.reviewScale(r, "")
		if err != nil {
			return err
		}
		if err := r.CheckFinalise(sc, strengths, recommendations, actions); err != nil {
			return err
		}
		for i := range actions {
			actions[i].ID = uuid.NewString()
		}
		if err := s.st.AddActionItems(ctx, tx, r.ID, actions); err != nil {
			return err
		}
		r.Strengths, r.Recommend, r.Status, r.FinalisedAt = strings.TrimSpace(strengths), strings.TrimSpace(recommendations), domain.Final, s.now()
		return s.st.SaveHeader(ctx, tx, r)
	})
}

// CompleteActionItem marks an action plan item done: the team's
// supervisor, on a final review.
func (s *Service) CompleteActionItem(ctx context.Context, reviewID, itemID string, k idempotency.Request) (*domain.Review, error) {
	rule := func(c access.Caller, r *domain.Review) error {
		if !isTeamSupervisor(c, r) {
			return denied("only the team's supervisor tracks its action plan")
		}
		if r.Status != domain.Final {
			return fmt.Errorf("%w: review %s has no action plan before it is final", domain.ErrFailedPrecondition, r.ID)
		}
		return nil
	}
	return s.change(ctx, "CompleteActionItem", reviewID, 0, k, rule, func(tx pgx.Tx, c access.Caller, r *domain.Review) error {
		return s.st.CompleteAction(ctx, tx, r.ID, itemID, s.Today(), c.Sub.UserID)
	})
}

// GetReview returns a review the caller may see.
func (s *Service) GetReview(ctx context.Context, reviewID string) (*domain.Review, error) {
	o := op(authz.Read, "review "+reviewID)
	c, err := s.path.Org(ctx, o)
	if err != nil {
		return nil, err
	}
	r, err := s.st.Read(ctx, reviewID)
	if err != nil {
		return nil, err
	}
	if !mayRead(c, r) {
		return nil, s.path.OrgRefuse(ctx, c, o, fmt.Errorf("review %s: %w", reviewID, domain.ErrNotFound))
	}
	if c.Sub.Role == DecisionMaker {
		// Aggregates only: the total and band, not the evidence.
		r.Scores, r.Self, r.Comments = onlyScores(r.Scores), nil, nil
	}
	return r, s.path.OrgDone(ctx, c, o)
}

func onlyScores(in []domain.Score) []domain.Score {
	out := make([]domain.Score, len(in))
	for i, x := range in {
		out[i] = domain.Score{ItemCode: x.ItemCode, Score: x.Score}
	}
	return out
}

// ListReviews returns the reviews the caller may see (teamID empty: all
// of them): a reviewer's worklist, a supervisor's teams'.
func (s *Service) ListReviews(ctx context.Context, teamID string) ([]*domain.Review, map[string][]domain.Score, error) {
	o := op(authz.Read, "reviews")
	c, err := s.path.Org(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	f := store.Filter{}
	switch c.Sub.Role {
	case Supervisor:
		f.TeamIDs = c.Sub.Teams
	case DecisionMaker:
		f.RegionID, f.FinalOnly = c.Sub.RegionID, true
	}
	if teamID != "" {
		f.TeamIDs = []string{teamID}
	}
	all, err := s.st.List(ctx, f)
	if err != nil {
		return nil, nil, err
	}
	var out []*domain.Review
	var ids []string
	for _, r := range all {
		if mayRead(c, r) {
			out = append(out, r)
			ids = append(ids, r.ID)
		}
	}
	scores, err := s.st.ReviewScores(ctx, ids)
	if err != nil {
		return nil, nil, err
	}
	return out, scores, s.path.OrgDone(ctx, c, o)
}

// HistoryPoint is one final review of a team.
type HistoryPoint struct {
	Review *domain.Review
	Total  int
	Band   string
	Change int
}

// TeamHistory returns a team's final reviews, oldest first, with the
// change of the total since the one before.
func (s *Service) TeamHistory(ctx context.Context, teamID string) ([]HistoryPoint, error) {
	o := op(authz.Read, "history of team "+teamID)
	c, err := s.path.Org(ctx, o)
	if err != nil {
		return nil, err
	}
	if c.Sub.Role == Supervisor && !slices.Contains(c.Sub.Teams, teamID) {
		return nil, s.path.OrgRefuse(ctx, c, o, denied("%s is not in team %s", c.Sub.UserID, teamID))
	}
	f := store.Filter{TeamIDs: []string{teamID}, FinalOnly: true}
	if c.Sub.Role != Supervisor {
		f.RegionID = c.Sub.RegionID
	}
	reviews, err := s.st.List(ctx, f)
	if err != nil {
		return nil, err
	}
	pts, err := s.finalPoints(ctx, reviews)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(pts, func(a, b HistoryPoint) int { return a.Review.FinalisedAt.Compare(b.Review.FinalisedAt) })
	for i := 1; i < len(pts); i++ {
		pts[i].Change = pts[i].Total - pts[i-1].Total
	}
	return pts, s.path.OrgDone(ctx, c, o)
}

func (s *Service) finalPoints(ctx context.Context, reviews []*domain.Review) ([]HistoryPoint, error) {
	ids := make([]string, len(reviews))
	for i, r := range reviews {
		ids[i] = r.ID
	}
	scores, err := s.st.ReviewScores(ctx, ids)
	if err != nil {
		return nil, err
	}
	var out []HistoryPoint
	for _, r := range reviews {
		r.Scores = scores[r.ID]
		p := HistoryPoint{Review: r}
		if sc := s.scales[r.ScaleID]; sc != nil {
			p.Total, _ = r.Total(sc)
			if b, ok := sc.Band(p.Total); ok {
				p.Band = b.Code
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// TeamBands returns the latest final review of every team of a region
// (empty: the caller's own, the only one allowed unless the caller is the
// team's own supervisor), for decision makers and funding agreements.
func (s *Service) TeamBands(ctx context.Context, regionID string) (string, []HistoryPoint, error) {
	o := op(authz.Read, "bands of region")
	c, err := s.path.Org(ctx, o)
	if err != nil {
		return "", nil, err
	}
	if regionID == "" {
		regionID = c.Sub.RegionID
	}
	if regionID != c.Sub.RegionID {
		return "", nil, s.path.OrgRefuse(ctx, c, o, denied("role %s may not see the bands of region %s", c.Sub.Role, regionID))
	}
	reviews, err := s.st.List(ctx, store.Filter{RegionID: regionID, FinalOnly: true})
	if err != nil {
		return "", nil, err
	}
	latest := map[string]*domain.Review{}
	var teams []string
	for _, r := range reviews {
		if prev := latest[r.TeamID]; prev == nil {
			teams = append(teams, r.TeamID)
			latest[r.TeamID] = r
		} else if r.FinalisedAt.After(prev.FinalisedAt) {
			latest[r.TeamID] = r
		}
	}
	slices.Sort(teams)
	var pick []*domain.Review
	for _, t := range teams {
		pick = append(pick, latest[t])
	}
	pts, err := s.finalPoints(ctx, pick)
	if err != nil {
		return "", nil, err
	}
	return regionID, pts, s.path.OrgDone(ctx, c, o)
}
