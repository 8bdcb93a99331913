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

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/rpc"
	benefitsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/benefits/v1"
	"github.com/ipsbridge/ipsbridge/services/benefits/app"
	"github.com/ipsbridge/ipsbridge/services/benefits/domain"
	"github.com/ipsbridge/ipsbridge/services/benefits/explain"
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
	out := &benefitsv1.Benefit{
		BenefitId: b.ID, ClientId: b.ClientID, Kind: kindToProto(b.Kind), PayerOrganizationId: b.PayerOrgID,
		MonthlyAmountCents: b.MonthlyAmountCents, StartDate: date(&b.Start), EndDate: date(b.End), Status: statuses[b.Status],
		Version: b.Version, UpdateTime: timestamppb.New(b.UpdatedAt),
		PreviousMonthlyWageCents: b.Basis.PreviousWageCents, ResidualEarningCapacityCents: b.Basis.ResidualCapacityCents,
		DisabilityPercent: b.Basis.DisabilityPercent, WageRelatedEndDate: date(b.Basis.WageRelatedEnd),
	}
	for _, a := range b.Amounts {
		out.Amounts = append(out.Amounts, &benefitsv1.BenefitAmount{EffectiveDate: a.From.Format(time.DateOnly), MonthlyAmountCents: a.Cents,
			EarningsOffsetCents: a.EarningsOffsetCents, PaidCents: a.PaidCents(), Suspended: a.Suspended, Source: string(a.Source)})
	}
	return out
}

// basis reads the WW and WGA basis of a benefit message; the fields named
// in only, or all when only is nil.
func basis(in *benefitsv1.Benefit, x *domain.Basis, only []string) error {
	has := func(f string) bool { return only == nil || slices.Contains(only, f) }
	if has("previous_monthly_wage_cents") {
		x.PreviousWageCents = in.GetPreviousMonthlyWageCents()
	}
	if has("residual_earning_capacity_cents") {
		x.ResidualCapacityCents = in.GetResidualEarningCapacityCents()
	}
	if has("disability_percent") {
		x.DisabilityPercent = in.GetDisabilityPercent()
	}
	if has("wage_related_end_date") {
		x.WageRelatedEnd = nil
		if in.GetWageRelatedEndDate() != "" {
			d, err := domain.ParseDate("benefit.wage_related_end_date", in.GetWageRelatedEndDate())
			if err != nil {
				return err
			}
			x.WageRelatedEnd = &d
		}
	}
	return nil
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
	if err := basis(in, &b.Basis, nil); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	k, err := rpc.Idempotency(ctx, req, true)
	if err != nil {
		return nil, err
	}
	out, err := s.app.CreateBenefit(ctx, b, k)
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
	allowed := []string{"monthly_amount_cents", "end_date", "previous_monthly_wage_cents", "residual_earning_capacity_cents",
		"disability_percent", "wage_related_end_date"}
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
	k, err := rpc.Idempotency(ctx, req, false)
	if err != nil {
		return nil, err
	}
	paths := req.GetUpdateMask().GetPaths()
	out, err := s.app.UpdateBenefit(ctx, req.GetClientId(), req.GetBenefitId(), in.GetVersion(), paths, func(b *domain.Benefit) error {
		if err := basis(in, &b.Basis, paths); err != nil {
			return err
		}
		for _, p := range paths {
			switch p {
			case "monthly_amount_cents":
				b.CorrectAmount(in.GetMonthlyAmountCents())
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
	}, k)
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
	k, err := rpc.Idempotency(ctx, req, true)
	if err != nil {
		return nil, err
	}
	r, err := s.app.CreateCounsellingRequest(ctx, req.GetClientId(), in.GetReason(), in.GetCounsellorId(), k)
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
	k, err := rpc.Idempotency(ctx, req, false)
	if err != nil {
		return nil, err
	}
	r, err := s.app.AssignCounsellingRequest(ctx, req.GetClientId(), req.GetCounsellingRequestId(), req.GetCounsellorId(), k)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &benefitsv1.AssignCounsellingRequestResponse{CounsellingRequest: requestToProto(r)}, nil
}

// RecordCounsellingSession implements BenefitsService.
func (s *Server) RecordCounsellingSession(ctx context.Context, req *benefitsv1.RecordCounsellingSessionRequest) (*benefitsv1.RecordCounsellingSessionResponse, error) {
	in := req.GetSession()
	k, err := rpc.Idempotency(ctx, req, true)
	if err != nil {
		return nil, err
	}
	d, err := parseDate("session.session_date", in.GetSessionDate())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	r, err := s.app.RecordSession(ctx, req.GetClientId(), req.GetCounsellingRequestId(),
		store.Session{Date: d, Notes: in.GetNotes(), Outcome: in.GetOutcome()}, req.GetCloseRequest(), k)
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
	from := start
	if req.GetCalculationDate() != "" {
		if from, err = domain.ParseDate("calculation_date", req.GetCalculationDate()); err != nil {
			return nil, s.toStatus(ctx, err)
		}
	}
	q := domain.Query{Job: domain.Job{HoursPerWeek: req.GetHoursPerWeek(), HourlyWageCents: req.GetHourlyWageCents(), Start: start},
		From: from, Months: max(int(req.GetMonths()), 1)}
	if req.NetMonthlyEarningsCents != nil {
		n := req.GetNetMonthlyEarningsCents()
		q.NetEarningsCents = &n
	}
	e, err := s.app.CalculateIncomeEffect(ctx, app.Calculation{ClientID: req.GetClientId(), Query: q})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return incomeToProto(e, explain.Language(req.GetLanguageCode())), nil
}

func incomeToProto(e app.IncomeEffect, lang string) *benefitsv1.CalculateIncomeEffectResponse {
	line := func(l domain.Line) *benefitsv1.IncomeLine {
		out := &benefitsv1.IncomeLine{Code: l.Code, Description: explain.Line(lang, l, e.Name), AmountCents: l.AmountCents,
			BenefitId: l.BenefitID, RuleVersion: l.RuleVersion, Source: explain.Source(lang, l.Rule), PayerOrganizationId: l.PayerOrgID}
		if l.PayerOrgID != "" {
			out.PayerOrganizationName = e.Name(l.PayerOrgID)
		}
		return out
	}
	note := func(n domain.Note) *benefitsv1.IncomeNote {
		return &benefitsv1.IncomeNote{Code: n.Code, Text: explain.Note(lang, n, e.Name), Warning: n.Warning, BenefitId: n.BenefitID,
			RuleVersion: n.RuleVersion, Source: explain.Source(lang, n.Rule)}
	}
	out := &benefitsv1.CalculateIncomeEffectResponse{}
	for _, m := range e.Months {
		pm := &benefitsv1.IncomeMonth{Month: m.Month.Format("2006-01"), Label: explain.MonthName(lang, m.Month), JobMonth: int32(m.JobMonth),
			Net: m.Net, IncomeWithoutJobCents: m.WithoutCents, IncomeWithJobCents: m.WithCents, DifferenceCents: m.Difference(),
			MonthlyEarningsCents: m.EarningsCents}
		for _, l := range m.Without {
			pm.LinesWithoutJob = append(pm.LinesWithoutJob, line(l))
		}
		for _, l := range m.With {
			pm.Lines = append(pm.Lines, line(l))
		}
		for _, n := range m.Notes {
			pm.Notes = append(pm.Notes, note(n))
		}
		out.Months = append(out.Months, pm)
	}
	for _, n := range e.Assumptions {
		out.Assumptions = append(out.Assumptions, note(n))
		out.Caveats = append(out.Caveats, explain.Note(lang, n, e.Name))
	}
	if len(out.Months) > 0 {
		first := out.Months[0]
		out.IncomeWithoutJobCents, out.IncomeWithJobCents, out.DifferenceCents = first.IncomeWithoutJobCents, first.IncomeWithJobCents, first.DifferenceCents
		out.MonthlyEarningsCents, out.Lines = first.MonthlyEarningsCents, first.Lines
		for _, n := range first.Notes {
			if n.Warning {
				out.Caveats = append(out.Caveats, n.Text)
			}
		}
	}
	return out
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
	k, err := rpc.Idempotency(ctx, req, true)
	if err != nil {
		return nil, err
	}
	r, err := s.app.ReportDecision(ctx, domain.Decision{ClientID: req.GetClientId(), BenefitID: req.GetBenefitId(), Kind: decisionKinds[req.GetKind()],
		Effective: eff, MonthlyAmountCents: req.GetMonthlyAmountCents(), EarningsOffsetCents: req.GetEarningsOffsetCents(), Reason: strings.TrimSpace(req.GetReason())}, k)
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
		MonthlyAmountCents: d.MonthlyAmountCents, EarningsOffsetCents: d.EarningsOffsetCents, Reason: d.Reason, ReportedBy: d.ReportedBy, ReceiveTime: timestamppb.New(d.ReceivedAt),
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
	k, err := rpc.Idempotency(ctx, req, true)
	if err != nil {
		return nil, err
	}
	r, err := s.app.ReportJobChange(ctx, app.JobChange{ClientID: req.GetClientId(), Kind: jobKinds[req.GetKind()], Effective: eff,
		HoursPerWeek: float64(req.GetHoursPerWeek()), HourlyWageCents: req.GetHourlyWageCents()}, k)
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
