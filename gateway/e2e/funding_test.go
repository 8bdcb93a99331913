package e2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	gwserver "github.com/ipsbridge/ipsbridge/gateway/server"
	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	benefitsapp "github.com/ipsbridge/ipsbridge/services/benefits/app"
	benefitsserver "github.com/ipsbridge/ipsbridge/services/benefits/server"
	empserver "github.com/ipsbridge/ipsbridge/services/employment/server"
	eventsstore "github.com/ipsbridge/ipsbridge/services/events/store"
	fundingserver "github.com/ipsbridge/ipsbridge/services/funding/server"
)

// startWithFunding starts the clients, employment, benefits and funding
// services on one database, employment and funding on one injected clock,
// and the gateway routing to all of them.
func startWithFunding(t *testing.T, at time.Time) (*env, *clock) {
	t.Helper()
	ctx := context.Background()
	p := testplatform.Start(t)
	for _, ms := range [][]database.Migrations{empserver.Migrations, benefitsserver.Migrations, fundingserver.Migrations} {
		if err := database.Migrate(ctx, p.Pool, ms...); err != nil {
			t.Fatal(err)
		}
	}
	az, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock(at)
	esrv, _, err := empserver.Build(empserver.Deps{Pool: p.Pool, Verifier: p.Verifier, Authz: az,
		Clients: testplatform.Dial(t, p.ClientsAddr), Logger: testplatform.Logger(), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	empAddr := testplatform.Serve(t, esrv)
	bsrv, _, err := benefitsserver.Build(benefitsserver.Deps{Pool: p.Pool, Verifier: p.Verifier, Authz: az,
		Notifier: benefitsapp.TableNotifier{}, Logger: testplatform.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	benAddr := testplatform.Serve(t, bsrv)
	fsrv, _, err := fundingserver.Build(fundingserver.Deps{Pool: p.Pool, Verifier: p.Verifier, Authz: az, Logger: testplatform.Logger(),
		Employment: testplatform.Dial(t, empAddr), Benefits: testplatform.Dial(t, benAddr), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	funAddr := testplatform.Serve(t, fsrv)
	return startGateway(t, p, func(c *gwserver.Config) {
		c.EmploymentAddr, c.BenefitsAddr, c.FundingAddr = empAddr, benAddr, funAddr
		c.Web.DevLogin, c.Web.DevKeyDir = true, p.KeyDir
	}), clk
}

func mustDate(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

// The fee schedule of the scenario's agreement, in cents.
const (
	feeApproval  = 50000  // fixed, at approval
	feeJobStart  = 100000 // performance, at a job start of at least 12 h/week
	fee3Months   = 75000  // performance, 3 months continuous at >= 12 h/week
	fee6Months   = 150000 // performance, 6 months continuous at >= 12 h/week
	feeEndReport = 25000  // fixed, at the end report
)

// fundingAgreement is the body of an agreement of funder with mha-noord:
// 24 months, WIA and Wajong, the schedule above with hours as the
// threshold, ten trajectories at the schedule's total.
func fundingAgreement(name string, hours float64) map[string]any {
	total := feeApproval + feeJobStart + fee3Months + fee6Months + feeEndReport // 400000 a trajectory
	return map[string]any{
		"name": name, "mha_organization_id": "mha-noord", "valid_from": "2027-01-01", "valid_until": "2028-12-31",
		"budget_trajectories": 10, "budget_cents": 10 * total,
		"target_groups": []string{"TARGET_GROUP_WIA", "TARGET_GROUP_WAJONG"},
		"funded_months": 24, "max_extension_months": 12, "advance_percent": 0,
		"schedules": []map[string]any{{"valid_from": "2027-01-01", "parts": []map[string]any{
			{"part_id": "approval", "name": "Approval", "condition": "PART_CONDITION_APPROVAL", "amount_cents": feeApproval},
			{"part_id": "job-start", "name": "Job start", "condition": "PART_CONDITION_JOB_START", "amount_cents": feeJobStart, "min_hours_per_week": hours},
			{"part_id": "3-months", "name": "3 months at hours", "condition": "PART_CONDITION_CONTINUOUS_WORK", "amount_cents": fee3Months, "months": 3, "min_hours_per_week": hours},
			{"part_id": "6-months", "name": "6 months at hours", "condition": "PART_CONDITION_CONTINUOUS_WORK", "amount_cents": fee6Months, "months": 6, "min_hours_per_week": hours},
			{"part_id": "end-report", "name": "End report", "condition": "PART_CONDITION_END_REPORT", "amount_cents": feeEndReport},
		}}},
	}
}

// fundedClient enrols a client of es-anna's team with UWV and the
// municipality involved, consents UWV to benefits, placements and
// milestones, and has UWV record a WIA benefit.
func (e *env) fundedClient(tag string) string {
	e.t.Helper()
	r := e.want(e.do("POST", "/v1/clients", "es-anna", map[string]any{"request_id": "enrol-" + tag, "client": map[string]any{
		"identity":   map[string]any{"given_name": "Sanne", "family_name": "Kuipers"},
		"trajectory": map[string]any{"team_id": "noord-team-a", "involved_organization_ids": []string{"uwv-noord", "gem-groningen"}},
	}}), 200, "enrol")
	id := get(r.body, "client", "client_id").(string)
	e.want(e.do("POST", "/v1/clients/"+id+"/consents", "es-anna", map[string]any{"organization_id": "uwv-noord", "request_id": "consent-" + tag,
		"sections": []string{"SECTION_BENEFITS", "SECTION_PLACEMENTS", "SECTION_MILESTONES"}}), 200, "consent")
	e.want(e.do("POST", "/v1/clients/"+id+"/benefits", "uwv-gijs", map[string]any{"request_id": "wia-" + tag,
		"benefit": map[string]any{"kind": "BENEFIT_KIND_WIA_WGA", "monthly_amount_cents": 150000, "start_date": "2026-06-01"}}), 200, "WIA benefit")
	return id
}

// step posts an application step and returns the application.
func (e *env) step(user, appID, verb string, body map[string]any) map[string]any {
	e.t.Helper()
	r := e.want(e.do("POST", "/v1/trajectoryApplications/"+appID+":"+verb, user, body), 200, verb)
	return r.body["application"].(map[string]any)
}

func (e *env) lines(claim map[string]any) map[string]map[string]any {
	e.t.Helper()
	out := map[string]map[string]any{}
	ls, _ := claim["lines"].([]any)
	for _, l := range ls {
		lm := l.(map[string]any)
		k := fmt.Sprint(lm["part_id"])
		if n, _ := lm["amount_cents"].(string); len(n) > 0 && n[0] == '-' {
			k += " credit"
		}
		out[k] = lm
	}
	return out
}

// TestFundingThirtyMonths runs a trajectory through the gateway over 30
// months of injected time: agreement, application signed, submitted and
// approved, a job start, 6 months of continuous work at the agreement's
// hours, a claim whose lines the funder approves and rejects, a backdated
// job end that produces a credit line in the next claim, a stop notice and
// the final determination: fixed + approved - credits.
func TestFundingThirtyMonths(t *testing.T) {
	t0 := mustDate("2027-01-04")
	e, clk := startWithFunding(t, t0)

	ag := e.want(e.do("POST", "/v1/fundingAgreements", "fo-otto", map[string]any{"request_id": "agreement-0001",
		"agreement": fundingAgreement("UWV Noord IPS 2027-2028", 12)}), 200, "agreement").body["agreement"].(map[string]any)
	agID := ag["agreement_id"].(string)
	id := e.fundedClient("thirty")

	// The application: drafted by the specialist, signed by the client
	// (recorded by the specialist) and the MHA, submitted, approved on t0.
	a := e.want(e.do("POST", "/v1/trajectoryApplications", "es-anna", map[string]any{"agreement_id": agID, "client_id": id,
		"request_id": "application-0001"}), 200, "draft").body["application"].(map[string]any)
	appID := a["application_id"].(string)
	if a["target_group"] != "TARGET_GROUP_WIA" {
		t.Errorf("target group %v, want WIA from the client's benefit", a["target_group"])
	}
	// The funder does not see a draft.
	e.want(e.do("GET", "/v1/trajectoryApplications/"+appID, "fo-otto", nil), 404, "funder reads a draft")
	// The MHA's funding officer now reads the client's identity and
	// trajectory (the client is under its agreement); the funder's does
	// not, and the other MHA's clients stay out of reach.
	if r := e.want(e.do("GET", "/v1/clients/"+id, "fo-nina", nil), 200, "MHA funding officer reads the client"); get(r.body, "client", "identity", "family_name") != "Kuipers" ||
		get(r.body, "client", "work_goals") != nil {
		t.Errorf("MHA funding officer's view of the client: %s", r.raw)
	}
	e.want(e.do("GET", "/v1/clients/"+id, "fo-otto", nil), 404, "funder's officer reads the client")
	a = e.step("es-anna", appID, "sign", map[string]any{"signer": "SIGNER_CLIENT", "version": a["version"], "request_id": "sign-client-0001"})
	// Signing for the MHA is the funding officer's, not the specialist's.
	e.want(e.do("POST", "/v1/trajectoryApplications/"+appID+":sign", "es-anna", map[string]any{"signer": "SIGNER_MHA",
		"version": a["version"], "request_id": "sign-mha-wrong"}), 403, "specialist signs for the MHA")
	a = e.step("fo-nina", appID, "sign", map[string]any{"signer": "SIGNER_MHA", "version": a["version"], "request_id": "sign-mha-0001"})
	a = e.step("fo-nina", appID, "submit", map[string]any{"version": a["version"], "request_id": "submit-0001"})
	// The MHA cannot approve its own application; the other funder does not
	// find it.
	e.want(e.do("POST", "/v1/trajectoryApplications/"+appID+":decide", "fo-nina", map[string]any{"approve": true,
		"version": a["version"], "request_id": "decide-wrong-0001"}), 403, "MHA approves")
	e.want(e.do("POST", "/v1/trajectoryApplications/"+appID+":decide", "fo-pien", map[string]any{"approve": true,
		"version": a["version"], "request_id": "decide-wrong-0002"}), 404, "another funder approves")
	decide := map[string]any{"approve": true, "version": a["version"], "request_id": "decide-0001"}
	a = e.step("fo-otto", appID, "decide", decide)
	// A retry of the same approval returns it; a second approval is refused.
	if again := e.step("fo-otto", appID, "decide", decide); again["version"] != a["version"] {
		t.Errorf("retried approval changed the application: %v", again)
	}
	e.want(e.do("POST", "/v1/trajectoryApplications/"+appID+":decide", "fo-otto", map[string]any{"approve": true,
		"version": a["version"], "request_id": "decide-0002"}), 400, "second approval")
	// 24 months from 2027-01-04: the funded period ends 2029-01-03.
	if a["decision_date"] != "2027-01-04" || a["funded_until"] != "2029-01-03" {
		t.Errorf("approval %v until %v", a["decision_date"], a["funded_until"])
	}
	if a = e.step("fo-nina", appID, "start", map[string]any{"version": a["version"], "request_id": "start-0001"}); a["state"] != "APPLICATION_STATE_RUNNING" {
		t.Errorf("after the start: %v", a["state"])
	}

	// A job from 2027-02-01 at 20 hours a week.
	pl := e.want(e.do("POST", "/v1/clients/"+id+"/placements", "es-anna", map[string]any{"request_id": "job-0001",
		"placement": map[string]any{"employer_name": "Bakkerij Bol", "job_title": "Baker", "start_date": "2027-02-01",
			"contract_kind": "CONTRACT_KIND_PERMANENT", "hours_per_week": 20, "hourly_wage_cents": 1500}}), 200, "job start").body["placement"].(map[string]any)

	// Seven months in, the MHA claims up to 2027-08-14. Earned: approval
	// on 2027-01-04 (50000), job start on 2027-02-01 (100000), 3 months
	// on 2027-05-01 (75000), 6 months on 2027-08-01 (150000): 375000.
	clk.set(mustDate("2027-08-15"))
	want1 := int64(feeApproval + feeJobStart + fee3Months + fee6Months) // 375000
	// Amounts that do not add up are refused, and nothing is written.
	e.want(e.do("POST", "/v1/fundingClaims", "fo-nina", map[string]any{"agreement_id": agID, "period_end": "2027-08-14",
		"expected_total_cents": want1 + 1, "request_id": "claim-wrong-0001"}), 400, "claim that does not add up")
	// A line for a milestone not reached is refused, and nothing is written.
	e.want(e.do("POST", "/v1/fundingClaims", "fo-nina", map[string]any{"agreement_id": agID, "period_end": "2027-08-14",
		"only_parts": []string{appID + "/end-report"}, "request_id": "claim-wrong-0002"}), 400, "claim of a milestone not reached")
	if n := e.count(`SELECT count(*) FROM funding.claims`); n != 0 {
		t.Fatalf("%d claims written by refused requests", n)
	}
	claimBody := map[string]any{"agreement_id": agID, "period_end": "2027-08-14", "expected_total_cents": want1, "request_id": "claim-0001"}
	c1 := e.want(e.do("POST", "/v1/fundingClaims", "fo-nina", claimBody), 200, "claim 1").body["claim"].(map[string]any)
	if got := num(t, c1["total_cents"]); got != want1 {
		t.Errorf("claim 1 total %d, want %d", got, want1)
	}
	if again := e.want(e.do("POST", "/v1/fundingClaims", "fo-nina", claimBody), 200, "claim 1 retried").body["claim"].(map[string]any); again["claim_id"] != c1["claim_id"] {
		t.Errorf("a retried claim made another: %v", again["claim_id"])
	}
	l1 := e.lines(c1)
	for part, day := range map[string]string{"approval": "2027-01-04", "job-start": "2027-02-01", "3-months": "2027-05-01", "6-months": "2027-08-01"} {
		if l1[part]["earned_date"] != day {
			t.Errorf("claim 1 line %s earned %v, want %s", part, l1[part]["earned_date"], day)
		}
	}
	if l1["6-months"]["hours_band"] != "20-24" {
		t.Errorf("6 months hours band %v, want 20-24", l1["6-months"]["hours_band"])
	}
	claimID := c1["claim_id"].(string)
	// The funder sees no draft.
	e.want(e.do("GET", "/v1/fundingClaims/"+claimID, "fo-otto", nil), 404, "funder reads a draft claim")
	c1 = e.want(e.do("POST", "/v1/fundingClaims/"+claimID+":submit", "fo-nina", map[string]any{"version": c1["version"], "request_id": "submit-claim-0001"}), 200, "submit claim 1").body["claim"].(map[string]any)
	// A retry of the claim after its submission still answers with it.
	if again := e.want(e.do("POST", "/v1/fundingClaims", "fo-nina", claimBody), 200, "claim 1 retried after submission").body["claim"].(map[string]any); again["claim_id"] != claimID {
		t.Errorf("a claim retried after submission answered %v", again["claim_id"])
	}

	// The funder reviews line by line: the job's details show (UWV has the
	// placements consent); it rejects the job start and approves the rest.
	fc := e.want(e.do("GET", "/v1/fundingClaims/"+claimID, "fo-otto", nil), 200, "funder reads claim").body["claim"].(map[string]any)
	if e.lines(fc)["job-start"]["employer_name"] != "Bakkerij Bol" {
		t.Errorf("funder with placements consent does not see the employer: %v", e.lines(fc)["job-start"])
	}
	decideLine := func(part string, approve bool, reason string) {
		t.Helper()
		line := e.lines(c1)[part]
		c1 = e.want(e.do("POST", "/v1/fundingClaims/"+claimID+"/lines/"+line["line_id"].(string)+":decide", "fo-otto", map[string]any{
			"approve": approve, "reason": reason, "version": c1["version"], "request_id": "line-" + part}), 200, "decide "+part).body["claim"].(map[string]any)
	}
	decideLine("approval", true, "")
	decideLine("job-start", false, "the employment contract was not sent along")
	// A rejection without a reason is refused; the line stays pending.
	line3 := e.lines(c1)["3-months"]
	e.want(e.do("POST", "/v1/fundingClaims/"+claimID+"/lines/"+line3["line_id"].(string)+":decide", "fo-otto", map[string]any{
		"approve": false, "version": c1["version"], "request_id": "line-noreason"}), 400, "rejection without reason")
	decideLine("3-months", true, "")
	decideLine("6-months", true, "")
	// Approved: 50000 + 75000 + 150000 = 275000.
	if c1["state"] != "CLAIM_STATE_DECIDED" || num(t, c1["approved_cents"]) != feeApproval+fee3Months+fee6Months {
		t.Errorf("claim 1 %v approved %v, want decided 275000", c1["state"], c1["approved_cents"])
	}
	if l := e.lines(c1)["job-start"]; l["state"] != "LINE_STATE_REJECTED" || l["decision_reason"] != "the employment contract was not sent along" {
		t.Errorf("job start line %v", l)
	}
	c1 = e.want(e.do("POST", "/v1/fundingClaims/"+claimID+":pay", "fo-otto", map[string]any{"version": c1["version"], "request_id": "pay-0001"}), 200, "pay").body["claim"].(map[string]any)

	// On 2027-10-01 the specialist records that the job ended on
	// 2027-07-15, backdated: the 6 months (due 2027-08-01) were never
	// reached. The 3 months (2027-05-01) stand.
	clk.set(mustDate("2027-10-01"))
	e.want(e.do("POST", "/v1/clients/"+id+"/placements/"+pl["placement_id"].(string)+":end", "es-anna", map[string]any{
		"end_date": "2027-07-15", "end_reason": "contract not renewed", "version": pl["version"]}), 200, "backdated job end")
	// Claim 1 is not rewritten.
	if again := e.want(e.do("GET", "/v1/fundingClaims/"+claimID, "fo-nina", nil), 200, "claim 1 again").body["claim"].(map[string]any); num(t, again["total_cents"]) != want1 || len(again["lines"].([]any)) != 4 {
		t.Errorf("claim 1 changed after the backdated end: %v", again)
	}
	// Claim 2 carries one credit line: -150000 for the 6 months; the
	// rejected job start is not claimed again.
	c2 := e.want(e.do("POST", "/v1/fundingClaims", "fo-nina", map[string]any{"agreement_id": agID, "period_end": "2027-09-30",
		"request_id": "claim-0002"}), 200, "claim 2").body["claim"].(map[string]any)
	l2 := e.lines(c2)
	credit := l2["6-months credit"]
	if len(l2) != 1 || credit == nil || num(t, credit["amount_cents"]) != -fee6Months || credit["credits_line_id"] != e.lines(c1)["6-months"]["line_id"] ||
		credit["state"] != "LINE_STATE_CREDITED" {
		t.Fatalf("claim 2 lines %v, want one credit of -150000 for the 6 months", l2)
	}
	c2 = e.want(e.do("POST", "/v1/fundingClaims/"+c2["claim_id"].(string)+":submit", "fo-nina", map[string]any{"version": c2["version"], "request_id": "submit-claim-0002"}), 200, "submit claim 2").body["claim"].(map[string]any)
	if c2["state"] != "CLAIM_STATE_DECIDED" {
		t.Errorf("a claim of credits only is %v after submission, want decided", c2["state"])
	}

	// A year in, the MHA files the stop notice.
	clk.set(mustDate("2028-01-10"))
	a = e.want(e.do("GET", "/v1/trajectoryApplications/"+appID, "fo-nina", nil), 200, "read application").body["application"].(map[string]any)
	a = e.step("fo-nina", appID, "stop", map[string]any{"stop_date": "2028-01-10", "reason": "the client moved out of the region",
		"version": a["version"], "request_id": "stop-0001"})
	if a["state"] != "APPLICATION_STATE_STOPPED" {
		t.Errorf("after the stop notice: %v", a["state"])
	}

	// Thirty months after the start, the funder makes the final
	// determination: fixed (approval 50000) + approved performance (3
	// months 75000 + 6 months 150000) - credits (150000) = 125000.
	clk.set(mustDate("2029-07-04"))
	wantFinal := int64(feeApproval + (fee3Months + fee6Months) - fee6Months)
	a = e.step("fo-otto", appID, "determine", map[string]any{"version": a["version"], "request_id": "determine-0001"})
	if a["state"] != "APPLICATION_STATE_DETERMINED" || num(t, a["determined_cents"]) != wantFinal {
		t.Errorf("determination %v of %v, want %d", a["state"], a["determined_cents"], wantFinal)
	}
	e.want(e.do("POST", "/v1/trajectoryApplications/"+appID+":determine", "fo-otto", map[string]any{"version": a["version"],
		"request_id": "determine-0002"}), 400, "second determination")

	// The budget: one trajectory, determined at 125000; 275000 paid on claim
	// 1, so the MHA owes the 150000 credit back.
	b := e.want(e.do("GET", "/v1/fundingAgreements/"+agID+"/budget", "fo-otto", nil), 200, "budget").body["budget"].(map[string]any)
	for k, v := range map[string]int64{"committed_cents": wantFinal, "approved_cents": wantFinal, "paid_cents": feeApproval + fee3Months + fee6Months,
		"remaining_cents": 10*400000 - wantFinal, "trajectories": 1} {
		if got := num(t, b[k]); got != v {
			t.Errorf("budget %s = %d, want %d", k, got, v)
		}
	}

	// Every step went to the outbox for partner systems.
	for typ, n := range map[string]int{
		"nl.ipsbridge.funding.application_decided.v1": 1, "nl.ipsbridge.funding.trajectory_stopped.v1": 1,
		"nl.ipsbridge.funding.claim_submitted.v1": 2, "nl.ipsbridge.funding.claim_decided.v1": 2,
	} {
		if got := e.count(`SELECT count(*) FROM outbox.events WHERE type = $1 AND client_id = $2`, typ, id); got != n {
			t.Errorf("%d %s events, want %d", got, typ, n)
		}
	}
	// And every access to the client's funding is audited.
	if n := e.count(`SELECT count(*) FROM audit.events WHERE service = 'funding' AND client_id = $1 AND outcome = 'allowed'`, id); n < 15 {
		t.Errorf("%d funding audit records of the client", n)
	}
}

// TestFundingEvents: the funding steps and the milestones reach the
// funder's partner system, which the client consented to seeing them,
// and not the other payer's, which the client consented to as well but
// which funds nothing of this client.
func TestFundingEvents(t *testing.T) {
	e, clk := startWithFunding(t, mustDate("2027-01-04"))
	if err := database.Migrate(context.Background(), e.p.Pool, audit.Migrations, outbox.Migrations, eventsstore.Migrations); err != nil {
		t.Fatal(err)
	}
	uwv, gem := e.subscribePartner("uwv-noord", "uwv"), e.subscribePartner("gem-groningen", "municipality")
	e.runDispatcher()
	ag := e.want(e.do("POST", "/v1/fundingAgreements", "fo-otto", map[string]any{"request_id": "agreement-events-1",
		"agreement": fundingAgreement("UWV Noord events", 12)}), 200, "agreement").body["agreement"].(map[string]any)
	id := e.fundedClient("events")
	for _, org := range []string{"uwv-noord", "gem-groningen"} {
		e.want(e.do("POST", "/v1/clients/"+id+"/consents", "es-anna", map[string]any{"organization_id": org, "request_id": "consent-funding-" + org,
			"sections": []string{"SECTION_MILESTONES", "SECTION_FUNDING", "SECTION_PLACEMENTS"}}), 200, "consent")
	}
	a := e.want(e.do("POST", "/v1/trajectoryApplications", "es-anna", map[string]any{"agreement_id": ag["agreement_id"], "client_id": id,
		"request_id": "application-events-1"}), 200, "draft").body["application"].(map[string]any)
	appID := a["application_id"].(string)
	a = e.step("es-anna", appID, "sign", map[string]any{"signer": "SIGNER_CLIENT", "version": a["version"], "request_id": "events-sign-client"})
	a = e.step("fo-nina", appID, "sign", map[string]any{"signer": "SIGNER_MHA", "version": a["version"], "request_id": "events-sign-mha"})
	a = e.step("fo-nina", appID, "submit", map[string]any{"version": a["version"], "request_id": "events-submit"})
	e.step("fo-otto", appID, "decide", map[string]any{"approve": true, "version": a["version"], "request_id": "events-decide"})
	clk.set(mustDate("2027-02-01"))
	e.want(e.do("POST", "/v1/clients/"+id+"/placements", "es-anna", map[string]any{"request_id": "job-events-0001",
		"placement": map[string]any{"employer_name": "Bakkerij Bol", "job_title": "Baker", "start_date": "2027-02-01",
			"contract_kind": "CONTRACT_KIND_PERMANENT", "hours_per_week": 20, "hourly_wage_cents": 1500}}), 200, "job")
	pollUntil(t, 10*time.Second, "every delivery decided", e.settled)

	types := func(p *partner) map[string]int {
		out := map[string]int{}
		for _, h := range p.received() {
			if h.Data.ClientID == id {
				out[h.Event.Type]++
			}
		}
		return out
	}
	gotUWV, gotGem := types(uwv), types(gem)
	if gotUWV[string(outbox.ApplicationDecided)] != 1 || gotUWV[string(outbox.MilestoneReached)] == 0 {
		t.Errorf("UWV, the funder, received %v; want the decision and the milestones", gotUWV)
	}
	if gotGem[string(outbox.ApplicationDecided)] != 0 || gotGem[string(outbox.MilestoneReached)] != 0 {
		t.Errorf("the municipality, which funds nothing of this client, received %v", gotGem)
	}
	if gotGem[string(outbox.JobStarted)] != 1 {
		t.Errorf("the municipality did not receive the job start it may see: %v", gotGem)
	}
}
