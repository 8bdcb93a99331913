package server_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authn/devkeys"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/authz/authztest"
	"github.com/ipsbridge/ipsbridge/internal/seed"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
)

type fixture struct {
	p   *testplatform.Platform
	cli clientsv1.ClientsServiceClient
}

func newFixture(t *testing.T) *fixture {
	p := testplatform.Start(t)
	return &fixture{p: p, cli: clientsv1.NewClientsServiceClient(testplatform.Dial(t, p.ClientsAddr))}
}

func (f *fixture) enrol(t *testing.T, as, bsn, requestID string) *clientsv1.Client {
	t.Helper()
	resp, err := f.cli.CreateClient(f.p.As(t, as), &clientsv1.CreateClientRequest{
		RequestId: requestID,
		Client: &clientsv1.Client{
			Identity: &clientsv1.Identity{GivenName: "Sanne", FamilyName: "Kuipers", DateOfBirth: "1991-04-12", Bsn: bsn, Email: "sanne@example.nl"},
			Trajectory: &clientsv1.Trajectory{
				TeamId: "noord-team-a", InvolvedOrganizationIds: []string{"gem-groningen", "uwv-noord"},
			},
		},
	})
	if err != nil {
		t.Fatalf("enrol: %v", err)
	}
	return resp.GetClient()
}

func code(err error) codes.Code { return status.Code(err) }

func auditCount(t *testing.T, f *fixture, clientID string) int {
	t.Helper()
	var n int
	if err := f.p.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit.events WHERE client_id = $1`, clientID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestAuthorizationMatrix runs every seeded user (a user of every role, in
// every relation to the client) × section × action × consent state against
// the running service and compares each outcome with DESIGN.md's table.
func TestAuthorizationMatrix(t *testing.T) {
	f := newFixture(t)
	c := f.enrol(t, "es-anna", "111222333", "matrix-client-1")
	id := c.GetClientId()
	owner := f.p.As(t, "es-anna")
	facts := authz.ClientFacts{MHAOrgID: "mha-noord", RegionID: "region-noord", TeamID: "noord-team-a", SpecialistID: "es-anna",
		InvolvedOrgIDs: []string{"gem-groningen", "uwv-noord"}}
	consentable := []clientsv1.Section{
		clientsv1.Section_SECTION_IDENTITY, clientsv1.Section_SECTION_TRAJECTORY, clientsv1.Section_SECTION_WORK_GOALS,
		clientsv1.Section_SECTION_JOB_SEARCH, clientsv1.Section_SECTION_PLACEMENTS, clientsv1.Section_SECTION_BENEFITS,
		clientsv1.Section_SECTION_MILESTONES,
	}
	sections := []authz.Section{authz.Identity, authz.Trajectory, authz.WorkGoals, authz.ClinicalInput}

	for _, state := range []string{"no consent", "consented", "revoked"} {
		t.Run(state, func(t *testing.T) {
			consented := state == "consented"
			switch state {
			case "consented":
				for _, org := range []string{"uwv-noord", "gem-groningen"} {
					if _, err := f.cli.RecordConsent(owner, &clientsv1.RecordConsentRequest{
						ClientId: id, OrganizationId: org, Sections: consentable, RequestId: "consent-" + org,
					}); err != nil {
						t.Fatal(err)
					}
				}
			case "revoked":
				cs, err := f.cli.ListConsents(owner, &clientsv1.ListConsentsRequest{ClientId: id})
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range cs.GetConsents() {
					if k.GetActive() {
						if _, err := f.cli.RevokeConsent(owner, &clientsv1.RevokeConsentRequest{ClientId: id, ConsentId: k.GetConsentId()}); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			before := auditCount(t, f, id)
			calls, allowedWrites := 0, map[authz.Section]int{}
			startVersions := versions(t, f, id)
			for _, u := range seed.Demo.Users {
				org, _ := seed.FindOrganization(u.OrgID)
				sub := authz.Subject{UserID: u.ID, OrgID: u.OrgID, OrgKind: org.Kind, RegionID: org.RegionID, Role: u.Role, Teams: u.Teams}
				rels := authz.Relations(sub, facts)
				want := func(sec authz.Section, act authz.Action) bool {
					return authztest.Expected(org.Kind, u.Role, rels, consented && sec != authz.ClinicalInput, sec, act)
				}
				seesAny := false
				for _, sec := range authz.Sections {
					seesAny = seesAny || want(sec, authz.Read)
				}
				seesAny = seesAny || want(authz.Benefits, authz.ReadSummary)
				ctx := f.p.As(t, u.ID)
				for _, sec := range sections {
					for _, act := range []authz.Action{authz.Read, authz.Write} {
						calls++
						err := call(ctx, f.cli, id, sec, act, versions(t, f, id))
						w := want(sec, act)
						if w && err != nil {
							t.Errorf("%s (%s@%s) %s %s: refused with %v, DESIGN.md allows it", u.ID, u.Role, u.OrgID, act, sec, err)
							continue
						}
						if !w {
							if err == nil {
								t.Errorf("%s (%s@%s) %s %s: allowed, DESIGN.md refuses it", u.ID, u.Role, u.OrgID, act, sec)
								continue
							}
							// A client the caller may see nothing of does not exist
							// for them, unless the role can never do this at all.
							roleCould := roleEverMay(org.Kind, u.Role, sec, act)
							if sec == authz.Identity && act == authz.Read {
								// Read through GetClient, which any role that may read
								// some section of some client reaches (a funder's
								// funding officer: milestones, never the identity).
								for _, other := range authz.Sections {
									roleCould = roleCould || (other != authz.Funding && roleEverMay(org.Kind, u.Role, other, authz.Read))
								}
							}
							wantCode := codes.PermissionDenied
							if !seesAny && roleCould {
								wantCode = codes.NotFound
							}
							if code(err) != wantCode {
								t.Errorf("%s (%s@%s) %s %s: got %v, want %v", u.ID, u.Role, u.OrgID, act, sec, code(err), wantCode)
							}
						}
						if w && act == authz.Write {
							allowedWrites[sec]++
						}
					}
				}
				// GetClient carries exactly the readable sections.
				calls++
				resp, err := f.cli.GetClient(ctx, &clientsv1.GetClientRequest{ClientId: id})
				if !seesAny {
					if code(err) != codes.NotFound && code(err) != codes.PermissionDenied {
						t.Errorf("%s GetClient: got %v, want NotFound", u.ID, err)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s GetClient: %v", u.ID, err)
					continue
				}
				got := resp.GetClient()
				for sec, present := range map[authz.Section]bool{
					authz.Identity: got.GetIdentity() != nil, authz.Trajectory: got.GetTrajectory() != nil,
					authz.WorkGoals: got.GetWorkGoals() != nil, authz.ClinicalInput: got.GetClinicalInput() != nil,
				} {
					if present != want(sec, authz.Read) {
						t.Errorf("%s GetClient: section %s present=%v, want %v", u.ID, sec, present, want(sec, authz.Read))
					}
				}
				if got.GetIdentity() != nil {
					masked := got.GetIdentity().GetBsn() != "111222333"
					if masked == want(authz.Identity, authz.ReadBSN) {
						t.Errorf("%s GetClient: bsn %q, may see BSN = %v", u.ID, got.GetIdentity().GetBsn(), want(authz.Identity, authz.ReadBSN))
					}
				}
			}
			// Every call left exactly one audit record, denials included.
			if got := auditCount(t, f, id) - before; got != calls {
				t.Errorf("audit records = %d, calls = %d", got, calls)
			}
			// Refused writes wrote nothing: versions moved by the allowed writes only.
			end := versions(t, f, id)
			for _, sec := range sections {
				if end[sec]-startVersions[sec] != int64(allowedWrites[sec]) {
					t.Errorf("%s version moved %d, allowed writes %d", sec, end[sec]-startVersions[sec], allowedWrites[sec])
				}
			}
		})
	}
}

// roleEverMay: whether the table gives the role this action on the section
// for some client (then a refusal for a particular client must not reveal
// whether that client exists).
func roleEverMay(orgKind, role string, sec authz.Section, act authz.Action) bool {
	return authztest.Expected(orgKind, role, authz.AllRelations, true, sec, act)
}

func versions(t *testing.T, f *fixture, id string) map[authz.Section]int64 {
	t.Helper()
	v := map[authz.Section]int64{}
	row := f.p.Pool.QueryRow(context.Background(), `SELECT
		(SELECT version FROM clients.identities WHERE client_id = $1),
		(SELECT version FROM clients.trajectories WHERE client_id = $1),
		(SELECT version FROM clients.work_goals WHERE client_id = $1),
		(SELECT version FROM clients.clinical_inputs WHERE client_id = $1)`, id)
	var a, b, c, d int64
	if err := row.Scan(&a, &b, &c, &d); err != nil {
		t.Fatal(err)
	}
	v[authz.Identity], v[authz.Trajectory], v[authz.WorkGoals], v[authz.ClinicalInput] = a, b, c, d
	return v
}

func call(ctx context.Context, cli clientsv1.ClientsServiceClient, id string, sec authz.Section, act authz.Action, v map[authz.Section]int64) error {
	var err error
	switch {
	case sec == authz.Identity && act == authz.Read:
		// GetClient succeeds for anyone who sees some section; reading the
		// identity means it is present in the response.
		var r *clientsv1.GetClientResponse
		r, err = cli.GetClient(ctx, &clientsv1.GetClientRequest{ClientId: id})
		if err == nil && r.GetClient().GetIdentity() == nil {
			err = status.Error(codes.PermissionDenied, "identity absent")
		}
	case sec == authz.Identity:
		_, err = cli.UpdateIdentity(ctx, &clientsv1.UpdateIdentityRequest{ClientId: id,
			Identity: &clientsv1.Identity{Phone: "+31 50 123 4567", Version: v[sec]}, UpdateMask: mask("phone")})
	case sec == authz.Trajectory && act == authz.Read:
		_, err = cli.GetTrajectory(ctx, &clientsv1.GetTrajectoryRequest{ClientId: id})
	case sec == authz.Trajectory:
		_, err = cli.UpdateTrajectory(ctx, &clientsv1.UpdateTrajectoryRequest{ClientId: id,
			Trajectory: &clientsv1.Trajectory{EmploymentSpecialistId: "es-anna", Version: v[sec]}, UpdateMask: mask("employment_specialist_id")})
	case sec == authz.WorkGoals && act == authz.Read:
		_, err = cli.GetWorkGoals(ctx, &clientsv1.GetWorkGoalsRequest{ClientId: id})
	case sec == authz.WorkGoals:
		_, err = cli.UpdateWorkGoals(ctx, &clientsv1.UpdateWorkGoalsRequest{ClientId: id,
			WorkGoals: &clientsv1.WorkGoals{Goals: "werk in de zorg", Version: v[sec]}, UpdateMask: mask("goals")})
	case sec == authz.ClinicalInput && act == authz.Read:
		_, err = cli.GetClinicalInput(ctx, &clientsv1.GetClinicalInputRequest{ClientId: id})
	case sec == authz.ClinicalInput:
		_, err = cli.UpdateClinicalInput(ctx, &clientsv1.UpdateClinicalInputRequest{ClientId: id,
			ClinicalInput: &clientsv1.ClinicalInput{WorkConsiderations: "korte dagen", Version: v[sec]}, UpdateMask: mask("work_considerations")})
	default:
		return fmt.Errorf("no call for %s %s", act, sec)
	}
	return err
}

func mask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }

func TestBadInputWritesNothing(t *testing.T) {
	f := newFixture(t)
	c := f.enrol(t, "es-anna", "123456782", "bad-input-1")
	id := c.GetClientId()
	ctx := f.p.As(t, "es-anna")
	start := versions(t, f, id)
	var clientsBefore int
	_ = f.p.Pool.QueryRow(context.Background(), `SELECT count(*) FROM clients.clients`).Scan(&clientsBefore)

	cases := []struct {
		name string
		want codes.Code
		call func() error
	}{
		{"invalid BSN", codes.InvalidArgument, func() error {
			_, err := f.cli.CreateClient(ctx, &clientsv1.CreateClientRequest{RequestId: "bad-bsn-1", Client: &clientsv1.Client{
				Identity: &clientsv1.Identity{GivenName: "A", FamilyName: "B", Bsn: "123456789"}, Trajectory: &clientsv1.Trajectory{TeamId: "noord-team-a"}}})
			return err
		}},
		{"missing names", codes.InvalidArgument, func() error {
			_, err := f.cli.CreateClient(ctx, &clientsv1.CreateClientRequest{RequestId: "no-names-1", Client: &clientsv1.Client{
				Identity: &clientsv1.Identity{}, Trajectory: &clientsv1.Trajectory{TeamId: "noord-team-a"}}})
			return err
		}},
		{"oversized name", codes.InvalidArgument, func() error {
			long := string(make([]byte, 201))
			_, err := f.cli.CreateClient(ctx, &clientsv1.CreateClientRequest{RequestId: "long-name-1", Client: &clientsv1.Client{
				Identity: &clientsv1.Identity{GivenName: long, FamilyName: "B"}, Trajectory: &clientsv1.Trajectory{TeamId: "noord-team-a"}}})
			return err
		}},
		{"missing request id", codes.InvalidArgument, func() error {
			_, err := f.cli.CreateClient(ctx, &clientsv1.CreateClientRequest{Client: &clientsv1.Client{
				Identity: &clientsv1.Identity{GivenName: "A", FamilyName: "B"}, Trajectory: &clientsv1.Trajectory{TeamId: "noord-team-a"}}})
			return err
		}},
		{"team of another organisation", codes.InvalidArgument, func() error {
			_, err := f.cli.CreateClient(ctx, &clientsv1.CreateClientRequest{RequestId: "other-team-1", Client: &clientsv1.Client{
				Identity: &clientsv1.Identity{GivenName: "A", FamilyName: "B"}, Trajectory: &clientsv1.Trajectory{TeamId: "oost-team-a"}}})
			return err
		}},
		{"unknown enum value", codes.InvalidArgument, func() error {
			_, err := f.cli.TransitionPhase(ctx, &clientsv1.TransitionPhaseRequest{ClientId: id, Phase: clientsv1.Phase(42), Version: start[authz.Trajectory]})
			return err
		}},
		{"illegal phase transition", codes.FailedPrecondition, func() error {
			_, err := f.cli.TransitionPhase(ctx, &clientsv1.TransitionPhaseRequest{ClientId: id, Phase: clientsv1.Phase_PHASE_EMPLOYED, Version: start[authz.Trajectory]})
			return err
		}},
		{"closing without reason", codes.InvalidArgument, func() error {
			_, err := f.cli.TransitionPhase(ctx, &clientsv1.TransitionPhaseRequest{ClientId: id, Phase: clientsv1.Phase_PHASE_CLOSED, Version: start[authz.Trajectory]})
			return err
		}},
		{"stale version", codes.Aborted, func() error {
			_, err := f.cli.UpdateWorkGoals(ctx, &clientsv1.UpdateWorkGoalsRequest{ClientId: id,
				WorkGoals: &clientsv1.WorkGoals{Goals: "x", Version: start[authz.WorkGoals] + 5}, UpdateMask: mask("goals")})
			return err
		}},
		{"missing version", codes.InvalidArgument, func() error {
			_, err := f.cli.UpdateWorkGoals(ctx, &clientsv1.UpdateWorkGoalsRequest{ClientId: id,
				WorkGoals: &clientsv1.WorkGoals{Goals: "x"}, UpdateMask: mask("goals")})
			return err
		}},
		{"mask names an output-only field", codes.InvalidArgument, func() error {
			_, err := f.cli.UpdateWorkGoals(ctx, &clientsv1.UpdateWorkGoalsRequest{ClientId: id,
				WorkGoals: &clientsv1.WorkGoals{Version: start[authz.WorkGoals]}, UpdateMask: mask("updated_by")})
			return err
		}},
		{"absurd desired hours", codes.InvalidArgument, func() error {
			_, err := f.cli.UpdateWorkGoals(ctx, &clientsv1.UpdateWorkGoalsRequest{ClientId: id,
				WorkGoals: &clientsv1.WorkGoals{DesiredHoursPerWeek: 90, Version: start[authz.WorkGoals]}, UpdateMask: mask("desired_hours_per_week")})
			return err
		}},
		{"invalid BSN on update", codes.InvalidArgument, func() error {
			_, err := f.cli.UpdateIdentity(ctx, &clientsv1.UpdateIdentityRequest{ClientId: id,
				Identity: &clientsv1.Identity{Bsn: "111222334", Version: start[authz.Identity]}, UpdateMask: mask("bsn")})
			return err
		}},
		{"malformed client id", codes.InvalidArgument, func() error {
			_, err := f.cli.GetClient(ctx, &clientsv1.GetClientRequest{ClientId: "not-a-uuid"})
			return err
		}},
		{"consent for an organisation not involved", codes.InvalidArgument, func() error {
			_, err := f.cli.RecordConsent(ctx, &clientsv1.RecordConsentRequest{ClientId: id, OrganizationId: "mha-oost",
				Sections: []clientsv1.Section{clientsv1.Section_SECTION_IDENTITY}, RequestId: "consent-bad-1"})
			return err
		}},
		{"consent for clinical input", codes.InvalidArgument, func() error {
			_, err := f.cli.RecordConsent(ctx, &clientsv1.RecordConsentRequest{ClientId: id, OrganizationId: "uwv-noord",
				Sections: []clientsv1.Section{clientsv1.Section_SECTION_CLINICAL_INPUT}, RequestId: "consent-bad-2"})
			return err
		}},
		{"no token", codes.Unauthenticated, func() error {
			_, err := f.cli.GetClient(context.Background(), &clientsv1.GetClientRequest{ClientId: id})
			return err
		}},
		{"forged token", codes.Unauthenticated, func() error {
			ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
			_, err := f.cli.GetClient(ctx, &clientsv1.GetClientRequest{ClientId: id})
			return err
		}},
	}
	for _, tc := range cases {
		err := tc.call()
		if code(err) != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
			continue
		}
		if st := status.Convert(err); len(st.Message()) < 10 {
			t.Errorf("%s: message %q does not say what is wrong", tc.name, st.Message())
		}
	}
	if end := versions(t, f, id); !equalVersions(start, end) {
		t.Errorf("bad input changed data: versions %v → %v", start, end)
	}
	var clientsAfter int
	_ = f.p.Pool.QueryRow(context.Background(), `SELECT count(*) FROM clients.clients`).Scan(&clientsAfter)
	if clientsAfter != clientsBefore {
		t.Errorf("bad input created %d clients", clientsAfter-clientsBefore)
	}
}

func equalVersions(a, b map[authz.Section]int64) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return len(a) == len(b)
}

func TestPhaseTransitionsAndVersions(t *testing.T) {
	f := newFixture(t)
	c := f.enrol(t, "es-anna", "", "phases-1")
	ctx := f.p.As(t, "es-anna")
	v := c.GetTrajectory().GetVersion()
	for _, p := range []clientsv1.Phase{clientsv1.Phase_PHASE_INTAKE, clientsv1.Phase_PHASE_JOB_SEARCH, clientsv1.Phase_PHASE_EMPLOYED,
		clientsv1.Phase_PHASE_JOB_SEARCH, clientsv1.Phase_PHASE_CLOSED} {
		r, err := f.cli.TransitionPhase(ctx, &clientsv1.TransitionPhaseRequest{ClientId: c.GetClientId(), Phase: p, Version: v, Reason: "step"})
		if err != nil {
			t.Fatalf("to %v: %v", p, err)
		}
		if r.GetTrajectory().GetPhase() != p || r.GetTrajectory().GetVersion() != v+1 {
			t.Fatalf("to %v: got %v v%d", p, r.GetTrajectory().GetPhase(), r.GetTrajectory().GetVersion())
		}
		v++
	}
	tr, err := f.cli.GetTrajectory(ctx, &clientsv1.GetTrajectoryRequest{ClientId: c.GetClientId()})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tr.GetTrajectory().GetHistory()); n != 6 {
		t.Errorf("history has %d entries, want 6 (enrolment + 5 moves)", n)
	}
	if tr.GetTrajectory().GetClosingReason() != "step" {
		t.Errorf("closing reason %q", tr.GetTrajectory().GetClosingReason())
	}
}

func TestConcurrentEditsOneWins(t *testing.T) {
	f := newFixture(t)
	c := f.enrol(t, "es-anna", "", "concurrent-1")
	v := c.GetWorkGoals().GetVersion()
	if v == 0 {
		w, err := f.cli.GetWorkGoals(f.p.As(t, "es-anna"), &clientsv1.GetWorkGoalsRequest{ClientId: c.GetClientId()})
		if err != nil {
			t.Fatal(err)
		}
		v = w.GetWorkGoals().GetVersion()
	}
	var wg sync.WaitGroup
	results := make([]error, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, results[i] = f.cli.UpdateWorkGoals(f.p.As(t, "es-anna"), &clientsv1.UpdateWorkGoalsRequest{ClientId: c.GetClientId(),
				WorkGoals: &clientsv1.WorkGoals{Goals: fmt.Sprintf("edit %d", i), Version: v}, UpdateMask: mask("goals")})
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range results {
		switch code(err) {
		case codes.OK:
			ok++
		case codes.Aborted:
		default:
			t.Errorf("unexpected %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d concurrent edits of version %d succeeded, want exactly 1", ok, v)
	}
}

func TestIdempotentCreate(t *testing.T) {
	f := newFixture(t)
	first := f.enrol(t, "es-anna", "", "idem-key-1")
	again := f.enrol(t, "es-anna", "", "idem-key-1")
	if first.GetClientId() != again.GetClientId() {
		t.Fatalf("retry created a second client: %s, %s", first.GetClientId(), again.GetClientId())
	}
	_, err := f.cli.CreateClient(f.p.As(t, "es-anna"), &clientsv1.CreateClientRequest{RequestId: "idem-key-1", Client: &clientsv1.Client{
		Identity: &clientsv1.Identity{GivenName: "Other", FamilyName: "Person"}, Trajectory: &clientsv1.Trajectory{TeamId: "noord-team-a"}}})
	if code(err) != codes.FailedPrecondition {
		t.Errorf("same key, different body: %v, want FailedPrecondition", err)
	}
	// Concurrent retries of a new key create one client.
	var wg sync.WaitGroup
	ids := make([]string, 6)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i] = f.enrol(t, "es-anna", "", "idem-key-2").GetClientId()
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent retries created different clients: %v", ids)
		}
	}
}

func TestListClientsPages(t *testing.T) {
	f := newFixture(t)
	var want []string
	for i := range 23 {
		want = append(want, f.enrol(t, "es-anna", "", fmt.Sprintf("list-key-%02d", i)).GetClientId())
	}
	// A client of the other team is not listed for Anna's team clinician.
	ctx := f.p.As(t, "cl-carla")
	var got []string
	token := ""
	for pages := 0; ; pages++ {
		r, err := f.cli.ListClients(ctx, &clientsv1.ListClientsRequest{PageSize: 5, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.GetClients()) > 5 {
			t.Fatalf("page of %d", len(r.GetClients()))
		}
		for _, c := range r.GetClients() {
			got = append(got, c.GetClientId())
			if c.GetWorkGoals() != nil || c.GetIdentity() == nil {
				t.Errorf("list item carries work goals or lacks identity: %v", c)
			}
		}
		token = r.GetNextPageToken()
		if token == "" {
			break
		}
		if pages > 10 {
			t.Fatal("too many pages")
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("listed %d clients in order %v, want %v", len(got), got, want)
	}
	r, err := f.cli.ListClients(f.p.As(t, "cl-daan"), &clientsv1.ListClientsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.GetClients()) != 0 {
		t.Errorf("clinician of the other team lists %d clients", len(r.GetClients()))
	}
	if _, err := f.cli.ListClients(ctx, &clientsv1.ListClientsRequest{PageToken: "garbage"}); code(err) != codes.InvalidArgument {
		t.Errorf("bad page token: %v", err)
	}
}

// TestAuditFailsClosed: when the audit record cannot be written, reads
// return nothing and writes change nothing.
func TestAuditFailsClosed(t *testing.T) {
	f := newFixture(t)
	c := f.enrol(t, "es-anna", "", "audit-closed-1")
	ctx := f.p.As(t, "es-anna")
	start := versions(t, f, c.GetClientId())
	bg := context.Background()
	if _, err := f.p.Pool.Exec(bg, `ALTER TABLE audit.events RENAME TO events_away`); err != nil {
		t.Fatal(err)
	}
	_, err := f.cli.GetClient(ctx, &clientsv1.GetClientRequest{ClientId: c.GetClientId()})
	if code(err) != codes.Unavailable {
		t.Errorf("read without audit: %v, want Unavailable", err)
	}
	_, err = f.cli.UpdateWorkGoals(ctx, &clientsv1.UpdateWorkGoalsRequest{ClientId: c.GetClientId(),
		WorkGoals: &clientsv1.WorkGoals{Goals: "x", Version: start[authz.WorkGoals]}, UpdateMask: mask("goals")})
	if code(err) != codes.Unavailable {
		t.Errorf("write without audit: %v, want Unavailable", err)
	}
	if _, err := f.p.Pool.Exec(bg, `ALTER TABLE audit.events_away RENAME TO events`); err != nil {
		t.Fatal(err)
	}
	if end := versions(t, f, c.GetClientId()); !equalVersions(start, end) {
		t.Errorf("write went through without its audit record: %v → %v", start, end)
	}
	res, err := audit.Verify(bg, f.p.Pool)
	if err != nil || !res.Intact() {
		t.Errorf("chain after the outage: %+v %v", res, err)
	}
}

func TestGetCaller(t *testing.T) {
	f := newFixture(t)
	r, err := f.cli.GetCaller(f.p.As(t, "cl-carla"), &clientsv1.GetCallerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r.GetOrganizationKind() != "mha" || r.GetRegionId() != "region-noord" || !slices.Equal(r.GetTeamIds(), []string{"noord-team-a"}) {
		t.Errorf("caller = %v", r)
	}
	// Teams claimed in a token count only when they are the caller's own
	// organisation's.
	tok, err := devkeys.Sign(f.p.KeyDir, devkeys.Claims{Subject: "uwv-gijs", Org: "uwv-noord", Role: "benefits_officer", Teams: []string{"noord-team-a"}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r, err = f.cli.GetCaller(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok), &clientsv1.GetCallerRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.GetTeamIds()) != 0 || r.GetOrganizationKind() != "uwv" {
		t.Errorf("outsider claiming an MHA team: %v", r)
	}
	// An organisation unknown to the directory is refused.
	tok, _ = devkeys.Sign(f.p.KeyDir, devkeys.Claims{Subject: "x", Org: "nowhere", Role: "clinician"}, time.Hour)
	_, err = f.cli.GetCaller(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok), &clientsv1.GetCallerRequest{})
	if code(err) != codes.PermissionDenied {
		t.Errorf("unknown organisation: %v", err)
	}
	// A user the directory does not know, or with another role than the
	// token claims, is refused.
	for _, c := range []devkeys.Claims{
		{Subject: "x", Org: "mha-noord", Role: "clinician"},
		{Subject: "cl-carla", Org: "mha-noord", Role: "ips_supervisor", Teams: []string{"noord-team-a"}},
		{Subject: "cl-carla", Org: "mha-oost", Role: "clinician"},
	} {
		tok, _ = devkeys.Sign(f.p.KeyDir, c, time.Hour)
		_, err = f.cli.GetCaller(metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok), &clientsv1.GetCallerRequest{})
		if code(err) != codes.PermissionDenied {
			t.Errorf("token %+v: %v", c, err)
		}
	}
}
