package e2e_test

import (
	"strings"
	"testing"
	"time"
)

// TestJobChangesReachCounsellorAndPayers (issue 16; issue 14, finding 3):
// nobody reports a job change by hand. The employment service's job events
// become a task for the client's benefits counsellor and a notice for each
// paying organisation within the dispatcher's normal delay, once per
// change. A notice shows hours and wage only to a payer that may read the
// client's placements, decided when it is made and again when it is read;
// a replay of the events creates nothing twice.
func TestJobChangesReachCounsellorAndPayers(t *testing.T) {
	e := startWithEventSources(t)
	e.runDispatcher()

	// UWV may read placements; the municipality (which employs the
	// counsellor) may read identity and benefits only.
	r := e.want(e.do("POST", "/v1/clients", "es-anna", map[string]any{
		"request_id": "e2e-jobnotices-enrol-1",
		"client": map[string]any{
			"identity":   map[string]any{"given_name": "Sanne", "family_name": "Kuipers", "date_of_birth": "1991-04-12"},
			"trajectory": map[string]any{"team_id": "noord-team-a", "involved_organization_ids": []string{"uwv-noord", "gem-groningen"}},
		},
		"consents": []any{
			map[string]any{"organization_id": "uwv-noord",
				"sections": []string{"SECTION_IDENTITY", "SECTION_TRAJECTORY", "SECTION_PLACEMENTS", "SECTION_BENEFITS"}},
			map[string]any{"organization_id": "gem-groningen", "sections": []string{"SECTION_IDENTITY", "SECTION_BENEFITS"}},
		},
	}), 200, "enrol")
	id, _ := get(r.body, "client", "client_id").(string)
	if id == "" {
		t.Fatalf("no client id in %s", r.raw)
	}
	e.transition(id, "PHASE_INTAKE")
	e.transition(id, "PHASE_JOB_SEARCH")
	e.want(e.do("POST", "/v1/clients/"+id+"/benefits", "uwv-gijs", map[string]any{
		"request_id": "e2e-jobnotices-wga-1",
		"benefit":    map[string]any{"kind": "BENEFIT_KIND_WIA_WGA", "monthly_amount_cents": 150000, "start_date": "2025-01-01"},
	}), 200, "UWV records WGA")
	e.want(e.do("POST", "/v1/clients/"+id+"/benefits", "gem-jet", map[string]any{
		"request_id": "e2e-jobnotices-pw-1",
		"benefit":    map[string]any{"kind": "BENEFIT_KIND_PARTICIPATIEWET", "monthly_amount_cents": 120000, "start_date": "2025-01-01"},
	}), 200, "municipality records Participatiewet")
	r = e.want(e.do("POST", "/v1/clients/"+id+"/counsellingRequests", "es-anna", map[string]any{
		"reason": "job offer at the bakery",
	}, "Idempotency-Key", "e2e-jobnotices-counselling-1"), 200, "request counselling")
	crID, _ := get(r.body, "counselling_request", "counselling_request_id").(string)
	e.want(e.do("POST", "/v1/clients/"+id+"/counsellingRequests/"+crID+":assign", "gem-karin", map[string]any{}), 200, "assign")

	tasks := func() []map[string]any {
		return list(e.want(e.do("GET", "/v1/counsellorTasks", "gem-karin", nil), 200, "tasks").body, "tasks")
	}
	notices := func(who string) []map[string]any {
		return list(e.want(e.do("GET", "/v1/benefitNotices", who, nil), 200, "notices for "+who).body, "notices")
	}
	everyone := func(n int) func() bool {
		return func() bool { return len(tasks()) == n && len(notices("uwv-gijs")) == n && len(notices("gem-jet")) == n }
	}
	text := func(m map[string]any) string { s, _ := m["description"].(string); return s }
	showsTerms := func(m map[string]any) bool {
		return strings.Contains(text(m), "h/week") || strings.Contains(text(m), "€")
	}

	// The job starts. Nobody calls ReportJobChange.
	today := time.Now().UTC()
	started := time.Now()
	r = e.want(e.do("POST", "/v1/clients/"+id+"/placements", "es-anna", map[string]any{
		"request_id": "e2e-jobnotices-placement-1",
		"placement": map[string]any{
			"employer_name": "Bakkerij Bolletje", "job_title": "Baker's assistant", "start_date": day(today),
			"contract_kind": "CONTRACT_KIND_TEMPORARY", "hours_per_week": 16, "hourly_wage_cents": 1450,
		},
	}), 200, "start placement")
	pid, _ := get(r.body, "placement", "placement_id").(string)
	version := get(r.body, "placement", "version")
	pollUntil(t, 5*time.Second, "a task and two notices after the job start", everyone(1))
	t.Logf("task and notices %s after the job start", time.Since(started).Round(time.Millisecond))

	uwv, gem, task := notices("uwv-gijs")[0], notices("gem-jet")[0], tasks()[0]
	if !strings.Contains(text(uwv), "16 h/week at €14.50") || uwv["benefit_id"] == nil {
		t.Errorf("UWV may read placements; its notice: %v", uwv)
	}
	if showsTerms(gem) || !strings.Contains(text(gem), "mha-noord") || !strings.Contains(text(gem), "Participatiewet") {
		t.Errorf("the municipality may not read placements; its notice: %v", gem)
	}
	if showsTerms(task) || task["client_id"] != id || task["counsellor_id"] != "gem-karin" {
		t.Errorf("the counsellor's organisation may not read placements; the task: %v", task)
	}

	// More hours: one more task and notice each.
	r = e.want(e.do("POST", "/v1/clients/"+id+"/placements/"+pid+":changeTerms", "es-anna", map[string]any{
		"terms": map[string]any{"effective_date": day(today), "hours_per_week": 24, "hourly_wage_cents": 1450}, "version": version,
	}), 200, "change hours")
	version = get(r.body, "placement", "version")
	pollUntil(t, 5*time.Second, "one more task and notice each after the hours change", everyone(2))
	if n := notices("uwv-gijs")[0]; !strings.HasPrefix(text(n), "Working hours changed") || !strings.Contains(text(n), "24 h/week") {
		t.Errorf("UWV's newest notice: %v", n)
	}

	// The client withdraws UWV's placements consent: UWV's notices no
	// longer show hours or wage, the ones made before included, and one
	// made now never will.
	r = e.want(e.do("GET", "/v1/clients/"+id+"/consents", "es-anna", nil), 200, "list consents")
	for _, c := range list(r.body, "consents") {
		if c["organization_id"] == "uwv-noord" && c["section"] == "SECTION_PLACEMENTS" && c["active"] == true {
			e.want(e.do("POST", "/v1/clients/"+id+"/consents/"+c["consent_id"].(string)+":revoke", "es-anna", map[string]any{}), 200, "revoke")
		}
	}
	for _, n := range notices("uwv-gijs") {
		if showsTerms(n) {
			t.Errorf("after the revocation UWV reads %q", text(n))
		}
	}
	e.want(e.do("POST", "/v1/clients/"+id+"/placements/"+pid+":changeTerms", "es-anna", map[string]any{
		"terms": map[string]any{"effective_date": day(today), "hours_per_week": 20, "hourly_wage_cents": 1450}, "version": version,
	}), 200, "change hours again")
	pollUntil(t, 5*time.Second, "a third task and notice each", everyone(3))
	e.want(e.do("POST", "/v1/clients/"+id+"/consents", "es-anna", map[string]any{
		"organization_id": "uwv-noord", "request_id": "e2e-jobnotices-consent-again", "sections": []string{"SECTION_PLACEMENTS"},
	}), 200, "consent again")
	ns := notices("uwv-gijs")
	if showsTerms(ns[0]) {
		t.Errorf("a notice made while UWV could not read placements shows %q after a new consent", text(ns[0]))
	}
	if !showsTerms(ns[1]) {
		t.Errorf("a notice made with UWV's consent shows %q after a new consent", text(ns[1]))
	}
	for _, n := range append(notices("gem-jet"), tasks()...) {
		if showsTerms(n) {
			t.Errorf("the municipality reads %q", text(n))
		}
	}

	// A replay of every job event: the benefits service's cursor goes
	// back to the start and catches up again; nothing is made twice.
	if _, err := e.p.Pool.Exec(t.Context(), `UPDATE consumer.cursors SET position = 0 WHERE name = 'benefits.jobs'`); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, 5*time.Second, "the replay done", func() bool {
		return e.count(`SELECT count(*) FROM events.log WHERE position > (SELECT position FROM consumer.cursors WHERE name = 'benefits.jobs')
			AND type LIKE 'nl.ipsbridge.placement.%'`) == 0
	})
	if n := e.count(`SELECT count(*) FROM benefits.job_changes WHERE client_id = $1`, id); n != 3 {
		t.Errorf("%d job changes after the replay, want 3", n)
	}
	if !everyone(3)() {
		t.Errorf("after the replay: %d tasks, %d and %d notices, want 3 each", len(tasks()), len(notices("uwv-gijs")), len(notices("gem-jet")))
	}
	// Each change was recorded as the platform acting on its event.
	if n := e.count(`SELECT count(*) FROM audit.events WHERE client_id = $1 AND actor_id = 'system:benefits-jobs'`, id); n != 3 {
		t.Errorf("%d audit records of the benefits consumer, want 3", n)
	}
}
