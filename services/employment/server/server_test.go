package server_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
	"github.com/ipsbridge/ipsbridge/services/employment/server"
)

type fixture struct {
	p   *testplatform.Platform
	cli clientsv1.ClientsServiceClient
	emp employmentv1.EmploymentServiceClient
	now atomic.Pointer[time.Time]
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, "", false)
}

// newFollowingFixture is newFixture with the events carried between the
// services (testplatform.FollowEvents): the trajectory phase follows the
// jobs.
func newFollowingFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWith(t, "", true)
}

// newFixtureWith starts the platform and the employment service; a
// non-empty clientsAddr is where the employment service finds the clients
// service (the fixture's own client still reaches the real one), follow
// runs the relay and the consumers.
func newFixtureWith(t *testing.T, clientsAddr string, follow bool) *fixture {
	t.Helper()
	p := testplatform.Start(t)
	if err := database.Migrate(context.Background(), p.Pool, server.Migrations...); err != nil {
		t.Fatal(err)
	}
	az, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	if follow {
		p.FollowEvents(t)
	}
	f := &fixture{p: p, cli: clientsv1.NewClientsServiceClient(testplatform.Dial(t, p.ClientsAddr))}
	now := time.Now()
	f.now.Store(&now)
	if clientsAddr == "" {
		clientsAddr = p.ClientsAddr
	}
	srv, _, err := server.Build(server.Deps{Pool: p.Pool, Verifier: p.Verifier, Authz: az,
		Clients: testplatform.Dial(t, clientsAddr), Logger: testplatform.Logger(), Now: func() time.Time { return *f.now.Load() }})
	if err != nil {
		t.Fatal(err)
	}
	f.emp = employmentv1.NewEmploymentServiceClient(testplatform.Dial(t, testplatform.Serve(t, srv)))
	return f
}

func (f *fixture) setNow(t time.Time) { f.now.Store(&t) }

func (f *fixture) as(t *testing.T, user string) context.Context { return f.p.As(t, user) }

// enrol creates a client as es-anna in noord-team-a, involving UWV and the
// municipality, and moves it through intake to job_search. It returns the
// client id and the intake date.
func (f *fixture) enrol(t *testing.T, rid string) (string, time.Time) {
	t.Helper()
	anna := f.as(t, "es-anna")
	resp, err := f.cli.CreateClient(anna, &clientsv1.CreateClientRequest{RequestId: rid, Client: &clientsv1.Client{
		Identity:   &clientsv1.Identity{GivenName: "Sanne", FamilyName: "Kuipers"},
		Trajectory: &clientsv1.Trajectory{TeamId: "noord-team-a", InvolvedOrganizationIds: []string{"gem-groningen", "uwv-noord"}},
	}})
	if err != nil {
		t.Fatalf("enrol: %v", err)
	}
	id := resp.GetClient().GetClientId()
	for _, ph := range []clientsv1.Phase{clientsv1.Phase_PHASE_INTAKE, clientsv1.Phase_PHASE_JOB_SEARCH} {
		f.transition(t, id, ph)
	}
	tr := f.trajectory(t, id)
	var intake time.Time
	for _, h := range tr.GetHistory() {
		if h.GetToPhase() == clientsv1.Phase_PHASE_INTAKE {
			intake = h.GetChangeTime().AsTime().UTC().Truncate(24 * time.Hour)
		}
	}
	return id, intake
}

func (f *fixture) trajectory(t *testing.T, id string) *clientsv1.Trajectory {
	t.Helper()
	tr, err := f.cli.GetTrajectory(f.as(t, "es-anna"), &clientsv1.GetTrajectoryRequest{ClientId: id})
	if err != nil {
		t.Fatal(err)
	}
	return tr.GetTrajectory()
}

// waitPhase waits until the client's trajectory is in phase: the clients
// service follows job events within seconds.
func (f *fixture) waitPhase(t *testing.T, id string, phase clientsv1.Phase) {
	t.Helper()
	testplatform.Eventually(t, 10*time.Second, "trajectory in "+phase.String(), func() bool {
		return f.trajectory(t, id).GetPhase() == phase
	})
}

func (f *fixture) transition(t *testing.T, id string, ph clientsv1.Phase) {
	t.Helper()
	tr := f.trajectory(t, id)
	if _, err := f.cli.TransitionPhase(f.as(t, "es-anna"), &clientsv1.TransitionPhaseRequest{ClientId: id, Phase: ph, Version: tr.GetVersion()}); err != nil {
		t.Fatalf("transition to %s: %v", ph, err)
	}
}

func (f *fixture) consent(t *testing.T, id, org string, secs ...clientsv1.Section) {
	t.Helper()
	if _, err := f.cli.RecordConsent(f.as(t, "es-anna"), &clientsv1.RecordConsentRequest{
		ClientId: id, OrganizationId: org, Sections: secs, RequestId: "consent-" + org + "-" + id[:8],
	}); err != nil {
		t.Fatal(err)
	}
}

func d(t time.Time, days int) string { return t.AddDate(0, 0, days).Format(time.DateOnly) }

func code(err error) codes.Code { return status.Code(err) }

func (f *fixture) startJob(t *testing.T, ctx context.Context, id, start string, hours float64, wage int64, rid string) (*employmentv1.Placement, error) {
	t.Helper()
	r, err := f.emp.StartPlacement(ctx, &employmentv1.StartPlacementRequest{ClientId: id, RequestId: rid, Placement: &employmentv1.Placement{
		EmployerName: "Bakkerij Bolletje", JobTitle: "Baker's assistant", StartDate: start,
		ContractKind: employmentv1.ContractKind_CONTRACT_KIND_TEMPORARY, HoursPerWeek: hours, HourlyWageCents: wage,
	}})
	return r.GetPlacement(), err
}

func milestones(t *testing.T, f *fixture, ctx context.Context, id string) map[employmentv1.MilestoneKind]*employmentv1.Milestone {
	t.Helper()
	r, err := f.emp.ListMilestones(ctx, &employmentv1.ListMilestonesRequest{ClientId: id})
	if err != nil {
		t.Fatalf("milestones: %v", err)
	}
	out := map[employmentv1.MilestoneKind]*employmentv1.Milestone{}
	for _, m := range r.GetMilestones() {
		out[m.GetKind()] = m
	}
	return out
}

func wantMilestone(t *testing.T, ms map[employmentv1.MilestoneKind]*employmentv1.Milestone, k employmentv1.MilestoneKind, state employmentv1.MilestoneState, reached, expected string) {
	t.Helper()
	m := ms[k]
	if m.GetState() != state || m.GetReachedDate() != reached || m.GetExpectedDate() != expected {
		t.Errorf("%s: got %s reached %q expected %q, want %s reached %q expected %q", k, m.GetState(), m.GetReachedDate(), m.GetExpectedDate(), state, reached, expected)
	}
}

// TestSpecialistJourney: two employer contacts, an application, a job start
// (trajectory employed), an hours change and a job end (back to job
// search), with the milestones derived at the right dates over seven months.
func TestSpecialistJourney(t *testing.T) {
	f := newFollowingFixture(t)
	id, intake := f.enrol(t, "journey-client-1")
	anna := f.as(t, "es-anna")
	f.setNow(intake.AddDate(0, 7, 0))

	for i, day := range []int{12, 20} {
		if _, err := f.emp.CreateEmployerContact(anna, &employmentv1.CreateEmployerContactRequest{ClientId: id, RequestId: "contact-" + string(rune('a'+i)) + "-12345",
			EmployerContact: &employmentv1.EmployerContact{EmployerName: "Bakkerij Bolletje", ContactDate: d(intake, day), FaceToFace: i == 0}}); err != nil {
			t.Fatalf("contact: %v", err)
		}
	}
	// General job development: no client.
	gen, err := f.emp.CreateEmployerContact(anna, &employmentv1.CreateEmployerContactRequest{RequestId: "general-contact-1",
		EmployerContact: &employmentv1.EmployerContact{EmployerName: "Gemeente Groningen Groen", ContactDate: d(intake, 3)}})
	if err != nil || gen.GetEmployerContact().GetClientId() != "" {
		t.Fatalf("general contact: %v %v", gen, err)
	}
	app, err := f.emp.CreateApplication(anna, &employmentv1.CreateApplicationRequest{ClientId: id, RequestId: "application-1",
		Application: &employmentv1.Application{EmployerName: "Bakkerij Bolletje", JobTitle: "Baker's assistant", ApplicationDate: d(intake, 25)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.emp.UpdateApplicationStatus(anna, &employmentv1.UpdateApplicationStatusRequest{ClientId: id, ApplicationId: app.GetApplication().GetApplicationId(),
		Status: employmentv1.ApplicationStatus_APPLICATION_STATUS_HIRED, Version: 1}); err != nil {
		t.Fatal(err)
	}

	job, err := f.startJob(t, anna, id, d(intake, 40), 16, 1450, "start-job-1")
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	f.waitPhase(t, id, clientsv1.Phase_PHASE_EMPLOYED)
	// A retry returns the same placement and changes nothing.
	again, err := f.startJob(t, anna, id, d(intake, 40), 16, 1450, "start-job-1")
	if err != nil || again.GetPlacementId() != job.GetPlacementId() {
		t.Fatalf("retry: %v %v", again.GetPlacementId(), err)
	}
	changedResp, err := f.emp.ChangePlacementTerms(anna, &employmentv1.ChangePlacementTermsRequest{ClientId: id, PlacementId: job.GetPlacementId(), Version: job.GetVersion(),
		Terms: &employmentv1.Terms{EffectiveDate: d(intake, 100), HoursPerWeek: 24, HourlyWageCents: 1500}})
	if err != nil {
		t.Fatal(err)
	}
	changed := changedResp.GetPlacement()
	if changed.GetHoursPerWeek() != 24 || len(changed.GetTermsHistory()) != 2 || changed.GetTermsHistory()[0].GetHoursPerWeek() != 16 {
		t.Fatalf("terms: %v", changed)
	}

	start := intake.AddDate(0, 0, 40)
	ms := milestones(t, f, anna, id)
	wantMilestone(t, ms, employmentv1.MilestoneKind_MILESTONE_KIND_FIRST_EMPLOYER_CONTACT, employmentv1.MilestoneState_MILESTONE_STATE_REACHED, d(intake, 12), "")
	wantMilestone(t, ms, employmentv1.MilestoneKind_MILESTONE_KIND_JOB_START, employmentv1.MilestoneState_MILESTONE_STATE_REACHED, d(intake, 40), "")
	wantMilestone(t, ms, employmentv1.MilestoneKind_MILESTONE_KIND_EMPLOYED_3_MONTHS, employmentv1.MilestoneState_MILESTONE_STATE_REACHED, start.AddDate(0, 3, 0).Format(time.DateOnly), "")
	wantMilestone(t, ms, employmentv1.MilestoneKind_MILESTONE_KIND_EMPLOYED_6_MONTHS, employmentv1.MilestoneState_MILESTONE_STATE_PENDING, "", start.AddDate(0, 6, 0).Format(time.DateOnly))

	// Earlier on the same history, three months were still ahead.
	f.setNow(intake.AddDate(0, 0, 60))
	ms = milestones(t, f, anna, id)
	wantMilestone(t, ms, employmentv1.MilestoneKind_MILESTONE_KIND_EMPLOYED_3_MONTHS, employmentv1.MilestoneState_MILESTONE_STATE_PENDING, "", start.AddDate(0, 3, 0).Format(time.DateOnly))
	f.setNow(intake.AddDate(0, 7, 0))

	endedResp, err := f.emp.EndPlacement(anna, &employmentv1.EndPlacementRequest{ClientId: id, PlacementId: job.GetPlacementId(),
		EndDate: d(intake, 200), EndReason: "temporary contract not renewed", Version: changed.GetVersion()})
	if err != nil {
		t.Fatal(err)
	}
	ended := endedResp.GetPlacement()
	if ended.GetActive() || ended.GetEndDate() != d(intake, 200) {
		t.Fatalf("ended: %v", ended)
	}
	f.waitPhase(t, id, clientsv1.Phase_PHASE_JOB_SEARCH)
	ms = milestones(t, f, anna, id)
	wantMilestone(t, ms, employmentv1.MilestoneKind_MILESTONE_KIND_EMPLOYED_3_MONTHS, employmentv1.MilestoneState_MILESTONE_STATE_REACHED, start.AddDate(0, 3, 0).Format(time.DateOnly), "")
	wantMilestone(t, ms, employmentv1.MilestoneKind_MILESTONE_KIND_EMPLOYED_6_MONTHS, employmentv1.MilestoneState_MILESTONE_STATE_PENDING, "", "")

	// Follow-along support, and the reads.
	if _, err := f.emp.CreateFollowAlongContact(anna, &employmentv1.CreateFollowAlongContactRequest{ClientId: id, RequestId: "follow-along-1",
		FollowAlongContact: &employmentv1.FollowAlongContact{PlacementId: job.GetPlacementId(), ContactDate: d(intake, 150), With: employmentv1.FollowAlongContact_WITH_EMPLOYER, Notes: "going well"}}); err != nil {
		t.Fatal(err)
	}
	cs, err := f.emp.ListEmployerContacts(anna, &employmentv1.ListEmployerContactsRequest{ClientId: id})
	if err != nil || len(cs.GetEmployerContacts()) != 2 {
		t.Fatalf("contacts: %v %v", cs, err)
	}
	gs, err := f.emp.ListEmployerContacts(anna, &employmentv1.ListEmployerContactsRequest{})
	if err != nil || len(gs.GetEmployerContacts()) != 1 {
		t.Fatalf("general contacts: %v %v", gs, err)
	}
	var generalAudit int
	if err := f.p.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit.events WHERE service = 'employment' AND client_id = '' AND actor_id = 'es-anna' AND outcome = 'allowed'`).Scan(&generalAudit); err != nil || generalAudit != 2 {
		t.Errorf("general contact audit records without client = %d (%v), want 2", generalAudit, err)
	}
}

// TestWhoSeesPlacements: a UWV officer with placements consent sees hours
// and wage but no job search; without consent nothing; the team's
// clinician reads placements.
func TestWhoSeesPlacements(t *testing.T) {
	f := newFixture(t)
	id, intake := f.enrol(t, "sees-client-1")
	anna := f.as(t, "es-anna")
	f.setNow(intake.AddDate(0, 2, 0))
	if _, err := f.emp.CreateEmployerContact(anna, &employmentv1.CreateEmployerContactRequest{ClientId: id, RequestId: "contact-sees-1",
		EmployerContact: &employmentv1.EmployerContact{EmployerName: "Albert Heijn", ContactDate: d(intake, 5)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.startJob(t, anna, id, d(intake, 30), 20, 1600, "start-sees-1"); err != nil {
		t.Fatal(err)
	}
	gijs := f.as(t, "uwv-gijs")
	if _, err := f.emp.ListPlacements(gijs, &employmentv1.ListPlacementsRequest{ClientId: id}); code(err) != codes.NotFound {
		t.Fatalf("uwv without consent: got %v, want NotFound", err)
	}
	f.consent(t, id, "uwv-noord", clientsv1.Section_SECTION_PLACEMENTS)
	ps, err := f.emp.ListPlacements(gijs, &employmentv1.ListPlacementsRequest{ClientId: id})
	if err != nil || len(ps.GetPlacements()) != 1 || ps.GetPlacements()[0].GetHoursPerWeek() != 20 || ps.GetPlacements()[0].GetHourlyWageCents() != 1600 {
		t.Fatalf("uwv with consent: %v %v", ps, err)
	}
	if _, err := f.emp.ListEmployerContacts(gijs, &employmentv1.ListEmployerContactsRequest{ClientId: id}); code(err) != codes.PermissionDenied {
		t.Fatalf("uwv job search: got %v, want PermissionDenied", err)
	}
	if _, err := f.emp.CreateFollowAlongContact(gijs, &employmentv1.CreateFollowAlongContactRequest{ClientId: id, RequestId: "uwv-write-1",
		FollowAlongContact: &employmentv1.FollowAlongContact{ContactDate: d(intake, 40), With: employmentv1.FollowAlongContact_WITH_CLIENT}}); code(err) != codes.PermissionDenied {
		t.Fatalf("uwv write: got %v, want PermissionDenied", err)
	}
	carla := f.as(t, "cl-carla")
	if ps, err := f.emp.ListPlacements(carla, &employmentv1.ListPlacementsRequest{ClientId: id}); err != nil || len(ps.GetPlacements()) != 1 {
		t.Fatalf("clinician: %v %v", ps, err)
	}
	if _, err := f.emp.ListPlacements(f.as(t, "es-olaf"), &employmentv1.ListPlacementsRequest{ClientId: id}); code(err) != codes.NotFound {
		t.Fatalf("other region: got %v, want NotFound", err)
	}
	var denied int
	if err := f.p.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit.events WHERE service = 'employment' AND client_id = $1 AND outcome = 'denied'`, id).Scan(&denied); err != nil || denied != 4 {
		t.Errorf("denied audit records = %d (%v), want 4", denied, err)
	}
}

// TestBadInputAndConcurrency: invalid input names the field and writes
// nothing; a stale version is Aborted; two specialists changing the same
// placement at once: one wins, the other is Aborted.
func TestBadInputAndConcurrency(t *testing.T) {
	f := newFixture(t)
	id, intake := f.enrol(t, "bad-client-1")
	anna := f.as(t, "es-anna")
	f.setNow(intake.AddDate(0, 3, 0))
	// es-bram (team b) becomes the assigned specialist; es-anna stays in the team.
	tr := f.trajectory(t, id)
	if _, err := f.cli.UpdateTrajectory(anna, &clientsv1.UpdateTrajectoryRequest{ClientId: id, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"employment_specialist_id"}},
		Trajectory: &clientsv1.Trajectory{EmploymentSpecialistId: "es-bram", Version: tr.GetVersion()}}); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		hours float64
		wage  int64
		field string
	}{
		"negative hours": {-4, 1500, "placement.hours_per_week"},
		"zero hours":     {0, 1500, "placement.hours_per_week"},
		"absurd hours":   {80, 1500, "placement.hours_per_week"},
		"negative wage":  {20, -100, "placement.hourly_wage_cents"},
		"zero wage":      {20, 0, "placement.hourly_wage_cents"},
	} {
		_, err := f.startJob(t, anna, id, d(intake, 10), tc.hours, tc.wage, "bad-"+strings.ReplaceAll(name, " ", "-"))
		if code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), tc.field) {
			t.Errorf("%s: got %v, want InvalidArgument naming %s", name, err, tc.field)
		}
	}
	job, err := f.startJob(t, anna, id, d(intake, 10), 20, 1500, "good-start-1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.emp.EndPlacement(anna, &employmentv1.EndPlacementRequest{ClientId: id, PlacementId: job.GetPlacementId(), EndDate: d(intake, 5), EndReason: "x", Version: job.GetVersion()})
	if code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "end_date") {
		t.Errorf("end before start: got %v", err)
	}
	_, err = f.emp.ChangePlacementTerms(anna, &employmentv1.ChangePlacementTermsRequest{ClientId: id, PlacementId: job.GetPlacementId(), Version: job.GetVersion(),
		Terms: &employmentv1.Terms{EffectiveDate: d(intake, 2), HoursPerWeek: 20, HourlyWageCents: 1500}})
	if code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "terms.effective_date") {
		t.Errorf("terms before start: got %v", err)
	}
	var placements, terms int
	count := func() {
		if err := f.p.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM employment.placements WHERE client_id = $1),
			(SELECT count(*) FROM employment.placement_terms)`, id).Scan(&placements, &terms); err != nil {
			t.Fatal(err)
		}
	}
	count()
	if placements != 1 || terms != 1 {
		t.Fatalf("after bad input: %d placements, %d terms rows, want 1 and 1", placements, terms)
	}
	cur, _ := f.emp.GetPlacement(anna, &employmentv1.GetPlacementRequest{ClientId: id, PlacementId: job.GetPlacementId()})
	if cur.GetPlacement().GetVersion() != job.GetVersion() || !cur.GetPlacement().GetActive() {
		t.Fatalf("placement changed by refused writes: %v", cur)
	}

	// Two specialists, same version, at once.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, user := range []string{"es-anna", "es-bram"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.emp.ChangePlacementTerms(f.as(t, user), &employmentv1.ChangePlacementTermsRequest{ClientId: id, PlacementId: job.GetPlacementId(),
				Version: job.GetVersion(), Terms: &employmentv1.Terms{EffectiveDate: d(intake, 30), HoursPerWeek: float64(24 + i), HourlyWageCents: 1500}})
		}()
	}
	wg.Wait()
	ok, aborted := 0, 0
	for _, err := range errs {
		switch code(err) {
		case codes.OK:
			ok++
		case codes.Aborted:
			aborted++
		default:
			t.Errorf("concurrent change: %v", err)
		}
	}
	if ok != 1 || aborted != 1 {
		t.Fatalf("concurrent changes: %d won, %d aborted, want 1 and 1", ok, aborted)
	}
	count()
	if terms != 2 {
		t.Fatalf("terms rows = %d, want 2", terms)
	}
	// A stale version is refused.
	_, err = f.emp.EndPlacement(anna, &employmentv1.EndPlacementRequest{ClientId: id, PlacementId: job.GetPlacementId(), EndDate: d(intake, 60), EndReason: "x", Version: job.GetVersion()})
	if code(err) != codes.Aborted {
		t.Fatalf("stale version: got %v, want Aborted", err)
	}
	// Idempotency key reused for a different request.
	if _, err := f.startJob(t, anna, id, d(intake, 11), 20, 1500, "good-start-1"); code(err) != codes.FailedPrecondition {
		t.Fatalf("reused request_id: got %v, want FailedPrecondition", err)
	}
}
