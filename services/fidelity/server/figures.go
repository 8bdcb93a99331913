package server

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
	"github.com/ipsbridge/ipsbridge/internal/authn"
	benefitsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/benefits/v1"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
	"github.com/ipsbridge/ipsbridge/services/fidelity/app"
)

// figures asks the employment, clients and benefits services for a team's
// figures over gRPC, as the caller: each decides on its own shared request
// path and audits the access.
type figures struct {
	employment employmentv1.EmploymentServiceClient
	clients    clientsv1.ClientsServiceClient
	benefits   benefitsv1.BenefitsServiceClient
}

// NewFigures returns the app.Figures over connections to the three
// services.
func NewFigures(employment, clients, benefits grpc.ClientConnInterface) app.Figures {
	return figures{employmentv1.NewEmploymentServiceClient(employment), clientsv1.NewClientsServiceClient(clients),
		benefitsv1.NewBenefitsServiceClient(benefits)}
}

// upstream keeps a refusal a refusal and anything else an outage.
func upstream(service string, err error) error {
	switch status.Code(err) {
	case codes.PermissionDenied:
		return fmt.Errorf("%w: %s service: %s", apperr.ErrPermissionDenied, service, status.Convert(err).Message())
	case codes.InvalidArgument:
		return fmt.Errorf("%w: %s service: %s", apperr.ErrInvalid, service, status.Convert(err).Message())
	}
	return fmt.Errorf("%w: %s service: %w", apperr.ErrUnavailable, service, err)
}

func day(d interface{ Format(string) string }) string { return d.Format("2006-01-02") }

func (f figures) Employment(ctx context.Context, p app.Period, minWage int64) (app.EmploymentFigures, error) {
	r, err := f.employment.GetTeamFigures(authn.OutgoingContext(ctx), &employmentv1.GetTeamFiguresRequest{
		TeamId: p.TeamID, PeriodFrom: day(p.From), PeriodTo: day(p.To), MinimumHourlyWageCents: minWage})
	if err != nil {
		return app.EmploymentFigures{}, upstream("employment", err)
	}
	return app.EmploymentFigures{
		FaceToFaceContacts: int(r.GetFaceToFaceEmployerContacts()), Weeks: r.GetWeeks(),
		Intakes: int(r.GetIntakes()), IntakesContacted: int(r.GetIntakesWithContact()), MeanDaysToContact: r.GetMeanDaysToFirstContact(),
		JobStarts: int(r.GetJobStarts()), DistinctTitles: int(r.GetDistinctJobTitles()), DistinctEmployers: int(r.GetDistinctEmployers()),
		CompetitiveStarts: int(r.GetCompetitiveJobStarts()), EmployedMonths: int(r.GetEmployedMonths()),
		EmployedMonthsWithContact: int(r.GetEmployedMonthsWithContact()),
	}, nil
}

func (f figures) Caseload(ctx context.Context, p app.Period) (app.CaseloadFigures, error) {
	r, err := f.clients.GetTeamFigures(authn.OutgoingContext(ctx), &clientsv1.GetTeamFiguresRequest{
		TeamId: p.TeamID, PeriodFrom: day(p.From), PeriodTo: day(p.To)})
	if err != nil {
		return app.CaseloadFigures{}, upstream("clients", err)
	}
	out := app.CaseloadFigures{ActiveClients: int(r.GetActiveClients()), Specialists: int(r.GetSpecialists()),
		WithClinicalInput: int(r.GetActiveWithClinicalInput()), Referrals: int(r.GetReferrals()),
		NotTakenOn: int(r.GetReferralsNotTakenOn()), NotTakenOnReasons: map[string]int{}}
	for _, rc := range r.GetNotTakenOnReasons() {
		out.NotTakenOnReasons[rc.GetReason()] = int(rc.GetCount())
	}
	return out, nil
}

func (f figures) Benefits(ctx context.Context, p app.Period) (app.BenefitsFigures, error) {
	r, err := f.benefits.GetTeamFigures(authn.OutgoingContext(ctx), &benefitsv1.GetTeamFiguresRequest{
		TeamId: p.TeamID, PeriodFrom: day(p.From), PeriodTo: day(p.To)})
	if err != nil {
		return app.BenefitsFigures{}, upstream("benefits", err)
	}
	return app.BenefitsFigures{OnBenefits: int(r.GetClientsOnBenefits()), OfferedCounselling: int(r.GetOfferedCounselling())}, nil
}

// Sample draws a team's chart-review sample: the trajectories from the
// clients service, their activity from the employment service; each
// decides and audits every client itself.
func (f figures) Sample(ctx context.Context, p app.Period, key string, size int) ([]app.RawSample, error) {
	out := authn.OutgoingContext(ctx)
	tr, err := f.clients.ListTeamSample(out, &clientsv1.ListTeamSampleRequest{
		TeamId: p.TeamID, PeriodFrom: day(p.From), PeriodTo: day(p.To), SampleKey: key, Size: int32(size)})
	if err != nil {
		return nil, upstream("clients", err)
	}
	var ids []string
	for _, t := range tr.GetTrajectories() {
		ids = append(ids, t.GetClientId())
	}
	acts := map[string]*employmentv1.SampleActivity{}
	if len(ids) > 0 {
		ar, err := f.employment.ListSampleActivity(out, &employmentv1.ListSampleActivityRequest{
			ClientIds: ids, PeriodFrom: day(p.From), PeriodTo: day(p.To)})
		if err != nil {
			return nil, upstream("employment", err)
		}
		for _, a := range ar.GetActivities() {
			acts[a.GetClientId()] = a
		}
	}
	var samples []app.RawSample
	for _, t := range tr.GetTrajectories() {
		s := app.RawSample{ClientID: t.GetClientId(), SampleRecord: app.SampleRecord{
			Phase: strings.ToLower(strings.TrimPrefix(t.GetPhase().String(), "PHASE_")), ClinicalInput: t.GetClinicalInputRecorded()}}
		s.Intake, _ = time.Parse(time.DateOnly, t.GetIntakeDate())
		if a := acts[t.GetClientId()]; a != nil {
			s.FirstContact, _ = time.Parse(time.DateOnly, a.GetFirstFaceToFaceContactDate())
			s.EmployerContacts, s.JobStarts, s.FollowAlongContacts = int(a.GetEmployerContacts()), int(a.GetJobStarts()), int(a.GetFollowAlongContacts())
		}
		samples = append(samples, s)
	}
	return samples, nil
}
