// Package api is the funding service's gRPC transport: it converts between
// the contract's messages and the domain and translates errors into
// canonical status codes, once, here.
package api

import (
	"context"
	"log/slog"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/rpc"
	"github.com/ipsbridge/ipsbridge/internal/smallgroups"
	fundingv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/funding/v1"
	"github.com/ipsbridge/ipsbridge/services/funding/app"
	"github.com/ipsbridge/ipsbridge/services/funding/domain"
	"github.com/ipsbridge/ipsbridge/services/funding/store"
)

// Server implements fundingv1.FundingServiceServer.
type Server struct {
	fundingv1.UnimplementedFundingServiceServer
	app *app.Service
	log *slog.Logger
}

// New returns the gRPC server of the funding service.
func New(a *app.Service, log *slog.Logger) *Server { return &Server{app: a, log: log} }

const svc = "/ipsbridge.funding.v1.FundingService/"

var (
	read  = []authz.Requirement{{Section: authz.Funding, Action: authz.Read}}
	write = []authz.Requirement{{Section: authz.Funding, Action: authz.Write}}
)

// Rules are the method-level requirements the authorization interceptor
// enforces before a handler runs; handlers then decide per client and
// apply the row-level rules (party to the agreement, owning role).
var Rules = map[string][]authz.Requirement{
	svc + "CreateAgreement":        write,
	svc + "GetAgreement":           read,
	svc + "ListAgreements":         read,
	svc + "AddSchedule":            write,
	svc + "CreateApplication":      write,
	svc + "GetApplication":         read,
	svc + "ListApplications":       read,
	svc + "SignApplication":        write,
	svc + "SubmitApplication":      write,
	svc + "DecideApplication":      write,
	svc + "StartTrajectory":        write,
	svc + "StopTrajectory":         write,
	svc + "EndTrajectory":          write,
	svc + "DetermineApplication":   write,
	svc + "CreateClaim":            write,
	svc + "GetClaim":               read,
	svc + "ListClaims":             read,
	svc + "SubmitClaim":            write,
	svc + "DecideClaimLine":        write,
	svc + "PayClaim":               write,
	svc + "GetBudget":              read,
	svc + "GetRegionFunding":       {{Section: authz.Funding, Action: authz.Aggregate}}, // region figures only
	"/grpc.health.v1.Health/Check": authz.Public,
	"/grpc.health.v1.Health/Watch": authz.Public,
	"/grpc.health.v1.Health/List":  authz.Public,
}

func (s *Server) status(ctx context.Context, err error) error { return rpc.Status(ctx, s.log, err) }

func key(ctx context.Context, rid string, req proto.Message) (app.Key, error) {
	if rid == "" {
		rid = rpc.InfoFromContext(ctx).IdempotencyKey
	}
	if len(rid) < 8 {
		return app.Key{}, rpc.InvalidArgument("INVALID_ARGUMENT", rpc.FieldViolation{Field: "request_id",
			Description: "is required, 8 to 128 characters (or an Idempotency-Key header), so that a retry never records twice"})
	}
	return app.Key{RequestID: rid, Fingerprint: rpc.Fingerprint(req)}, nil
}

// ---- conversions

var groups = map[fundingv1.TargetGroup]domain.TargetGroup{
	fundingv1.TargetGroup_TARGET_GROUP_WIA:               domain.WIA,
	fundingv1.TargetGroup_TARGET_GROUP_WAJONG:            domain.Wajong,
	fundingv1.TargetGroup_TARGET_GROUP_WW:                domain.WW,
	fundingv1.TargetGroup_TARGET_GROUP_SOCIAL_ASSISTANCE: domain.SocialAssistance,
	fundingv1.TargetGroup_TARGET_GROUP_NO_BENEFIT:        domain.NoBenefit,
}

func groupToProto(g domain.TargetGroup) fundingv1.TargetGroup {
	for k, v := range groups {
		if v == g {
			return k
		}
	}
	return fundingv1.TargetGroup_TARGET_GROUP_UNSPECIFIED
}

var conditions = map[fundingv1.PartCondition]domain.Condition{
	fundingv1.PartCondition_PART_CONDITION_APPROVAL:        domain.OnApproval,
	fundingv1.PartCondition_PART_CONDITION_JOB_START:       domain.OnJobStart,
	fundingv1.PartCondition_PART_CONDITION_CONTINUOUS_WORK: domain.ContinuousWork,
	fundingv1.PartCondition_PART_CONDITION_END_REPORT:      domain.OnEndReport,
}

func conditionToProto(c domain.Condition) fundingv1.PartCondition {
	for k, v := range conditions {
		if v == c {
			return k
		}
	}
	return fundingv1.PartCondition_PART_CONDITION_UNSPECIFIED
}

func scheduleFromProto(field string, p *fundingv1.Schedule) (domain.Schedule, error) {
	from, err := domain.ParseDate(field+".valid_from", p.GetValidFrom(), domain.Date{})
	if err != nil {
		return domain.Schedule{}, err
	}
	sc := domain.Schedule{ValidFrom: from}
	for _, fp := range p.GetParts() {
		sc.Parts = append(sc.Parts, domain.FeePart{ID: fp.GetPartId(), Name: fp.GetName(), Condition: conditions[fp.GetCondition()],
			AmountCents: fp.GetAmountCents(), Months: int(fp.GetMonths()), MinHours: fp.GetMinHoursPerWeek()})
	}
	return sc, nil
}

func scheduleToProto(sc domain.Schedule) *fundingv1.Schedule {
	p := &fundingv1.Schedule{ValidFrom: domain.FormatDate(sc.ValidFrom)}
	for _, fp := range sc.Parts {
		p.Parts = append(p.Parts, &fundingv1.FeePart{PartId: fp.ID, Name: fp.Name, Condition: conditionToProto(fp.Condition),
			AmountCents: fp.AmountCents, Months: int32(fp.Months), MinHoursPerWeek: fp.MinHours})
	}
	return p
}

func agreementFromProto(p *fundingv1.Agreement) (domain.Agreement, error) {
	ag := domain.Agreement{Name: p.GetName(), MHAOrgID: p.GetMhaOrganizationId(),
		BudgetTrajectories: int(p.GetBudgetTrajectories()), BudgetCents: p.GetBudgetCents(), FundedMonths: int(p.GetFundedMonths()),
		MaxExtensionMonths: int(p.GetMaxExtensionMonths()), AdvancePercent: int(p.GetAdvancePercent()), MinFidelityBand: p.GetMinFidelityBand()}
	var err error
	if ag.ValidFrom, err = domain.ParseDate("agreement.valid_from", p.GetValidFrom(), domain.Date{}); err != nil {
		return ag, err
	}
	if ag.ValidUntil, err = domain.ParseDate("agreement.valid_until", p.GetValidUntil(), domain.Date{}); err != nil {
		return ag, err
	}
	for _, g := range p.GetTargetGroups() {
		dg, ok := groups[g]
		if !ok {
			return ag, domain.Invalid("agreement.target_groups", "unknown target group %v", g)
		}
		ag.TargetGroups = append(ag.TargetGroups, dg)
	}
	for i, sp := range p.GetSchedules() {
		sc, err := scheduleFromProto("agreement.schedules["+itoa(i)+"]", sp)
		if err != nil {
			return ag, err
		}
		ag.Schedules = append(ag.Schedules, sc)
	}
	return ag, nil
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + itoa(i%10)
}

func agreementToProto(ag domain.Agreement) *fundingv1.Agreement {
	p := &fundingv1.Agreement{AgreementId: ag.ID, Name: ag.Name, FunderOrganizationId: ag.FunderOrgID, MhaOrganizationId: ag.MHAOrgID,
		RegionId: ag.RegionID, ValidFrom: domain.FormatDate(ag.ValidFrom), ValidUntil: domain.FormatDate(ag.ValidUntil),
		BudgetTrajectories: int32(ag.BudgetTrajectories), BudgetCents: ag.BudgetCents, FundedMonths: int32(ag.FundedMonths),
		MaxExtensionMonths: int32(ag.MaxExtensionMonths), AdvancePercent: int32(ag.AdvancePercent), MinFidelityBand: ag.MinFidelityBand,
		Version: ag.Version, UpdateTime: timestamppb.New(ag.UpdatedAt)}
	for _, g := range ag.TargetGroups {
		p.TargetGroups = append(p.TargetGroups, groupToProto(g))
	}
	for _, sc := range ag.Schedules {
		p.Schedules = append(p.Schedules, scheduleToProto(sc))
	}
	return p
}

var states = map[fundingv1.ApplicationState]domain.State{
	fundingv1.ApplicationState_APPLICATION_STATE_DRAFT:      domain.Draft,
	fundingv1.ApplicationState_APPLICATION_STATE_SIGNED:     domain.Signed,
	fundingv1.ApplicationState_APPLICATION_STATE_SUBMITTED:  domain.Submitted,
	fundingv1.ApplicationState_APPLICATION_STATE_APPROVED:   domain.Approved,
	fundingv1.ApplicationState_APPLICATION_STATE_REFUSED:    domain.Refused,
	fundingv1.ApplicationState_APPLICATION_STATE_RUNNING:    domain.Running,
	fundingv1.ApplicationState_APPLICATION_STATE_STOPPED:    domain.Stopped,
	fundingv1.ApplicationState_APPLICATION_STATE_ENDED:      domain.Ended,
	fundingv1.ApplicationState_APPLICATION_STATE_DETERMINED: domain.Determined,
}

func stateToProto(s domain.State) fundingv1.ApplicationState {
	for k, v := range states {
		if v == s {
			return k
		}
	}
	return fundingv1.ApplicationState_APPLICATION_STATE_UNSPECIFIED
}

func applicationToProto(a domain.Application) *fundingv1.Application {
	return &fundingv1.Application{ApplicationId: a.ID, AgreementId: a.AgreementID, ClientId: a.ClientID, State: stateToProto(a.State),
		TargetGroup: groupToProto(a.TargetGroup), CreatedBy: a.CreatedBy, CreateTime: timestamppb.New(a.CreatedAt),
		ClientSignedBy: a.ClientSignedBy, ClientSignedDate: domain.FormatDate(a.ClientSignedOn), MhaSignedBy: a.MHASignedBy,
		MhaSignedDate: domain.FormatDate(a.MHASignedOn), SubmittedDate: domain.FormatDate(a.SubmittedOn), DecidedBy: a.DecidedBy,
		DecisionDate: domain.FormatDate(a.DecisionOn), DecisionReason: a.DecisionReason, FundedUntil: domain.FormatDate(a.FundedUntil),
		RunningSince: domain.FormatDate(a.RunningSince), StopDate: domain.FormatDate(a.StopOn), StopReason: a.StopReason,
		EndDate: domain.FormatDate(a.EndOn), EndReport: a.EndReport, DeterminedDate: domain.FormatDate(a.DeterminedOn),
		DeterminedCents: a.DeterminedCent, Version: a.Version, UpdateTime: timestamppb.New(a.UpdatedAt)}
}

var lineStates = map[domain.LineState]fundingv1.LineState{
	domain.Pending: fundingv1.LineState_LINE_STATE_PENDING, domain.Accepted: fundingv1.LineState_LINE_STATE_APPROVED,
	domain.Rejected: fundingv1.LineState_LINE_STATE_REJECTED, domain.Credited: fundingv1.LineState_LINE_STATE_CREDITED,
}

var claimStates = map[string]fundingv1.ClaimState{
	store.ClaimDraft: fundingv1.ClaimState_CLAIM_STATE_DRAFT, store.ClaimSubmitted: fundingv1.ClaimState_CLAIM_STATE_SUBMITTED,
	store.ClaimDecided: fundingv1.ClaimState_CLAIM_STATE_DECIDED, store.ClaimPaid: fundingv1.ClaimState_CLAIM_STATE_PAID,
}

func claimToProto(cl store.Claim, ag func(string) (string, string)) *fundingv1.Claim {
	total, approved := app.Totals(cl)
	funder, mha := ag(cl.AgreementID)
	p := &fundingv1.Claim{ClaimId: cl.ID, AgreementId: cl.AgreementID, FunderOrganizationId: funder, MhaOrganizationId: mha,
		PeriodEnd: domain.FormatDate(cl.PeriodEnd), State: claimStates[cl.State], TotalCents: total, ApprovedCents: approved,
		SubmittedDate: domain.FormatDate(cl.SubmittedOn), PaidDate: domain.FormatDate(cl.PaidOn), Version: cl.Version,
		UpdateTime: timestamppb.New(cl.UpdatedAt)}
	for _, l := range cl.Lines {
		p.Lines = append(p.Lines, &fundingv1.ClaimLine{LineId: l.ID, ApplicationId: l.ApplicationID, ClientId: l.ClientID,
			PartId: l.PartID, PartName: l.PartName, Condition: conditionToProto(l.Condition), EarnedDate: domain.FormatDate(l.EarnedOn),
			AmountCents: l.AmountCents, CreditsLineId: l.CreditsLineID, HoursBand: l.HoursBand, EmployerName: l.Employer,
			JobTitle: l.JobTitle, State: lineStates[l.State], DecisionReason: l.Reason, DecidedBy: l.DecidedBy})
	}
	return p
}

// parties returns the funder and MHA of agreements, for claims.
func (s *Server) parties(ctx context.Context) func(string) (string, string) {
	cache := map[string][2]string{}
	return func(id string) (string, string) {
		if v, ok := cache[id]; ok {
			return v[0], v[1]
		}
		ag, err := s.app.GetAgreementQuiet(ctx, id)
		if err != nil {
			return "", ""
		}
		cache[id] = [2]string{ag.FunderOrgID, ag.MHAOrgID}
		return ag.FunderOrgID, ag.MHAOrgID
	}
}

// ---- agreements

// CreateAgreement implements FundingService.
func (s *Server) CreateAgreement(ctx context.Context, req *fundingv1.CreateAgreementRequest) (*fundingv1.CreateAgreementResponse, error) {
	k, err := key(ctx, req.GetRequestId(), req)
	if err != nil {
		return nil, err
	}
	ag, err := agreementFromProto(req.GetAgreement())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	out, err := s.app.CreateAgreement(ctx, ag, k)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &fundingv1.CreateAgreementResponse{Agreement: agreementToProto(out)}, nil
}

// GetAgreement implements FundingService.
func (s *Server) GetAgreement(ctx context.Context, req *fundingv1.GetAgreementRequest) (*fundingv1.GetAgreementResponse, error) {
	ag, err := s.app.GetAgreement(ctx, req.GetAgreementId())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &fundingv1.GetAgreementResponse{Agreement: agreementToProto(ag)}, nil
}

// ListAgreements implements FundingService.
func (s *Server) ListAgreements(ctx context.Context, _ *fundingv1.ListAgreementsRequest) (*fundingv1.ListAgreementsResponse, error) {
	as, err := s.app.ListAgreements(ctx)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	out := &fundingv1.ListAgreementsResponse{}
	for _, ag := range as {
		out.Agreements = append(out.Agreements, agreementToProto(ag))
	}
	return out, nil
}

// AddSchedule implements FundingService.
func (s *Server) AddSchedule(ctx context.Context, req *fundingv1.AddScheduleRequest) (*fundingv1.AddScheduleResponse, error) {
	k, err := key(ctx, req.GetRequestId(), req)
	if err != nil {
		return nil, err
	}
	sc, err := scheduleFromProto("schedule", req.GetSchedule())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	if err := sc.Check("schedule"); err != nil {
		return nil, s.status(ctx, err)
	}
	ag, err := s.app.AddSchedule(ctx, req.GetAgreementId(), sc, req.GetVersion(), k)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &fundingv1.AddScheduleResponse{Agreement: agreementToProto(ag)}, nil
}

// GetBudget implements FundingService.
func (s *Server) GetBudget(ctx context.Context, req *fundingv1.GetBudgetRequest) (*fundingv1.GetBudgetResponse, error) {
	b, err := s.app.GetBudget(ctx, req.GetAgreementId())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	return &fundingv1.GetBudgetResponse{Budget: &fundingv1.Budget{AgreementId: b.AgreementID, BudgetCents: b.BudgetCents,
		BudgetTrajectories: int32(b.BudgetTrajectories), Trajectories: int32(b.Trajectories), CommittedCents: b.Committed,
		EarnedCents: b.Earned, ClaimedCents: b.Claimed, ApprovedCents: b.Approved, PaidCents: b.Paid, RemainingCents: b.Remaining,
		ForecastCents: b.Forecast}}, nil
}

// ---- applications

func (s *Server) appResp(ctx context.Context) func(domain.Application, error) (*fundingv1.Application, error) {
	return func(a domain.Application, err error) (*fundingv1.Application, error) {
		if err != nil {
			return nil, s.status(ctx, err)
		}
		return applicationToProto(a), nil
	}
}

// CreateApplication implements FundingService.
func (s *Server) CreateApplication(ctx context.Context, req *fundingv1.CreateApplicationRequest) (*fundingv1.CreateApplicationResponse, error) {
	k, err := key(ctx, req.GetRequestId(), req)
	if err != nil {
		return nil, err
	}
	a, err := s.appResp(ctx)(s.app.CreateApplication(ctx, req.GetAgreementId(), req.GetClientId(), k))
	if err != nil {
		return nil, err
	}
	return &fundingv1.CreateApplicationResponse{Application: a}, nil
}

// GetApplication implements FundingService.
func (s *Server) GetApplication(ctx context.Context, req *fundingv1.GetApplicationRequest) (*fundingv1.GetApplicationResponse, error) {
	a, err := s.appResp(ctx)(s.app.GetApplication(ctx, req.GetApplicationId()))
	if err != nil {
		return nil, err
	}
	return &fundingv1.GetApplicationResponse{Application: a}, nil
}

// ListApplications implements FundingService.
func (s *Server) ListApplications(ctx context.Context, req *fundingv1.ListApplicationsRequest) (*fundingv1.ListApplicationsResponse, error) {
	as, err := s.app.ListApplications(ctx, req.GetAgreementId(), states[req.GetState()])
	if err != nil {
		return nil, s.status(ctx, err)
	}
	out := &fundingv1.ListApplicationsResponse{}
	for _, a := range as {
		out.Applications = append(out.Applications, applicationToProto(a))
	}
	return out, nil
}

func (s *Server) date(field, v string) (domain.Date, error) {
	return domain.ParseDate(field, v, s.app.Today())
}

// SignApplication implements FundingService.
func (s *Server) SignApplication(ctx context.Context, req *fundingv1.SignApplicationRequest) (*fundingv1.SignApplicationResponse, error) {
	k, err := key(ctx, req.GetRequestId(), req)
	if err != nil {
		return nil, err
	}
	on, err := s.date("signed_date", req.GetSignedDate())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	if on.After(s.app.Today()) {
		return nil, s.status(ctx, domain.Invalid("signed_date", "is in the future"))
	}
	signer := domain.ByMHA
	if req.GetSigner() == fundingv1.Signer_SIGNER_CLIENT {
		signer = domain.ByClient
	}
	a, err := s.appResp(ctx)(s.app.SignApplication(ctx, req.GetApplicationId(), signer, on, req.GetVersion(), k))
	if err != nil {
		return nil, err
	}
	return &fundingv1.SignApplicationResponse{Application: a}, nil
}

// SubmitApplication implements FundingService.
func (s *Server) SubmitApplication(ctx context.Context, req *fundingv1.SubmitApplicationRequest) (*fundingv1.SubmitApplicationResponse, error) {
	k, err := key(ctx, req.GetRequestId(), req)
	if err != nil {
		return nil, err
	}
	a, err := s.appResp(ctx)(s.app.SubmitApplication(ctx, req.GetApplicationId(), req.GetVersion(), k))
	if err != nil {
		return nil, err
	}
	return &fundingv1.SubmitApplicationResponse{Application: a}, nil
}

// DecideApplication implements FundingService.
func (s *Server) DecideApplication(ctx context.Context, req *fundingv1.DecideApplicationRequest) (*fundingv1.DecideApplicationResponse, error) {
	k, err := key(ctx, req.GetRequestId(), req)
	if err != nil {
		return nil, err
	}
	a, err := s.appResp(ctx)(s.app.DecideApplication(ctx, req.GetApplicationId(), req.GetApprove(), strings.TrimSpace(req.GetReason()),
		int(req.GetExtensionMonths()), req.GetVersion(), k))
	if err != nil {
		return nil, err
	}
	return &fundingv1.DecideApplicationResponse{Application: a}, nil
}

// StartTrajectory implements FundingService.
func (s *Server) StartTrajectory(ctx context.Context, req *fundingv1.StartTrajectoryRequest) (*fundingv1.StartTrajectoryResponse, error) {
	k, err := key(ctx, req.GetRequestId(), req)
	if err != nil {
		return nil, err
	}
	a, err := s.appResp(ctx)(s.app.StartTrajectory(ctx, req.GetApplicationId(), req.GetVersion(), k))
	if err != nil {
		return nil, err
	}
	return &fundingv1.StartTrajectoryResponse{Application: a}, nil
}

// StopTrajectory implements FundingService.
func (s *Server) StopTrajectory(ctx context.Context, req *fundingv1.StopTrajectoryRequest) (*fundingv1.StopTrajectoryResponse, error) {
	k, err := key(ctx, req.GetRequestId(), req)
	if err != nil {
		return nil, err
	}
	on, err := s.date("stop_date", req.GetStopDate())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	a, err := s.appResp(ctx)(s.app.StopTrajectory(ctx, req.GetApplicationId(), on, strings.TrimSpace(req.GetReason()), req.GetVersion(), k))
	if err != nil {
		return nil, err
	}
	return &fundingv1.StopTrajectoryResponse{Application: a}, nil
}

// EndTrajectory implements FundingService.
func (s *Server) EndTrajectory(ctx context.Context, req *fundingv1.EndTrajectoryRequest) (*fundingv1.EndTrajectoryResponse, error) {
	k, err := key(ctx, req.GetRequestId(), req)
	if err != nil {
		return nil, err
	}
	on, err := s.date("end_date", req.GetEndDate())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	a, err := s.appResp(ctx)(s.app.EndTrajectory(ctx, req.GetApplicationId(), on, strings.TrimSpace(req.GetReport()), req.GetVersion(), k))
	if err != nil {
		return nil, err
	}
	return &fundingv1.EndTrajectoryResponse{Application: a}, nil
}

// DetermineApplication implements FundingService.
func (s *Server) DetermineApplication(ctx context.Context, req *fundingv1.DetermineApplicationRequest) (*fundingv1.DetermineApplicationResponse, error) {
	k, err := key(ctx, req.GetRequestId(), req)
	if err != nil {
		return nil, err
	}
	a, err := s.appResp(ctx)(s.app.DetermineApplication(ctx, req.GetApplicationId(), req.GetVersion(), k))
	if err != nil {
		return nil, err
	}
	return &fundingv1.DetermineApplicationResponse{Application: a}, nil
}

// ---- claims

func (s *Server) claimResp(ctx context.Context) func(store.Claim, error) (*fundingv1.Claim, error) {
	return func(cl store.Claim, err error) (*fundingv1.Claim, error) {
		if err != nil {
			return nil, s.status(ctx, err)
		}
		return claimToProto(cl, s.parties(ctx)), nil
	}
}

// CreateClaim implements FundingService.
func (s *Server) CreateClaim(ctx context.Context, req *fundingv1.CreateClaimRequest) (*fundingv1.CreateClaimResponse, error) {
	k, err := key(ctx, req.GetRequestId(), req)
	if err != nil {
		return nil, err
	}
	end, err := s.date("period_end", req.GetPeriodEnd())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	r := app.ClaimRequest{AgreementID: req.GetAgreementId(), PeriodEnd: end, OnlyParts: req.GetOnlyParts()}
	if req.ExpectedTotalCents != nil {
		v := req.GetExpectedTotalCents()
		r.Expected = &v
	}
	cl, err := s.claimResp(ctx)(s.app.CreateClaim(ctx, r, k))
	if err != nil {
		return nil, err
	}
	return &fundingv1.CreateClaimResponse{Claim: cl}, nil
}

// GetClaim implements FundingService.
func (s *Server) GetClaim(ctx context.Context, req *fundingv1.GetClaimRequest) (*fundingv1.GetClaimResponse, error) {
	cl, err := s.claimResp(ctx)(s.app.GetClaim(ctx, req.GetClaimId()))
	if err != nil {
		return nil, err
	}
	return &fundingv1.GetClaimResponse{Claim: cl}, nil
}

// ListClaims implements FundingService.
func (s *Server) ListClaims(ctx context.Context, req *fundingv1.ListClaimsRequest) (*fundingv1.ListClaimsResponse, error) {
	cls, err := s.app.ListClaims(ctx, req.GetAgreementId())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	out := &fundingv1.ListClaimsResponse{}
	parties := s.parties(ctx)
	for _, cl := range cls {
		out.Claims = append(out.Claims, claimToProto(cl, parties))
	}
	return out, nil
}

// SubmitClaim implements FundingService.
func (s *Server) SubmitClaim(ctx context.Context, req *fundingv1.SubmitClaimRequest) (*fundingv1.SubmitClaimResponse, error) {
	k, err := key(ctx, req.GetRequestId(), req)
	if err != nil {
		return nil, err
	}
	cl, err := s.claimResp(ctx)(s.app.SubmitClaim(ctx, req.GetClaimId(), req.GetVersion(), k))
	if err != nil {
		return nil, err
	}
	return &fundingv1.SubmitClaimResponse{Claim: cl}, nil
}

// DecideClaimLine implements FundingService.
func (s *Server) DecideClaimLine(ctx context.Context, req *fundingv1.DecideClaimLineRequest) (*fundingv1.DecideClaimLineResponse, error) {
	k, err := key(ctx, req.GetRequestId(), req)
	if err != nil {
		return nil, err
	}
	cl, err := s.claimResp(ctx)(s.app.DecideClaimLine(ctx, req.GetClaimId(), req.GetLineId(), req.GetApprove(),
		strings.TrimSpace(req.GetReason()), req.GetVersion(), k))
	if err != nil {
		return nil, err
	}
	return &fundingv1.DecideClaimLineResponse{Claim: cl}, nil
}

// PayClaim implements FundingService.
func (s *Server) PayClaim(ctx context.Context, req *fundingv1.PayClaimRequest) (*fundingv1.PayClaimResponse, error) {
	k, err := key(ctx, req.GetRequestId(), req)
	if err != nil {
		return nil, err
	}
	on, err := s.date("paid_date", req.GetPaidDate())
	if err != nil {
		return nil, s.status(ctx, err)
	}
	cl, err := s.claimResp(ctx)(s.app.PayClaim(ctx, req.GetClaimId(), on, req.GetVersion(), k))
	if err != nil {
		return nil, err
	}
	return &fundingv1.PayClaimResponse{Claim: cl}, nil
}

// GetRegionFunding implements FundingService.
func (s *Server) GetRegionFunding(ctx context.Context, _ *fundingv1.GetRegionFundingRequest) (*fundingv1.GetRegionFundingResponse, error) {
	region, figs, err := s.app.RegionFunding(ctx)
	if err != nil {
		return nil, s.status(ctx, err)
	}
	out := &fundingv1.GetRegionFundingResponse{RegionId: region, MinimumGroupSize: smallgroups.Minimum}
	for _, f := range figs {
		ag := f.Agreement
		out.Agreements = append(out.Agreements, &fundingv1.AgreementFigures{AgreementId: ag.ID, Name: ag.Name,
			FunderOrganizationId: ag.FunderOrgID, MhaOrganizationId: ag.MHAOrgID, BudgetCents: ag.BudgetCents,
			BudgetTrajectories: int32(ag.BudgetTrajectories),
			Trajectories:       &fundingv1.TrajectoryCount{Count: int32(f.Trajectories.Count), Suppressed: f.Trajectories.Suppressed},
			MoneySuppressed:    f.MoneySuppressed, CommittedCents: f.Committed, ApprovedCents: f.Approved, PaidCents: f.Paid})
	}
	return out, nil
}
