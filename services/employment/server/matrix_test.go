package server_test

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/authz/authztest"
	"github.com/ipsbridge/ipsbridge/internal/seed"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
)

// TestAuthorizationMatrix runs every seeded user × this service's sections
// × read/write × consent state against the running services and compares
// each outcome with DESIGN.md's table (authztest.Expected). Milestones are
// derived and have no write RPC, so their write column is refused for
// everyone by construction.
func TestAuthorizationMatrix(t *testing.T) {
	f := newFixture(t)
	id, intake := f.enrol(t, "matrix-client-1")
	f.setNow(intake.AddDate(0, 1, 0))
	owner := f.as(t, "es-anna")
	facts := authz.ClientFacts{MHAOrgID: "mha-noord", RegionID: "region-noord", TeamID: "noord-team-a", SpecialistID: "es-anna",
		InvolvedOrgIDs: []string{"gem-groningen", "uwv-noord"}}
	consentable := []clientsv1.Section{
		clientsv1.Section_SECTION_IDENTITY, clientsv1.Section_SECTION_TRAJECTORY, clientsv1.Section_SECTION_WORK_GOALS,
		clientsv1.Section_SECTION_JOB_SEARCH, clientsv1.Section_SECTION_PLACEMENTS, clientsv1.Section_SECTION_BENEFITS,
		clientsv1.Section_SECTION_MILESTONES,
	}
	n := 0
	call := func(ctx context.Context, sec authz.Section, act authz.Action) error {
		n++
		var err error
		switch {
		case sec == authz.JobSearch && act == authz.Read:
			_, err = f.emp.ListEmployerContacts(ctx, &employmentv1.ListEmployerContactsRequest{ClientId: id})
		case sec == authz.JobSearch && act == authz.Write:
			_, err = f.emp.CreateEmployerContact(ctx, &employmentv1.CreateEmployerContactRequest{ClientId: id, RequestId: fmt.Sprintf("matrix-%d", n),
				EmployerContact: &employmentv1.EmployerContact{EmployerName: "Employer", ContactDate: d(intake, 3)}})
		case sec == authz.Placements && act == authz.Read:
			_, err = f.emp.ListPlacements(ctx, &employmentv1.ListPlacementsRequest{ClientId: id})
		case sec == authz.Placements && act == authz.Write:
			_, err = f.emp.CreateFollowAlongContact(ctx, &employmentv1.CreateFollowAlongContactRequest{ClientId: id, RequestId: fmt.Sprintf("matrix-%d", n),
				FollowAlongContact: &employmentv1.FollowAlongContact{ContactDate: d(intake, 3), With: employmentv1.FollowAlongContact_WITH_CLIENT}})
		case sec == authz.Milestones && act == authz.Read:
			_, err = f.emp.ListMilestones(ctx, &employmentv1.ListMilestonesRequest{ClientId: id})
		}
		return err
	}
	rows := func() (contacts, follow int) {
		if err := f.p.Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM employment.employer_contacts WHERE client_id = $1),
			(SELECT count(*) FROM employment.follow_along_contacts WHERE client_id = $1)`, id).Scan(&contacts, &follow); err != nil {
			t.Fatal(err)
		}
		return
	}
	auditCount := func() int {
		var c int
		if err := f.p.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit.events WHERE service = 'employment' AND client_id = $1`, id).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}

	for _, state := range []string{"no consent", "consented", "revoked"} {
		t.Run(state, func(t *testing.T) {
			switch state {
			case "consented":
				for _, org := range []string{"uwv-noord", "gem-groningen"} {
					f.consent(t, id, org, consentable...)
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
			consented := state == "consented"
			before, calls := auditCount(), 0
			c0, f0 := rows()
			writes := map[authz.Section]int{}
			for _, u := range seed.Demo.Users {
				org, _ := seed.FindOrganization(u.OrgID)
				sub := authz.Subject{UserID: u.ID, OrgID: u.OrgID, OrgKind: org.Kind, RegionID: org.RegionID, Role: u.Role, Teams: u.Teams}
				rels := authz.Relations(sub, facts)
				want := func(sec authz.Section, act authz.Action) bool {
					return authztest.Expected(org.Kind, u.Role, rels, consented, sec, act)
				}
				seesAny := want(authz.Benefits, authz.ReadSummary)
				for _, sec := range authz.Sections {
					seesAny = seesAny || want(sec, authz.Read)
				}
				ctx := f.as(t, u.ID)
				for _, sec := range []authz.Section{authz.JobSearch, authz.Placements, authz.Milestones} {
					for _, act := range []authz.Action{authz.Read, authz.Write} {
						w := want(sec, act)
						if sec == authz.Milestones && act == authz.Write {
							if w {
								t.Errorf("%s: DESIGN.md lets %s write milestones, but they are derived", u.ID, u.Role)
							}
							continue
						}
						calls++
						err := call(ctx, sec, act)
						switch {
						case w && err != nil:
							t.Errorf("%s (%s@%s) %s %s: refused with %v, DESIGN.md allows it", u.ID, u.Role, u.OrgID, act, sec, err)
						case !w && err == nil:
							t.Errorf("%s (%s@%s) %s %s: allowed, DESIGN.md refuses it", u.ID, u.Role, u.OrgID, act, sec)
						case !w:
							wantCode := codes.PermissionDenied
							if !seesAny && authztest.Expected(org.Kind, u.Role, authz.AllRelations, true, sec, act) {
								wantCode = codes.NotFound
							}
							if code(err) != wantCode {
								t.Errorf("%s (%s@%s) %s %s: got %v, want %v", u.ID, u.Role, u.OrgID, act, sec, code(err), wantCode)
							}
						case act == authz.Write:
							writes[sec]++
						}
					}
				}
			}
			if got := auditCount() - before; got != calls {
				t.Errorf("audit records = %d, calls = %d", got, calls)
			}
			c1, f1 := rows()
			if c1-c0 != writes[authz.JobSearch] || f1-f0 != writes[authz.Placements] {
				t.Errorf("rows written: contacts %d, follow-along %d; allowed writes %v", c1-c0, f1-f0, writes)
			}
		})
	}
}
