// Package api is the employment service's gRPC transport: it converts
// between the contract's messages and the domain and translates domain
// errors into canonical status codes, once, here.
package api

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/rpc"
	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
	"github.com/ipsbridge/ipsbridge/services/employment/app"
	"github.com/ipsbridge/ipsbridge/services/employment/domain"
)

// Server implements employmentv1.EmploymentServiceServer.
type Server struct {
	employmentv1.UnimplementedEmploymentServiceServer
	app *app.Service
	log *slog.Logger
}

// New returns the gRPC server of the employment service.
func New(a *app.Service, log *slog.Logger) *Server { return &Server{app: a, log: log} }

const svc = "/ipsbridge.employment.v1.EmploymentService/"

// Rules are the method-level requirements the authorization interceptor
// enforces before a handler runs; handlers then decide per client.
var Rules = map[string][]authz.Requirement{
	svc + "CreateEmployerContact":    {{Section: authz.JobSearch, Action: authz.Write}},
	svc + "ListEmployerContacts":     {{Section: authz.JobSearch, Action: authz.Read}},
	svc + "CreateApplication":        {{Section: authz.JobSearch, Action: authz.Write}},
	svc + "UpdateApplicationStatus":  {{Section: authz.JobSearch, Action: authz.Write}},
	svc + "ListApplications":         {{Section: authz.JobSearch, Action: authz.Read}},
	svc + "StartPlacement":           {{Section: authz.Placements, Action: authz.Write}},
	svc + "GetPlacement":             {{Section: authz.Placements, Action: authz.Read}},
	svc + "ListPlacements":           {{Section: authz.Placements, Action: authz.Read}},
	svc + "ChangePlacementTerms":     {{Section: authz.Placements, Action: authz.Write}},
	svc + "EndPlacement":             {{Section: authz.Placements, Action: authz.Write}},
	svc + "CreateFollowAlongContact": {{Section: authz.Placements, Action: authz.Write}},
	svc + "ListFollowAlongContacts":  {{Section: authz.Placements, Action: authz.Read}},
	svc + "ListMilestones":           {{Section: authz.Milestones, Action: authz.Read}},
	svc + "ListWorkHistories":        {{Section: authz.Milestones, Action: authz.Read}},
	svc + "GetRegionOutcomes":        {{Section: authz.Placements, Action: authz.Aggregate}}, // region figures only
	svc + "GetTeamFigures":           {{Section: authz.Placements, Action: authz.Aggregate}}, // team figures only
	svc + "ListSampleActivity":       {{Section: authz.JobSearch, Action: authz.Read}},
	// A caseload is the MHA's view: roles that read job search.
	svc + "ListCaseload":           {{Section: authz.JobSearch, Action: authz.Read}},
	"/grpc.health.v1.Health/Check": authz.Public,
	"/grpc.health.v1.Health/Watch": authz.Public,
	"/grpc.health.v1.Health/List":  authz.Public,
}

// toStatus translates a domain or store error into a status; internal
// causes are logged, never sent.
func (s *Server) toStatus(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, domain.ErrClientsUnavailable):
		s.log.ErrorContext(ctx, "clients service unavailable", "err", err)
		return rpc.Error(codes.Unavailable, "CLIENTS_UNAVAILABLE", "access cannot be decided now; nothing was read or changed", nil)
	}
	return rpc.Status(ctx, s.log, err)
}

func contactToProto(c domain.EmployerContact) *employmentv1.EmployerContact {
	return &employmentv1.EmployerContact{
		EmployerContactId: c.ID, ClientId: c.ClientID, EmployerName: c.EmployerName, ContactDate: domain.FormatDate(c.Date),
		FaceToFace: c.FaceToFace, Notes: c.Notes, SpecialistId: c.SpecialistID, CreateTime: timestamppb.New(c.CreatedAt),
	}
}

var appStatus = map[domain.ApplicationStatus]employmentv1.ApplicationStatus{
	domain.Applied: employmentv1.ApplicationStatus_APPLICATION_STATUS_APPLIED, domain.Interview: employmentv1.ApplicationStatus_APPLICATION_STATUS_INTERVIEW,
	domain.Offered: employmentv1.ApplicationStatus_APPLICATION_STATUS_OFFERED, domain.Rejected: employmentv1.ApplicationStatus_APPLICATION_STATUS_REJECTED,
	domain.Withdrawn: employmentv1.ApplicationStatus_APPLICATION_STATUS_WITHDRAWN, domain.Hired: employmentv1.ApplicationStatus_APPLICATION_STATUS_HIRED,
}

func appStatusFromProto(p employmentv1.ApplicationStatus) domain.ApplicationStatus {
	for k, v := range appStatus {
		if v == p {
			return k
		}
	}
	return ""
}

func applicationToProto(a domain.Application) *employmentv1.Application {
	return &employmentv1.Application{
		ApplicationId: a.ID, ClientId: a.ClientID, EmployerName: a.EmployerName, JobTitle: a.JobTitle,
		ApplicationDate: domain.FormatDate(a.Date), Status: appStatus[a.Status], Version: a.Version, UpdateTime: timestamppb.New(a.UpdatedAt),
	}
}

var contractKind = map[domain.ContractKind]employmentv1.ContractKind{
	domain.Permanent: employmentv1.ContractKind_CONTRACT_KIND_PERMANENT, domain.Temporary: employmentv1.ContractKind_CONTRACT_KIND_TEMPORARY,
	domain.ZeroHours: employmentv1.ContractKind_CONTRACT_KIND_ZERO_HOURS, domain.OnCall: employmentv1.ContractKind_CONTRACT_KIND_ON_CALL,
	domain.SelfEmployed: employmentv1.ContractKind_CONTRACT_KIND_SELF_EMPLOYED, domain.Apprenticeship: employmentv1.ContractKind_CONTRACT_KIND_APPRENTICESHIP,
}

func contractKindFromProto(p employmentv1.ContractKind) domain.ContractKind {
	for k, v := range contractKind {
		if v == p {
			return k
		}
	}
	return ""
}

func termsToProto(t domain.Terms) *employmentv1.Terms {
	return &employmentv1.Terms{
		EffectiveDate: domain.FormatDate(t.Effective), HoursPerWeek: t.HoursPerWeek, HourlyWageCents: t.HourlyWageCents,
		RecordedBy: t.RecordedBy, RecordTime: timestamppb.New(t.RecordedAt),
	}
}

func placementToProto(p domain.Placement) *employmentv1.Placement {
	cur := p.Current()
	out := &employmentv1.Placement{
		PlacementId: p.ID, ClientId: p.ClientID, EmployerName: p.EmployerName, JobTitle: p.JobTitle,
		StartDate: domain.FormatDate(p.Start), ContractKind: contractKind[p.ContractKind],
		HoursPerWeek: cur.HoursPerWeek, HourlyWageCents: cur.HourlyWageCents,
		EndDate: domain.FormatDate(p.End), EndReason: p.EndReason, Active: p.Active(), Version: p.Version,
		UpdateTime: timestamppb.New(p.UpdatedAt),
	}
	for _, t := range p.Terms {
		out.TermsHistory = append(out.TermsHistory, termsToProto(t))
	}
	return out
}

var withToProto = map[domain.With]employmentv1.FollowAlongContact_With{
	domain.WithClient: employmentv1.FollowAlongContact_WITH_CLIENT, domain.WithEmployer: employmentv1.FollowAlongContact_WITH_EMPLOYER,
	domain.WithBoth: employmentv1.FollowAlongContact_WITH_BOTH,
}

func followToProto(c domain.FollowAlongContact) *employmentv1.FollowAlongContact {
	return &employmentv1.FollowAlongContact{
		FollowAlongContactId: c.ID, ClientId: c.ClientID, PlacementId: c.PlacementID, ContactDate: domain.FormatDate(c.Date),
		With: withToProto[c.With], Notes: c.Notes, SpecialistId: c.SpecialistID, CreateTime: timestamppb.New(c.CreatedAt),
	}
}

var milestoneKind = map[domain.MilestoneKind]employmentv1.MilestoneKind{
	domain.FirstEmployerContact: employmentv1.MilestoneKind_MILESTONE_KIND_FIRST_EMPLOYER_CONTACT,
	domain.JobStart:             employmentv1.MilestoneKind_MILESTONE_KIND_JOB_START,
	domain.Employed3Months:      employmentv1.MilestoneKind_MILESTONE_KIND_EMPLOYED_3_MONTHS,
	domain.Employed6Months:      employmentv1.MilestoneKind_MILESTONE_KIND_EMPLOYED_6_MONTHS,
}

var milestoneState = map[domain.MilestoneState]employmentv1.MilestoneState{
	domain.Reached: employmentv1.MilestoneState_MILESTONE_STATE_REACHED, domain.Pending: employmentv1.MilestoneState_MILESTONE_STATE_PENDING,
	domain.Missed: employmentv1.MilestoneState_MILESTONE_STATE_MISSED,
}

func milestoneToProto(m domain.Milestone) *employmentv1.Milestone {
	return &employmentv1.Milestone{
		Kind: milestoneKind[m.Kind], State: milestoneState[m.State],
		ReachedDate: domain.FormatDate(m.Reached), ExpectedDate: domain.FormatDate(m.Expected),
	}
}

// CreateEmployerContact implements EmploymentService.
func (s *Server) CreateEmployerContact(ctx context.Context, req *employmentv1.CreateEmployerContactRequest) (*employmentv1.CreateEmployerContactResponse, error) {
	in := req.GetEmployerContact()
	k, err := rpc.Idempotency(ctx, req, true)
	if err != nil {
		return nil, err
	}
	d, err := domain.ParseDate("employer_contact.contact_date", in.GetContactDate())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	c, err := s.app.CreateEmployerContact(ctx, domain.EmployerContact{
		ClientID: req.GetClientId(), EmployerName: strings.TrimSpace(in.GetEmployerName()), Date: d,
		FaceToFace: in.GetFaceToFace(), Notes: in.GetNotes(),
	}, k)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &employmentv1.CreateEmployerContactResponse{EmployerContact: contactToProto(c)}, nil
}

// ListEmployerContacts implements EmploymentService.
func (s *Server) ListEmployerContacts(ctx context.Context, req *employmentv1.ListEmployerContactsRequest) (*employmentv1.ListEmployerContactsResponse, error) {
	cs, err := s.app.ListEmployerContacts(ctx, req.GetClientId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &employmentv1.ListEmployerContactsResponse{}
	for _, c := range cs {
		out.EmployerContacts = append(out.EmployerContacts, contactToProto(c))
	}
	return out, nil
}

// CreateApplication implements EmploymentService.
func (s *Server) CreateApplication(ctx context.Context, req *employmentv1.CreateApplicationRequest) (*employmentv1.CreateApplicationResponse, error) {
	in := req.GetApplication()
	k, err := rpc.Idempotency(ctx, req, true)
	if err != nil {
		return nil, err
	}
	d, err := domain.ParseDate("application.application_date", in.GetApplicationDate())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	st := appStatusFromProto(in.GetStatus())
	if in.GetStatus() == employmentv1.ApplicationStatus_APPLICATION_STATUS_UNSPECIFIED {
		st = domain.Applied
	}
	a, err := s.app.CreateApplication(ctx, domain.Application{
		ClientID: req.GetClientId(), EmployerName: strings.TrimSpace(in.GetEmployerName()), JobTitle: strings.TrimSpace(in.GetJobTitle()),
		Date: d, Status: st,
	}, k)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &employmentv1.CreateApplicationResponse{Application: applicationToProto(a)}, nil
}

// UpdateApplicationStatus implements EmploymentService.
func (s *Server) UpdateApplicationStatus(ctx context.Context, req *employmentv1.UpdateApplicationStatusRequest) (*employmentv1.UpdateApplicationStatusResponse, error) {
	k, err := rpc.Idempotency(ctx, req, false)
	if err != nil {
		return nil, err
	}
	a, err := s.app.UpdateApplicationStatus(ctx, req.GetClientId(), req.GetApplicationId(), appStatusFromProto(req.GetStatus()), req.GetVersion(), k)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &employmentv1.UpdateApplicationStatusResponse{Application: applicationToProto(a)}, nil
}

// ListApplications implements EmploymentService.
func (s *Server) ListApplications(ctx context.Context, req *employmentv1.ListApplicationsRequest) (*employmentv1.ListApplicationsResponse, error) {
	as, err := s.app.ListApplications(ctx, req.GetClientId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &employmentv1.ListApplicationsResponse{}
	for _, a := range as {
		out.Applications = append(out.Applications, applicationToProto(a))
	}
	return out, nil
}

// StartPlacement implements EmploymentService.
func (s *Server) StartPlacement(ctx context.Context, req *employmentv1.StartPlacementRequest) (*employmentv1.StartPlacementResponse, error) {
	in := req.GetPlacement()
	k, err := rpc.Idempotency(ctx, req, true)
	if err != nil {
		return nil, err
	}
	start, err := domain.ParseDate("placement.start_date", in.GetStartDate())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	p := domain.Placement{
		ClientID: req.GetClientId(), EmployerName: strings.TrimSpace(in.GetEmployerName()), JobTitle: strings.TrimSpace(in.GetJobTitle()),
		Start: start, ContractKind: contractKindFromProto(in.GetContractKind()),
		Terms: []domain.Terms{{Effective: start, HoursPerWeek: in.GetHoursPerWeek(), HourlyWageCents: in.GetHourlyWageCents()}},
	}
	out, err := s.app.StartPlacement(ctx, p, k)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &employmentv1.StartPlacementResponse{Placement: placementToProto(out)}, nil
}

// GetPlacement implements EmploymentService.
func (s *Server) GetPlacement(ctx context.Context, req *employmentv1.GetPlacementRequest) (*employmentv1.GetPlacementResponse, error) {
	p, err := s.app.GetPlacement(ctx, req.GetClientId(), req.GetPlacementId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &employmentv1.GetPlacementResponse{Placement: placementToProto(p)}, nil
}

// ListPlacements implements EmploymentService.
func (s *Server) ListPlacements(ctx context.Context, req *employmentv1.ListPlacementsRequest) (*employmentv1.ListPlacementsResponse, error) {
	ps, err := s.app.ListPlacements(ctx, req.GetClientId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &employmentv1.ListPlacementsResponse{}
	for _, p := range ps {
		out.Placements = append(out.Placements, placementToProto(p))
	}
	return out, nil
}

// ChangePlacementTerms implements EmploymentService.
func (s *Server) ChangePlacementTerms(ctx context.Context, req *employmentv1.ChangePlacementTermsRequest) (*employmentv1.ChangePlacementTermsResponse, error) {
	in := req.GetTerms()
	k, err := rpc.Idempotency(ctx, req, false)
	if err != nil {
		return nil, err
	}
	eff, err := domain.ParseDate("terms.effective_date", in.GetEffectiveDate())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	p, err := s.app.ChangePlacementTerms(ctx, req.GetClientId(), req.GetPlacementId(),
		domain.Terms{Effective: eff, HoursPerWeek: in.GetHoursPerWeek(), HourlyWageCents: in.GetHourlyWageCents()}, req.GetVersion(), k)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &employmentv1.ChangePlacementTermsResponse{Placement: placementToProto(p)}, nil
}

// EndPlacement implements EmploymentService.
func (s *Server) EndPlacement(ctx context.Context, req *employmentv1.EndPlacementRequest) (*employmentv1.EndPlacementResponse, error) {
	k, err := rpc.Idempotency(ctx, req, false)
	if err != nil {
		return nil, err
	}
	end, err := domain.ParseDate("end_date", req.GetEndDate())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	p, err := s.app.EndPlacement(ctx, req.GetClientId(), req.GetPlacementId(), end, strings.TrimSpace(req.GetEndReason()), req.GetVersion(), k)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &employmentv1.EndPlacementResponse{Placement: placementToProto(p)}, nil
}

// CreateFollowAlongContact implements EmploymentService.
func (s *Server) CreateFollowAlongContact(ctx context.Context, req *employmentv1.CreateFollowAlongContactRequest) (*employmentv1.CreateFollowAlongContactResponse, error) {
	in := req.GetFollowAlongContact()
	k, err := rpc.Idempotency(ctx, req, true)
	if err != nil {
		return nil, err
	}
	d, err := domain.ParseDate("follow_along_contact.contact_date", in.GetContactDate())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	var with domain.With
	for k, v := range withToProto {
		if v == in.GetWith() {
			with = k
		}
	}
	c, err := s.app.CreateFollowAlongContact(ctx, domain.FollowAlongContact{
		ClientID: req.GetClientId(), PlacementID: in.GetPlacementId(), Date: d, With: with, Notes: in.GetNotes(),
	}, k)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &employmentv1.CreateFollowAlongContactResponse{FollowAlongContact: followToProto(c)}, nil
}

// ListFollowAlongContacts implements EmploymentService.
func (s *Server) ListFollowAlongContacts(ctx context.Context, req *employmentv1.ListFollowAlongContactsRequest) (*employmentv1.ListFollowAlongContactsResponse, error) {
	cs, err := s.app.ListFollowAlongContacts(ctx, req.GetClientId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &employmentv1.ListFollowAlongContactsResponse{}
	for _, c := range cs {
		out.FollowAlongContacts = append(out.FollowAlongContacts, followToProto(c))
	}
	return out, nil
}

// ListMilestones implements EmploymentService.
func (s *Server) ListMilestones(ctx context.Context, req *employmentv1.ListMilestonesRequest) (*employmentv1.ListMilestonesResponse, error) {
	ms, err := s.app.ListMilestones(ctx, req.GetClientId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &employmentv1.ListMilestonesResponse{MinimumHoursPerWeek: domain.MinHoursForMilestones}
	for _, m := range ms {
		out.Milestones = append(out.Milestones, milestoneToProto(m))
	}
	return out, nil
}

// ListWorkHistories implements EmploymentService.
func (s *Server) ListWorkHistories(ctx context.Context, req *employmentv1.ListWorkHistoriesRequest) (*employmentv1.ListWorkHistoriesResponse, error) {
	hs, err := s.app.ListWorkHistories(ctx, req.GetClientIds())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &employmentv1.ListWorkHistoriesResponse{}
	for _, h := range hs {
		ph := &employmentv1.WorkHistory{ClientId: h.ClientID, JobDetails: h.JobDetails}
		for _, p := range h.Placements {
			wp := &employmentv1.WorkPeriod{PlacementId: p.ID, StartDate: domain.FormatDate(p.Start), EndDate: domain.FormatDate(p.End),
				EmployerName: p.EmployerName, JobTitle: p.JobTitle}
			for _, t := range p.Terms {
				wp.Hours = append(wp.Hours, &employmentv1.HoursFrom{EffectiveDate: domain.FormatDate(t.Effective), HoursPerWeek: t.HoursPerWeek})
			}
			ph.Periods = append(ph.Periods, wp)
		}
		out.Histories = append(out.Histories, ph)
	}
	return out, nil
}

// ListCaseload implements EmploymentService.
func (s *Server) ListCaseload(ctx context.Context, req *employmentv1.ListCaseloadRequest) (*employmentv1.ListCaseloadResponse, error) {
	cl, err := s.app.ListCaseload(ctx, req.GetSpecialistId(), req.GetTeamId(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &employmentv1.ListCaseloadResponse{NextPageToken: cl.Next, CaseloadLimit: app.CaseloadLimit}
	for _, e := range cl.Entries {
		pe := &employmentv1.CaseloadEntry{
			ClientId: e.ClientID, DisplayName: e.DisplayName, EmploymentSpecialistId: e.SpecialistID, TeamId: e.TeamID,
			Phase: e.Phase, DaysSinceLastContact: e.DaysSinceLastContact,
		}
		if e.NextMilestone != nil {
			pe.NextMilestone = milestoneToProto(*e.NextMilestone)
		}
		out.Entries = append(out.Entries, pe)
	}
	for _, l := range cl.Loads {
		out.Loads = append(out.Loads, &employmentv1.SpecialistLoad{SpecialistId: l.SpecialistID, ClientCount: int32(l.Clients), Warning: l.Warning})
	}
	return out, nil
}
