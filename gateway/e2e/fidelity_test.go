package e2e_test

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"

	gwserver "github.com/ipsbridge/ipsbridge/gateway/server"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	benefitsapp "github.com/ipsbridge/ipsbridge/services/benefits/app"
	benefitsserver "github.com/ipsbridge/ipsbridge/services/benefits/server"
	empserver "github.com/ipsbridge/ipsbridge/services/employment/server"
	fidserver "github.com/ipsbridge/ipsbridge/services/fidelity/server"
)

// startWithFidelity starts the clients, employment, benefits and fidelity
// services on one database and the gateway routing to all of them.
func startWithFidelity(t *testing.T) *env {
	t.Helper()
	p := testplatform.Start(t)
	ctx := context.Background()
	if err := database.Migrate(ctx, p.Pool, empserver.Migrations...); err != nil {
		t.Fatal(err)
	}
	if err := database.Migrate(ctx, p.Pool, benefitsserver.Migrations...); err != nil {
		t.Fatal(err)
	}
	if err := fidserver.Migrate(ctx, p.Pool); err != nil {
		t.Fatal(err)
	}
	az, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	// Each service as its runtime role, as deployed: a missing grant (the
	// shared path's call of fidelity.open_review_teams from the clients
	// and employment roles) fails the test.
	emp, _, err := empserver.Build(empserver.Deps{Pool: p.RuntimePool(t, empserver.Runtime), Verifier: p.Verifier, Authz: az,
		Clients: testplatform.Dial(t, p.ClientsAddr), Logger: testplatform.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	empAddr := testplatform.Serve(t, emp)
	ben, _, err := benefitsserver.Build(benefitsserver.Deps{Pool: p.RuntimePool(t, benefitsserver.Runtime), Verifier: p.Verifier, Authz: az,
		Notifier: benefitsapp.TableNotifier{}, Logger: testplatform.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	benAddr := testplatform.Serve(t, ben)
	fid, _, err := fidserver.Build(fidserver.Deps{Pool: p.RuntimePool(t, fidserver.Runtime), Verifier: p.Verifier, Authz: az, Logger: testplatform.Logger(),
		Figures: fidserver.NewFigures(testplatform.Dial(t, empAddr), testplatform.Dial(t, p.ClientsAddr), testplatform.Dial(t, benAddr))})
	if err != nil {
		t.Fatal(err)
	}
	fidAddr := testplatform.Serve(t, fid)
	return startGateway(t, p, func(c *gwserver.Config) {
		c.EmploymentAddr, c.BenefitsAddr, c.FidelityAddr = empAddr, benAddr, fidAddr
		c.Web.DevLogin, c.Web.DevKeyDir = true, p.KeyDir
	})
}

// injectTeamHistory writes half a year of a team's history straight into
// the services' tables (test setup, not the services' API: intake dates
// cannot be backdated through it), chosen so that each measured item lands
// on a known anchor over the period 2026-01-01 .. 2026-06-30 (25.86 weeks):
//
//	caseload      44 active clients, 2 specialists: 22 per specialist  → 4
//	clinical      30 of 44 with clinical input: 68.2%                   → 4
//	referrals     10 in the period, 1 closed before intake: 10%         → 4
//	rapid search  9 intakes, first face-to-face contact after 20..60
//	              days: mean 40                                         → 4
//	job dev.      156 face-to-face contacts / 2 / 25.86 weeks: 3.0      → 2
//	job types     10 starts, 8 distinct titles: 80%                     → 4
//	employers     10 starts, 9 distinct employers: 90%                  → 5
//	competitive   9 of 10 at or above the 2026 minimum wage: 90%        → 4
//	follow-along  10 jobs × 5 complete months, contact in 4: 80%        → 4
//	counselling   10 on benefits, 6 offered counselling: 60%            → 3
func injectTeamHistory(t *testing.T, e *env, team string) {
	t.Helper()
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := e.p.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	newClient := func(referred, phase, specialist, reason string) string {
		id := uuid.NewString()
		exec(`INSERT INTO clients.clients (id, mha_org_id, region_id, created_by) VALUES ($1, 'mha-noord', 'region-noord', 'test')`, id)
		exec(`INSERT INTO clients.trajectories (client_id, phase, team_id, specialist_id, closing_reason, referred_at)
			VALUES ($1, $2, $3, $4, $5, $6::date)`, id, phase, team, specialist, reason, referred)
		exec(`INSERT INTO clients.phase_changes (client_id, from_phase, to_phase, changed_at, changed_by)
			VALUES ($1, '', 'referral', $2::date, 'test')`, id, referred)
		return id
	}
	spec := []string{"es-anna", "es-zoe"}
	var active []string
	// 35 clients on the caseload since before the period.
	for i := range 35 {
		id := newClient("2025-11-01", "job_search", spec[i%2], "")
		exec(`INSERT INTO clients.phase_changes (client_id, from_phase, to_phase, changed_at, changed_by)
			VALUES ($1, 'referral', 'intake', '2025-11-10', 'test')`, id)
		active = append(active, id)
	}
	// 9 referrals in the period, taken on: intake 2026-02-10, first
	// face-to-face employer contact 20, 25, ... 60 days later.
	for i := range 9 {
		id := newClient("2026-02-01", "job_search", spec[i%2], "")
		exec(`INSERT INTO clients.phase_changes (client_id, from_phase, to_phase, changed_at, changed_by)
			VALUES ($1, 'referral', 'intake', '2026-02-10', 'test')`, id)
		exec(`INSERT INTO employment.employer_contacts (id, client_id, specialist_id, employer_name, contact_date, face_to_face)
			VALUES ($1, $2, $3, 'Bakkerij', '2026-02-10'::date + $4::int, true)`, uuid.NewString(), id, spec[i%2], 20+5*i)
		active = append(active, id)
	}
	// 1 referral in the period closed before intake.
	closed := newClient("2026-03-01", "closed", "", "moved out of the region")
	exec(`INSERT INTO clients.phase_changes (client_id, from_phase, to_phase, changed_at, changed_by)
		VALUES ($1, 'referral', 'closed', '2026-03-05', 'test')`, closed)
	// Clinical input for 30 of the 44.
	for _, id := range active[:30] {
		exec(`INSERT INTO clients.clinical_inputs (client_id, notes) VALUES ($1, 'werkdoelen besproken in het team')`, id)
	}
	// 147 general face-to-face contacts (156 with the 9 above) and 20 by
	// phone, which do not count.
	for i := range 167 {
		exec(`INSERT INTO employment.employer_contacts (id, specialist_id, employer_name, contact_date, face_to_face)
			VALUES ($1, $2, 'Werkgever', '2026-01-02'::date + $3::int, $4)`, uuid.NewString(), spec[i%2], i%170, i < 147)
	}
	// 10 jobs from 2026-01-05: 8 distinct titles, 9 distinct employers, one
	// below the minimum wage; follow-along contacts in 4 of their 5
	// complete months in the period.
	titles := []string{"kok", "kok", "kok", "magazijn", "receptie", "schoonmaak", "tuin", "administratie", "zorg", "horeca"}
	for i := range 10 {
		pid := uuid.NewString()
		wage := 1500
		if i == 0 {
			wage = 1200
		}
		employer := fmt.Sprintf("Werkgever %d", i)
		if i == 1 {
			employer = "Werkgever 0"
		}
		exec(`INSERT INTO employment.placements (id, client_id, employer_name, job_title, start_date, contract_kind, created_by, updated_by)
			VALUES ($1, $2, $3, $4, '2026-01-05', 'permanent', 'test', 'test')`, pid, active[i], employer, titles[i])
		exec(`INSERT INTO employment.placement_terms (placement_id, effective_date, hours_per_week, hourly_wage_cents, recorded_by)
			VALUES ($1, '2026-01-05', 24, $2, 'test')`, pid, wage)
		for m := range 4 {
			exec(`INSERT INTO employment.follow_along_contacts (id, client_id, placement_id, contact_date, with_whom, specialist_id)
				VALUES ($1, $2, $3, ('2026-01-05'::date + make_interval(months => $4) + interval '3 days')::date, 'client', 'es-anna')`,
				uuid.NewString(), active[i], pid, m)
		}
	}
	// 10 clients on benefits, 6 of them offered counselling.
	for i, id := range active[10:20] {
		exec(`INSERT INTO benefits.benefits (id, client_id, kind, payer_org_id, monthly_amount_cents, start_date, created_by, updated_by)
			VALUES ($1, $2, 'wajong', 'uwv-noord', 90000, '2025-01-01', 'test', 'test')`, uuid.NewString(), id)
		if i < 6 {
			exec(`INSERT INTO benefits.counselling_requests (id, client_id, requested_by, created_at) VALUES ($1, $2, 'es-anna', '2026-03-01')`,
				uuid.NewString(), id)
		}
	}
}

func TestFidelityReviewOverREST(t *testing.T) {
	e := startWithFidelity(t)
	injectTeamHistory(t, e, "noord-team-a")
	// A reviewer on the MHA's own payroll, for the independence check.
	if _, err := e.p.Pool.Exec(context.Background(),
		`INSERT INTO clients.users (id, org_id, role, name) VALUES ('fr-intern', 'mha-noord', 'fidelity_reviewer', 'Interne Auditor')`); err != nil {
		t.Fatal(err)
	}
	scale := e.want(e.do("GET", "/v1/fidelityScales/ips25-2008", "fr-maria", nil), 200, "scale").body["scale"].(map[string]any)
	items := list(scale, "items")
	if len(items) != 25 {
		t.Fatalf("scale has %d items", len(items))
	}

	// The team's supervisor requests a review; another team's cannot.
	req := map[string]any{"team_id": "noord-team-a", "period_from": "2026-01-01", "period_to": "2026-06-30", "request_id": "fid-req-0001"}
	r := e.want(e.do("POST", "/v1/fidelityReviews", "sup-eva", req), 200, "request").body["review"].(map[string]any)
	again := e.want(e.do("POST", "/v1/fidelityReviews", "sup-eva", req), 200, "request retried").body["review"].(map[string]any)
	if again["review_id"] != r["review_id"] || e.count(`SELECT count(*) FROM fidelity.reviews`) != 1 {
		t.Fatalf("a retried request made another review")
	}
	other := map[string]any{"team_id": "noord-team-b", "period_from": "2026-01-01", "period_to": "2026-06-30", "request_id": "fid-req-0002"}
	e.want(e.do("POST", "/v1/fidelityReviews", "sup-eva", other), 403, "request for another team")
	id := str(r["review_id"])
	version := func(r map[string]any) int64 { return num(t, r["version"]) }

	// A reviewer of the reviewed organisation is refused, clearly.
	bad := e.want(e.do("POST", "/v1/fidelityReviews/"+id+":assign", "sup-eva", map[string]any{
		"reviewer_id": "fr-intern", "scheduled_on": "2026-07-15", "version": version(r), "request_id": "fid-assign-0001"}), 403, "same-organisation reviewer")
	if msg := str(bad.body["message"]); !strings.Contains(msg, "independent") {
		t.Errorf("refusal does not say why: %q", msg)
	}
	r = e.want(e.do("POST", "/v1/fidelityReviews/"+id+":assign", "sup-eva", map[string]any{
		"reviewer_id": "fr-maria", "scheduled_on": "2026-07-15", "version": version(r), "request_id": "fid-assign-0002"}), 200, "assign").body["review"].(map[string]any)
	if r["status"] != "REVIEW_STATUS_ASSIGNED" || r["reviewer_org_id"] != "ips-fidelity" {
		t.Fatalf("assigned review: %v", r)
	}

	// The reviewer's worklist holds it.
	work := e.want(e.do("GET", "/v1/fidelityReviews", "fr-maria", nil), 200, "worklist").body
	if rs := list(work, "reviews"); len(rs) != 1 || rs[0]["review_id"] != id {
		t.Fatalf("worklist: %v", work)
	}

	// The reviewer samples the team's records: identity removed, stable
	// pseudonyms, each client's read audited by the services holding them.
	sample := e.want(e.do("GET", "/v1/fidelityReviews/"+id+"/sampleRecords", "fr-maria", nil), 200, "sample")
	recs := list(sample.body, "records")
	if len(recs) != 10 {
		t.Fatalf("sample of %d records, want 10: %s", len(recs), sample.raw)
	}
	var teamClient string
	if err := e.p.Pool.QueryRow(context.Background(), `SELECT client_id::text FROM clients.trajectories WHERE team_id = 'noord-team-a' LIMIT 1`).Scan(&teamClient); err != nil {
		t.Fatal(err)
	}
	rows, err := e.p.Pool.Query(context.Background(), `SELECT client_id::text FROM clients.trajectories`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var cid string
		if err := rows.Scan(&cid); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(sample.raw, cid) {
			t.Fatalf("the sample names client %s", cid)
		}
	}
	rows.Close()
	for _, rec := range recs {
		if !strings.HasPrefix(str(rec["pseudonym"]), "P-") || rec["identity"] != nil {
			t.Fatalf("sample record: %v", rec)
		}
	}
	if again := e.want(e.do("GET", "/v1/fidelityReviews/"+id+"/sampleRecords", "fr-maria", nil), 200, "sample again"); again.raw != sample.raw {
		t.Errorf("pseudonyms are not stable:\n%s\n%s", sample.raw, again.raw)
	}
	if n := e.count(`SELECT count(*) FROM audit.events WHERE actor_id = 'fr-maria' AND service = 'clients' AND client_id <> '' AND outcome = 'allowed'`); n != 20 {
		t.Errorf("%d audited client reads by the reviewer in the clients service, want 20 (10 per sample)", n)
	}
	e.want(e.do("GET", "/v1/fidelityReviews/"+id+"/sampleRecords", "sup-eva", nil), 404, "supervisor sampling")
	// The review relation opens the team's trajectories, never identity.
	cl := e.want(e.do("GET", "/v1/clients/"+teamClient, "fr-maria", nil), 200, "reviewer reads a team client")
	if strings.Contains(cl.raw, "given_name") || strings.Contains(cl.raw, "bsn") {
		t.Fatalf("the reviewer sees identity: %s", cl.raw)
	}

	// The supervisor self-assesses: every item 4.
	var self []map[string]any
	for _, it := range items {
		self = append(self, map[string]any{"item_code": it["code"], "score": 4})
	}
	r = e.want(e.do("POST", "/v1/fidelityReviews/"+id+":selfAssess", "sup-eva", map[string]any{
		"scale_id": "ips25-2008", "scores": self, "version": version(r), "request_id": "fid-self-0001"}), 200, "self-assessment").body["review"].(map[string]any)
	if num(t, r["self_total"]) != 100 {
		t.Errorf("self total %v, want 100", r["self_total"])
	}

	// Bad scores write nothing.
	before := e.count(`SELECT count(*) FROM fidelity.scores WHERE kind = 'review'`)
	for _, c := range []struct {
		what string
		body map[string]any
		path string
	}{
		{"score 0", map[string]any{"scale_id": "ips25-2008", "score": 0, "evidence": "x", "version": version(r)}, "S1"},
		{"score 6", map[string]any{"scale_id": "ips25-2008", "score": 6, "evidence": "x", "version": version(r)}, "S1"},
		{"typed total", map[string]any{"scale_id": "ips25-2008", "score": 3, "evidence": "x", "total": 125, "version": version(r)}, "S1"},
		{"item of another version", map[string]any{"scale_id": "ips25-2008", "score": 3, "evidence": "x", "version": version(r)}, "G9"},
		{"another scale version", map[string]any{"scale_id": "ips25-2030", "score": 3, "evidence": "x", "version": version(r)}, "S1"},
		{"no evidence", map[string]any{"scale_id": "ips25-2008", "score": 3, "evidence": " ", "version": version(r)}, "S1"},
	} {
		c.body["request_id"] = "fid-bad-" + c.what
		res := e.do("POST", "/v1/fidelityReviews/"+id+"/scores/"+c.path, "fr-maria", c.body)
		if res.status != 400 {
			t.Errorf("%s: HTTP %d, want 400: %s", c.what, res.status, res.raw)
		}
	}
	if n := e.count(`SELECT count(*) FROM fidelity.scores WHERE kind = 'review'`); n != before {
		t.Fatalf("bad scores wrote %d rows", n-before)
	}
	// The supervisor cannot score.
	e.want(e.do("POST", "/v1/fidelityReviews/"+id+"/scores/S1", "sup-eva", map[string]any{
		"scale_id": "ips25-2008", "score": 5, "evidence": "x", "version": version(r), "request_id": "fid-sup-score"}), 403, "supervisor scoring")

	// The reviewer scores every item with evidence: 4 everywhere, but the
	// job development item (D6) 4 where the platform measures 2.
	for i, it := range items {
		r = e.want(e.do("POST", fmt.Sprintf("/v1/fidelityReviews/%s/scores/%s", id, it["code"]), "fr-maria", map[string]any{
			"scale_id": "ips25-2008", "score": 4, "evidence": "interviews and record sample", "version": version(r),
			"request_id": fmt.Sprintf("fid-score-%02d", i)}), 200, "score").body["review"].(map[string]any)
	}
	if num(t, r["total"]) != 100 || r["band"] != "good" || r["complete"] != true {
		t.Fatalf("total %v band %v complete %v, want 100 good true", r["total"], r["band"], r["complete"])
	}
	// A stale version is a conflict.
	e.want(e.do("POST", "/v1/fidelityReviews/"+id+"/scores/S1", "fr-maria", map[string]any{
		"scale_id": "ips25-2008", "score": 3, "evidence": "x", "version": 1, "request_id": "fid-stale"}), 409, "stale version")

	// Measured items beside the reviewer's scores.
	m := e.want(e.do("GET", "/v1/fidelityReviews/"+id+"/measuredItems", "fr-maria", nil), 200, "measured").body
	wantScores := map[string]int64{"S1": 4, "O2": 4, "O6": 4, "D1": 3, "D4": 4, "D6": 2, "D8": 4, "D9": 5, "D10": 4, "D12": 4}
	got := map[string]map[string]any{}
	for _, it := range list(m, "items") {
		got[str(it["item_code"])] = it
	}
	for code, want := range wantScores {
		it := got[code]
		if it == nil || num(t, it["score"]) != want || it["measured"] != true {
			t.Errorf("measured %s: %v, want score %d", code, it, want)
			continue
		}
		flagged := math.Abs(float64(want-4)) >= 2
		if (it["flagged"] == true) != flagged {
			t.Errorf("measured %s flagged %v, want %v", code, it["flagged"], flagged)
		}
	}
	if len(got) != len(wantScores) {
		t.Errorf("%d measured items, want %d", len(got), len(wantScores))
	}
	if un, _ := m["unmeasured_item_codes"].([]any); len(un) != 15 {
		t.Errorf("%d unmeasured items, want 15", len(un))
	}
	t.Logf("measured items: %v", m["items"])

	// The pages: the reviewer's worklist and the scoring form with the
	// anchors beside it and the measured figure flagged.
	reviewer := newWebClient(t, e.base)
	reviewer.signIn("fr-maria")
	if st, _, h := reviewer.do("GET", "/ui/", nil); st != 303 || h.Get("Location") != "/ui/fidelity" {
		t.Errorf("reviewer's home: HTTP %d to %q", st, h.Get("Location"))
	}
	if st, body, _ := reviewer.do("GET", "/ui/fidelity", nil); st != 200 || !strings.Contains(body, "/ui/fidelity/reviews/"+id) {
		t.Fatalf("worklist page: HTTP %d: %.400s", st, body)
	}
	st, body, _ := reviewer.do("GET", "/ui/fidelity/reviews/"+id, nil)
	for _, want := range []string{"At most 20 clients per full-time specialist.", "difference ≥ 2", `name="evidence"`, "Total: 100"} {
		if st != 200 || !strings.Contains(body, want) {
			t.Fatalf("review page: HTTP %d, no %q: %.600s", st, want, body)
		}
	}
	m1 := regexp.MustCompile(`action="/ui/fidelity/reviews/[^"]+/score">\s*<input type="hidden" name="csrf" value="([^"]+)">\s*<input type="hidden" name="request_id" value="([^"]+)">\s*<input type="hidden" name="item_code" value="S1">\s*<input type="hidden" name="scale_id" value="([^"]+)">\s*<input type="hidden" name="version" value="([^"]+)">`).FindStringSubmatch(body)
	if m1 == nil {
		t.Fatalf("no scoring form for S1")
	}
	st, body, h := reviewer.do("POST", "/ui/fidelity/reviews/"+id+"/score", url.Values{"csrf": {m1[1]}, "request_id": {m1[2]},
		"item_code": {"S1"}, "scale_id": {m1[3]}, "version": {m1[4]}, "score": {"4"}, "evidence": {"caseload lists of both specialists"}})
	if st != 303 {
		t.Fatalf("score form: HTTP %d: %.400s", st, body)
	}
	if st, body, _ := reviewer.do("GET", h.Get("Location"), nil); st != 200 || !strings.Contains(body, "caseload lists of both specialists") {
		t.Fatalf("scored item not shown: HTTP %d", st)
	}
	r = e.want(e.do("GET", "/v1/fidelityReviews/"+id, "fr-maria", nil), 200, "review").body["review"].(map[string]any)
	supervisor := newWebClient(t, e.base)
	supervisor.signIn("sup-eva")
	if st, body, _ := supervisor.do("GET", "/ui/fidelity/teams/noord-team-a", nil); st != 200 || !strings.Contains(body, "Caseload size") || !strings.Contains(body, "Disclosure") {
		t.Fatalf("supervisor's measured items page: HTTP %d: %.400s", st, body)
	}

	// Draft, the team's comment, the final report.
	e.want(e.do("POST", "/v1/fidelityReviews/"+id+"/comments", "sup-eva", map[string]any{
		"item_code": "D6", "text": "te vroeg", "request_id": "fid-comment-early"}), 400, "comment before the draft")
	draft := e.want(e.do("POST", "/v1/fidelityReviews/"+id+":shareDraft", "fr-maria", map[string]any{
		"version": version(r), "request_id": "fid-draft-0001"}), 200, "draft").body["review"].(map[string]any)
	if draft["status"] != "REVIEW_STATUS_DRAFT" {
		t.Fatalf("draft: %v", draft["status"])
	}
	r = e.want(e.do("POST", "/v1/fidelityReviews/"+id+"/comments", "sup-eva", map[string]any{
		"item_code": "D6", "text": "De algemene werkgeverscontacten van maart ontbreken in de telling.", "request_id": "fid-comment-0001"}), 200, "comment").body["review"].(map[string]any)
	if len(list(r, "comments")) != 1 {
		t.Fatalf("comments: %v", r["comments"])
	}
	r = e.want(e.do("POST", "/v1/fidelityReviews/"+id+":finalise", "fr-maria", map[string]any{
		"strengths": "Sterke inbedding in de behandelteams.", "recommendations": "Meer persoonlijke werkgeverscontacten.",
		"action_items": []map[string]any{{"text": "Zes werkgeversbezoeken per week plannen", "owner": "sup-eva", "due_date": "2026-10-01"}},
		"version":      version(r), "request_id": "fid-final-0001"}), 200, "finalise").body["review"].(map[string]any)
	if r["status"] != "REVIEW_STATUS_FINAL" {
		t.Fatalf("final: %v", r)
	}
	// Scoring a final review is refused and writes nothing.
	before = e.count(`SELECT count(*) FROM fidelity.scores`)
	e.want(e.do("POST", "/v1/fidelityReviews/"+id+"/scores/S1", "fr-maria", map[string]any{
		"scale_id": "ips25-2008", "score": 5, "evidence": "x", "version": version(r), "request_id": "fid-after-final"}), 400, "scoring a final review")
	if e.count(`SELECT count(*) FROM fidelity.scores`) != before || e.count(`SELECT count(*) FROM fidelity.scores WHERE score = 5`) != 0 {
		t.Fatal("scoring a final review wrote a score")
	}

	// Nothing of the team's records once the review is final.
	e.want(e.do("GET", "/v1/fidelityReviews/"+id+"/sampleRecords", "fr-maria", nil), 400, "sample after close")
	e.want(e.do("GET", "/v1/clients/"+teamClient, "fr-maria", nil), 404, "team client after close")

	// The action item is done, from the supervisor's page.
	action := list(r, "action_items")[0]
	_, page, _ := supervisor.do("GET", "/ui/fidelity/reviews/"+id, nil)
	form := regexp.MustCompile(`action="/ui/fidelity/reviews/[^"]+/actiondone">\s*<input type="hidden" name="csrf" value="([^"]+)"><input type="hidden" name="request_id" value="([^"]+)">`).FindStringSubmatch(page)
	if form == nil || !strings.Contains(page, "Sterke inbedding in de behandelteams.") {
		t.Fatalf("no report with an action plan form on the supervisor's page: %.800s", page)
	}
	if st, body, _ := supervisor.do("POST", "/ui/fidelity/reviews/"+id+"/actiondone", url.Values{"csrf": {form[1]}, "request_id": {form[2]},
		"action_item_id": {str(action["action_item_id"])}}); st != 303 {
		t.Fatalf("action done from the page: HTTP %d: %.400s", st, body)
	}
	r = e.want(e.do("GET", "/v1/fidelityReviews/"+id, "sup-eva", nil), 200, "review").body["review"].(map[string]any)
	if list(r, "action_items")[0]["done"] != true {
		t.Fatalf("action item not done: %v", r["action_items"])
	}

	// History, and the band for decision makers (and funding).
	hist := e.want(e.do("GET", "/v1/teams/noord-team-a/fidelityHistory", "sup-eva", nil), 200, "history").body
	if pts := list(hist, "points"); len(pts) != 1 || num(t, pts[0]["total"]) != 100 {
		t.Errorf("history: %v", hist)
	}
	bands := e.want(e.do("GET", "/v1/fidelityBands", "dm-lucas", nil), 200, "bands").body
	if ts := list(bands, "teams"); len(ts) != 1 || ts[0]["team_id"] != "noord-team-a" || ts[0]["band"] != "good" {
		t.Errorf("bands: %v", bands)
	}
	dm := newWebClient(t, e.base)
	dm.signIn("dm-lucas")
	if st, body, _ := dm.do("GET", "/ui/fidelity", nil); st != 200 || !strings.Contains(body, "noord-team-a") || !strings.Contains(body, ">good<") {
		t.Fatalf("decision maker's bands page: HTTP %d: %.600s", st, body)
	}
	if st, _, _ := reviewer.do("GET", "/ui/fidelity/reviews/"+id, nil); st != 200 {
		t.Errorf("printable report: HTTP %d", st)
	}
	// Team figures are for the team's own MHA and independent reviewers.
	e.want(e.do("GET", "/v1/teams/noord-team-a/employmentFigures?period_from=2026-01-01&period_to=2026-06-30", "dm-lucas", nil), 403, "decision maker team figures")
	e.want(e.do("GET", "/v1/teams/noord-team-b/caseloadFigures?period_from=2026-01-01&period_to=2026-06-30", "sup-eva", nil), 403, "another team's figures")
	e.want(e.do("GET", "/v1/teams/noord-team-a/benefitsFigures?period_from=2026-01-01&period_to=2026-06-30", "sup-eva", nil), 200, "own team's figures")
	// A decision maker sees no measured items, a specialist nothing.
	e.want(e.do("GET", "/v1/teams/noord-team-a/measuredFidelity?period_from=2026-01-01&period_to=2026-06-30", "dm-lucas", nil), 403, "decision maker measured")
	e.want(e.do("GET", "/v1/fidelityBands", "es-anna", nil), 403, "specialist bands")
	// The supervisor sees the team's measured items continuously.
	e.want(e.do("GET", "/v1/teams/noord-team-a/measuredFidelity?period_from=2026-01-01&period_to=2026-06-30", "sup-eva", nil), 200, "supervisor measured")
	e.want(e.do("GET", "/v1/teams/noord-team-b/measuredFidelity?period_from=2026-01-01&period_to=2026-06-30", "sup-eva", nil), 403, "other team measured")

	// Every access is in the audit log.
	if n := e.count(`SELECT count(*) FROM audit.events WHERE service = 'fidelity'`); n < 30 {
		t.Errorf("only %d fidelity audit records", n)
	}
}
