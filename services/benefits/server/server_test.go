package server_test

import (
	"github.com/google/uuid"

	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/authz/authztest"
	"github.com/ipsbridge/ipsbridge/internal/seed"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	benefitsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/benefits/v1"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	"github.com/ipsbridge/ipsbridge/services/benefits/server"
)

type fixture struct {
	p   *testplatform.Platform
	cli clientsv1.ClientsServiceClient
	ben benefitsv1.BenefitsServiceClient
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	p := testplatform.Start(t)
	if _, err := p.Pool.Exec(context.Background(), "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	if err := migrate(p); err != nil {
		t.Fatal(err)
	}
	az, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	srv, _, err := server.Build(server.Deps{Pool: p.Pool, Verifier: p.Verifier, Authz: az,
		Logger: testplatform.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	addr := testplatform.Serve(t, srv)
	return &fixture{p: p, cli: clientsv1.NewClientsServiceClient(testplatform.Dial(t, p.ClientsAddr)),
		ben: benefitsv1.NewBenefitsServiceClient(testplatform.Dial(t, addr))}
}

func migrate(p *testplatform.Platform) error {
	return databaseMigrate(context.Background(), p)
}

// enrol creates a client as es-anna in noord-team-a with UWV and the
// municipality involved; consent for benefits when consented.
func (f *fixture) enrol(t *testing.T, key string, consented bool) string {
	t.Helper()
	r, err := f.cli.CreateClient(f.p.As(t, "es-anna"), &clientsv1.CreateClientRequest{RequestId: key, Client: &clientsv1.Client{
		Identity:   &clientsv1.Identity{GivenName: "Sanne", FamilyName: "Kuipers"},
		Trajectory: &clientsv1.Trajectory{TeamId: "noord-team-a", InvolvedOrganizationIds: []string{"gem-groningen", "uwv-noord"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	id := r.GetClient().GetClientId()
	if consented {
		f.consent(t, id)
	}
	return id
}

func (f *fixture) consent(t *testing.T, id string) {
	t.Helper()
	for _, org := range []string{"uwv-noord", "gem-groningen"} {
		if _, err := f.cli.RecordConsent(f.p.As(t, "es-anna"), &clientsv1.RecordConsentRequest{ClientId: id, OrganizationId: org,
			Sections: []clientsv1.Section{clientsv1.Section_SECTION_BENEFITS}, RequestId: "consent-" + org + id[:8]}); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) addBenefit(t *testing.T, as, id string, kind benefitsv1.BenefitKind, cents int64) *benefitsv1.Benefit {
	t.Helper()
	r, err := f.ben.CreateBenefit(f.p.As(t, as), &benefitsv1.CreateBenefitRequest{RequestId: uuid.NewString(), ClientId: id, Benefit: &benefitsv1.Benefit{
		Kind: kind, MonthlyAmountCents: cents, StartDate: "2024-01-01"}})
	if err != nil {
		t.Fatalf("create benefit as %s: %v", as, err)
	}
	return r.GetBenefit()
}

func code(err error) codes.Code { return status.Code(err) }

func (f *fixture) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := f.p.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCounsellingToDecisionFlow(t *testing.T) {
	f := newFixture(t)
	id := f.enrol(t, "flow-key-1", true)
	pw := f.addBenefit(t, "gem-system", id, benefitsv1.BenefitKind_BENEFIT_KIND_PARTICIPATIEWET, 120000)

	// The employment specialist asks for counselling, naming no counsellor.
	req, err := f.ben.CreateCounsellingRequest(f.p.As(t, "es-anna"), &benefitsv1.CreateCounsellingRequestRequest{RequestId: uuid.NewString(), ClientId: id,
		CounsellingRequest: &benefitsv1.CounsellingRequest{Reason: "job offer: 12 h a week in a bakery"}})
	if err != nil {
		t.Fatal(err)
	}
	crID := req.GetCounsellingRequest().GetCounsellingRequestId()
	sum, err := f.ben.GetBenefitSummary(f.p.As(t, "es-anna"), &benefitsv1.GetBenefitSummaryRequest{ClientId: id})
	if err != nil || !sum.GetCounsellingOpen() || len(sum.GetBenefits()) != 1 {
		t.Fatalf("summary: %v %v", sum, err)
	}
	if _, err := f.ben.ListBenefits(f.p.As(t, "es-anna"), &benefitsv1.ListBenefitsRequest{ClientId: id}); code(err) != codes.PermissionDenied {
		t.Errorf("specialist reads amounts: %v", err)
	}
	// The counsellor finds it unassigned and records a session.
	open, err := f.ben.ListOpenCounsellingRequests(f.p.As(t, "gem-karin"), &benefitsv1.ListOpenCounsellingRequestsRequest{IncludeUnassigned: true})
	if err != nil || len(open.GetCounsellingRequests()) != 1 {
		t.Fatalf("open requests: %v %v", open, err)
	}
	if _, err := f.ben.RecordCounsellingSession(f.p.As(t, "gem-karin"), &benefitsv1.RecordCounsellingSessionRequest{RequestId: uuid.NewString(), ClientId: id,
		CounsellingRequestId: crID, Session: &benefitsv1.CounsellingSession{SessionDate: "2026-01-02", Notes: "explained the release", Outcome: "client accepts"}}); err != nil {
		t.Fatal(err)
	}
	// Calculation of the part-time offer: 12 h × €14.00 × 52 / 12 = 72800
	// gross; the assistance is net, so net 80% = 58240; release 25% = 14560;
	// assistance 120000 − 58240 + 14560 = 76320; with the job 58240 +
	// 76320 = 134560.
	calc, err := f.ben.CalculateIncomeEffect(f.p.As(t, "gem-karin"), &benefitsv1.CalculateIncomeEffectRequest{ClientId: id,
		HoursPerWeek: 12, HourlyWageCents: 1400, JobStartDate: "2026-01-05"})
	if err != nil {
		t.Fatal(err)
	}
	if calc.GetIncomeWithJobCents() != 134560 || calc.GetDifferenceCents() != 14560 {
		t.Errorf("calculation: %v", calc)
	}
	// The job starts: the counsellor gets a task, the municipality a notice.
	jc, err := f.ben.ReportJobChange(f.p.As(t, "es-anna"), &benefitsv1.ReportJobChangeRequest{ClientId: id,
		Kind: benefitsv1.JobChangeKind_JOB_CHANGE_KIND_STARTED, EffectiveDate: "2026-01-05", HoursPerWeek: 12, HourlyWageCents: 1400, RequestId: "job-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(jc.GetTasks()) != 1 || jc.GetTasks()[0].GetCounsellorId() != "gem-karin" || len(jc.GetNotices()) != 1 {
		t.Fatalf("job change: %v", jc)
	}
	tasks, err := f.ben.ListCounsellorTasks(f.p.As(t, "gem-karin"), &benefitsv1.ListCounsellorTasksRequest{})
	if err != nil || len(tasks.GetTasks()) != 1 {
		t.Errorf("tasks: %v %v", tasks, err)
	}
	notices, err := f.ben.ListBenefitNotices(f.p.As(t, "gem-jet"), &benefitsv1.ListBenefitNoticesRequest{})
	if err != nil || len(notices.GetNotices()) != 1 {
		t.Errorf("notices: %v %v", notices, err)
	}
	// The municipality's system reports the adjustment.
	dec, err := f.ben.ReportBenefitDecision(f.p.As(t, "gem-system"), &benefitsv1.ReportBenefitDecisionRequest{ClientId: id, BenefitId: pw.GetBenefitId(),
		Kind: benefitsv1.DecisionKind_DECISION_KIND_ADJUSTED, EffectiveDate: "2026-02-01", MonthlyAmountCents: 65400, RequestId: "gem-dec-1"})
	if err != nil {
		t.Fatal(err)
	}
	if dec.GetBenefit().GetMonthlyAmountCents() != 65400 || dec.GetBenefit().GetVersion() != pw.GetVersion()+1 {
		t.Errorf("benefit after decision: %v", dec.GetBenefit())
	}
	ls, err := f.ben.ListBenefits(f.p.As(t, "gem-karin"), &benefitsv1.ListBenefitsRequest{ClientId: id})
	if err != nil || ls.GetBenefits()[0].GetMonthlyAmountCents() != 65400 {
		t.Errorf("benefits after decision: %v %v", ls, err)
	}
}

func TestPartnerRetriesAreIdempotent(t *testing.T) {
	f := newFixture(t)
	id := f.enrol(t, "idem-key-1", true)
	wga := f.addBenefit(t, "uwv-system", id, benefitsv1.BenefitKind_BENEFIT_KIND_WIA_WGA, 150000)
	ctx := f.p.As(t, "uwv-system")
	req := &benefitsv1.ReportBenefitDecisionRequest{ClientId: id, BenefitId: wga.GetBenefitId(),
		Kind: benefitsv1.DecisionKind_DECISION_KIND_ADJUSTED, EffectiveDate: "2026-03-01", MonthlyAmountCents: 52934, RequestId: "uwv-dec-1"}
	first, err := f.ben.ReportBenefitDecision(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.ben.ReportBenefitDecision(ctx, req)
	if err != nil || again.GetDecision().GetDecisionId() != first.GetDecision().GetDecisionId() || again.GetBenefit().GetVersion() != first.GetBenefit().GetVersion() {
		t.Fatalf("retry: %v %v", again, err)
	}
	other := proto.Clone(req).(*benefitsv1.ReportBenefitDecisionRequest)
	other.MonthlyAmountCents = 1
	_, err = f.ben.ReportBenefitDecision(ctx, other)
	if st, _ := status.FromError(err); code(err) != codes.FailedPrecondition || st.Details() == nil {
		t.Errorf("same key, other body: %v", err)
	}
	// Two concurrent retries of a new key: one decision.
	req2 := proto.Clone(req).(*benefitsv1.ReportBenefitDecisionRequest)
	req2.RequestId, req2.MonthlyAmountCents = "uwv-dec-2", 60000
	var wg sync.WaitGroup
	ids := make([]string, 2)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := f.ben.ReportBenefitDecision(ctx, req2)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = r.GetDecision().GetDecisionId()
		}()
	}
	wg.Wait()
	if ids[0] != ids[1] {
		t.Errorf("concurrent retries: %v", ids)
	}
	if n := f.count(t, `SELECT count(*) FROM benefits.decisions WHERE client_id = $1`, id); n != 2 {
		t.Errorf("%d decisions, want 2", n)
	}
	if n := f.count(t, `SELECT version FROM benefits.benefits WHERE id = $1`, wga.GetBenefitId()); n != 3 {
		t.Errorf("benefit version %d, want 3", n)
	}
}

func TestPayersSeeOnlyTheirOwnBenefits(t *testing.T) {
	f := newFixture(t)
	id := f.enrol(t, "rows-key-1", true)
	wga := f.addBenefit(t, "uwv-gijs", id, benefitsv1.BenefitKind_BENEFIT_KIND_WIA_WGA, 150000)
	pw := f.addBenefit(t, "gem-jet", id, benefitsv1.BenefitKind_BENEFIT_KIND_PARTICIPATIEWET, 40000)
	for as, want := range map[string]string{"uwv-gijs": wga.GetBenefitId(), "uwv-system": wga.GetBenefitId(), "gem-jet": pw.GetBenefitId(), "gem-ivo": pw.GetBenefitId()} {
		r, err := f.ben.ListBenefits(f.p.As(t, as), &benefitsv1.ListBenefitsRequest{ClientId: id})
		if err != nil || len(r.GetBenefits()) != 1 || r.GetBenefits()[0].GetBenefitId() != want {
			t.Errorf("%s sees %v (%v)", as, r.GetBenefits(), err)
		}
	}
	if r, err := f.ben.ListBenefits(f.p.As(t, "gem-karin"), &benefitsv1.ListBenefitsRequest{ClientId: id}); err != nil || len(r.GetBenefits()) != 2 {
		t.Errorf("counsellor sees %v (%v)", r, err)
	}
	// A decision on a benefit another organisation pays: refused, nothing written.
	_, err := f.ben.ReportBenefitDecision(f.p.As(t, "gem-system"), &benefitsv1.ReportBenefitDecisionRequest{ClientId: id, BenefitId: wga.GetBenefitId(),
		Kind: benefitsv1.DecisionKind_DECISION_KIND_ENDED, EffectiveDate: "2026-03-01", RequestId: "gem-wrong-1"})
	if code(err) != codes.NotFound {
		t.Errorf("decision on UWV's benefit by the municipality: %v", err)
	}
	if n := f.count(t, `SELECT count(*) FROM benefits.decisions`); n != 0 {
		t.Errorf("%d decisions written", n)
	}
	if n := f.count(t, `SELECT count(*) FROM benefits.idempotency_keys WHERE method = 'ReportBenefitDecision'`); n != 0 {
		t.Errorf("refused decision claimed its key")
	}
}

func TestBadInputWritesNothing(t *testing.T) {
	f := newFixture(t)
	id := f.enrol(t, "bad-key-1", true)
	wga := f.addBenefit(t, "uwv-gijs", id, benefitsv1.BenefitKind_BENEFIT_KIND_WIA_WGA, 150000)
	uwv := f.p.As(t, "uwv-gijs")
	create := func(b *benefitsv1.Benefit) error {
		_, err := f.ben.CreateBenefit(uwv, &benefitsv1.CreateBenefitRequest{RequestId: uuid.NewString(), ClientId: id, Benefit: b})
		return err
	}
	cases := []struct {
		name string
		want codes.Code
		call func() error
	}{
		{"unknown benefit kind", codes.InvalidArgument, func() error {
			return create(&benefitsv1.Benefit{Kind: benefitsv1.BenefitKind(42), MonthlyAmountCents: 1, StartDate: "2025-01-01"})
		}},
		{"no benefit kind", codes.InvalidArgument, func() error { return create(&benefitsv1.Benefit{MonthlyAmountCents: 1, StartDate: "2025-01-01"}) }},
		{"negative amount", codes.InvalidArgument, func() error {
			return create(&benefitsv1.Benefit{Kind: benefitsv1.BenefitKind_BENEFIT_KIND_WW, MonthlyAmountCents: -5, StartDate: "2025-01-01"})
		}},
		{"end before start", codes.InvalidArgument, func() error {
			return create(&benefitsv1.Benefit{Kind: benefitsv1.BenefitKind_BENEFIT_KIND_WW, MonthlyAmountCents: 5, StartDate: "2025-01-01", EndDate: "2024-12-31"})
		}},
		{"uwv paying social assistance", codes.InvalidArgument, func() error {
			return create(&benefitsv1.Benefit{Kind: benefitsv1.BenefitKind_BENEFIT_KIND_PARTICIPATIEWET, MonthlyAmountCents: 5, StartDate: "2025-01-01"})
		}},
		{"decision before the benefit started", codes.InvalidArgument, func() error {
			_, err := f.ben.ReportBenefitDecision(uwv, &benefitsv1.ReportBenefitDecisionRequest{ClientId: id, BenefitId: wga.GetBenefitId(),
				Kind: benefitsv1.DecisionKind_DECISION_KIND_ENDED, EffectiveDate: "2023-01-01", RequestId: "bad-dec-1"})
			return err
		}},
		{"decision without a key", codes.InvalidArgument, func() error {
			_, err := f.ben.ReportBenefitDecision(uwv, &benefitsv1.ReportBenefitDecisionRequest{ClientId: id, BenefitId: wga.GetBenefitId(),
				Kind: benefitsv1.DecisionKind_DECISION_KIND_SUSPENDED, EffectiveDate: "2025-01-01"})
			return err
		}},
		{"stale version", codes.Aborted, func() error {
			_, err := f.ben.UpdateBenefit(uwv, &benefitsv1.UpdateBenefitRequest{ClientId: id, BenefitId: wga.GetBenefitId(),
				Benefit: &benefitsv1.Benefit{MonthlyAmountCents: 1, Version: 9}, UpdateMask: mask("monthly_amount_cents")})
			return err
		}},
		{"negative hours", codes.InvalidArgument, func() error {
			_, err := f.ben.CalculateIncomeEffect(uwv, &benefitsv1.CalculateIncomeEffectRequest{ClientId: id, HoursPerWeek: -1, JobStartDate: "2026-01-01"})
			return err
		}},
	}
	for _, tc := range cases {
		err := tc.call()
		if code(err) != tc.want || len(status.Convert(err).Message()) < 10 {
			t.Errorf("%s: %v, want %v with a message", tc.name, err, tc.want)
		}
	}
	if n := f.count(t, `SELECT count(*) FROM benefits.benefits`); n != 1 {
		t.Errorf("%d benefits, want 1", n)
	}
	if n := f.count(t, `SELECT count(*) FROM benefits.decisions`) + f.count(t, `SELECT count(*) FROM benefits.idempotency_keys WHERE method = 'ReportBenefitDecision'`); n != 0 {
		t.Errorf("bad decisions wrote %d rows", n)
	}
	if n := f.count(t, `SELECT version FROM benefits.benefits`); n != 1 {
		t.Errorf("benefit version moved to %d", n)
	}
}

// TestAuthorizationMatrix: every seeded user × read/write/summary of the
// benefits section × consent state, against DESIGN.md's table.
func TestAuthorizationMatrix(t *testing.T) {
	f := newFixture(t)
	id := f.enrol(t, "matrix-1", false)
	facts := authz.ClientFacts{MHAOrgID: "mha-noord", RegionID: "region-noord", TeamID: "noord-team-a", SpecialistID: "es-anna",
		InvolvedOrgIDs: []string{"gem-groningen", "uwv-noord"}}
	for _, state := range []string{"no consent", "consented", "revoked"} {
		t.Run(state, func(t *testing.T) {
			switch state {
			case "consented":
				f.consent(t, id)
			case "revoked":
				cs, err := f.cli.ListConsents(f.p.As(t, "es-anna"), &clientsv1.ListConsentsRequest{ClientId: id})
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range cs.GetConsents() {
					if k.GetActive() {
						if _, err := f.cli.RevokeConsent(f.p.As(t, "es-anna"), &clientsv1.RevokeConsentRequest{ClientId: id, ConsentId: k.GetConsentId()}); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			consented := state == "consented"
			before := f.count(t, `SELECT count(*) FROM audit.events WHERE service = 'benefits' AND client_id = $1`, id)
			calls := 0
			for _, u := range seed.Demo.Users {
				org, _ := seed.FindOrganization(u.OrgID)
				sub := authz.Subject{UserID: u.ID, OrgID: u.OrgID, OrgKind: org.Kind, RegionID: org.RegionID, Role: u.Role, Teams: u.Teams}
				rels := authz.Relations(sub, facts)
				want := func(a authz.Action) bool {
					return authztest.Expected(org.Kind, u.Role, rels, consented, authz.Benefits, a)
				}
				ctx := f.p.As(t, u.ID)
				check := func(what string, allowed bool, err error) {
					calls++
					if allowed != (err == nil) {
						t.Errorf("%s (%s@%s) %s: err %v, DESIGN.md allows: %v", u.ID, u.Role, u.OrgID, what, err, allowed)
					}
					if err != nil && code(err) != codes.NotFound && code(err) != codes.PermissionDenied {
						t.Errorf("%s %s: %v", u.ID, what, err)
					}
				}
				_, err := f.ben.ListBenefits(ctx, &benefitsv1.ListBenefitsRequest{ClientId: id})
				check("read", want(authz.Read), err)
				_, err = f.ben.GetBenefitSummary(ctx, &benefitsv1.GetBenefitSummaryRequest{ClientId: id})
				check("summary", want(authz.Read) || want(authz.ReadSummary), err)
				// Write: a payer records a benefit it pays; a counsellor of
				// another kind of organisation would assign a request.
				kind := benefitsv1.BenefitKind_BENEFIT_KIND_WIA_WGA
				if org.Kind == "municipality" {
					kind = benefitsv1.BenefitKind_BENEFIT_KIND_PARTICIPATIEWET
				}
				_, err = f.ben.CreateBenefit(ctx, &benefitsv1.CreateBenefitRequest{RequestId: uuid.NewString(), ClientId: id, Benefit: &benefitsv1.Benefit{
					Kind: kind, MonthlyAmountCents: 1000, StartDate: "2025-01-01"}})
				check("write", want(authz.Write), err)
			}
			if got := f.count(t, `SELECT count(*) FROM audit.events WHERE service = 'benefits' AND client_id = $1`, id) - before; got != calls {
				t.Errorf("audit records %d, calls %d", got, calls)
			}
		})
	}
}

// TestIncomeEffectAfterAdjustment: UWV reports from March that it pays
// less because it offsets the job's earnings; the history keeps the amount
// before the offset, and the calculation over four months, in Dutch,
// deducts the earnings once in every month and names UWV.
func TestIncomeEffectAfterAdjustment(t *testing.T) {
	f := newFixture(t)
	id := f.enrol(t, "adjust-key-1", true)
	uwv := f.p.As(t, "uwv-system")
	r, err := f.ben.CreateBenefit(uwv, &benefitsv1.CreateBenefitRequest{ClientId: id, RequestId: "adjust-wga-1", Benefit: &benefitsv1.Benefit{
		Kind: benefitsv1.BenefitKind_BENEFIT_KIND_WIA_WGA, MonthlyAmountCents: 185000, StartDate: "2025-01-01", WageRelatedEndDate: "2027-01-01"}})
	if err != nil {
		t.Fatal(err)
	}
	wga := r.GetBenefit()
	// 16 h × €14.00 × 52 / 12 = 97066 gross; UWV offsets 70% = 67946 and
	// pays 185000 − 67946 = 117054 from 1 March.
	if _, err := f.ben.ReportBenefitDecision(uwv, &benefitsv1.ReportBenefitDecisionRequest{ClientId: id, BenefitId: wga.GetBenefitId(),
		Kind: benefitsv1.DecisionKind_DECISION_KIND_ADJUSTED, EffectiveDate: "2026-03-01", MonthlyAmountCents: 117054, EarningsOffsetCents: 67946,
		RequestId: "adjust-1"}); err != nil {
		t.Fatal(err)
	}
	list, err := f.ben.ListBenefits(f.p.As(t, "gem-karin"), &benefitsv1.ListBenefitsRequest{ClientId: id})
	if err != nil || len(list.GetBenefits()) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	b := list.GetBenefits()[0]
	if b.GetMonthlyAmountCents() != 117054 || len(b.GetAmounts()) != 2 || b.GetAmounts()[1].GetMonthlyAmountCents() != 185000 ||
		b.GetAmounts()[1].GetEarningsOffsetCents() != 67946 || b.GetAmounts()[1].GetPaidCents() != 117054 || b.GetAmounts()[1].GetSource() != "adjusted" {
		t.Errorf("history: %v", b)
	}
	// Every month: without 185000, with 185000 − 67946 + 97066 = 214120.
	calc, err := f.ben.CalculateIncomeEffect(f.p.As(t, "gem-karin"), &benefitsv1.CalculateIncomeEffectRequest{ClientId: id,
		HoursPerWeek: 16, HourlyWageCents: 1400, JobStartDate: "2026-01-01", Months: 4, LanguageCode: "nl"})
	if err != nil {
		t.Fatal(err)
	}
	if len(calc.GetMonths()) != 4 {
		t.Fatalf("%d months", len(calc.GetMonths()))
	}
	for _, m := range calc.GetMonths() {
		if m.GetIncomeWithoutJobCents() != 185000 || m.GetIncomeWithJobCents() != 214120 || m.GetNet() {
			t.Errorf("%s: without %d, with %d (net %v)", m.GetMonth(), m.GetIncomeWithoutJobCents(), m.GetIncomeWithJobCents(), m.GetNet())
		}
	}
	march := calc.GetMonths()[2]
	if march.GetLabel() != "maart 2026" || !strings.Contains(march.GetLines()[1].GetDescription(), "UWV Noord") ||
		!slices.ContainsFunc(march.GetNotes(), func(n *benefitsv1.IncomeNote) bool {
			return n.GetCode() == "payer_offset" && strings.Contains(n.GetText(), "€ 679,46")
		}) {
		t.Errorf("march in Dutch: %v", march)
	}
	if _, err := f.ben.CalculateIncomeEffect(f.p.As(t, "gem-karin"), &benefitsv1.CalculateIncomeEffectRequest{ClientId: id,
		HoursPerWeek: 16, HourlyWageCents: 1400, JobStartDate: "2026-01-01", Months: 37}); code(err) != codes.InvalidArgument {
		t.Errorf("37 months: %v", err)
	}
	// A net wage above the gross wage is refused.
	net := int64(100000)
	if _, err := f.ben.CalculateIncomeEffect(f.p.As(t, "gem-karin"), &benefitsv1.CalculateIncomeEffectRequest{ClientId: id,
		HoursPerWeek: 16, HourlyWageCents: 1400, JobStartDate: "2026-01-01", NetMonthlyEarningsCents: &net}); code(err) != codes.InvalidArgument {
		t.Errorf("net above gross: %v", err)
	}
	// With the municipality's assistance recorded too, UWV's officer
	// calculates from the WGA alone, in English by default, and is told so.
	f.addBenefit(t, "gem-system", id, benefitsv1.BenefitKind_BENEFIT_KIND_PARTICIPATIEWET, 30000)
	own, err := f.ben.CalculateIncomeEffect(f.p.As(t, "uwv-gijs"), &benefitsv1.CalculateIncomeEffectRequest{ClientId: id,
		HoursPerWeek: 16, HourlyWageCents: 1400, JobStartDate: "2026-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	if len(own.GetMonths()) != 1 || own.GetIncomeWithoutJobCents() != 185000 || own.GetMonths()[0].GetLabel() != "January 2026" ||
		!slices.ContainsFunc(own.GetAssumptions(), func(n *benefitsv1.IncomeNote) bool {
			return n.GetCode() == "visible_only" && strings.Contains(n.GetText(), "your organisation pays")
		}) {
		t.Errorf("UWV's calculation: %v", own)
	}
}
