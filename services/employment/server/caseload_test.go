package server_test

import (
	"fmt"
	"testing"

	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
)

// TestCaseload: 21 clients for es-anna: every one listed once over keyset
// pages in a stable order, the count above 20 warned about (never capped),
// days since the last contact and the next milestone shown; the
// supervisor's team view shows the same clients; a specialist of another
// team sees none of them.
func TestCaseload(t *testing.T) {
	f := newFixture(t)
	anna := f.as(t, "es-anna")
	var first string
	var intake = f.now.Load().UTC()
	for i := range 21 {
		resp, err := f.cli.CreateClient(anna, &clientsv1.CreateClientRequest{RequestId: fmt.Sprintf("caseload-%02d", i), Client: &clientsv1.Client{
			Identity:   &clientsv1.Identity{GivenName: "Client", FamilyName: fmt.Sprint(i)},
			Trajectory: &clientsv1.Trajectory{TeamId: "noord-team-a"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = resp.GetClient().GetClientId()
		}
	}
	f.transition(t, first, clientsv1.Phase_PHASE_INTAKE)
	if _, err := f.emp.CreateEmployerContact(anna, &employmentv1.CreateEmployerContactRequest{ClientId: first, RequestId: "caseload-contact",
		EmployerContact: &employmentv1.EmployerContact{EmployerName: "Jumbo", ContactDate: d(intake, 0)}}); err != nil {
		t.Fatal(err)
	}
	f.setNow(intake.AddDate(0, 0, 5))

	seen := map[string]bool{}
	var order []string
	token := ""
	pages := 0
	for {
		r, err := f.emp.ListCaseload(anna, &employmentv1.ListCaseloadRequest{PageSize: 8, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(r.GetLoads()) != 1 || r.GetLoads()[0].GetClientCount() != 21 || r.GetLoads()[0].GetWarning() == "" || r.GetCaseloadLimit() != 20 {
			t.Fatalf("loads: %v limit %d", r.GetLoads(), r.GetCaseloadLimit())
		}
		for _, e := range r.GetEntries() {
			if seen[e.GetClientId()] {
				t.Fatalf("client %s listed twice", e.GetClientId())
			}
			seen[e.GetClientId()] = true
			order = append(order, e.GetClientId())
			if e.GetClientId() == first {
				if e.DaysSinceLastContact == nil || e.GetDaysSinceLastContact() != 5 || e.GetPhase() != "intake" {
					t.Errorf("first client: days %v phase %s", e.DaysSinceLastContact, e.GetPhase())
				}
				if m := e.GetNextMilestone(); m.GetKind() != employmentv1.MilestoneKind_MILESTONE_KIND_JOB_START {
					t.Errorf("first client's next milestone: %v", m)
				}
			} else if e.DaysSinceLastContact != nil || e.GetNextMilestone().GetKind() != employmentv1.MilestoneKind_MILESTONE_KIND_FIRST_EMPLOYER_CONTACT {
				t.Errorf("client %s: %v", e.GetClientId(), e)
			}
		}
		token = r.GetNextPageToken()
		if token == "" {
			break
		}
	}
	if len(seen) != 21 || pages != 3 || order[0] != first {
		t.Fatalf("listed %d clients in %d pages, first %s", len(seen), pages, order[0])
	}
	team, err := f.emp.ListCaseload(f.as(t, "sup-eva"), &employmentv1.ListCaseloadRequest{TeamId: "noord-team-a", PageSize: 100})
	if err != nil || len(team.GetEntries()) != 21 || team.GetEntries()[0].GetNextMilestone() == nil {
		t.Fatalf("team view: %d entries, %v", len(team.GetEntries()), err)
	}
	for i, e := range team.GetEntries() {
		if e.GetClientId() != order[i] {
			t.Fatalf("team view order differs at %d", i)
		}
	}
	other, err := f.emp.ListCaseload(f.as(t, "es-bram"), &employmentv1.ListCaseloadRequest{SpecialistId: "es-anna"})
	if err != nil || len(other.GetEntries()) != 0 {
		t.Fatalf("es-bram sees %d of es-anna's clients (%v)", len(other.GetEntries()), err)
	}
}
