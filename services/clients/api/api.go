// Package api is the clients service's gRPC transport: it converts between
// the contract's messages and the domain, applies update masks, and
// translates domain errors into canonical status codes, once, here.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/rpc"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	"github.com/ipsbridge/ipsbridge/services/clients/app"
	"github.com/ipsbridge/ipsbridge/services/clients/domain"
)

// Server implements clientsv1.ClientsServiceServer.
type Server struct {
	clientsv1.UnimplementedClientsServiceServer
	app *app.Service
	log *slog.Logger
}

// New returns the gRPC server of the clients service.
func New(a *app.Service, log *slog.Logger) *Server { return &Server{app: a, log: log} }

const svc = "/ipsbridge.clients.v1.ClientsService/"

func anyRead() []authz.Requirement {
	var r []authz.Requirement
	for _, s := range authz.Sections {
		if s == authz.Funding {
			continue // held by the funding service; nothing of it is here
		}
		r = append(r, authz.Requirement{Section: s, Action: authz.Read})
	}
	return append(r, authz.Requirement{Section: authz.Benefits, Action: authz.ReadSummary})
}

// Rules are the method-level requirements the authorization interceptor
// enforces before a handler runs; handlers then decide per client and
// section.
var Rules = map[string][]authz.Requirement{
	svc + "CreateClient":        {{Section: authz.Identity, Action: authz.Write}},
	svc + "GetClient":           anyRead(),
	svc + "ListClients":         anyRead(),
	svc + "CheckAccess":         anyRead(),
	svc + "UpdateIdentity":      {{Section: authz.Identity, Action: authz.Write}},
	svc + "GetTrajectory":       {{Section: authz.Trajectory, Action: authz.Read}},
	svc + "UpdateTrajectory":    {{Section: authz.Trajectory, Action: authz.Write}},
	svc + "TransitionPhase":     {{Section: authz.Trajectory, Action: authz.Write}},
	svc + "GetWorkGoals":        {{Section: authz.WorkGoals, Action: authz.Read}},
	svc + "UpdateWorkGoals":     {{Section: authz.WorkGoals, Action: authz.Write}},
	svc + "GetClinicalInput":    {{Section: authz.ClinicalInput, Action: authz.Read}},
	svc + "AddClinicalEntry":    {{Section: authz.ClinicalInput, Action: authz.Write}},
	svc + "UpdateClinicalInput": {{Section: authz.ClinicalInput, Action: authz.Write}},
	svc + "ListConsents":        {{Section: authz.Consent, Action: authz.Read}},
	svc + "RecordConsent":       {{Section: authz.Consent, Action: authz.Write}},
	svc + "RevokeConsent":       {{Section: authz.Consent, Action: authz.Write}},
	svc + "ListAccessEvents":    {{Section: authz.Audit, Action: authz.Read}},
	// Region figures, never one client: the decision maker's aggregates.
	svc + "GetRegionStatistics": {{Section: authz.Trajectory, Action: authz.Aggregate}},
	svc + "GetTeamFigures":      {{Section: authz.Trajectory, Action: authz.Aggregate}},
	svc + "ListTeamSample":      {{Section: authz.Trajectory, Action: authz.Read}},
	// Any verified caller known to the directory may ask who it is.
	svc + "GetCaller":              authz.Authenticated,
	"/grpc.health.v1.Health/Check": authz.Public,
	"/grpc.health.v1.Health/Watch": authz.Public,
	"/grpc.health.v1.Health/List":  authz.Public,
}

// toStatus translates a domain or store error into a status; internal causes
// are logged, never sent.
func (s *Server) toStatus(ctx context.Context, err error) error {
	if errors.Is(err, domain.ErrInvalidTransition) {
		return rpc.Error(codes.FailedPrecondition, "INVALID_PHASE_TRANSITION", err.Error(), nil)
	}
	return rpc.Status(ctx, s.log, err)
}

var sectionToProto = map[authz.Section]clientsv1.Section{
	authz.Identity: clientsv1.Section_SECTION_IDENTITY, authz.Trajectory: clientsv1.Section_SECTION_TRAJECTORY,
	authz.WorkGoals: clientsv1.Section_SECTION_WORK_GOALS, authz.ClinicalInput: clientsv1.Section_SECTION_CLINICAL_INPUT,
	authz.JobSearch: clientsv1.Section_SECTION_JOB_SEARCH, authz.Placements: clientsv1.Section_SECTION_PLACEMENTS,
	authz.Benefits: clientsv1.Section_SECTION_BENEFITS, authz.Milestones: clientsv1.Section_SECTION_MILESTONES,
	authz.Funding: clientsv1.Section_SECTION_FUNDING,
}

func sectionFromProto(p clientsv1.Section) (authz.Section, bool) {
	for k, v := range sectionToProto {
		if v == p {
			return k, true
		}
	}
	return "", false
}

func sectionsToProto(secs []authz.Section) []clientsv1.Section {
	out := make([]clientsv1.Section, 0, len(secs))
	for _, s := range secs {
		out = append(out, sectionToProto[s])
	}
	return out
}

var phaseToProto = map[domain.Phase]clientsv1.Phase{
	domain.Referral: clientsv1.Phase_PHASE_REFERRAL, domain.Intake: clientsv1.Phase_PHASE_INTAKE,
	domain.JobSearch: clientsv1.Phase_PHASE_JOB_SEARCH, domain.Employed: clientsv1.Phase_PHASE_EMPLOYED,
	domain.FollowAlong: clientsv1.Phase_PHASE_FOLLOW_ALONG, domain.Closed: clientsv1.Phase_PHASE_CLOSED,
}

func phaseFromProto(p clientsv1.Phase) domain.Phase {
	for k, v := range phaseToProto {
		if v == p {
			return k
		}
	}
	return ""
}

func identityToProto(i *domain.Identity, masked bool) *clientsv1.Identity {
	if i == nil {
		return nil
	}
	return &clientsv1.Identity{
		GivenName: i.GivenName, FamilyName: i.FamilyName, DateOfBirth: i.DateOfBirth, Email: i.Email,
		Phone: i.Phone, Address: i.Address, Bsn: i.BSN, BsnMasked: masked, Version: i.Version,
		UpdateTime: timestamppb.New(i.UpdatedAt),
	}
}

func trajectoryToProto(t *domain.Trajectory) *clientsv1.Trajectory {
	if t == nil {
		return nil
	}
	out := &clientsv1.Trajectory{
		Phase: phaseToProto[t.Phase], TeamId: t.TeamID, EmploymentSpecialistId: t.SpecialistID,
		InvolvedOrganizationIds: t.InvolvedOrgIDs, ClosingReason: t.ClosingReason,
		PhaseStartTime: timestamppb.New(t.PhaseStartedAt), ReferralTime: timestamppb.New(t.ReferredAt),
		Version: t.Version, UpdateTime: timestamppb.New(t.UpdatedAt),
	}
	if !t.IntakeAt.IsZero() {
		out.IntakeTime = timestamppb.New(t.IntakeAt)
	}
	for _, h := range t.History {
		out.History = append(out.History, &clientsv1.PhaseChange{
			FromPhase: phaseToProto[h.From], ToPhase: phaseToProto[h.To], ChangeTime: timestamppb.New(h.At),
			ChangedBy: h.By, Reason: h.Reason,
		})
	}
	return out
}

func workGoalsToProto(w *domain.WorkGoals) *clientsv1.WorkGoals {
	if w == nil {
		return nil
	}
	return &clientsv1.WorkGoals{
		Preferences: w.Preferences, Goals: w.Goals, Strengths: w.Strengths, SupportWishes: w.SupportWishes,
		PreferredOccupations: w.PreferredOccupations, DesiredHoursPerWeek: w.DesiredHoursPerWeek,
		Version: w.Version, UpdateTime: timestamppb.New(w.UpdatedAt), UpdatedBy: w.UpdatedBy,
	}
}

func clinicalToProto(c *domain.ClinicalInput) *clientsv1.ClinicalInput {
	if c == nil {
		return nil
	}
	out := &clientsv1.ClinicalInput{
		Notes: c.Notes, WorkConsiderations: c.WorkConsiderations, Version: c.Version,
		UpdateTime: timestamppb.New(c.UpdatedAt), UpdatedBy: c.UpdatedBy,
	}
	for _, e := range c.Entries {
		out.Entries = append(out.Entries, clinicalEntryToProto(e))
	}
	return out
}

func clinicalEntryToProto(e domain.ClinicalEntry) *clientsv1.ClinicalEntry {
	return &clientsv1.ClinicalEntry{ClinicalEntryId: e.ID, EntryDate: e.Date.Format(time.DateOnly), Notes: e.Notes,
		WorkConsiderations: e.WorkConsiderations, AuthorId: e.AuthorID, CreateTime: timestamppb.New(e.CreatedAt)}
}

// AddClinicalEntry implements ClientsService.
func (s *Server) AddClinicalEntry(ctx context.Context, req *clientsv1.AddClinicalEntryRequest) (*clientsv1.AddClinicalEntryResponse, error) {
	in := req.GetEntry()
	date, err := time.Parse(time.DateOnly, in.GetEntryDate())
	if err != nil {
		return nil, s.toStatus(ctx, &apperr.FieldError{Field: "entry.entry_date", Msg: "is not a date (YYYY-MM-DD)"})
	}
	// A day ahead of UTC covers the Dutch date around midnight.
	if date.After(time.Now().UTC().AddDate(0, 0, 1)) {
		return nil, s.toStatus(ctx, &apperr.FieldError{Field: "entry.entry_date", Msg: "is in the future; an entry is about a day that has been"})
	}
	k, err := rpc.Idempotency(ctx, req, true)
	if err != nil {
		return nil, err
	}
	e, err := s.app.AddClinicalEntry(ctx, req.GetClientId(), domain.ClinicalEntry{
		Date: date, Notes: strings.TrimSpace(in.GetNotes()), WorkConsiderations: strings.TrimSpace(in.GetWorkConsiderations())}, k)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &clientsv1.AddClinicalEntryResponse{Entry: clinicalEntryToProto(e)}, nil
}

func viewToProto(v *app.View) *clientsv1.Client {
	c := v.Client
	return &clientsv1.Client{
		ClientId: c.ID, RegionId: c.RegionID, MhaOrganizationId: c.MHAOrgID,
		Identity: identityToProto(c.Identity, v.BSNMasked), Trajectory: trajectoryToProto(c.Trajectory),
		WorkGoals: workGoalsToProto(c.WorkGoals), ClinicalInput: clinicalToProto(c.ClinicalInput),
		ReadableSections: sectionsToProto(v.Decision.Readable()), WritableSections: sectionsToProto(v.Decision.Writable()),
		CreateTime: timestamppb.New(c.CreatedAt),
	}
}

func consentToProto(c domain.Consent) *clientsv1.Consent {
	sec, _ := sectionToProto[authz.Section(c.Section)]
	out := &clientsv1.Consent{
		ConsentId: c.ID, ClientId: c.ClientID, OrganizationId: c.OrgID, Section: sec,
		GrantTime: timestamppb.New(c.GrantedAt), GrantedBy: c.GrantedBy, RevokedBy: c.RevokedBy, Active: c.RevokedAt == nil,
	}
	if c.RevokedAt != nil {
		out.RevokeTime = timestamppb.New(*c.RevokedAt)
	}
	return out
}

// checkMask refuses masks naming fields the resource does not have or that
// are output only.
func checkMask(mask *fieldmaskpb.FieldMask, resource string, allowed ...string) error {
	if len(mask.GetPaths()) == 0 {
		return rpc.InvalidArgument("INVALID_ARGUMENT", rpc.FieldViolation{Field: "update_mask", Description: "must name at least one field"})
	}
	for _, p := range mask.GetPaths() {
		if !slices.Contains(allowed, p) {
			return rpc.InvalidArgument("INVALID_ARGUMENT", rpc.FieldViolation{
				Field:       "update_mask",
				Description: fmt.Sprintf("%s.%s cannot be updated; updatable fields are %s", resource, p, strings.Join(allowed, ", ")),
			})
		}
	}
	return nil
}

func requireVersion(v int64, resource string) error {
	if v <= 0 {
		return rpc.InvalidArgument("INVALID_ARGUMENT", rpc.FieldViolation{
			Field: resource + ".version", Description: "is required: send the version you read, so concurrent changes are detected",
		})
	}
	return nil
}

// CreateClient implements ClientsService.
func (s *Server) CreateClient(ctx context.Context, req *clientsv1.CreateClientRequest) (*clientsv1.CreateClientResponse, error) {
	id := req.GetClient().GetIdentity()
	tr := req.GetClient().GetTrajectory()
	key, err := rpc.Idempotency(ctx, req, true)
	if err != nil {
		return nil, err
	}
	var consents []app.ConsentGrant
	for i, g := range req.GetConsents() {
		grant := app.ConsentGrant{OrgID: g.GetOrganizationId()}
		for _, p := range g.GetSections() {
			sec, ok := sectionFromProto(p)
			if !ok {
				return nil, rpc.InvalidArgument("INVALID_ARGUMENT", rpc.FieldViolation{Field: fmt.Sprintf("consents[%d].sections", i), Description: "unknown section " + p.String()})
			}
			grant.Sections = append(grant.Sections, sec)
		}
		consents = append(consents, grant)
	}
	v, err := s.app.CreateClient(ctx, app.NewClient{
		Identity: domain.Identity{
			GivenName: strings.TrimSpace(id.GetGivenName()), FamilyName: strings.TrimSpace(id.GetFamilyName()),
			DateOfBirth: id.GetDateOfBirth(), Email: id.GetEmail(), Phone: id.GetPhone(), Address: id.GetAddress(), BSN: id.GetBsn(),
		},
		TeamID: tr.GetTeamId(), SpecialistID: tr.GetEmploymentSpecialistId(), InvolvedOrgIDs: tr.GetInvolvedOrganizationIds(),
		Consents: consents, Key: key,
	})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &clientsv1.CreateClientResponse{Client: viewToProto(v)}, nil
}

// GetClient implements ClientsService.
func (s *Server) GetClient(ctx context.Context, req *clientsv1.GetClientRequest) (*clientsv1.GetClientResponse, error) {
	v, err := s.app.GetClient(ctx, req.GetClientId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &clientsv1.GetClientResponse{Client: viewToProto(v)}, nil
}

// ListClients implements ClientsService.
func (s *Server) ListClients(ctx context.Context, req *clientsv1.ListClientsRequest) (*clientsv1.ListClientsResponse, error) {
	phase := ""
	if req.GetPhase() != clientsv1.Phase_PHASE_UNSPECIFIED {
		phase = string(phaseFromProto(req.GetPhase()))
	}
	f := app.ListFilter{Phase: phase, SpecialistID: req.GetEmploymentSpecialistId(), TeamID: req.GetTeamId(), OpenOnly: req.GetOpenOnly(), Name: req.GetNameContains()}
	views, next, loads, err := s.app.ListClients(ctx, int(req.GetPageSize()), req.GetPageToken(), f)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &clientsv1.ListClientsResponse{NextPageToken: next}
	for _, l := range loads {
		out.Loads = append(out.Loads, &clientsv1.SpecialistLoad{EmploymentSpecialistId: l.SpecialistID, Clients: int32(l.Clients)})
	}
	for i := range views {
		out.Clients = append(out.Clients, viewToProto(&views[i]))
	}
	return out, nil
}

// UpdateIdentity implements ClientsService.
func (s *Server) UpdateIdentity(ctx context.Context, req *clientsv1.UpdateIdentityRequest) (*clientsv1.UpdateIdentityResponse, error) {
	in := req.GetIdentity()
	if err := checkMask(req.GetUpdateMask(), "identity", "given_name", "family_name", "date_of_birth", "email", "phone", "address", "bsn"); err != nil {
		return nil, err
	}
	if err := requireVersion(in.GetVersion(), "identity"); err != nil {
		return nil, err
	}
	key, err := rpc.Idempotency(ctx, req, false)
	if err != nil {
		return nil, err
	}
	i, masked, err := s.app.UpdateIdentity(ctx, req.GetClientId(), in.GetVersion(), func(cur *domain.Identity) error {
		for _, p := range req.GetUpdateMask().GetPaths() {
			switch p {
			case "given_name":
				cur.GivenName = strings.TrimSpace(in.GetGivenName())
			case "family_name":
				cur.FamilyName = strings.TrimSpace(in.GetFamilyName())
			case "date_of_birth":
				cur.DateOfBirth = in.GetDateOfBirth()
			case "email":
				cur.Email = in.GetEmail()
			case "phone":
				cur.Phone = in.GetPhone()
			case "address":
				cur.Address = in.GetAddress()
			case "bsn":
				cur.BSN = in.GetBsn()
			}
		}
		return nil
	}, key)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &clientsv1.UpdateIdentityResponse{Identity: identityToProto(i, masked)}, nil
}

// GetTrajectory implements ClientsService.
func (s *Server) GetTrajectory(ctx context.Context, req *clientsv1.GetTrajectoryRequest) (*clientsv1.GetTrajectoryResponse, error) {
	t, err := s.app.GetTrajectory(ctx, req.GetClientId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &clientsv1.GetTrajectoryResponse{Trajectory: trajectoryToProto(t)}, nil
}

// UpdateTrajectory implements ClientsService.
func (s *Server) UpdateTrajectory(ctx context.Context, req *clientsv1.UpdateTrajectoryRequest) (*clientsv1.UpdateTrajectoryResponse, error) {
	in := req.GetTrajectory()
	if err := checkMask(req.GetUpdateMask(), "trajectory", "team_id", "employment_specialist_id", "involved_organization_ids"); err != nil {
		return nil, err
	}
	if err := requireVersion(in.GetVersion(), "trajectory"); err != nil {
		return nil, err
	}
	key, err := rpc.Idempotency(ctx, req, false)
	if err != nil {
		return nil, err
	}
	t, err := s.app.UpdateTrajectory(ctx, req.GetClientId(), in.GetVersion(), func(cur *domain.Trajectory) error {
		for _, p := range req.GetUpdateMask().GetPaths() {
			switch p {
			case "team_id":
				if in.GetTeamId() == "" {
					return fmt.Errorf("%w: trajectory.team_id cannot be emptied", domain.ErrInvalid)
				}
				cur.TeamID = in.GetTeamId()
			case "employment_specialist_id":
				cur.SpecialistID = in.GetEmploymentSpecialistId()
			case "involved_organization_ids":
				ids := slices.Clone(in.GetInvolvedOrganizationIds())
				slices.Sort(ids)
				cur.InvolvedOrgIDs = ids
			}
		}
		return nil
	}, key)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &clientsv1.UpdateTrajectoryResponse{Trajectory: trajectoryToProto(t)}, nil
}

// TransitionPhase implements ClientsService.
func (s *Server) TransitionPhase(ctx context.Context, req *clientsv1.TransitionPhaseRequest) (*clientsv1.TransitionPhaseResponse, error) {
	key, err := rpc.Idempotency(ctx, req, false)
	if err != nil {
		return nil, err
	}
	t, err := s.app.TransitionPhase(ctx, req.GetClientId(), phaseFromProto(req.GetPhase()), strings.TrimSpace(req.GetReason()), req.GetVersion(), key)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &clientsv1.TransitionPhaseResponse{Trajectory: trajectoryToProto(t)}, nil
}

// GetWorkGoals implements ClientsService.
func (s *Server) GetWorkGoals(ctx context.Context, req *clientsv1.GetWorkGoalsRequest) (*clientsv1.GetWorkGoalsResponse, error) {
	w, err := s.app.GetWorkGoals(ctx, req.GetClientId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &clientsv1.GetWorkGoalsResponse{WorkGoals: workGoalsToProto(w)}, nil
}

// UpdateWorkGoals implements ClientsService.
func (s *Server) UpdateWorkGoals(ctx context.Context, req *clientsv1.UpdateWorkGoalsRequest) (*clientsv1.UpdateWorkGoalsResponse, error) {
	in := req.GetWorkGoals()
	if err := checkMask(req.GetUpdateMask(), "work_goals", "preferences", "goals", "strengths", "support_wishes", "preferred_occupations", "desired_hours_per_week"); err != nil {
		return nil, err
	}
	if err := requireVersion(in.GetVersion(), "work_goals"); err != nil {
		return nil, err
	}
	key, err := rpc.Idempotency(ctx, req, false)
	if err != nil {
		return nil, err
	}
	w, err := s.app.UpdateWorkGoals(ctx, req.GetClientId(), in.GetVersion(), func(cur *domain.WorkGoals) error {
		for _, p := range req.GetUpdateMask().GetPaths() {
			switch p {
			case "preferences":
				cur.Preferences = in.GetPreferences()
			case "goals":
				cur.Goals = in.GetGoals()
			case "strengths":
				cur.Strengths = in.GetStrengths()
			case "support_wishes":
				cur.SupportWishes = in.GetSupportWishes()
			case "preferred_occupations":
				cur.PreferredOccupations = in.GetPreferredOccupations()
			case "desired_hours_per_week":
				cur.DesiredHoursPerWeek = in.GetDesiredHoursPerWeek()
			}
		}
		return nil
	}, key)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &clientsv1.UpdateWorkGoalsResponse{WorkGoals: workGoalsToProto(w)}, nil
}

// GetClinicalInput implements ClientsService.
func (s *Server) GetClinicalInput(ctx context.Context, req *clientsv1.GetClinicalInputRequest) (*clientsv1.GetClinicalInputResponse, error) {
	c, err := s.app.GetClinicalInput(ctx, req.GetClientId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &clientsv1.GetClinicalInputResponse{ClinicalInput: clinicalToProto(c)}, nil
}

// UpdateClinicalInput implements ClientsService.
func (s *Server) UpdateClinicalInput(ctx context.Context, req *clientsv1.UpdateClinicalInputRequest) (*clientsv1.UpdateClinicalInputResponse, error) {
	in := req.GetClinicalInput()
	if err := checkMask(req.GetUpdateMask(), "clinical_input", "notes", "work_considerations"); err != nil {
		return nil, err
	}
	if err := requireVersion(in.GetVersion(), "clinical_input"); err != nil {
		return nil, err
	}
	key, err := rpc.Idempotency(ctx, req, false)
	if err != nil {
		return nil, err
	}
	c, err := s.app.UpdateClinicalInput(ctx, req.GetClientId(), in.GetVersion(), func(cur *domain.ClinicalInput) error {
		for _, p := range req.GetUpdateMask().GetPaths() {
			switch p {
			case "notes":
				cur.Notes = in.GetNotes()
			case "work_considerations":
				cur.WorkConsiderations = in.GetWorkConsiderations()
			}
		}
		return nil
	}, key)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &clientsv1.UpdateClinicalInputResponse{ClinicalInput: clinicalToProto(c)}, nil
}

// ListConsents implements ClientsService.
func (s *Server) ListConsents(ctx context.Context, req *clientsv1.ListConsentsRequest) (*clientsv1.ListConsentsResponse, error) {
	cs, err := s.app.ListConsents(ctx, req.GetClientId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &clientsv1.ListConsentsResponse{}
	for _, c := range cs {
		out.Consents = append(out.Consents, consentToProto(c))
	}
	return out, nil
}

// RecordConsent implements ClientsService.
func (s *Server) RecordConsent(ctx context.Context, req *clientsv1.RecordConsentRequest) (*clientsv1.RecordConsentResponse, error) {
	var secs []authz.Section
	for _, p := range req.GetSections() {
		sec, ok := sectionFromProto(p)
		if !ok {
			return nil, rpc.InvalidArgument("INVALID_ARGUMENT", rpc.FieldViolation{Field: "sections", Description: "unknown section " + p.String()})
		}
		secs = append(secs, sec)
	}
	key, err := rpc.Idempotency(ctx, req, false)
	if err != nil {
		return nil, err
	}
	cs, err := s.app.RecordConsent(ctx, req.GetClientId(), req.GetOrganizationId(), secs, key)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &clientsv1.RecordConsentResponse{}
	for _, c := range cs {
		out.Consents = append(out.Consents, consentToProto(c))
	}
	return out, nil
}

// RevokeConsent implements ClientsService.
func (s *Server) RevokeConsent(ctx context.Context, req *clientsv1.RevokeConsentRequest) (*clientsv1.RevokeConsentResponse, error) {
	key, err := rpc.Idempotency(ctx, req, false)
	if err != nil {
		return nil, err
	}
	c, err := s.app.RevokeConsent(ctx, req.GetClientId(), req.GetConsentId(), key)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &clientsv1.RevokeConsentResponse{Consent: consentToProto(c)}, nil
}

// ListAccessEvents implements ClientsService.
func (s *Server) ListAccessEvents(ctx context.Context, req *clientsv1.ListAccessEventsRequest) (*clientsv1.ListAccessEventsResponse, error) {
	f := app.AccessFilter{RefusalsOnly: req.GetRefusalsOnly(), OtherOrganizations: req.GetOtherOrganizationsOnly()}
	evs, next, err := s.app.ListAccessEvents(ctx, req.GetClientId(), f, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &clientsv1.ListAccessEventsResponse{NextPageToken: next}
	for _, e := range evs {
		out.AccessEvents = append(out.AccessEvents, accessEventToProto(e))
	}
	return out, nil
}

func accessEventToProto(e audit.Event) *clientsv1.AccessEvent {
	return &clientsv1.AccessEvent{
		Sequence: e.Seq, EventTime: timestamppb.New(e.Time), ActorId: e.ActorID, OnBehalfOf: e.OnBehalfOf,
		OrganizationId: e.OrgID, Role: e.Role, ClientId: e.ClientID, Sections: e.Sections, Action: e.Action,
		Outcome: string(e.Outcome), Reason: e.Reason, RequestId: e.RequestID, Purpose: e.Purpose,
		RemoteAddress: e.RemoteAddr, Service: e.Service,
	}
}

// CheckAccess implements ClientsService.
func (s *Server) CheckAccess(ctx context.Context, req *clientsv1.CheckAccessRequest) (*clientsv1.CheckAccessResponse, error) {
	d, facts, err := s.app.CheckAccess(ctx, req.GetClientId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	readable := d.Readable()
	if d.Summary && !d.Read[authz.Benefits] {
		// A benefits summary is reported as readable benefits; the benefits
		// service narrows it to the summary for this role.
		readable = append(readable, authz.Benefits)
	}
	return &clientsv1.CheckAccessResponse{
		MhaOrganizationId: facts.MHAOrgID, TeamId: facts.TeamID, EmploymentSpecialistId: facts.SpecialistID,
		RegionId: facts.RegionID, ReadableSections: sectionsToProto(readable), WritableSections: sectionsToProto(d.Writable()),
		InvolvedOrganizationIds: facts.InvolvedOrgIDs, ConsentedSections: sectionsToProto(facts.ConsentedSections),
	}, nil
}

// GetCaller implements ClientsService.
func (s *Server) GetCaller(ctx context.Context, _ *clientsv1.GetCallerRequest) (*clientsv1.GetCallerResponse, error) {
	sub, ok := authz.SubjectFromContext(ctx)
	if !ok {
		return nil, rpc.Error(codes.Unauthenticated, "UNAUTHENTICATED", "no verified caller", nil)
	}
	return &clientsv1.GetCallerResponse{
		UserId: sub.UserID, OrganizationId: sub.OrgID, OrganizationKind: sub.OrgKind, RegionId: sub.RegionID,
		Role: sub.Role, TeamIds: sub.Teams,
	}, nil
}
