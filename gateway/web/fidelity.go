package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	fidelityv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/fidelity/v1"
)

// fidelityItem is one scale item on the review page: its anchors beside
// the reviewer's and the supervisor's scores and what the platform
// measured.
type fidelityItem struct {
	Code, Title, Description, Sources string
	Anchors                           []fidelityAnchor
	Score, Self                       int32
	Evidence                          string
	Measured                          *fidelityMeasured
}

type fidelityAnchor struct {
	Score    int32
	Text     string
	Selected bool
}

type fidelityMeasured struct {
	Value, Unit string
	Score       int32
	Measured    bool
	Flagged     bool
	Figures     []string
}

type fidelityPart struct {
	Name  string
	Items []fidelityItem
}

type fidelityReviewData struct {
	Review   *fidelityv1.Review
	Scale    string
	Parts    []fidelityPart
	CanScore bool
	// CanShare: the reviewer may share the fully scored review as a draft;
	// CanFinalise: make the draft final. CanComment: the team's supervisor
	// comments on a draft; CanTrack: marks action items done.
	CanShare, CanFinalise, CanComment, CanTrack bool
	Status                                      string
	Key                                         string
	Measured                                    bool
}

type fidelityListData struct {
	Reviews     []*fidelityv1.Review
	Bands       []*fidelityv1.TeamBand
	Teams       []string
	NotDeployed bool
	Region      string
}

func (p *page) text(t *fidelityv1.LocalText) string {
	if p.Lang == "en" {
		return t.GetEn()
	}
	return t.GetNl()
}

func reviewStatus(s fidelityv1.ReviewStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "REVIEW_STATUS_"))
}

// fidelityPage is the fidelity start page: a reviewer's worklist, a
// supervisor's teams' reviews and measured items, a decision maker's band
// per team (aggregates only).
func (h *Handler) fidelityPage(w http.ResponseWriter, r *http.Request, s *session) error {
	p := h.newPage(r, s, "fidelity.title", nil)
	d := fidelityListData{NotDeployed: h.fidelity == nil, Teams: s.Teams}
	if h.fidelity != nil {
		ctx, cancel := h.callContext(r, s)
		defer cancel()
		if s.Role == "decision_maker" {
			b, err := h.fidelity.ListTeamBands(ctx, &fidelityv1.ListTeamBandsRequest{})
			if err != nil {
				return serviceError(err)
			}
			d.Bands, d.Region = b.GetTeams(), b.GetRegionId()
		} else {
			l, err := h.fidelity.ListReviews(ctx, &fidelityv1.ListReviewsRequest{})
			if err != nil {
				return serviceError(err)
			}
			d.Reviews = l.GetReviews()
		}
	}
	p.Data = d
	return h.render(w, http.StatusOK, "fidelity", p)
}

// fidelityReviewPage is one review: per item the anchors beside the
// scores and the measured figure, the scoring form for the review's
// reviewer while it is open, and the report, printable.
func (h *Handler) fidelityReviewPage(w http.ResponseWriter, r *http.Request, s *session) error {
	if h.fidelity == nil {
		return errNotFound
	}
	id := r.PathValue("id")
	p := h.newPage(r, s, "fidelity.review", nil)
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	rv, err := h.fidelity.GetReview(ctx, &fidelityv1.GetReviewRequest{ReviewId: id})
	if err != nil {
		return serviceError(err)
	}
	review := rv.GetReview()
	var (
		scale    *fidelityv1.Scale
		measured *fidelityv1.GetMeasuredItemsResponse
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		sc, err := h.fidelity.GetScale(gctx, &fidelityv1.GetScaleRequest{ScaleId: review.GetScaleId()})
		scale = sc.GetScale()
		return err
	})
	if s.Role != "decision_maker" {
		g.Go(func() error {
			m, err := h.fidelity.GetMeasuredItems(gctx, &fidelityv1.GetMeasuredItemsRequest{ReviewId: id})
			if err == nil {
				measured = m
			}
			return nil // measured items are shown when they can be had
		})
	}
	if err := g.Wait(); err != nil {
		return serviceError(err)
	}
	d := fidelityReviewData{Review: review, Scale: p.text(scale.GetName()), Status: reviewStatus(review.GetStatus()), Key: newKey(),
		Measured: measured != nil}
	d.CanScore = s.Role == "fidelity_reviewer" && review.GetReviewerId() == s.UserID &&
		(review.GetStatus() == fidelityv1.ReviewStatus_REVIEW_STATUS_ASSIGNED || review.GetStatus() == fidelityv1.ReviewStatus_REVIEW_STATUS_DRAFT)
	isReviewer := s.Role == "fidelity_reviewer" && review.GetReviewerId() == s.UserID
	isSupervisor := s.Role == "ips_supervisor" && slices.Contains(s.Teams, review.GetTeamId())
	d.CanShare = isReviewer && review.GetStatus() == fidelityv1.ReviewStatus_REVIEW_STATUS_ASSIGNED && review.GetComplete()
	d.CanFinalise = isReviewer && review.GetStatus() == fidelityv1.ReviewStatus_REVIEW_STATUS_DRAFT
	d.CanComment = isSupervisor && review.GetStatus() == fidelityv1.ReviewStatus_REVIEW_STATUS_DRAFT
	d.CanTrack = isSupervisor && review.GetStatus() == fidelityv1.ReviewStatus_REVIEW_STATUS_FINAL
	scores := map[string]*fidelityv1.ItemScore{}
	for _, x := range review.GetScores() {
		scores[x.GetItemCode()] = x
	}
	self := map[string]int32{}
	for _, x := range review.GetSelfAssessment() {
		self[x.GetItemCode()] = x.GetScore()
	}
	meas := map[string]*fidelityv1.MeasuredItem{}
	for _, m := range measured.GetItems() {
		meas[m.GetItemCode()] = m
	}
	for _, part := range []string{"staffing", "organisation", "services"} {
		fp := fidelityPart{Name: p.T("fidelity.part." + part)}
		for _, it := range scale.GetItems() {
			if it.GetPart() != part {
				continue
			}
			fi := fidelityItem{Code: it.GetCode(), Title: p.text(it.GetTitle()), Description: p.text(it.GetDescription()),
				Sources: strings.Join(it.GetDataSources(), ", "), Self: self[it.GetCode()]}
			if x := scores[it.GetCode()]; x != nil {
				fi.Score, fi.Evidence = x.GetScore(), x.GetEvidence()
			}
			for _, a := range it.GetAnchors() {
				fi.Anchors = append(fi.Anchors, fidelityAnchor{Score: a.GetScore(), Text: p.text(a.GetText()), Selected: a.GetScore() == fi.Score})
			}
			if m := meas[it.GetCode()]; m != nil {
				fm := &fidelityMeasured{Measured: m.GetMeasured(), Score: m.GetScore(), Flagged: m.GetFlagged(), Unit: p.text(m.GetUnit()),
					Value: strconv.FormatFloat(m.GetValue(), 'f', 1, 64)}
				for _, f := range m.GetFigures() {
					fm.Figures = append(fm.Figures, fmt.Sprintf("%s: %s", f.GetName(), strconv.FormatFloat(f.GetValue(), 'f', -1, 64)))
				}
				fi.Measured = fm
			}
			fp.Items = append(fp.Items, fi)
		}
		d.Parts = append(d.Parts, fp)
	}
	p.Title = p.Tf("fidelity.reviewof", review.GetTeamId())
	p.Data = d
	return h.render(w, http.StatusOK, "fidelityreview", p)
}

// postFidelityScore records the reviewer's score of one item.
func (h *Handler) postFidelityScore(w http.ResponseWriter, r *http.Request, s *session) error {
	if h.fidelity == nil {
		return errNotFound
	}
	id := r.PathValue("id")
	f := r.PostForm
	score, err1 := strconv.Atoi(f.Get("score"))
	version, err2 := strconv.ParseInt(f.Get("version"), 10, 64)
	if err1 != nil || err2 != nil {
		return &pageError{status: http.StatusBadRequest, key: "error.badrequest"}
	}
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	_, err := h.fidelity.ScoreItem(ctx, &fidelityv1.ScoreItemRequest{ReviewId: id, ScaleId: f.Get("scale_id"), ItemCode: f.Get("item_code"),
		Score: int32(score), Evidence: f.Get("evidence"), Version: version, RequestId: f.Get("request_id")})
	if err != nil {
		return serviceError(err)
	}
	http.Redirect(w, r, "/ui/fidelity/reviews/"+id+"?done=scored#item-"+f.Get("item_code"), http.StatusSeeOther)
	return nil
}

type fidelityTrendRow struct {
	Code, Title, Unit string
	Cells             []fidelityTrendCell
}

type fidelityTrendCell struct {
	Measured bool
	Value    string
	Score    int32
}

type fidelityTeamData struct {
	Team       string
	Quarters   []string
	Rows       []fidelityTrendRow
	History    []*fidelityv1.HistoryPoint
	Unmeasured []string
}

// fidelityTeamPage is the supervisor's view of a team's measured items,
// continuously: the last four quarters side by side (the trend), and the
// team's final reviews.
func (h *Handler) fidelityTeamPage(w http.ResponseWriter, r *http.Request, s *session) error {
	if h.fidelity == nil {
		return errNotFound
	}
	team := r.PathValue("team")
	p := h.newPage(r, s, "fidelity.measured", nil)
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	today := h.now().UTC()
	start := time.Date(today.Year(), ((today.Month()-1)/3)*3+1, 1, 0, 0, 0, 0, time.UTC)
	var periods [][2]time.Time
	for i := 3; i >= 0; i-- {
		from := start.AddDate(0, -3*i, 0)
		to := from.AddDate(0, 3, -1)
		if to.After(today) {
			to = today
		}
		periods = append(periods, [2]time.Time{from, to})
	}
	results := make([]*fidelityv1.GetMeasuredItemsResponse, len(periods))
	var history *fidelityv1.GetTeamHistoryResponse
	g, gctx := errgroup.WithContext(ctx)
	for i, pr := range periods {
		g.Go(func() error {
			if !pr[1].After(pr[0]) {
				return nil
			}
			m, err := h.fidelity.GetMeasuredItems(gctx, &fidelityv1.GetMeasuredItemsRequest{TeamId: team,
				PeriodFrom: pr[0].Format(time.DateOnly), PeriodTo: pr[1].Format(time.DateOnly)})
			results[i] = m
			return err
		})
	}
	g.Go(func() error {
		var err error
		history, err = h.fidelity.GetTeamHistory(gctx, &fidelityv1.GetTeamHistoryRequest{TeamId: team})
		return err
	})
	if err := g.Wait(); err != nil {
		return serviceError(err)
	}
	d := fidelityTeamData{Team: team, History: history.GetPoints()}
	for _, pr := range periods {
		d.Quarters = append(d.Quarters, fmt.Sprintf("%d-Q%d", pr[0].Year(), (pr[0].Month()-1)/3+1))
	}
	scaleID := "ips25-2008"
	for _, res := range results {
		if res.GetScaleId() != "" {
			scaleID = res.GetScaleId()
		}
	}
	sc, err := h.fidelity.GetScale(ctx, &fidelityv1.GetScaleRequest{ScaleId: scaleID})
	if err != nil {
		return serviceError(err)
	}
	for _, it := range sc.GetScale().GetItems() {
		if it.GetMeasure() == nil {
			d.Unmeasured = append(d.Unmeasured, it.GetCode()+" "+p.text(it.GetTitle()))
			continue
		}
		row := fidelityTrendRow{Code: it.GetCode(), Title: p.text(it.GetTitle()), Unit: p.text(it.GetMeasure().GetUnit())}
		for _, res := range results {
			cell := fidelityTrendCell{}
			for _, m := range res.GetItems() {
				if m.GetItemCode() == it.GetCode() && m.GetMeasured() {
					cell = fidelityTrendCell{Measured: true, Value: strconv.FormatFloat(m.GetValue(), 'f', 1, 64), Score: m.GetScore()}
				}
			}
			row.Cells = append(row.Cells, cell)
		}
		d.Rows = append(d.Rows, row)
	}
	p.Title = p.Tf("fidelity.measuredof", team)
	p.Data = d
	return h.render(w, http.StatusOK, "fidelityteam", p)
}

// postFidelityAction runs one of a review's steps from its page: share the
// draft, comment on it, finalise it, or mark an action item done. The
// service decides whether the person may.
func (h *Handler) postFidelityAction(w http.ResponseWriter, r *http.Request, s *session) error {
	if h.fidelity == nil {
		return errNotFound
	}
	id, f := r.PathValue("id"), r.PostForm
	version, _ := strconv.ParseInt(f.Get("version"), 10, 64)
	key := f.Get("request_id")
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	var err error
	done := r.PathValue("action")
	switch done {
	case "share":
		_, err = h.fidelity.ShareDraft(ctx, &fidelityv1.ShareDraftRequest{ReviewId: id, Version: version, RequestId: key})
	case "comment":
		_, err = h.fidelity.CommentOnDraft(ctx, &fidelityv1.CommentOnDraftRequest{ReviewId: id, ItemCode: f.Get("item_code"),
			Text: f.Get("text"), RequestId: key})
	case "finalise":
		var actions []*fidelityv1.ActionItem
		if strings.TrimSpace(f.Get("action_text")) != "" {
			actions = append(actions, &fidelityv1.ActionItem{Text: f.Get("action_text"), Owner: f.Get("action_owner"), DueDate: f.Get("action_due")})
		}
		_, err = h.fidelity.FinaliseReview(ctx, &fidelityv1.FinaliseReviewRequest{ReviewId: id, Strengths: f.Get("strengths"),
			Recommendations: f.Get("recommendations"), ActionItems: actions, Version: version, RequestId: key})
	case "actiondone":
		_, err = h.fidelity.CompleteActionItem(ctx, &fidelityv1.CompleteActionItemRequest{ReviewId: id,
			ActionItemId: f.Get("action_item_id"), RequestId: key})
	default:
		return errNotFound
	}
	if err != nil {
		return serviceError(err)
	}
	http.Redirect(w, r, "/ui/fidelity/reviews/"+id+"?done=fidelity"+done, http.StatusSeeOther)
	return nil
}
