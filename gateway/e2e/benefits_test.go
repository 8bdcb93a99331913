package e2e_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	gwserver "github.com/ipsbridge/ipsbridge/gateway/server"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	"github.com/ipsbridge/ipsbridge/services/benefits/app"
	benefitsserver "github.com/ipsbridge/ipsbridge/services/benefits/server"
)

// startWithBenefits is start with the benefits service as well: its
// migrations on the platform's database, the service on a loopback port
// (with the table notifier its own tests use) and the gateway routing to it.
func startWithBenefits(t *testing.T) *env {
	t.Helper()
	p := testplatform.Start(t)
	if err := database.Migrate(context.Background(), p.Pool, benefitsserver.Migrations...); err != nil {
		t.Fatalf("benefits migrations: %v", err)
	}
	az, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	srv, _, err := benefitsserver.Build(benefitsserver.Deps{Pool: p.RuntimePool(t, benefitsserver.Runtime), Verifier: p.Verifier, Authz: az,
		Notifier: app.TableNotifier{}, Logger: testplatform.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	benefitsAddr := testplatform.Serve(t, srv)
	return startGateway(t, p, func(c *gwserver.Config) { c.BenefitsAddr = benefitsAddr })
}

// num reads a JSON number that protojson may write as a string (int64) or
// leave out (zero).
func num(t *testing.T, v any) int64 {
	t.Helper()
	switch x := v.(type) {
	case nil:
		return 0
	case float64:
		return int64(x)
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			t.Fatalf("not a number: %q", x)
		}
		return n
	}
	t.Fatalf("not a number: %#v", v)
	return 0
}

func list(m map[string]any, key string) []map[string]any {
	raw, _ := m[key].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, x := range raw {
		if mm, ok := x.(map[string]any); ok {
			out = append(out, mm)
		}
	}
	return out
}

func (e *env) count(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.p.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// rowCounts counts the rows of every benefits table.
func (e *env) rowCounts() map[string]int {
	e.t.Helper()
	out := map[string]int{}
	for _, tbl := range []string{"benefits", "decisions", "idempotency_keys", "counselling_requests", "counselling_sessions",
		"job_changes", "counsellor_tasks", "payer_notices"} {
		out[tbl] = e.count(`SELECT count(*) FROM benefits.` + tbl)
	}
	return out
}

func TestBenefitsFlowOverREST(t *testing.T) {
	e := startWithBenefits(t)

	// es-anna enrols a client with UWV and the municipality involved, and
	// records consent for identity and benefits for both.
	r := e.want(e.do("POST", "/v1/clients", "es-anna", map[string]any{
		"request_id": "e2e-ben-enrol-1",
		"client": map[string]any{
			"identity":   map[string]any{"given_name": "Sanne", "family_name": "Kuipers", "date_of_birth": "1991-04-12"},
			"trajectory": map[string]any{"team_id": "noord-team-a", "involved_organization_ids": []string{"uwv-noord", "gem-groningen"}},
		},
	}), 200, "enrol")
	id, _ := get(r.body, "client", "client_id").(string)
	if id == "" {
		t.Fatalf("no client id in %s", r.raw)
	}
	for _, org := range []string{"uwv-noord", "gem-groningen"} {
		e.want(e.do("POST", "/v1/clients/"+id+"/consents", "es-anna", map[string]any{
			"organization_id": org, "request_id": "e2e-ben-consent-" + org,
			"sections": []string{"SECTION_IDENTITY", "SECTION_BENEFITS"},
		}), 200, "consent for "+org)
	}

	// UWV records the WIA/WGA benefit it pays; the municipality the
	// Participatiewet benefit.
	const wgaCents, pwCents = 150000, 120000
	r = e.want(e.do("POST", "/v1/clients/"+id+"/benefits", "uwv-gijs", map[string]any{
		"request_id": "e2e-ben-wga-1",
		"benefit":    map[string]any{"kind": "BENEFIT_KIND_WIA_WGA", "monthly_amount_cents": wgaCents, "start_date": "2025-01-01"},
	}), 200, "UWV records WGA")
	wgaID, _ := get(r.body, "benefit", "benefit_id").(string)
	if p := get(r.body, "benefit", "payer_organization_id"); p != "uwv-noord" || wgaID == "" {
		t.Fatalf("WGA benefit: %s", r.raw)
	}
	r = e.want(e.do("POST", "/v1/clients/"+id+"/benefits", "gem-jet", map[string]any{
		"request_id": "e2e-ben-pw-1",
		"benefit":    map[string]any{"kind": "BENEFIT_KIND_PARTICIPATIEWET", "monthly_amount_cents": pwCents, "start_date": "2025-01-01"},
	}), 200, "municipality records Participatiewet")
	pwID, _ := get(r.body, "benefit", "benefit_id").(string)
	pwVersion := num(t, get(r.body, "benefit", "version"))
	if p := get(r.body, "benefit", "payer_organization_id"); p != "gem-groningen" || pwID == "" {
		t.Fatalf("Participatiewet benefit: %s", r.raw)
	}

	// es-anna asks for counselling; she sees the summary, not the amounts.
	r = e.want(e.do("POST", "/v1/clients/"+id+"/counsellingRequests", "es-anna", map[string]any{
		"reason": "job offer: 20 h a week in a bakery",
	}, "Idempotency-Key", "counsel-"+id), 200, "request counselling")
	crID, _ := get(r.body, "counselling_request", "counselling_request_id").(string)
	if crID == "" {
		t.Fatalf("no counselling request id in %s", r.raw)
	}
	r = e.want(e.do("GET", "/v1/clients/"+id+"/benefitSummary", "es-anna", nil), 200, "summary")
	if get(r.body, "counselling_open") != true || len(list(r.body, "benefits")) != 2 || strings.Contains(r.raw, "amount") {
		t.Errorf("summary for the specialist: %s", r.raw)
	}
	e.want(e.do("GET", "/v1/clients/"+id+"/benefits", "es-anna", nil), 403, "specialist lists amounts")

	// The counsellor finds the request, takes it and records a session.
	r = e.want(e.do("GET", "/v1/counsellingRequests:open?include_unassigned=true", "gem-karin", nil), 200, "open requests")
	if reqs := list(r.body, "counselling_requests"); len(reqs) != 1 || reqs[0]["counselling_request_id"] != crID {
		t.Fatalf("open requests: %s", r.raw)
	}
	r = e.want(e.do("POST", "/v1/clients/"+id+"/counsellingRequests/"+crID+":assign", "gem-karin", map[string]any{}), 200, "assign")
	if c := get(r.body, "counselling_request", "counsellor_id"); c != "gem-karin" {
		t.Errorf("assigned to %v: %s", c, r.raw)
	}
	r = e.want(e.do("POST", "/v1/clients/"+id+"/counsellingRequests/"+crID+"/sessions", "gem-karin", map[string]any{
		"request_id": "session-1",
		"session":    map[string]any{"session_date": "2026-01-02", "notes": "explained the part-time release", "outcome": "client considers the offer"},
	}), 200, "record session")
	if s, _ := get(r.body, "counselling_request", "sessions").([]any); len(s) != 1 {
		t.Errorf("sessions after recording one: %s", r.raw)
	}

	// The income effect of the offer: 20 h a week at €15.00, from
	// 2026-01-05, for that month, following RULES.md. The client has
	// social assistance, whose norm is net, so the month is net:
	//   gross earnings    = 20 × 1500 × 52 / 12                = 130000
	//   net earnings      = 80% × 130000 (net assumption)     = 104000
	//   WIA WGA (gross)   : WGA month 13, wage-related phase assumed (no end
	//                       date known): offset 70% × 130000  = 91000;
	//                       150000 without, 59000 with; net 80%: 120000
	//                       and 47200, so the WGA loses 72800 net
	//   Participatiewet   : release = min(25% × 104000 = 26000, cap 26917
	//                       (row 2026-01-01)) = 26000, job month 1 of 6;
	//                       assistance = 120000 − 104000 + 26000 + 72800
	//                       (what the WGA loses, made up)     = 114800
	//   without job       = 120000 + 120000                   = 240000
	//   with job          = 104000 + 47200 + 114800           = 266000
	//   difference        = 266000 − 240000                   = 26000
	const hours, wage = 20, 1500
	earnings := int64(hours) * wage * 52 / 12
	net := earnings * 80 / 100
	wgaOffset := min(earnings*70/100, wgaCents)
	wgaLoss := int64(wgaCents)*80/100 - (wgaCents-wgaOffset)*80/100
	release := min(net*25/100, 26917)
	assistance := pwCents - net + release + wgaLoss
	without := int64(wgaCents)*80/100 + pwCents
	with := net + (wgaCents-wgaOffset)*80/100 + assistance
	if earnings != 130000 || net != 104000 || wgaOffset != 91000 || wgaLoss != 72800 || release != 26000 || assistance != 114800 ||
		without != 240000 || with != 266000 {
		t.Fatalf("the test's own arithmetic is off: %d %d %d %d %d %d %d %d", earnings, net, wgaOffset, wgaLoss, release, assistance, without, with)
	}
	r = e.want(e.do("POST", "/v1/clients/"+id+":calculateIncomeEffect", "gem-karin", map[string]any{
		"hours_per_week": hours, "hourly_wage_cents": wage, "job_start_date": "2026-01-05",
	}), 200, "calculate")
	for name, pair := range map[string][2]int64{
		"monthly_earnings_cents":   {num(t, r.body["monthly_earnings_cents"]), earnings},
		"income_without_job_cents": {num(t, r.body["income_without_job_cents"]), without},
		"income_with_job_cents":    {num(t, r.body["income_with_job_cents"]), with},
		"difference_cents":         {num(t, r.body["difference_cents"]), with - without},
	} {
		if pair[0] != pair[1] {
			t.Errorf("%s = %d, want %d", name, pair[0], pair[1])
		}
	}
	lines := map[string]map[string]any{}
	var sum int64
	for _, l := range list(r.body, "lines") {
		sum += num(t, l["amount_cents"])
		if c, _ := l["code"].(string); c != "benefit" && c != "to_net" {
			lines[c] = l
		}
	}
	if sum != with {
		t.Errorf("lines sum to %d, want %d: %s", sum, with, r.raw)
	}
	if l := lines["pw_release"]; l == nil || num(t, l["amount_cents"]) != release ||
		l["rule_version"] != "participatiewet/2026-01-01" || l["benefit_id"] != pwID || l["payer_organization_name"] != "Gemeente Groningen" {
		t.Errorf("release line %v in %s", l, r.raw)
	}
	if l := lines["wga_wage_related_offset"]; l == nil || num(t, l["amount_cents"]) != -wgaOffset || l["benefit_id"] != wgaID ||
		!strings.Contains(fmt.Sprint(l["description"]), "€1,300.00") {
		t.Errorf("WGA line %v in %s", l, r.raw)
	}

	// The job starts: the counsellor gets a task, each payer a notice.
	r = e.want(e.do("POST", "/v1/clients/"+id+":reportJobChange", "es-anna", map[string]any{
		"kind": "JOB_CHANGE_KIND_STARTED", "effective_date": "2026-01-05", "hours_per_week": hours, "hourly_wage_cents": wage,
		"request_id": "e2e-ben-job-1",
	}), 200, "report job start")
	if tasks := list(r.body, "tasks"); len(tasks) != 1 || tasks[0]["counsellor_id"] != "gem-karin" {
		t.Errorf("job change tasks: %s", r.raw)
	}
	if n := list(r.body, "notices"); len(n) != 2 {
		t.Errorf("job change notices: %s", r.raw)
	}
	r = e.want(e.do("GET", "/v1/counsellorTasks", "gem-karin", nil), 200, "counsellor tasks")
	if tasks := list(r.body, "tasks"); len(tasks) != 1 || tasks[0]["client_id"] != id {
		t.Errorf("counsellor tasks: %s", r.raw)
	}
	for _, who := range []string{"gem-jet", "uwv-gijs"} {
		r = e.want(e.do("GET", "/v1/benefitNotices", who, nil), 200, "notices for "+who)
		if n := list(r.body, "notices"); len(n) != 1 {
			t.Errorf("notices for %s: %s", who, r.raw)
		}
	}

	// The municipality's system reports the adjustment, keyed by header.
	decision := map[string]any{
		"client_id": id, "benefit_id": pwID, "kind": "DECISION_KIND_ADJUSTED",
		"effective_date": "2026-02-01", "monthly_amount_cents": 65400, "reason": "earnings from 2026-01-05",
	}
	first := e.want(e.do("POST", "/v1/benefitDecisions", "gem-system", decision, "Idempotency-Key", "gem-dec-e2e-1"), 200, "decision")
	decID, _ := get(first.body, "decision", "decision_id").(string)
	if decID == "" || num(t, get(first.body, "benefit", "monthly_amount_cents")) != 65400 ||
		num(t, get(first.body, "benefit", "version")) != pwVersion+1 || get(first.body, "decision", "reported_by") != "gem-system" {
		t.Fatalf("decision: %s", first.raw)
	}
	r = e.want(e.do("GET", "/v1/clients/"+id+"/benefits", "gem-jet", nil), 200, "benefits after decision")
	if bs := list(r.body, "benefits"); len(bs) != 1 || num(t, bs[0]["monthly_amount_cents"]) != 65400 {
		t.Errorf("benefits after decision: %s", r.raw)
	}
	before := e.rowCounts()

	// The same request again: the same answer, nothing written twice.
	again := e.want(e.do("POST", "/v1/benefitDecisions", "gem-system", decision, "Idempotency-Key", "gem-dec-e2e-1"), 200, "retry")
	if get(again.body, "decision", "decision_id") != decID ||
		num(t, get(again.body, "benefit", "version")) != num(t, get(first.body, "benefit", "version")) ||
		num(t, get(again.body, "benefit", "monthly_amount_cents")) != 65400 {
		t.Errorf("retry answered %s, first %s", again.raw, first.raw)
	}
	// The same key as request_id in the body is the same request.
	withField := map[string]any{"request_id": "gem-dec-e2e-1"}
	for k, v := range decision {
		withField[k] = v
	}
	if r := e.want(e.do("POST", "/v1/benefitDecisions", "gem-system", withField), 200, "retry with request_id"); get(r.body, "decision", "decision_id") != decID {
		t.Errorf("retry with request_id: %s", r.raw)
	}
	if after := e.rowCounts(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("retries wrote rows: before %v, after %v", before, after)
	}
	if n := e.count(`SELECT count(*) FROM benefits.decisions WHERE client_id = $1`, id); n != 1 {
		t.Errorf("%d decisions after retries, want 1", n)
	}

	// Same key, another body: refused, nothing written.
	other := map[string]any{}
	for k, v := range decision {
		other[k] = v
	}
	other["monthly_amount_cents"] = 1
	r = e.want(e.do("POST", "/v1/benefitDecisions", "gem-system", other, "Idempotency-Key", "gem-dec-e2e-1"), 400, "same key, other body")
	if msg, _ := r.body["message"].(string); msg == "" || !strings.Contains(r.raw, "IDEMPOTENCY_KEY_REUSED") {
		t.Errorf("key reuse answered without a message or reason: %s", r.raw)
	}
	if after := e.rowCounts(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("refused reuse wrote rows: before %v, after %v", before, after)
	}

	// Two concurrent retries with a new key: one decision.
	second := map[string]any{}
	for k, v := range decision {
		second[k] = v
	}
	second["effective_date"], second["monthly_amount_cents"] = "2026-03-01", 70000
	var wg sync.WaitGroup
	got := make([]reply, 2)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = e.do("POST", "/v1/benefitDecisions", "gem-system", second, "Idempotency-Key", "gem-dec-e2e-2")
		}()
	}
	wg.Wait()
	for i, g := range got {
		if g.status != 200 {
			t.Fatalf("concurrent retry %d: HTTP %d: %s", i, g.status, g.raw)
		}
	}
	if a, b := get(got[0].body, "decision", "decision_id"), get(got[1].body, "decision", "decision_id"); a != b || a == nil {
		t.Errorf("concurrent retries gave decisions %v and %v", a, b)
	}
	if n := e.count(`SELECT count(*) FROM benefits.decisions WHERE client_id = $1`, id); n != 2 {
		t.Errorf("%d decisions, want 2", n)
	}
	if v := e.count(`SELECT version FROM benefits.benefits WHERE id = $1`, pwID); int64(v) != pwVersion+2 {
		t.Errorf("Participatiewet benefit at version %d, want %d", v, pwVersion+2)
	}
	r = e.want(e.do("GET", "/v1/clients/"+id+"/benefits", "gem-karin", nil), 200, "counsellor lists")
	amounts := map[string]int64{}
	for _, b := range list(r.body, "benefits") {
		amounts[fmt.Sprint(b["benefit_id"])] = num(t, b["monthly_amount_cents"])
	}
	if len(amounts) != 2 || amounts[pwID] != 70000 || amounts[wgaID] != wgaCents {
		t.Errorf("counsellor sees %v: %s", amounts, r.raw)
	}

	// Each payer sees only the benefits it pays.
	for who, want := range map[string]string{"gem-jet": pwID, "uwv-gijs": wgaID} {
		r = e.want(e.do("GET", "/v1/clients/"+id+"/benefits", who, nil), 200, who+" lists")
		if bs := list(r.body, "benefits"); len(bs) != 1 || bs[0]["benefit_id"] != want {
			t.Errorf("%s sees %s", who, r.raw)
		}
	}
	// A clinician gets nothing of the benefits section.
	for _, path := range []string{"/benefits", "/benefitSummary", "/counsellingRequests"} {
		r = e.do("GET", "/v1/clients/"+id+path, "cl-carla", nil)
		if r.status != 403 && r.status != 404 {
			t.Errorf("clinician GET %s: HTTP %d: %s", path, r.status, r.raw)
		}
	}
	r = e.do("POST", "/v1/clients/"+id+":calculateIncomeEffect", "cl-carla", map[string]any{
		"hours_per_week": hours, "hourly_wage_cents": wage, "job_start_date": "2026-01-05"})
	if r.status != 403 && r.status != 404 {
		t.Errorf("clinician calculates: HTTP %d: %s", r.status, r.raw)
	}

	// Bad input: refused with a message, nothing written.
	before = e.rowCounts()
	benefit := func(b map[string]any) map[string]any { return map[string]any{"benefit": b} }
	cases := []struct {
		name, user, path string
		body             any
		headers          []string
		status           int
		says             string
	}{
		{"unknown benefit kind", "uwv-gijs", "/v1/clients/" + id + "/benefits",
			benefit(map[string]any{"kind": "BENEFIT_KIND_PENSION", "monthly_amount_cents": 1000, "start_date": "2025-01-01"}), nil, 400, "BENEFIT_KIND_PENSION"},
		{"unknown benefit kind number", "uwv-gijs", "/v1/clients/" + id + "/benefits",
			benefit(map[string]any{"kind": 42, "monthly_amount_cents": 1000, "start_date": "2025-01-01"}), nil, 400, "kind"},
		{"negative amount", "uwv-gijs", "/v1/clients/" + id + "/benefits",
			benefit(map[string]any{"kind": "BENEFIT_KIND_WW", "monthly_amount_cents": -5, "start_date": "2025-01-01"}), nil, 400, "monthly_amount_cents"},
		{"end before start", "uwv-gijs", "/v1/clients/" + id + "/benefits",
			benefit(map[string]any{"kind": "BENEFIT_KIND_WW", "monthly_amount_cents": 500, "start_date": "2025-01-01", "end_date": "2024-12-31"}), []string{"Idempotency-Key", "uwv-bad-end-1"}, 400, "end_date"},
		{"UWV paying social assistance", "uwv-gijs", "/v1/clients/" + id + "/benefits",
			benefit(map[string]any{"kind": "BENEFIT_KIND_PARTICIPATIEWET", "monthly_amount_cents": 500, "start_date": "2025-01-01"}), []string{"Idempotency-Key", "uwv-bad-payer-1"}, 400, "municipality"},
		{"decision on a benefit UWV pays", "gem-system", "/v1/benefitDecisions",
			map[string]any{"client_id": id, "benefit_id": wgaID, "kind": "DECISION_KIND_ENDED", "effective_date": "2026-03-01"},
			[]string{"Idempotency-Key", "gem-wrong-1"}, 404, "not found"},
		{"decision before the benefit started", "gem-system", "/v1/benefitDecisions",
			map[string]any{"client_id": id, "benefit_id": pwID, "kind": "DECISION_KIND_ENDED", "effective_date": "2023-01-01"},
			[]string{"Idempotency-Key", "gem-early-1"}, 400, "start_date"},
		{"decision without a key", "gem-system", "/v1/benefitDecisions",
			map[string]any{"client_id": id, "benefit_id": pwID, "kind": "DECISION_KIND_SUSPENDED", "effective_date": "2026-04-01"},
			nil, 400, "request_id"},
		{"unknown decision kind", "gem-system", "/v1/benefitDecisions",
			map[string]any{"client_id": id, "benefit_id": pwID, "kind": "DECISION_KIND_FORGIVEN", "effective_date": "2026-04-01"},
			[]string{"Idempotency-Key", "gem-bad-kind-1"}, 400, "DECISION_KIND_FORGIVEN"},
		{"municipality changes UWV's benefit", "gem-jet", "/v1/clients/" + id + "/benefits/" + wgaID + "?update_mask=monthly_amount_cents",
			map[string]any{"monthly_amount_cents": 1, "version": 1}, nil, 404, ""},
	}
	for _, tc := range cases {
		method := "POST"
		if strings.Contains(tc.path, "update_mask") {
			method = "PATCH"
		}
		r := e.do(method, tc.path, tc.user, tc.body, tc.headers...)
		if r.status != tc.status {
			t.Errorf("%s: HTTP %d, want %d: %s", tc.name, r.status, tc.status, r.raw)
			continue
		}
		if msg, _ := r.body["message"].(string); msg == "" {
			t.Errorf("%s: no message in %s", tc.name, r.raw)
		}
		if tc.says != "" && !strings.Contains(r.raw, tc.says) {
			t.Errorf("%s: answer %s does not mention %q", tc.name, r.raw, tc.says)
		}
	}
	if after := e.rowCounts(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("bad input wrote rows: before %v, after %v", before, after)
	}
	r = e.want(e.do("GET", "/v1/clients/"+id+"/benefits", "uwv-gijs", nil), 200, "UWV lists after bad input")
	if bs := list(r.body, "benefits"); len(bs) != 1 || num(t, bs[0]["monthly_amount_cents"]) != wgaCents || num(t, bs[0]["version"]) != 1 {
		t.Errorf("WGA benefit after bad input: %s", r.raw)
	}
}
