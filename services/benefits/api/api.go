// Package api is the benefits service's gRPC transport: it converts between
// the contract's messages and the domain, and translates domain errors into
// canonical status codes, once, here.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/rpc"
	benefitsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/benefits/v1"
	"github.com/ipsbridge/ipsbridge/services/benefits/app"
	"github.com/ipsbridge/ipsbridge/services/benefits/domain"
	"github.com/ipsbridge/ipsbridge/services/benefits/store"
)

// Server implements benefitsv1.BenefitsServiceServer.
type Server struct {
	benefitsv1.UnimplementedBenefitsServiceServer
	app *app.Service
	log *slog.Logger
}

// New returns the gRPC server of the benefits service.
func New(a *app.Service, log *slog.Logger) *Server { return &Server{app: a, log: log} }

const svc = "/ipsbridge.benefits.v1.BenefitsService/"

var (
	read    = authz.Requirement{Section: authz.Benefits, Action: authz.Read}
	write   = authz.Requirement{Section: authz.Benefits, Action: authz.Write}
	summary = authz.Requirement{Section: authz.Benefits, Action: authz.ReadSummary}
)

// Rules are the method-level requirements the authorization interceptor
// enforces before a handler runs; handlers then decide per client and per
// benefit.
var Rules = map[string][]authz.Requirement{
	svc + "CreateBenefit":               {write},
	svc + "ListBenefits":                {read},
	svc + "UpdateBenefit":               {write},
	svc + "GetBenefitSummary":           {read, summary},
	svc + "CreateCounsellingRequest":    {write, summary},
	svc + "ListCounsellingRequests":     {read, summary},
	svc + "AssignCounsellingRequest":    {write},
	svc + "RecordCounsellingSession":    {write},
	svc + "ListOpenCounsellingRequests": {read},
	svc + "CalculateIncomeEffect":       {read},
	svc + "ReportBenefitDecision":       {write},
	svc + "ReportJobChange":             {{Section: authz.Placements, Action: authz.Write}},
	svc + "ListCounsellorTasks":         {read},
	svc + "ListBenefitNotices":          {read},
	svc + "GetTeamFigures":              {{Section: authz.Benefits, Action: authz.Aggregate}}, // team figures only
	"/grpc.health.v1.Health/Check":      authz.Public,
	"/grpc.health.v1.Health/Watch":      authz.Public,
	"/grpc.health.v1.Health/List":       authz.Public,
}

func (s *Server) toStatus(ctx context.Context, err error) error {
	return rpc.Status(ctx, s.log, err)
}

var kinds = map[benefitsv1.BenefitKind]domain.Kind{
	benefitsv1.BenefitKind_BENEFIT_KIND_WIA_WGA: domain.WIAWGA, benefitsv1.BenefitKind_BENEFIT_KIND_WIA_IVA: domain.WIAIVA,
	benefitsv1.BenefitKind_BENEFIT_KIND_WAJONG: domain.Wajong, benefitsv1.BenefitKind_BENEFIT_KIND_WW: domain.WW,
	benefitsv1.BenefitKind_BENEFIT_KIND_PARTICIPATIEWET: domain.Participatiewet, benefitsv1.BenefitKind_BENEFIT_KIND_SUPPLEMENT: domain.Supplement,
}

func kindToProto(k domain.Kind) benefitsv1.BenefitKind {
	for p, d := range kinds {
		if d == k {
			return p
		}
	}
	return benefitsv1.BenefitKind_BENEFIT_KIND_UNSPECIFIED
}

var statuses = map[domain.Status]benefitsv1.BenefitStatus{
	domain.Active: benefitsv1.BenefitStatus_BENEFIT_STATUS_ACTIVE, domain.Suspended: benefitsv1.BenefitStatus_BENEFIT_STATUS_SUSPENDED,
	domain.Ended: benefitsv1.BenefitStatus_BENEFIT_STATUS_ENDED,
}

func date(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.Format(time.DateOnly)
}

func benefitToProto(b domain.Benefit) *benefitsv1.Benefit {
	return &benefitsv1.Benefit{
		BenefitId: b.ID, ClientId: b.ClientID, Kind: kindToProto(b.Kind), PayerOrganizationId: b.PayerOrgID,
		MonthlyAmountCents: b.MonthlyAmountCents, StartDate: date(&b.Start), EndDate: date(b.End), Status: statuses[b.Status],
		Version: b.Version, UpdateTime: timestamppb.New(b.UpdatedAt),
	}
}

func requestToProto(r store.CounsellingRequest) *benefitsv1.CounsellingRequest {
	st := benefitsv1.CounsellingStatus_COUNSELLING_STATUS_OPEN
	if r.Status == "closed" {
		st = benefitsv1.CounsellingStatus_COUNSELLING_STATUS_CLOSED
	}
	out := &benefitsv1.CounsellingRequest{CounsellingRequestId: r.ID, ClientId: r.ClientID, Reason: r.Reason, CounsellorId: r.CounsellorID,
		Status: st, RequestedBy: r.RequestedBy, CreateTime: timestamppb.New(r.CreatedAt)}
	for _, x := range r.Sessions {
		out.Sessions = append(out.Sessions, &benefitsv1.CounsellingSession{SessionId: x.ID, SessionDate: x.Date.Format(time.DateOnly),
			Notes: x.Notes, Outcome: x.Outcome, CounsellorId: x.CounsellorID})
	}
	return out
}

func taskToProto(t store.Task) *benefitsv1.CounsellorTask {
	return &benefitsv1.CounsellorTask{TaskId: t.ID, ClientId: t.ClientID, CounsellorId: t.CounsellorID, Description: t.Description, CreateTime: timestamppb.New(t.CreatedAt)}
}

func noticeToProto(n store.Notice) *benefitsv1.BenefitNotice {
	return &benefitsv1.BenefitNotice{NoticeId: n.ID, ClientId: n.ClientID, OrganizationId: n.OrgID, BenefitId: n.BenefitID,
		Description: n.Description, CreateTime: timestamppb.New(n.CreatedAt)}
}

func parseDate(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("%w: %s is required", domain.ErrInvalid, field)
	}
	return domain.ParseDate(field, s)
}

// CreateBenefit implements BenefitsService.
func (s *Server) CreateBenefit(ctx context.Context, req *benefitsv1.CreateBenefitRequest) (*benefitsv1.CreateBenefitResponse, error) {
	in := req.GetBenefit()
	b := domain.Benefit{ClientID: req.GetClientId(), Kind: kinds[in.GetKind()], MonthlyAmountCents: in.GetMonthlyAmountCents()}
	if in.GetKind() == benefitsv1.BenefitKind_BENEFIT_KIND_UNSPECIFIED {
		return nil, rpc.InvalidArgument("INVALID_ARGUMENT", rpc.FieldViolation{Field: "benefit.kind", Description: "is required: one of wia_wga, wia_iva, wajong, ww, participatiewet, supplement"})
	}
	var err error
	if b.Start, err = parseDate("benefit.start_date", in.GetStartDate()); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	if in.GetEndDate() != "" {
		e, err := parseDate("benefit.end_date", in.GetEndDate())
		if err != nil {
			return nil, s.toStatus(ctx, err)
		}
		b.End = &e
	}
	fp := rpc.Fingerprint(&benefitsv1.CreateBenefitRequest{ClientId: req.GetClientId(), Benefit: in})
	out, err := s.app.CreateBenefit(ctx, b, rpc.RequestID(ctx, req.GetRequestId()), fp)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &benefitsv1.CreateBenefitResponse{Benefit: benefitToProto(out)}, nil
}

// ListBenefits implements BenefitsService.
func (s *Server) ListBenefits(ctx context.Context, req *benefitsv1.ListBenefitsRequest) (*benefitsv1.ListBenefitsResponse, error) {
	bs, err := s.app.ListBenefits(ctx, req.GetClientId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &benefitsv1.ListBenefitsResponse{}
	for _, b := range bs {
		out.Benefits = append(out.Benefits, benefitToProto(b))
	}
	return out, nil
}

// UpdateBenefit implements BenefitsService.
func (s *Server) UpdateBenefit(ctx context.Context, req *benefitsv1.UpdateBenefitRequest) (*benefitsv1.UpdateBenefitResponse, error) {
	in := req.GetBenefit()
	allowed := []string{"monthly_amount_cents", "end_date"}
	if len(req.GetUpdateMask().GetPaths()) == 0 {
		return nil, rpc.InvalidArgument("INVALID_ARGUMENT", rpc.FieldViolation{Field: "update_mask", Description: "must name at least one field"})
	}
	for _, p := range req.GetUpdateMask().GetPaths() {
		if !slices.Contains(allowed, p) {
			return nil, rpc.InvalidArgument("INVALID_ARGUMENT", rpc.FieldViolation{Field: "update_mask",
				Description: fmt.Sprintf("benefit.%s cannot be updated; updatable fields are %s", p, strings.Join(allowed, ", "))})
		}
	}
	if in.GetVersion() <= 0 {
		return nil, rpc.InvalidArgument("INVALID_ARGUMENT", rpc.FieldViolation{Field: "benefit.version", Description: "is required: send the version you read"})
	}
	out, err := s.app.UpdateBenefit(ctx, req.GetClientId(), req.GetBenefitId(), in.GetVersion(), func(b *domain.Benefit) error {
		for _, p := range req.GetUpdateMask().GetPaths() {
			switch p {
			case "monthly_amount_cents":
				b.MonthlyAmountCents = in.GetMonthlyAmountCents()
			case "end_date":
				b.End = nil
				if in.GetEndDate() != "" {
					e, err := domain.ParseDate("benefit.end_date", in.GetEndDate())
					if err != nil {
						return err
					}
					b.End = &e
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &benefitsv1.UpdateBenefitResponse{Benefit: benefitToProto(out)}, nil
}

// GetBenefitSummary implements BenefitsService.
func (s *Server) GetBenefitSummary(ctx context.Context, req *benefitsv1.GetBenefitSummaryRequest) (*benefitsv1.GetBenefitSummaryResponse, error) {
	sm, err := s.app.GetSummary(ctx, req.GetClientId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &benefitsv1.GetBenefitSummaryResponse{CounsellingOpen: sm.CounsellingOpen}
	for _, b := range sm.Benefits {
		out.Benefits = append(out.Benefits, &benefitsv1.BenefitSummaryItem{Kind: kindToProto(b.Kind), PayerOrganizationId: b.PayerOrgID, Status: statuses[b.Status]})
	}
	return out, nil
}

// CreateCounsellingRequest implements BenefitsService.
func (s *Server) CreateCounsellingRequest(ctx context.Context, req *benefitsv1.CreateCounsellingRequestRequest) (*benefitsv1.CreateCounsellingRequestResponse, error) {
	in := req.GetCounsellingRequest()
	r, err := s.app.CreateCounsellingRequest(ctx, req.GetClientId(), strings.TrimSpace(in.GetReason()), in.GetCounsellorId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &benefitsv1.CreateCounsellingRequestResponse{CounsellingRequest: requestToProto(r)}, nil
}

// ListCounsellingRequests implements BenefitsService.
func (s *Server) ListCounsellingRequests(ctx context.Context, req *benefitsv1.ListCounsellingRequestsRequest) (*benefitsv1.ListCounsellingRequestsResponse, error) {
	rs, err := s.app.ListCounsellingRequests(ctx, req.GetClientId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &benefitsv1.ListCounsellingRequestsResponse{}
	for _, r := range rs {
		out.CounsellingRequests = append(out.CounsellingRequests, requestToProto(r))
	}
	return out, nil
}

// AssignCounsellingRequest implements BenefitsService.
func (s *Server) AssignCounsellingRequest(ctx context.Context, req *benefitsv1.AssignCounsellingRequestRequest) (*benefitsv1.AssignCounsellingRequestResponse, error) {
	r, err := s.app.AssignCounsellingRequest(ctx, req.GetClientId(), req.GetCounsellingRequestId(), req.GetCounsellorId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &benefitsv1.AssignCounsellingRequestResponse{CounsellingRequest: requestToProto(r)}, nil
}

// RecordCounsellingSession implements BenefitsService.
func (s *Server) RecordCounsellingSession(ctx context.Context, req *benefitsv1.RecordCounsellingSessionRequest) (*benefitsv1.RecordCounsellingSessionResponse, error) {
	in := req.GetSession()
	d, err := parseDate("session.session_date", in.GetSessionDate())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	r, err := s.app.RecordSession(ctx, req.GetClientId(), req.GetCounsellingRequestId(),
		store.Session{Date: d, Notes: in.GetNotes(), Outcome: in.GetOutcome()}, req.GetCloseRequest())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &benefitsv1.RecordCounsellingSessionResponse{CounsellingRequest: requestToProto(r)}, nil
}

// ListOpenCounsellingRequests implements BenefitsService.
func (s *Server) ListOpenCounsellingRequests(ctx context.Context, req *benefitsv1.ListOpenCounsellingRequestsRequest) (*benefitsv1.ListOpenCounsellingRequestsResponse, error) {
	rs, err := s.app.ListOpenCounsellingRequests(ctx, req.GetIncludeUnassigned())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &benefitsv1.ListOpenCounsellingRequestsResponse{}
	for _, r := range rs {
		out.CounsellingRequests = append(out.CounsellingRequests, requestToProto(r))
	}
	return out, nil
}

// CalculateIncomeEffect implements BenefitsService.
func (s *Server) CalculateIncomeEffect(ctx context.Context, req *benefitsv1.CalculateIncomeEffectRequest) (*benefitsv1.CalculateIncomeEffectResponse, error) {
	start, err := parseDate("job_start_date", req.GetJobStartDate())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	on := start
	if req.GetCalculationDate() != "" {
		if on, err = domain.ParseDate("calculation_date", req.GetCalculationDate()); err != nil {
			return nil, s.toStatus(ctx, err)
		}
	}
	e, err := s.app.CalculateIncomeEffect(ctx, app.Calculation{ClientID: req.GetClientId(), On: on,
		Job: domain.Job{HoursPerWeek: req.GetHoursPerWeek(), HourlyWageCents: req.GetHourlyWageCents(), Start: start}})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &benefitsv1.CalculateIncomeEffectResponse{IncomeWithoutJobCents: e.WithoutJobCents, IncomeWithJobCents: e.WithJobCents,
		DifferenceCents: e.Difference(), MonthlyEarningsCents: e.EarningsCents, Caveats: e.Caveats}
	for _, l := range e.Lines {
		out.Lines = append(out.Lines, &benefitsv1.IncomeLine{Code: l.Code, Description: l.Description, AmountCents: l.AmountCents,
			BenefitId: l.BenefitID, RuleVersion: l.RuleVersion})
	}
	return out, nil
}

var decisionKinds = map[benefitsv1.DecisionKind]domain.DecisionKind{
	benefitsv1.DecisionKind_DECISION_KIND_ADJUSTED: domain.Adjusted, benefitsv1.DecisionKind_DECISION_KIND_SUSPENDED: domain.SuspendedFrom,
	benefitsv1.DecisionKind_DECISION_KIND_ENDED: domain.EndedOn,
}

// ReportBenefitDecision implements BenefitsService.
func (s *Server) ReportBenefitDecision(ctx context.Context, req *benefitsv1.ReportBenefitDecisionRequest) (*benefitsv1.ReportBenefitDecisionResponse, error) {
	eff, err := parseDate("effective_date", req.GetEffectiveDate())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	body := proto.Clone(req).(*benefitsv1.ReportBenefitDecisionRequest)
	body.RequestId = ""
	r, err := s.app.ReportDecision(ctx, domain.Decision{ClientID: req.GetClientId(), BenefitID: req.GetBenefitId(), Kind: decisionKinds[req.GetKind()],
		Effective: eff, MonthlyAmountCents: req.GetMonthlyAmountCents(), Reason: strings.TrimSpace(req.GetReason())},
		rpc.RequestID(ctx, req.GetRequestId()), rpc.Fingerprint(body))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	var kind benefitsv1.DecisionKind
	for p, d := range decisionKinds {
		if d == r.Decision.Kind {
			kind = p
		}
	}
	d := r.Decision
	return &benefitsv1.ReportBenefitDecisionResponse{Benefit: benefitToProto(r.Benefit), Decision: &benefitsv1.BenefitDecision{
		DecisionId: d.ID, ClientId: d.ClientID, BenefitId: d.BenefitID, Kind: kind, EffectiveDate: d.Effective.Format(time.DateOnly),
		MonthlyAmountCents: d.MonthlyAmountCents, Reason: d.Reason, ReportedBy: d.ReportedBy, ReceiveTime: timestamppb.New(d.ReceivedAt),
	}}, nil
}

var jobKinds = map[benefitsv1.JobChangeKind]string{
	benefitsv1.JobChangeKind_JOB_CHANGE_KIND_STARTED: "started", benefitsv1.JobChangeKind_JOB_CHANGE_KIND_HOURS_CHANGED: "hours_changed",
	benefitsv1.JobChangeKind_JOB_CHANGE_KIND_WAGE_CHANGED: "wage_changed",
}

// ReportJobChange implements BenefitsService.
func (s *Server) ReportJobChange(ctx context.Context, req *benefitsv1.ReportJobChangeRequest) (*benefitsv1.ReportJobChangeResponse, error) {
	eff, err := parseDate("effective_date", req.GetEffectiveDate())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	body := proto.Clone(req).(*benefitsv1.ReportJobChangeRequest)
	body.RequestId = ""
	r, err := s.app.ReportJobChange(ctx, app.JobChange{ClientID: req.GetClientId(), Kind: jobKinds[req.GetKind()], Effective: eff,
		HoursPerWeek: req.GetHoursPerWeek(), HourlyWageCents: req.GetHourlyWageCents()}, rpc.RequestID(ctx, req.GetRequestId()), rpc.Fingerprint(body))
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &benefitsv1.ReportJobChangeResponse{JobChangeId: r.JobChangeID}
	for _, t := range r.Notified.Tasks {
		out.Tasks = append(out.Tasks, taskToProto(t))
	}
	for _, n := range r.Notified.Notices {
		out.Notices = append(out.Notices, noticeToProto(n))
	}
	return out, nil
}

// ListCounsellorTasks implements BenefitsService.
func (s *Server) ListCounsellorTasks(ctx context.Context, _ *benefitsv1.ListCounsellorTasksRequest) (*benefitsv1.ListCounsellorTasksResponse, error) {
	ts, err := s.app.ListTasks(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &benefitsv1.ListCounsellorTasksResponse{}
	for _, t := range ts {
		out.Tasks = append(out.Tasks, taskToProto(t))
	}
	return out, nil
}

// ListBenefitNotices implements BenefitsService.
func (s *Server) ListBenefitNotices(ctx context.Context, _ *benefitsv1.ListBenefitNoticesRequest) (*benefitsv1.ListBenefitNoticesResponse, error) {
	ns, err := s.app.ListNotices(ctx)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &benefitsv1.ListBenefitNoticesResponse{}
	for _, n := range ns {
		out.Notices = append(out.Notices, noticeToProto(n))
	}
	return out, nil
}
