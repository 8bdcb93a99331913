package e2e_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gwserver "github.com/ipsbridge/ipsbridge/gateway/server"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	empserver "github.com/ipsbridge/ipsbridge/services/employment/server"
)

// clock is the employment service's settable clock.
type clock struct{ t atomic.Pointer[time.Time] }

func (c *clock) now() time.Time   { return *c.t.Load() }
func (c *clock) set(t time.Time)  { c.t.Store(&t) }
func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }

// startWithEmployment starts the clients service, the employment service
// (on the same database, with an injected clock) and the gateway routing to
// both, all on loopback sockets.
func startWithEmployment(t *testing.T) (*env, *clock) {
	t.Helper()
	p := testplatform.Start(t)
	if err := database.Migrate(context.Background(), p.Pool, empserver.Migrations...); err != nil {
		t.Fatal(err)
	}
	az, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	clk := newClock(time.Now())
	srv, _, err := empserver.Build(empserver.Deps{Pool: p.RuntimePool(t, empserver.Runtime), Verifier: p.Verifier, Authz: az,
		Clients: testplatform.Dial(t, p.ClientsAddr), Logger: testplatform.Logger(), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	empAddr := testplatform.Serve(t, srv)
	p.FollowEvents(t)
	return startGateway(t, p, func(c *gwserver.Config) { c.EmploymentAddr = empAddr }), clk
}

func day(d time.Time) string { return d.Format(time.DateOnly) }

// milestones reads the milestones as es-anna, keyed by kind without the
// MILESTONE_KIND_ prefix.
func (e *env) milestones(id string) map[string]map[string]any {
	e.t.Helper()
	r := e.want(e.do("GET", "/v1/clients/"+id+"/milestones", "es-anna", nil), 200, "milestones")
	out := map[string]map[string]any{}
	ms, _ := r.body["milestones"].([]any)
	for _, m := range ms {
		mm := m.(map[string]any)
		k := fmt.Sprint(mm["kind"])
		out[k[len("MILESTONE_KIND_"):]] = mm
	}
	if len(out) != 4 {
		e.t.Fatalf("%d milestones, want 4: %s", len(out), r.raw)
	}
	return out
}

// wantMilestone checks a milestone's state and its reached or expected
// date ("" = absent).
func (e *env) wantMilestone(ms map[string]map[string]any, kind, state, reached, expected, when string) {
	e.t.Helper()
	m := ms[kind]
	got := fmt.Sprintf("%v reached=%v expected=%v", m["state"], str(m["reached_date"]), str(m["expected_date"]))
	want := fmt.Sprintf("MILESTONE_STATE_%s reached=%s expected=%s", state, reached, expected)
	if got != want {
		e.t.Errorf("%s: milestone %s is %s, want %s", when, kind, got, want)
	}
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func (e *env) phase(id string) string {
	e.t.Helper()
	r := e.want(e.do("GET", "/v1/clients/"+id+"/trajectory", "es-anna", nil), 200, "trajectory")
	return fmt.Sprint(get(r.body, "trajectory", "phase"))
}

func (e *env) transition(id, phase string) {
	e.t.Helper()
	r := e.want(e.do("GET", "/v1/clients/"+id+"/trajectory", "es-anna", nil), 200, "trajectory")
	e.want(e.do("POST", "/v1/clients/"+id+"/trajectory:transition", "es-anna", map[string]any{
		"phase": phase, "version": get(r.body, "trajectory", "version"),
	}), 200, "transition to "+phase)
}

func TestEmploymentJourneyOverREST(t *testing.T) {
	e, clk := startWithEmployment(t)

	r := e.want(e.do("POST", "/v1/clients", "es-anna", map[string]any{
		"request_id": "e2e-emp-enrol-0001",
		"client": map[string]any{
			"identity":   map[string]any{"given_name": "Sanne", "family_name": "Kuipers", "date_of_birth": "1991-04-12"},
			"trajectory": map[string]any{"team_id": "noord-team-a", "involved_organization_ids": []string{"uwv-noord"}},
		},
	}), 200, "enrol")
	id, _ := get(r.body, "client", "client_id").(string)
	if id == "" {
		t.Fatalf("no client id in %s", r.raw)
	}
	if ph := fmt.Sprint(get(r.body, "client", "trajectory", "phase")); ph != "PHASE_REFERRAL" {
		t.Fatalf("new client in phase %s, want PHASE_REFERRAL", ph)
	}
	e.transition(id, "PHASE_INTAKE")
	e.transition(id, "PHASE_JOB_SEARCH")

	// The intake date is the clients service's (real) date of the move to
	// intake; the employment service's clock is ours from here on.
	r = e.want(e.do("GET", "/v1/clients/"+id+"/trajectory", "es-anna", nil), 200, "trajectory")
	var intake time.Time
	hist, _ := get(r.body, "trajectory", "history").([]any)
	for _, h := range hist {
		hm := h.(map[string]any)
		if hm["to_phase"] == "PHASE_INTAKE" {
			ts, err := time.Parse(time.RFC3339Nano, fmt.Sprint(hm["change_time"]))
			if err != nil {
				t.Fatal(err)
			}
			y, m, d := ts.UTC().Date()
			intake = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		}
	}
	if intake.IsZero() {
		t.Fatalf("no move to intake in the history: %s", r.raw)
	}
	at := func(d time.Time) { clk.set(d.Add(12 * time.Hour)) } // noon of that day

	// Day 0: nothing reached yet; the first contact is due within 30 days.
	at(intake)
	ms := e.milestones(id)
	e.wantMilestone(ms, "FIRST_EMPLOYER_CONTACT", "PENDING", "", day(intake.AddDate(0, 0, 30)), "day 0")
	e.wantMilestone(ms, "JOB_START", "PENDING", "", "", "day 0")
	e.wantMilestone(ms, "EMPLOYED_3_MONTHS", "PENDING", "", "", "day 0")

	// Day 10: two employer contacts (day 5 and 10) and an application.
	at(intake.AddDate(0, 0, 10))
	for i, d := range []int{5, 10} {
		e.want(e.do("POST", "/v1/clients/"+id+"/employerContacts", "es-anna", map[string]any{
			"request_id": fmt.Sprintf("e2e-emp-contact-%04d", i),
			"employer_contact": map[string]any{
				"employer_name": fmt.Sprintf("Werkgever %d", i), "contact_date": day(intake.AddDate(0, 0, d)), "face_to_face": true,
			},
		}), 200, "employer contact")
	}
	e.want(e.do("POST", "/v1/clients/"+id+"/applications", "es-anna", map[string]any{
		"request_id": "e2e-emp-application-0001",
		"application": map[string]any{
			"employer_name": "Bakkerij Bolletje", "job_title": "Baker's assistant",
			"application_date": day(intake.AddDate(0, 0, 10)), "status": "APPLICATION_STATUS_APPLIED",
		},
	}), 200, "application")
	r = e.want(e.do("GET", "/v1/clients/"+id+"/employerContacts", "es-anna", nil), 200, "list contacts")
	if cs, _ := r.body["employer_contacts"].([]any); len(cs) != 2 {
		t.Errorf("%d employer contacts, want 2: %s", len(cs), r.raw)
	}
	r = e.want(e.do("GET", "/v1/clients/"+id+"/applications", "es-anna", nil), 200, "list applications")
	if as, _ := r.body["applications"].([]any); len(as) != 1 {
		t.Errorf("%d applications, want 1: %s", len(as), r.raw)
	}
	ms = e.milestones(id)
	e.wantMilestone(ms, "FIRST_EMPLOYER_CONTACT", "REACHED", day(intake.AddDate(0, 0, 5)), "", "day 10")
	e.wantMilestone(ms, "JOB_START", "PENDING", "", "", "day 10")

	// Day 20: the job starts, 16 hours a week at 14.50 euro.
	start := intake.AddDate(0, 0, 20)
	at(start)
	r = e.want(e.do("POST", "/v1/clients/"+id+"/placements", "es-anna", map[string]any{
		"request_id": "e2e-emp-placement-0001",
		"placement": map[string]any{
			"employer_name": "Bakkerij Bolletje", "job_title": "Baker's assistant", "start_date": day(start),
			"contract_kind": "CONTRACT_KIND_TEMPORARY", "hours_per_week": 16, "hourly_wage_cents": 1450,
		},
	}), 200, "start placement")
	pid, _ := get(r.body, "placement", "placement_id").(string)
	if pid == "" {
		t.Fatalf("no placement id in %s", r.raw)
	}
	version := get(r.body, "placement", "version")
	pollUntil(t, 10*time.Second, "employed after the job start", func() bool { return e.phase(id) == "PHASE_EMPLOYED" })
	three, six := start.AddDate(0, 3, 0), start.AddDate(0, 6, 0)
	ms = e.milestones(id)
	e.wantMilestone(ms, "JOB_START", "REACHED", day(start), "", "job start")
	e.wantMilestone(ms, "EMPLOYED_3_MONTHS", "PENDING", "", day(three), "job start")
	e.wantMilestone(ms, "EMPLOYED_6_MONTHS", "PENDING", "", day(six), "job start")

	// A month in: 20 hours a week from then on (still a continuous run of
	// at least 12 hours).
	at(start.AddDate(0, 1, 0))
	r = e.want(e.do("POST", "/v1/clients/"+id+"/placements/"+pid+":changeTerms", "es-anna", map[string]any{
		"terms":   map[string]any{"effective_date": day(start.AddDate(0, 1, 0)), "hours_per_week": 20, "hourly_wage_cents": 1500},
		"version": version,
	}), 200, "change terms to 20 h")
	version = get(r.body, "placement", "version")
	if h := get(r.body, "placement", "hours_per_week"); fmt.Sprint(h) != "20" {
		t.Errorf("hours after the change %v, want 20: %s", h, r.raw)
	}

	// The day before three months: still pending; on the day: reached.
	at(three.AddDate(0, 0, -1))
	ms = e.milestones(id)
	e.wantMilestone(ms, "EMPLOYED_3_MONTHS", "PENDING", "", day(three), "day before 3 months")
	at(three)
	ms = e.milestones(id)
	e.wantMilestone(ms, "EMPLOYED_3_MONTHS", "REACHED", day(three), "", "3 months")
	e.wantMilestone(ms, "EMPLOYED_6_MONTHS", "PENDING", "", day(six), "3 months")

	// Four months in: down to 8 hours a week. The run of at least 12 hours
	// ends, so six months can no longer be expected on this course.
	cut := start.AddDate(0, 4, 0)
	at(cut)
	r = e.want(e.do("POST", "/v1/clients/"+id+"/placements/"+pid+":changeTerms", "es-anna", map[string]any{
		"terms":   map[string]any{"effective_date": day(cut), "hours_per_week": 8, "hourly_wage_cents": 1500},
		"version": version,
	}), 200, "change terms to 8 h")
	version = get(r.body, "placement", "version")
	ms = e.milestones(id)
	e.wantMilestone(ms, "EMPLOYED_3_MONTHS", "REACHED", day(three), "", "8 hours")
	e.wantMilestone(ms, "EMPLOYED_6_MONTHS", "PENDING", "", "", "8 hours")

	// Five months in the job ends; the trajectory goes back to job search.
	end := start.AddDate(0, 5, 0)
	at(end)
	e.want(e.do("POST", "/v1/clients/"+id+"/placements/"+pid+":end", "es-anna", map[string]any{
		"end_date": day(end), "end_reason": "contract not renewed", "version": version,
	}), 200, "end placement")
	pollUntil(t, 10*time.Second, "job search after the job end", func() bool { return e.phase(id) == "PHASE_JOB_SEARCH" })

	// Seven months after intake the history still yields the same
	// milestones; six months was never reached.
	at(intake.AddDate(0, 7, 0))
	ms = e.milestones(id)
	e.wantMilestone(ms, "FIRST_EMPLOYER_CONTACT", "REACHED", day(intake.AddDate(0, 0, 5)), "", "7 months")
	e.wantMilestone(ms, "JOB_START", "REACHED", day(start), "", "7 months")
	e.wantMilestone(ms, "EMPLOYED_3_MONTHS", "REACHED", day(three), "", "7 months")
	e.wantMilestone(ms, "EMPLOYED_6_MONTHS", "PENDING", "", "", "7 months")

	// Before any consent the UWV officer finds nothing.
	e.want(e.do("GET", "/v1/clients/"+id+"/placements", "uwv-gijs", nil), 404, "officer lists placements without consent")

	// With consent for placements, UWV's benefits officer sees the job with
	// its hours and wage, but not the job search.
	e.want(e.do("POST", "/v1/clients/"+id+"/consents", "es-anna", map[string]any{
		"organization_id": "uwv-noord", "request_id": "e2e-emp-consent-0001",
		"sections": []string{"SECTION_PLACEMENTS"},
	}), 200, "record consent")
	r = e.want(e.do("GET", "/v1/clients/"+id+"/placements", "uwv-gijs", nil), 200, "officer lists placements")
	ps, _ := r.body["placements"].([]any)
	if len(ps) != 1 {
		t.Fatalf("officer sees %d placements, want 1: %s", len(ps), r.raw)
	}
	pm := ps[0].(map[string]any)
	if fmt.Sprint(pm["hours_per_week"]) != "8" || fmt.Sprint(pm["hourly_wage_cents"]) != "1500" ||
		pm["end_date"] != day(end) || pm["start_date"] != day(start) {
		t.Errorf("officer sees placement %v, want 8 h at 1500 cents from %s to %s", pm, day(start), day(end))
	}
	if th, _ := pm["terms_history"].([]any); len(th) != 3 {
		t.Errorf("officer sees %d terms, want 3: %v", len(th), pm["terms_history"])
	}
	r = e.want(e.do("GET", "/v1/clients/"+id+"/placements/"+pid, "uwv-gijs", nil), 200, "officer gets placement")
	if fmt.Sprint(get(r.body, "placement", "hourly_wage_cents")) != "1500" {
		t.Errorf("officer's placement: %s", r.raw)
	}
	for _, path := range []string{"/employerContacts", "/applications"} {
		r := e.do("GET", "/v1/clients/"+id+path, "uwv-gijs", nil)
		if r.status != 403 && r.status != 404 {
			t.Errorf("officer reads %s: HTTP %d, want 403 or 404: %s", path, r.status, r.raw)
		}
		if _, leaked := r.body["employer_contacts"]; leaked {
			t.Errorf("officer reads employer contacts: %s", r.raw)
		}
		if _, leaked := r.body["applications"]; leaked {
			t.Errorf("officer reads applications: %s", r.raw)
		}
	}

	// Every consent revoked: the placements are gone from view.
	cs := e.want(e.do("GET", "/v1/clients/"+id+"/consents", "es-anna", nil), 200, "list consents")
	consents, _ := cs.body["consents"].([]any)
	if len(consents) == 0 {
		t.Fatalf("no consents: %s", cs.raw)
	}
	for _, c := range consents {
		cid := get(c.(map[string]any), "consent_id").(string)
		e.want(e.do("POST", "/v1/clients/"+id+"/consents/"+cid+":revoke", "es-anna", map[string]any{}), 200, "revoke")
	}
	e.want(e.do("GET", "/v1/clients/"+id+"/placements", "uwv-gijs", nil), 404, "officer lists placements after revocation")
	e.want(e.do("GET", "/v1/clients/"+id+"/placements/"+pid, "uwv-gijs", nil), 404, "officer gets placement after revocation")
	// The specialist still sees everything.
	e.want(e.do("GET", "/v1/clients/"+id+"/placements", "es-anna", nil), 200, "specialist lists placements")
}

// enrolMany creates n clients through the clients gRPC API as user in team,
// with a few workers, and returns their ids.
func enrolMany(t *testing.T, e *env, cli clientsv1.ClientsServiceClient, user, team, prefix string, n int) []string {
	t.Helper()
	ctx := e.p.As(t, user)
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				resp, err := cli.CreateClient(ctx, &clientsv1.CreateClientRequest{
					RequestId: fmt.Sprintf("%s-%05d", prefix, i),
					Client: &clientsv1.Client{
						Identity:   &clientsv1.Identity{GivenName: "Client", FamilyName: fmt.Sprintf("%s %05d", prefix, i)},
						Trajectory: &clientsv1.Trajectory{TeamId: team},
					},
				})
				if err != nil {
					errs[i] = err
					continue
				}
				ids[i] = resp.GetClient().GetClientId()
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("enrol %s-%05d: %v", prefix, i, err)
		}
	}
	return ids
}

func TestSupervisorCaseloadPagesOverREST(t *testing.T) {
	e, _ := startWithEmployment(t)
	cli := clientsv1.NewClientsServiceClient(testplatform.Dial(t, e.p.ClientsAddr))

	began := time.Now()
	original := enrolMany(t, e, cli, "es-anna", "noord-team-a", "e2e-caseload-a", 500)
	teamB := enrolMany(t, e, cli, "es-bram", "noord-team-b", "e2e-caseload-b", 5)
	t.Logf("enrolled 505 clients in %s", time.Since(began).Round(time.Millisecond))

	isOriginal := map[string]bool{}
	for _, id := range original {
		isOriginal[id] = true
	}
	isTeamB := map[string]bool{}
	for _, id := range teamB {
		isTeamB[id] = true
	}

	const pageSize = 70
	seen := map[string]int{}
	var order []string
	token := ""
	pages := 0
	began = time.Now()
	for {
		path := fmt.Sprintf("/v1/teams/noord-team-a/caseload?page_size=%d", pageSize)
		if token != "" {
			path += "&page_token=" + token
		}
		r := e.want(e.do("GET", path, "sup-eva", nil), 200, fmt.Sprintf("caseload page %d", pages+1))
		pages++
		entries, _ := r.body["entries"].([]any)
		next, _ := r.body["next_page_token"].(string)
		if len(entries) > pageSize {
			t.Fatalf("page %d has %d entries, more than %d", pages, len(entries), pageSize)
		}
		if next != "" && len(entries) != pageSize {
			t.Errorf("page %d has %d entries and a next page, want a full page of %d", pages, len(entries), pageSize)
		}
		for _, en := range entries {
			m := en.(map[string]any)
			id := fmt.Sprint(m["client_id"])
			if m["team_id"] != "noord-team-a" || isTeamB[id] {
				t.Errorf("page %d lists a client of another team: %v", pages, m)
			}
			seen[id]++
			order = append(order, id)
		}
		if next == "" {
			break
		}
		if pages > 50 {
			t.Fatal("more than 50 pages")
		}
		token = next
		// Meanwhile more clients are enrolled in the team.
		enrolMany(t, e, cli, "es-anna", "noord-team-a", fmt.Sprintf("e2e-caseload-late-%02d", pages), 3)
	}
	t.Logf("paged %d entries in %d pages in %s", len(order), pages, time.Since(began).Round(time.Millisecond))

	for _, id := range original {
		if n := seen[id]; n != 1 {
			t.Errorf("original client %s listed %d times, want once", id, n)
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("client %s listed %d times", id, n)
		}
	}
	if pages < 500/pageSize+1 {
		t.Errorf("%d pages for at least 500 clients at %d a page", pages, pageSize)
	}

	// The order is stable: a fresh walk of the team (now with the late
	// clients) lists the originals in the same relative order.
	var again []string
	token = ""
	for {
		path := "/v1/teams/noord-team-a/caseload?page_size=100"
		if token != "" {
			path += "&page_token=" + token
		}
		r := e.want(e.do("GET", path, "sup-eva", nil), 200, "second walk")
		entries, _ := r.body["entries"].([]any)
		for _, en := range entries {
			again = append(again, fmt.Sprint(en.(map[string]any)["client_id"]))
		}
		token, _ = r.body["next_page_token"].(string)
		if token == "" {
			break
		}
	}
	filter := func(ids []string) []string {
		var out []string
		for _, id := range ids {
			if isOriginal[id] {
				out = append(out, id)
			}
		}
		return out
	}
	first, second := filter(order), filter(again)
	if len(first) != 500 || len(second) != 500 {
		t.Fatalf("walks list %d and %d originals, want 500", len(first), len(second))
	}
	for i := range first {
		if first[i] != second[i] {
			t.Fatalf("order differs between walks at original #%d: %s vs %s", i, first[i], second[i])
		}
	}
	// Every late client of the first walk came after all originals (they
	// were enrolled later, and the order is by enrolment).
	lastOriginal := 0
	for i, id := range again {
		if isOriginal[id] {
			lastOriginal = i
		}
	}
	for _, id := range again[:lastOriginal] {
		if !isOriginal[id] {
			t.Errorf("late client %s listed among the originals", id)
		}
	}
	if len(again) != 500+3*(pages-1) {
		t.Errorf("second walk lists %d clients, want %d", len(again), 500+3*(pages-1))
	}
}
