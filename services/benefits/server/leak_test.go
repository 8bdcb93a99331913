package server_test

import (
	"slices"
	"testing"

	benefitsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/benefits/v1"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
)

// Issue 14, finding 10: the income-effect answer tells a payer nothing about
// benefits it does not pay (the scope caveat is there whether the client
// has other benefits or not), and listing open counselling requests looks
// only at clients the counsellor's organisation is involved with, writing
// nothing into other clients' access histories.
func TestPayerAndCounsellorListsRevealNothingElse(t *testing.T) {
	f := newFixture(t)
	only := f.enrol(t, "leak-only-uwv", true)
	f.addBenefit(t, "uwv-gijs", only, benefitsv1.BenefitKind_BENEFIT_KIND_WIA_WGA, 150000)
	both := f.enrol(t, "leak-both", true)
	f.addBenefit(t, "uwv-gijs", both, benefitsv1.BenefitKind_BENEFIT_KIND_WIA_WGA, 150000)
	f.addBenefit(t, "gem-jet", both, benefitsv1.BenefitKind_BENEFIT_KIND_PARTICIPATIEWET, 40000)
	caveats := func(id string) []string {
		t.Helper()
		r, err := f.ben.CalculateIncomeEffect(f.p.As(t, "uwv-gijs"), &benefitsv1.CalculateIncomeEffectRequest{ClientId: id,
			HoursPerWeek: 12, HourlyWageCents: 1400, JobStartDate: "2026-01-05"})
		if err != nil {
			t.Fatal(err)
		}
		return r.GetCaveats()
	}
	if a, b := caveats(only), caveats(both); !slices.Equal(a, b) {
		t.Errorf("UWV's caveats differ with a municipal benefit (%q) and without (%q)", b, a)
	}

	// A counselling request of a client the municipality is not involved
	// with (es-bram's, no organisation outside the MHA).
	r, err := f.cli.CreateClient(f.p.As(t, "es-bram"), &clientsv1.CreateClientRequest{RequestId: "leak-other-team", Client: &clientsv1.Client{
		Identity:   &clientsv1.Identity{GivenName: "Noa", FamilyName: "Visser"},
		Trajectory: &clientsv1.Trajectory{TeamId: "noord-team-b"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	other := r.GetClient().GetClientId()
	for _, c := range []struct{ as, id string }{{"es-bram", other}, {"es-anna", both}} {
		if _, err := f.ben.CreateCounsellingRequest(f.p.As(t, c.as), &benefitsv1.CreateCounsellingRequestRequest{ClientId: c.id,
			RequestId: "leak-counselling-" + c.as, CounsellingRequest: &benefitsv1.CounsellingRequest{Reason: "job offer"}}); err != nil {
			t.Fatal(err)
		}
	}
	before := f.count(t, `SELECT count(*) FROM audit.events WHERE client_id = $1`, other)
	open, err := f.ben.ListOpenCounsellingRequests(f.p.As(t, "gem-karin"), &benefitsv1.ListOpenCounsellingRequestsRequest{IncludeUnassigned: true})
	if err != nil || len(open.GetCounsellingRequests()) != 1 || open.GetCounsellingRequests()[0].GetClientId() != both {
		t.Fatalf("open requests for gem-karin: %v %v", open, err)
	}
	if after := f.count(t, `SELECT count(*) FROM audit.events WHERE client_id = $1`, other); after != before {
		t.Errorf("listing wrote %d records into the history of a client the municipality has nothing to do with", after-before)
	}
}
