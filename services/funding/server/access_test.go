package server_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/authz/authztest"
	"github.com/ipsbridge/ipsbridge/internal/seed"
	benefitsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/benefits/v1"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
	fundingv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/funding/v1"
)

func (f *fixture) rows(t *testing.T, table string) int {
	t.Helper()
	var n int
	if err := f.p.Pool.QueryRow(context.Background(), `SELECT count(*) FROM funding.`+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// submitted drafts, signs and submits an application, short of a decision.
func (f *fixture) submitted(t *testing.T, agreementID, client string) *fundingv1.Application {
	t.Helper()
	r, err := f.fun.CreateApplication(f.as(t, "es-anna"), &fundingv1.CreateApplicationRequest{AgreementId: agreementID, ClientId: client, RequestId: f.rid("app")})
	if err != nil {
		t.Fatalf("draft: %v", err)
	}
	a := r.GetApplication()
	for _, s := range []struct {
		user   string
		signer fundingv1.Signer
	}{{"es-anna", fundingv1.Signer_SIGNER_CLIENT}, {"fo-nina", fundingv1.Signer_SIGNER_MHA}} {
		r, err := f.fun.SignApplication(f.as(t, s.user), &fundingv1.SignApplicationRequest{ApplicationId: a.GetApplicationId(),
			Signer: s.signer, Version: a.GetVersion(), RequestId: f.rid("sign")})
		if err != nil {
			t.Fatalf("sign: %v", err)
		}
		a = r.GetApplication()
	}
	sr, err := f.fun.SubmitApplication(f.as(t, "fo-nina"), &fundingv1.SubmitApplicationRequest{ApplicationId: a.GetApplicationId(),
		Version: a.GetVersion(), RequestId: f.rid("submit")})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	return sr.GetApplication()
}

// TestOfficersReadMilestonesOnlyUnderOwnAgreements: a UWV or municipality
// officer with the client's consent reads the milestones only once the
// client is under one of its own organisation's agreements (from the
// application's submission on), no longer merely as an involved payer.
func TestOfficersReadMilestonesOnlyUnderOwnAgreements(t *testing.T) {
	f := newFixture(t)
	client := f.enrol(t, benefitsv1.BenefitKind_BENEFIT_KIND_WIA_WGA, true)
	ag := f.uwvAgreement(t, "UWV IPS", 12)
	read := func(user string) codes.Code {
		_, err := f.emp.ListMilestones(f.as(t, user), &employmentv1.ListMilestonesRequest{ClientId: client})
		return code(err)
	}
	for _, u := range []string{"uwv-gijs", "uwv-hanna", "gem-jet", "gem-ivo"} {
		if c := read(u); c == codes.OK {
			t.Errorf("%s reads the milestones of a client under no agreement of its own", u)
		}
	}
	f.submitted(t, ag.GetAgreementId(), client)
	for u, want := range map[string]codes.Code{"uwv-gijs": codes.OK, "uwv-hanna": codes.OK, "uwv-system": codes.OK,
		"gem-jet": codes.PermissionDenied, "gem-ivo": codes.PermissionDenied} {
		if c := read(u); c != want {
			t.Errorf("%s reads milestones under UWV's agreement: %v, want %v", u, c, want)
		}
	}
}

// TestFunderLeaks: a funder never sees another funder's agreements,
// applications, claims, budgets or clients; an application's lines
// never reach the other funder through any read.
func TestFunderLeaks(t *testing.T) {
	f := newFixture(t)
	client := f.enrol(t, benefitsv1.BenefitKind_BENEFIT_KIND_WIA_WGA, true)
	ag := f.uwvAgreement(t, "UWV IPS", 12)
	app := f.approved(t, ag.GetAgreementId(), client)
	f.job(t, client, "2027-02-01", 20)
	f.setNow(date("2027-03-01"))
	cr, err := f.fun.CreateClaim(f.as(t, "fo-nina"), &fundingv1.CreateClaimRequest{AgreementId: ag.GetAgreementId(), PeriodEnd: "2027-02-28", RequestId: f.rid("claim")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.fun.SubmitClaim(f.as(t, "fo-nina"), &fundingv1.SubmitClaimRequest{ClaimId: cr.GetClaim().GetClaimId(),
		Version: cr.GetClaim().GetVersion(), RequestId: f.rid("submit")}); err != nil {
		t.Fatal(err)
	}
	// The owner sees everything.
	otto := f.as(t, "fo-otto")
	if _, err := f.fun.GetClaim(otto, &fundingv1.GetClaimRequest{ClaimId: cr.GetClaim().GetClaimId()}); err != nil {
		t.Fatalf("the funder's own claim: %v", err)
	}
	// The municipality's funding officer, and a funding officer of an MHA
	// that is no party, see none of it.
	for _, user := range []string{"fo-pien", "gem-jet", "gem-system"} {
		ctx := f.as(t, user)
		if r, err := f.fun.ListAgreements(ctx, &fundingv1.ListAgreementsRequest{}); err == nil && len(r.GetAgreements()) != 0 {
			t.Errorf("%s lists %d agreements of another funder", user, len(r.GetAgreements()))
		}
		if _, err := f.fun.GetAgreement(ctx, &fundingv1.GetAgreementRequest{AgreementId: ag.GetAgreementId()}); code(err) != codes.NotFound && code(err) != codes.PermissionDenied {
			t.Errorf("%s reads another funder's agreement: %v", user, err)
		}
		if r, err := f.fun.ListApplications(ctx, &fundingv1.ListApplicationsRequest{}); err == nil && len(r.GetApplications()) != 0 {
			t.Errorf("%s lists another funder's applications", user)
		}
		if _, err := f.fun.GetApplication(ctx, &fundingv1.GetApplicationRequest{ApplicationId: app.GetApplicationId()}); code(err) != codes.NotFound && code(err) != codes.PermissionDenied {
			t.Errorf("%s reads another funder's application: %v", user, err)
		}
		if r, err := f.fun.ListClaims(ctx, &fundingv1.ListClaimsRequest{}); err == nil && len(r.GetClaims()) != 0 {
			t.Errorf("%s lists another funder's claims", user)
		}
		if _, err := f.fun.GetClaim(ctx, &fundingv1.GetClaimRequest{ClaimId: cr.GetClaim().GetClaimId()}); code(err) != codes.NotFound && code(err) != codes.PermissionDenied {
			t.Errorf("%s reads another funder's claim: %v", user, err)
		}
		if _, err := f.fun.GetBudget(ctx, &fundingv1.GetBudgetRequest{AgreementId: ag.GetAgreementId()}); code(err) != codes.NotFound && code(err) != codes.PermissionDenied {
			t.Errorf("%s reads another funder's budget: %v", user, err)
		}
		if r, err := f.emp.ListWorkHistories(ctx, &employmentv1.ListWorkHistoriesRequest{ClientIds: []string{client}}); err == nil && len(r.GetHistories()) != 0 {
			t.Errorf("%s reads the work history of another funder's client", user)
		}
	}
	// The other funder's officer does not find the client either.
	if _, err := f.cli.GetClient(f.as(t, "fo-pien"), &clientsv1.GetClientRequest{ClientId: client}); code(err) != codes.NotFound {
		t.Errorf("the other funder's officer reads the client: %v", err)
	}
}

// TestBadInputWritesNothing: an application for a client outside the
// target group, an agreement whose amounts do not add up, a claim with
// nothing earned, a refusal without a reason, a second approval, each
// refused with a clear code and nothing written; retries are idempotent.
func TestBadInputWritesNothing(t *testing.T) {
	f := newFixture(t)
	otto, anna, nina := f.as(t, "fo-otto"), f.as(t, "es-anna"), f.as(t, "fo-nina")
	ag := f.uwvAgreement(t, "UWV IPS", 12)

	// Social assistance paid by the municipality: not UWV's WIA/Wajong.
	outside := f.enrol(t, benefitsv1.BenefitKind_BENEFIT_KIND_PARTICIPATIEWET, false)
	_, err := f.fun.CreateApplication(anna, &fundingv1.CreateApplicationRequest{AgreementId: ag.GetAgreementId(), ClientId: outside, RequestId: f.rid("app")})
	if code(err) != codes.FailedPrecondition {
		t.Errorf("application outside the target group: %v", err)
	}
	// No benefit at all: not in this agreement's groups either.
	none := f.enrol(t, benefitsv1.BenefitKind_BENEFIT_KIND_UNSPECIFIED, false)
	if _, err := f.fun.CreateApplication(anna, &fundingv1.CreateApplicationRequest{AgreementId: ag.GetAgreementId(), ClientId: none, RequestId: f.rid("app")}); code(err) != codes.FailedPrecondition {
		t.Errorf("application for a client without benefit: %v", err)
	}
	// The MHA's funding officer does not draft; the specialist does.
	inside := f.enrol(t, benefitsv1.BenefitKind_BENEFIT_KIND_WAJONG, false)
	if _, err := f.fun.CreateApplication(nina, &fundingv1.CreateApplicationRequest{AgreementId: ag.GetAgreementId(), ClientId: inside, RequestId: f.rid("app")}); code(err) != codes.NotFound && code(err) != codes.PermissionDenied {
		t.Errorf("funding officer drafts: %v", err)
	}
	if n := f.rows(t, "applications"); n != 0 {
		t.Fatalf("%d applications written by refused requests", n)
	}

	// A budget too small for its trajectories.
	_, err = f.fun.CreateAgreement(otto, &fundingv1.CreateAgreementRequest{RequestId: f.rid("agreement"), Agreement: &fundingv1.Agreement{
		Name: "Too small", MhaOrganizationId: "mha-noord", ValidFrom: "2027-01-01", ValidUntil: "2027-12-31",
		BudgetTrajectories: 10, BudgetCents: 10*50000 - 1, FundedMonths: 24,
		TargetGroups: []fundingv1.TargetGroup{fundingv1.TargetGroup_TARGET_GROUP_WIA},
		Schedules: []*fundingv1.Schedule{{ValidFrom: "2027-01-01", Parts: []*fundingv1.FeePart{
			{PartId: "approval", Name: "Approval", Condition: fundingv1.PartCondition_PART_CONDITION_APPROVAL, AmountCents: 50000}}}},
	}})
	if code(err) != codes.InvalidArgument {
		t.Errorf("agreement whose amounts do not add up: %v", err)
	}
	// An MHA cannot make agreements.
	if _, err := f.fun.CreateAgreement(nina, &fundingv1.CreateAgreementRequest{RequestId: f.rid("agreement"), Agreement: agreementProto("MHA's own", 12)}); code(err) != codes.PermissionDenied {
		t.Errorf("MHA makes an agreement: %v", err)
	}
	if n := f.rows(t, "agreements"); n != 1 {
		t.Fatalf("%d agreements, want the one", n)
	}

	// The application: a retried draft is the same draft.
	req := &fundingv1.CreateApplicationRequest{AgreementId: ag.GetAgreementId(), ClientId: inside, RequestId: "draft-retry-0001"}
	a1, err := f.fun.CreateApplication(anna, req)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := f.fun.CreateApplication(anna, req)
	if err != nil || a2.GetApplication().GetApplicationId() != a1.GetApplication().GetApplicationId() {
		t.Fatalf("retried draft: %v %v", a2, err)
	}
	// A second live application of the client under the agreement.
	if _, err := f.fun.CreateApplication(anna, &fundingv1.CreateApplicationRequest{AgreementId: ag.GetAgreementId(), ClientId: inside, RequestId: f.rid("app")}); code(err) != codes.AlreadyExists {
		t.Errorf("second application: %v", err)
	}
	// Submitting an unsigned draft.
	a := a1.GetApplication()
	if _, err := f.fun.SubmitApplication(nina, &fundingv1.SubmitApplicationRequest{ApplicationId: a.GetApplicationId(), Version: a.GetVersion(), RequestId: f.rid("submit")}); code(err) != codes.FailedPrecondition {
		t.Errorf("submit unsigned: %v", err)
	}
	// A stale version.
	if _, err := f.fun.SignApplication(anna, &fundingv1.SignApplicationRequest{ApplicationId: a.GetApplicationId(), Signer: fundingv1.Signer_SIGNER_CLIENT,
		Version: a.GetVersion() + 5, RequestId: f.rid("sign")}); code(err) != codes.Aborted {
		t.Errorf("stale version: %v", err)
	}

	// A refusal needs its reason; a decided application is not decided again.
	sub := f.submitted(t, f.uwvAgreement(t, "UWV IPS 2", 12).GetAgreementId(), inside)
	if _, err := f.fun.DecideApplication(otto, &fundingv1.DecideApplicationRequest{ApplicationId: sub.GetApplicationId(), Approve: false,
		Version: sub.GetVersion(), RequestId: f.rid("decide")}); code(err) != codes.InvalidArgument {
		t.Errorf("refusal without reason: %v", err)
	}
	r, err := f.fun.DecideApplication(otto, &fundingv1.DecideApplicationRequest{ApplicationId: sub.GetApplicationId(), Approve: false,
		Reason: "outside the pilot's municipalities", Version: sub.GetVersion(), RequestId: f.rid("decide")})
	if err != nil || r.GetApplication().GetState() != fundingv1.ApplicationState_APPLICATION_STATE_REFUSED {
		t.Fatalf("refusal: %v %v", r, err)
	}
	if _, err := f.fun.DecideApplication(otto, &fundingv1.DecideApplicationRequest{ApplicationId: sub.GetApplicationId(), Approve: true,
		Version: r.GetApplication().GetVersion(), RequestId: f.rid("decide")}); code(err) != codes.FailedPrecondition {
		t.Errorf("approval after a refusal: %v", err)
	}
	// A claim with nothing earned.
	if _, err := f.fun.CreateClaim(nina, &fundingv1.CreateClaimRequest{AgreementId: ag.GetAgreementId(), RequestId: f.rid("claim")}); code(err) != codes.FailedPrecondition {
		t.Errorf("claim of nothing: %v", err)
	}
	if n := f.rows(t, "claims"); n != 0 {
		t.Errorf("%d claims written", n)
	}
}

// TestFundingMatrix runs every seeded user × the funding and milestones
// reads against the running services, for a client with a submitted
// application under UWV's agreement (so UWV and the MHA are funding
// parties), and compares each outcome with DESIGN.md's table
// (authztest.Expected). The clients service records no consent for the
// funding section, so officers (who need it) never read it; the funder's
// funding officer reads on the client's signature.
func TestFundingMatrix(t *testing.T) {
	f := newFixture(t)
	client := f.enrol(t, benefitsv1.BenefitKind_BENEFIT_KIND_WIA_WGA, true)
	ag := f.uwvAgreement(t, "UWV IPS", 12)
	app := f.submitted(t, ag.GetAgreementId(), client)
	facts := authz.ClientFacts{MHAOrgID: "mha-noord", RegionID: "region-noord", TeamID: "noord-team-a", SpecialistID: "es-anna",
		InvolvedOrgIDs: []string{"gem-groningen", "uwv-noord"}, FundingOrgIDs: []string{"mha-noord", "uwv-noord"}}
	// enrol consented UWV and the municipality to milestones and placements.
	consented := map[authz.Section]bool{authz.Milestones: true, authz.Placements: true, authz.Benefits: true}
	n := 0
	for _, u := range seed.Demo.Users {
		org, _ := seed.FindOrganization(u.OrgID)
		sub := authz.Subject{UserID: u.ID, OrgID: u.OrgID, OrgKind: org.Kind, RegionID: org.RegionID, Role: u.Role, Teams: u.Teams}
		rels := authz.Relations(sub, facts)
		ctx := f.as(t, u.ID)
		isOfficer := org.Kind == "uwv" || org.Kind == "municipality"
		// Funding: the application, which its MHA and (once submitted) its
		// funder may know of.
		want := authztest.Expected(org.Kind, u.Role, rels, consented[authz.Funding], authz.Funding, authz.Read)
		_, err := f.fun.GetApplication(ctx, &fundingv1.GetApplicationRequest{ApplicationId: app.GetApplicationId()})
		n++
		if (err == nil) != want {
			t.Errorf("%s (%s@%s) reads the application: %v, DESIGN.md says %v", u.ID, u.Role, u.OrgID, err, want)
		}
		// Milestones (the work history funding claims come from).
		want = authztest.Expected(org.Kind, u.Role, rels, consented[authz.Milestones] && isOfficer, authz.Milestones, authz.Read)
		r, err := f.emp.ListWorkHistories(ctx, &employmentv1.ListWorkHistoriesRequest{ClientIds: []string{client}})
		n++
		if got := err == nil && len(r.GetHistories()) == 1; got != want {
			t.Errorf("%s (%s@%s) reads the work history: %v (%v), DESIGN.md says %v", u.ID, u.Role, u.OrgID, got, err, want)
		}
		if err == nil && len(r.GetHistories()) == 1 {
			jobs := authztest.Expected(org.Kind, u.Role, rels, consented[authz.Placements] && isOfficer, authz.Placements, authz.Read)
			if r.GetHistories()[0].GetJobDetails() != jobs {
				t.Errorf("%s (%s@%s) job details %v, want %v", u.ID, u.Role, u.OrgID, r.GetHistories()[0].GetJobDetails(), jobs)
			}
		}
	}
	t.Logf("%d cells checked", n)
}

// TestRegionFundingForDecisionMakers: a decision maker sees an agreement's
// figures, never one client's: with fewer than five trajectories the count
// and the money are hidden; with five they show. A funding officer gets no
// region figures.
func TestRegionFundingForDecisionMakers(t *testing.T) {
	f := newFixture(t)
	ag := f.uwvAgreement(t, "UWV IPS", 12)
	dm := f.as(t, "dm-lucas")
	figures := func() *fundingv1.AgreementFigures {
		t.Helper()
		r, err := f.fun.GetRegionFunding(dm, &fundingv1.GetRegionFundingRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if r.GetRegionId() != "region-noord" || len(r.GetAgreements()) != 1 {
			t.Fatalf("region figures %v", r)
		}
		return r.GetAgreements()[0]
	}
	f.approved(t, ag.GetAgreementId(), f.enrol(t, benefitsv1.BenefitKind_BENEFIT_KIND_WIA_WGA, false))
	if g := figures(); !g.GetTrajectories().GetSuppressed() || !g.GetMoneySuppressed() || g.GetCommittedCents() != 0 {
		t.Errorf("one trajectory shown: %v", g)
	}
	for range 4 {
		f.approved(t, ag.GetAgreementId(), f.enrol(t, benefitsv1.BenefitKind_BENEFIT_KIND_WIA_WGA, false))
	}
	// Five trajectories at the schedule's 325000 each.
	if g := figures(); g.GetTrajectories().GetCount() != 5 || g.GetMoneySuppressed() || g.GetCommittedCents() != 5*325000 {
		t.Errorf("five trajectories: %v", g)
	}
	if _, err := f.fun.GetRegionFunding(f.as(t, "fo-otto"), &fundingv1.GetRegionFundingRequest{}); code(err) != codes.PermissionDenied {
		t.Errorf("a funding officer reads region figures: %v", err)
	}
	if _, err := f.fun.ListApplications(dm, &fundingv1.ListApplicationsRequest{}); code(err) != codes.PermissionDenied {
		t.Errorf("a decision maker lists applications: %v", err)
	}
}

// TestFundingWritesMatrix: on a draft application, every seeded user the
// table does not let write the client's funding section is refused both
// signatures, each refusal audited, and the application is unchanged; of
// those the table lets write, only the owning role signs.
func TestFundingWritesMatrix(t *testing.T) {
	f := newFixture(t)
	client := f.enrol(t, benefitsv1.BenefitKind_BENEFIT_KIND_WIA_WGA, true)
	ag := f.uwvAgreement(t, "UWV IPS", 12)
	r, err := f.fun.CreateApplication(f.as(t, "es-anna"), &fundingv1.CreateApplicationRequest{AgreementId: ag.GetAgreementId(), ClientId: client, RequestId: f.rid("app")})
	if err != nil {
		t.Fatal(err)
	}
	app := r.GetApplication()
	// A draft: only the MHA is a funding party.
	facts := authz.ClientFacts{MHAOrgID: "mha-noord", RegionID: "region-noord", TeamID: "noord-team-a", SpecialistID: "es-anna",
		InvolvedOrgIDs: []string{"gem-groningen", "uwv-noord"}, FundingOrgIDs: []string{"mha-noord"}}
	denied := func() int {
		var n int
		if err := f.p.Pool.QueryRow(context.Background(), `SELECT count(*) FROM audit.events WHERE service = 'funding' AND outcome = 'denied'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before, refusals := denied(), 0
	for _, u := range seed.Demo.Users {
		org, _ := seed.FindOrganization(u.OrgID)
		sub := authz.Subject{UserID: u.ID, OrgID: u.OrgID, OrgKind: org.Kind, RegionID: org.RegionID, Role: u.Role, Teams: u.Teams}
		may := authztest.Expected(org.Kind, u.Role, authz.Relations(sub, facts), false, authz.Funding, authz.Write)
		for _, signer := range []fundingv1.Signer{fundingv1.Signer_SIGNER_CLIENT, fundingv1.Signer_SIGNER_MHA} {
			owner := (signer == fundingv1.Signer_SIGNER_CLIENT && u.ID == "es-anna") || (signer == fundingv1.Signer_SIGNER_MHA && u.ID == "fo-nina")
			if owner {
				continue // signed below
			}
			_, err := f.fun.SignApplication(f.as(t, u.ID), &fundingv1.SignApplicationRequest{ApplicationId: app.GetApplicationId(),
				Signer: signer, Version: app.GetVersion(), RequestId: f.rid("sign")})
			if err == nil {
				t.Fatalf("%s (%s@%s) signed as %v; the table allows the write: %v", u.ID, u.Role, u.OrgID, signer, may)
			}
			want := []codes.Code{codes.NotFound, codes.PermissionDenied}
			if code(err) != want[0] && code(err) != want[1] {
				t.Errorf("%s signs as %v: %v", u.ID, signer, err)
			}
			if may && code(err) != codes.PermissionDenied {
				t.Errorf("%s may write funding but is refused with %v, want PermissionDenied (the step is another role's)", u.ID, code(err))
			}
			refusals++
		}
	}
	if got := denied() - before; got != refusals {
		t.Errorf("%d refusals audited, %d refused calls", got, refusals)
	}
	if cur, err := f.fun.GetApplication(f.as(t, "es-anna"), &fundingv1.GetApplicationRequest{ApplicationId: app.GetApplicationId()}); err != nil ||
		cur.GetApplication().GetVersion() != app.GetVersion() {
		t.Fatalf("the application changed under refused writes: %v %v", cur, err)
	}
	for _, s := range []struct {
		user   string
		signer fundingv1.Signer
	}{{"es-anna", fundingv1.Signer_SIGNER_CLIENT}, {"fo-nina", fundingv1.Signer_SIGNER_MHA}} {
		r, err := f.fun.SignApplication(f.as(t, s.user), &fundingv1.SignApplicationRequest{ApplicationId: app.GetApplicationId(),
			Signer: s.signer, Version: app.GetVersion(), RequestId: f.rid("sign")})
		if err != nil {
			t.Fatalf("%s signs: %v", s.user, err)
		}
		app = r.GetApplication()
	}
	if app.GetState() != fundingv1.ApplicationState_APPLICATION_STATE_SIGNED {
		t.Errorf("after both signatures: %v", app.GetState())
	}
	t.Logf("%d refused writes", refusals)
}
