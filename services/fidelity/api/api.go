// Package api is the fidelity service's gRPC transport: it converts between
// the contract's messages and the domain, and translates errors into
// canonical status codes, once, here.
package api

import (
	"context"
	"log/slog"
	"strconv"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/rpc"
	fidelityv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/fidelity/v1"
	"github.com/ipsbridge/ipsbridge/services/fidelity/app"
	"github.com/ipsbridge/ipsbridge/services/fidelity/domain"
)

// Server implements fidelityv1.FidelityServiceServer.
type Server struct {
	fidelityv1.UnimplementedFidelityServiceServer
	app *app.Service
	log *slog.Logger
}

// New returns the gRPC server of the fidelity service.
func New(a *app.Service, log *slog.Logger) *Server { return &Server{app: a, log: log} }

const svc = "/ipsbridge.fidelity.v1.FidelityService/"

var (
	read  = []authz.Requirement{{Section: authz.Fidelity, Action: authz.Read}}
	write = []authz.Requirement{{Section: authz.Fidelity, Action: authz.Write}}
)

// Rules are the method-level requirements the authorization interceptor
// enforces before a handler runs; handlers then apply the row rules.
var Rules = map[string][]authz.Requirement{
	svc + "ListScales":             authz.Authenticated,
	svc + "GetScale":               authz.Authenticated,
	svc + "RequestReview":          write,
	svc + "AssignReviewer":         write,
	svc + "GetReview":              read,
	svc + "ListReviews":            read,
	svc + "SubmitSelfAssessment":   write,
	svc + "ScoreItem":              write,
	svc + "ShareDraft":             write,
	svc + "CommentOnDraft":         write,
	svc + "FinaliseReview":         write,
	svc + "CompleteActionItem":     write,
	svc + "GetTeamHistory":         read,
	svc + "ListTeamBands":          read,
	svc + "GetMeasuredItems":       read,
	svc + "ListSampleRecords":      read,
	"/grpc.health.v1.Health/Check": authz.Public,
	"/grpc.health.v1.Health/Watch": authz.Public,
	"/grpc.health.v1.Health/List":  authz.Public,
}

func (s *Server) status(ctx context.Context, err error) error { return rpc.Status(ctx, s.log, err) }

func text(t domain.Text) *fidelityv1.LocalText { return &fidelityv1.LocalText{Nl: t.NL, En: t.EN} }

func date(d domain.Date) string {
	if d.IsZero() {
		return ""
	}
	return d.Format("2006-01-02")
}

func scaleToProto(sc *domain.Scale) *fidelityv1.Scale {
	out := &fidelityv1.Scale{ScaleId: sc.ID, Name: text(sc.Name), Note: text(sc.Note), MinTotal: int32(sc.MinTotal), MaxTotal: int32(sc.MaxTotal)}
	for _, b := range sc.Bands {
		out.Bands = append(out.Bands, &fidelityv1.Band{Code: b.Code, Min: int32(b.Min), Max: int32(b.Max), Name: &fidelityv1.LocalText{Nl: b.NL, En: b.EN}})
	}
	for _, it := range sc.Items {
		out.Items = append(out.Items, itemToProto(it))
	}
	return out
}

func itemToProto(it domain.Item) *fidelityv1.Item {
	pi := &fidelityv1.Item{Code: it.Code, Part: it.Part, Key: it.Key, Title: text(it.Title), Description: text(it.Description), DataSources: it.Sources}
	for score := 1; score <= 5; score++ {
		pi.Anchors = append(pi.Anchors, &fidelityv1.Anchor{Score: int32(score), Text: text(it.Anchor(score))})
	}
	if m := it.Measure; m != nil {
		pi.Measure = &fidelityv1.Measure{Metric: m.Metric, Direction: string(m.Direction), Cuts: m.Cuts, Unit: text(m.Unit)}
	}
	return pi
}

var statusToProto = map[domain.Status]fidelityv1.ReviewStatus{
	domain.Requested: fidelityv1.ReviewStatus_REVIEW_STATUS_REQUESTED,
	domain.Assigned:  fidelityv1.ReviewStatus_REVIEW_STATUS_ASSIGNED,
	domain.Draft:     fidelityv1.ReviewStatus_REVIEW_STATUS_DRAFT,
	domain.Final:     fidelityv1.ReviewStatus_REVIEW_STATUS_FINAL,
}

func scoresToProto(in []domain.Score) []*fidelityv1.ItemScore {
	var out []*fidelityv1.ItemScore
	for _, x := range in {
		out = append(out, &fidelityv1.ItemScore{ItemCode: x.ItemCode, Score: int32(x.Score), Evidence: x.Evidence, ScoredBy: x.By})
	}
	return out
}

func (s *Server) reviewToProto(r *domain.Review) *fidelityv1.Review {
	out := &fidelityv1.Review{
		ReviewId: r.ID, TeamId: r.TeamID, OrgId: r.OrgID, RegionId: r.RegionID, ScaleId: r.ScaleID,
		PeriodFrom: date(r.PeriodFrom), PeriodTo: date(r.PeriodTo), Status: statusToProto[r.Status],
		RequestedBy: r.RequestedBy, ReviewerId: r.ReviewerID, ReviewerOrgId: r.ReviewerOrg, ScheduledOn: date(r.ScheduledOn),
		Scores: scoresToProto(r.Scores), SelfAssessment: scoresToProto(r.Self),
		Strengths: r.Strengths, Recommendations: r.Recommend, Version: r.Version, RequestTime: timestamppb.New(r.RequestedAt),
	}
	if !r.FinalisedAt.IsZero() {
		out.FinaliseTime = timestamppb.New(r.FinalisedAt)
	}
	if sc, err := s.app.Scale(r.ScaleID); err == nil {
		total, complete := r.Total(sc)
		out.Total, out.Complete = int32(total), complete
		if b, ok := sc.Band(total); ok && complete {
			out.Band = b.Code
		}
		self, _ := r.SelfTotal(sc)
		out.SelfTotal = int32(self)
	}
	for _, c := range r.Comments {
		out.Comments = append(out.Comments, &fidelityv1.Comment{CommentId: c.ID, ItemCode: c.ItemCode, Text: c.Text, AuthorId: c.By, CreateTime: timestamppb.New(c.At)})
	}
	for _, a := range r.Actions {
		out.ActionItems = append(out.ActionItems, &fidelityv1.ActionItem{ActionItemId: a.ID, Text: a.Text, Owner: a.Owner,
			DueDate: date(a.Due), Done: a.Done(), DoneDate: date(a.DoneAt)})
	}
	return out
}

// ListScales implements FidelityService.
func (s *Server) ListScales(_ context.Context, _ *fidelityv1.ListScalesRequest) (*fidelityv1.ListScalesResponse, error) {
	out := &fidelityv1.ListScalesResponse{}
	for _, sc := range s.app.Scales() {
		out.Scales = append(out.Scales, scaleToProto(sc))
	}
	return out, nil
}

// GetScale implements FidelityService.
func (s *Server) GetScale(ctx context.Context, req *fidelityv1.GetScaleRequest) (*fidelityv1.GetScaleResponse, error) {
	sc, err := s.app.Scale(req.GetScaleId())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &fidelityv1.GetScaleResponse{Scale: scaleToProto(sc)}, nil
}

// RequestReview implements FidelityService.
func (s *Server) RequestReview(ctx context.Context, req *fidelityv1.RequestReviewRequest) (*fidelityv1.RequestReviewResponse, error) {
	k, err := rpc.Idempotency(ctx, req, true)
	if err != nil {
		return nil, err
	}
	from, err := domain.ParseDate("period_from", req.GetPeriodFrom())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	to, err := domain.ParseDate("period_to", req.GetPeriodTo())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	r, err := s.app.RequestReview(ctx, req.GetTeamId(), from, to, req.GetScaleId(), k)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &fidelityv1.RequestReviewResponse{Review: s.reviewToProto(r)}, nil
}

// AssignReviewer implements FidelityService.
func (s *Server) AssignReviewer(ctx context.Context, req *fidelityv1.AssignReviewerRequest) (*fidelityv1.AssignReviewerResponse, error) {
	k, err := rpc.Idempotency(ctx, req, true)
	if err != nil {
		return nil, err
	}
	on, err := domain.ParseDate("scheduled_on", req.GetScheduledOn())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	r, err := s.app.AssignReviewer(ctx, req.GetReviewId(), req.GetReviewerId(), on, req.GetVersion(), k)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &fidelityv1.AssignReviewerResponse{Review: s.reviewToProto(r)}, nil
}

// GetReview implements FidelityService.
func (s *Server) GetReview(ctx context.Context, req *fidelityv1.GetReviewRequest) (*fidelityv1.GetReviewResponse, error) {
	r, err := s.app.GetReview(ctx, req.GetReviewId())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &fidelityv1.GetReviewResponse{Review: s.reviewToProto(r)}, nil
}

// ListReviews implements FidelityService.
func (s *Server) ListReviews(ctx context.Context, req *fidelityv1.ListReviewsRequest) (*fidelityv1.ListReviewsResponse, error) {
	rs, scores, err := s.app.ListReviews(ctx, req.GetTeamId())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	out := &fidelityv1.ListReviewsResponse{}
	for _, r := range rs {
		r.Scores = scores[r.ID]
		pr := s.reviewToProto(r)
		pr.Scores = nil // the list carries totals; GetReview the evidence
		out.Reviews = append(out.Reviews, pr)
	}
	return out, nil
}

func scoresFromProto(in []*fidelityv1.ItemScore) []domain.Score {
	out := make([]domain.Score, len(in))
	for i, x := range in {
		out[i] = domain.Score{ItemCode: x.GetItemCode(), Score: int(x.GetScore()), Evidence: x.GetEvidence()}
	}
	return out
}

// SubmitSelfAssessment implements FidelityService.
func (s *Server) SubmitSelfAssessment(ctx context.Context, req *fidelityv1.SubmitSelfAssessmentRequest) (*fidelityv1.SubmitSelfAssessmentResponse, error) {
	k, err := rpc.Idempotency(ctx, req, true)
	if err != nil {
		return nil, err
	}
	r, err := s.app.SubmitSelfAssessment(ctx, req.GetReviewId(), req.GetScaleId(), scoresFromProto(req.GetScores()), req.GetVersion(), k)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &fidelityv1.SubmitSelfAssessmentResponse{Review: s.reviewToProto(r)}, nil
}

// ScoreItem implements FidelityService.
func (s *Server) ScoreItem(ctx context.Context, req *fidelityv1.ScoreItemRequest) (*fidelityv1.ScoreItemResponse, error) {
	k, err := rpc.Idempotency(ctx, req, true)
	if err != nil {
		return nil, err
	}
	x := domain.Score{ItemCode: req.GetItemCode(), Score: int(req.GetScore()), Evidence: req.GetEvidence()}
	r, err := s.app.ScoreItem(ctx, req.GetReviewId(), req.GetScaleId(), x, req.GetVersion(), k)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &fidelityv1.ScoreItemResponse{Review: s.reviewToProto(r)}, nil
}

// ShareDraft implements FidelityService.
func (s *Server) ShareDraft(ctx context.Context, req *fidelityv1.ShareDraftRequest) (*fidelityv1.ShareDraftResponse, error) {
	k, err := rpc.Idempotency(ctx, req, true)
	if err != nil {
		return nil, err
	}
	r, err := s.app.ShareDraft(ctx, req.GetReviewId(), req.GetVersion(), k)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &fidelityv1.ShareDraftResponse{Review: s.reviewToProto(r)}, nil
}

// CommentOnDraft implements FidelityService.
func (s *Server) CommentOnDraft(ctx context.Context, req *fidelityv1.CommentOnDraftRequest) (*fidelityv1.CommentOnDraftResponse, error) {
	k, err := rpc.Idempotency(ctx, req, true)
	if err != nil {
		return nil, err
	}
	r, err := s.app.CommentOnDraft(ctx, req.GetReviewId(), req.GetItemCode(), req.GetText(), k)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &fidelityv1.CommentOnDraftResponse{Review: s.reviewToProto(r)}, nil
}

// FinaliseReview implements FidelityService.
func (s *Server) FinaliseReview(ctx context.Context, req *fidelityv1.FinaliseReviewRequest) (*fidelityv1.FinaliseReviewResponse, error) {
	k, err := rpc.Idempotency(ctx, req, true)
	if err != nil {
		return nil, err
	}
	var actions []domain.ActionItem
	for i, a := range req.GetActionItems() {
		due, err := domain.ParseDate("action_items["+strconv.Itoa(i)+"].due_date", a.GetDueDate())
		if err != nil {
			return nil, s.status(ctx, err)
		}
		actions = append(actions, domain.ActionItem{Text: a.GetText(), Owner: a.GetOwner(), Due: due})
	}
	r, err := s.app.FinaliseReview(ctx, req.GetReviewId(), req.GetStrengths(), req.GetRecommendations(), actions, req.GetVersion(), k)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &fidelityv1.FinaliseReviewResponse{Review: s.reviewToProto(r)}, nil
}

// CompleteActionItem implements FidelityService.
func (s *Server) CompleteActionItem(ctx context.Context, req *fidelityv1.CompleteActionItemRequest) (*fidelityv1.CompleteActionItemResponse, error) {
	k, err := rpc.Idempotency(ctx, req, true)
	if err != nil {
		return nil, err
	}
	r, err := s.app.CompleteActionItem(ctx, req.GetReviewId(), req.GetActionItemId(), k)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &fidelityv1.CompleteActionItemResponse{Review: s.reviewToProto(r)}, nil
}

func pointToProto(p app.HistoryPoint) *fidelityv1.HistoryPoint {
	return &fidelityv1.HistoryPoint{ReviewId: p.Review.ID, ScaleId: p.Review.ScaleID, PeriodTo: date(p.Review.PeriodTo),
		Total: int32(p.Total), Band: p.Band, Change: int32(p.Change), FinaliseTime: timestamppb.New(p.Review.FinalisedAt)}
}

// GetTeamHistory implements FidelityService.
func (s *Server) GetTeamHistory(ctx context.Context, req *fidelityv1.GetTeamHistoryRequest) (*fidelityv1.GetTeamHistoryResponse, error) {
	pts, err := s.app.TeamHistory(ctx, req.GetTeamId())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	out := &fidelityv1.GetTeamHistoryResponse{TeamId: req.GetTeamId()}
	for _, p := range pts {
		out.Points = append(out.Points, pointToProto(p))
	}
	return out, nil
}

// ListTeamBands implements FidelityService.
func (s *Server) ListTeamBands(ctx context.Context, req *fidelityv1.ListTeamBandsRequest) (*fidelityv1.ListTeamBandsResponse, error) {
	region, pts, err := s.app.TeamBands(ctx, req.GetRegionId())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	out := &fidelityv1.ListTeamBandsResponse{RegionId: region}
	for _, p := range pts {
		out.Teams = append(out.Teams, &fidelityv1.TeamBand{TeamId: p.Review.TeamID, OrgId: p.Review.OrgID, ReviewId: p.Review.ID,
			ScaleId: p.Review.ScaleID, Total: int32(p.Total), Band: p.Band, FinaliseTime: timestamppb.New(p.Review.FinalisedAt)})
	}
	return out, nil
}

// GetMeasuredItems implements FidelityService.
func (s *Server) GetMeasuredItems(ctx context.Context, req *fidelityv1.GetMeasuredItemsRequest) (*fidelityv1.GetMeasuredItemsResponse, error) {
	p := app.Period{TeamID: req.GetTeamId()}
	if req.GetReviewId() == "" {
		var err error
		if p.From, err = domain.ParseDate("period_from", req.GetPeriodFrom()); err != nil {
			return nil, s.status(ctx, err)
		}
		if p.To, err = domain.ParseDate("period_to", req.GetPeriodTo()); err != nil {
			return nil, s.status(ctx, err)
		}
	}
	m, err := s.app.MeasuredItems(ctx, req.GetReviewId(), p)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	out := &fidelityv1.GetMeasuredItemsResponse{TeamId: m.TeamID, ScaleId: m.ScaleID, PeriodFrom: date(m.From), PeriodTo: date(m.To),
		UnmeasuredItemCodes: m.Unmeasured, ComputeTime: timestamppb.New(m.ComputedAt)}
	for _, it := range m.Items {
		pm := &fidelityv1.MeasuredItem{ItemCode: it.Item.Code, Metric: it.Item.Measure.Metric, Measured: it.Measured, Value: it.Value,
			Score: int32(it.Score), ReviewerScore: int32(it.ReviewerScore), Flagged: it.Flagged, Unit: text(it.Item.Measure.Unit)}
		for _, f := range it.Figures {
			pm.Figures = append(pm.Figures, &fidelityv1.Figure{Name: f.Name, Value: f.Value})
		}
		out.Items = append(out.Items, pm)
	}
	return out, nil
}

// ListSampleRecords implements FidelityService.
func (s *Server) ListSampleRecords(ctx context.Context, req *fidelityv1.ListSampleRecordsRequest) (*fidelityv1.ListSampleRecordsResponse, error) {
	rs, err := s.app.SampleRecords(ctx, req.GetReviewId())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	out := &fidelityv1.ListSampleRecordsResponse{}
	for _, r := range rs {
		out.Records = append(out.Records, &fidelityv1.SampleRecord{Pseudonym: r.Pseudonym, Phase: r.Phase, IntakeDate: date(r.Intake),
			FirstEmployerContactDate: date(r.FirstContact), EmployerContacts: int32(r.EmployerContacts), JobStarts: int32(r.JobStarts),
			FollowAlongContacts: int32(r.FollowAlongContacts), ClinicalInputRecorded: r.ClinicalInput})
	}
	return out, nil
}
