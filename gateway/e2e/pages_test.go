package e2e_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	gwserver "github.com/ipsbridge/ipsbridge/gateway/server"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	"github.com/ipsbridge/ipsbridge/services/benefits/app"
	benefitsserver "github.com/ipsbridge/ipsbridge/services/benefits/server"
	empserver "github.com/ipsbridge/ipsbridge/services/employment/server"
)

// startAll starts the clients, employment and benefits services on one
// database and the gateway with its pages and dev sign-in, all on loopback.
func startAll(tb testing.TB) *env {
	tb.Helper()
	p := testplatform.Start(tb)
	ctx := context.Background()
	if err := database.Migrate(ctx, p.Pool, empserver.Migrations...); err != nil {
		tb.Fatal(err)
	}
	if err := database.Migrate(ctx, p.Pool, benefitsserver.Migrations...); err != nil {
		tb.Fatal(err)
	}
	az, err := authz.New()
	if err != nil {
		tb.Fatal(err)
	}
	emp, _, err := empserver.Build(empserver.Deps{Pool: p.RuntimePool(tb, empserver.Runtime), Verifier: p.Verifier, Authz: az,
		Clients: testplatform.Dial(tb, p.ClientsAddr), Logger: testplatform.Logger()})
	if err != nil {
		tb.Fatal(err)
	}
	ben, _, err := benefitsserver.Build(benefitsserver.Deps{Pool: p.RuntimePool(tb, benefitsserver.Runtime), Verifier: p.Verifier, Authz: az,
		Notifier: app.TableNotifier{}, Logger: testplatform.Logger()})
	if err != nil {
		tb.Fatal(err)
	}
	empAddr, benAddr := testplatform.Serve(tb, emp), testplatform.Serve(tb, ben)
	p.FollowEvents(tb, benefitsserver.Consumers(benefitsserver.Deps{Pool: p.Pool, Authz: az, Logger: testplatform.Logger()})...)
	with := func(c *gwserver.Config) {
		c.EmploymentAddr, c.BenefitsAddr = empAddr, benAddr
		// Plain http on loopback: cookies without Secure, as scripts/dev.
		c.Web.DevLogin, c.Web.DevKeyDir, c.Web.InsecureCookies = true, p.KeyDir, true
	}
	return startGateway(tb, p, with)
}

// demo is the data the page tests walk through.
type demo struct {
	ids   []string
	names []string
	goals string
}

var demoNames = [][2]string{
	{"Sanne", "Kuipers"}, {"Ruben", "de Wit"}, {"Fleur", "Mulder"}, {"Thijs", "Hoekstra"},
	{"Lotte", "Bosman"}, {"Milan", "van Dijk"}, {"Noor", "Jacobs"}, {"Sem", "Vermeulen"},
	{"Eva", "Koster"}, {"Luuk", "Prins"}, {"Iris", "Dekkers"}, {"Bram", "Verhoeven"},
}

// seedDemo enrols n clients of es-anna through the REST API (all with
// consent for UWV and the municipality, in job search, with an employer
// contact); jobs of them start a job. The first client gets work goals,
// benefits from UWV and the municipality and a counselling request.
func seedDemo(tb testing.TB, e *env, n, jobs int) demo {
	tb.Helper()
	d := demo{goals: "Werken als kok, eerst 16 uur"}
	today := time.Now().UTC().Format(time.DateOnly)
	for i := range n {
		nm := demoNames[i%len(demoNames)]
		given, family := nm[0], nm[1]
		if i >= len(demoNames) {
			family = fmt.Sprintf("%s %d", family, i)
		}
		r := e.want(e.do("POST", "/v1/clients", "es-anna", map[string]any{
			"request_id": fmt.Sprintf("pages-enrol-%04d", i),
			"client": map[string]any{
				"identity":   map[string]any{"given_name": given, "family_name": family, "date_of_birth": "1990-05-17", "bsn": bsn(i)},
				"trajectory": map[string]any{"team_id": "noord-team-a", "involved_organization_ids": []string{"gem-groningen", "uwv-noord"}},
			},
		}), 200, "enrol")
		id, _ := get(r.body, "client", "client_id").(string)
		d.ids, d.names = append(d.ids, id), append(d.names, given+" "+family)
		for _, org := range []string{"uwv-noord", "gem-groningen"} {
			e.want(e.do("POST", "/v1/clients/"+id+"/consents", "es-anna", map[string]any{
				"organization_id": org, "request_id": fmt.Sprintf("pages-consent-%s-%04d", org, i),
				"sections": []string{"SECTION_IDENTITY", "SECTION_TRAJECTORY", "SECTION_PLACEMENTS", "SECTION_BENEFITS"},
			}), 200, "consent")
		}
		e.transition(id, "PHASE_INTAKE")
		e.transition(id, "PHASE_JOB_SEARCH")
		e.want(e.do("POST", "/v1/clients/"+id+"/employerContacts", "es-anna", map[string]any{
			"request_id":       fmt.Sprintf("pages-contact-%04d", i),
			"employer_contact": map[string]any{"employer_name": "Hotel De Rijper", "contact_date": today, "face_to_face": true},
		}), 200, "employer contact")
		if i < jobs {
			e.want(e.do("POST", "/v1/clients/"+id+"/placements", "es-anna", map[string]any{
				"request_id": fmt.Sprintf("pages-job-%04d", i),
				"placement": map[string]any{"employer_name": "Hotel De Rijper", "job_title": "Kok", "start_date": today,
					"contract_kind": "CONTRACT_KIND_TEMPORARY", "hours_per_week": 16, "hourly_wage_cents": 1450},
			}), 200, "start job")
		}
	}
	// The trajectories follow the job starts (the clients service's
	// event consumer).
	for _, id := range d.ids[:min(jobs, n)] {
		pollUntil(tb, 10*time.Second, "employed after the job start", func() bool { return e.phase(id) == "PHASE_EMPLOYED" })
	}
	id := d.ids[0]
	wg := e.want(e.do("GET", "/v1/clients/"+id+"/workGoals", "es-anna", nil), 200, "work goals")
	e.want(e.do("PATCH", "/v1/clients/"+id+"/workGoals?update_mask=goals,desired_hours_per_week", "es-anna", map[string]any{
		"goals": d.goals, "desired_hours_per_week": 16, "version": get(wg.body, "work_goals", "version"),
	}), 200, "write work goals")
	e.want(e.do("POST", "/v1/clients/"+id+"/benefits", "uwv-gijs", map[string]any{
		"request_id": "pages-wga-1",
		"benefit":    map[string]any{"kind": "BENEFIT_KIND_WIA_WGA", "monthly_amount_cents": 120000, "start_date": "2025-01-01"},
	}), 200, "UWV records WGA")
	e.want(e.do("POST", "/v1/clients/"+id+"/benefits", "gem-jet", map[string]any{
		"request_id": "pages-pw-1",
		"benefit":    map[string]any{"kind": "BENEFIT_KIND_PARTICIPATIEWET", "monthly_amount_cents": 30000, "start_date": "2025-01-01"},
	}), 200, "municipality records Participatiewet")
	e.want(e.do("POST", "/v1/clients/"+id+"/counsellingRequests", "es-anna", map[string]any{
		"reason": "baanaanbod: 16 uur als kok",
	}, "Idempotency-Key", "counsel-"+id), 200, "request counselling")
	return d
}

// bsn returns a valid (eleven-test) BSN for client i.
func bsn(i int) string {
	for n := 100000000 + i*1000; ; n++ {
		s := fmt.Sprint(n)
		sum := 0
		for k := 0; k < 8; k++ {
			sum += int(s[k]-'0') * (9 - k)
		}
		sum -= int(s[8] - '0')
		if sum%11 == 0 {
			return s
		}
	}
}

// webClient is a browser without a browser: a cookie jar and forms posted
// by hand, for what a browser cannot show (status codes, raw posts).
type webClient struct {
	tb   testing.TB
	base string
	c    *http.Client
}

func newWebClient(tb testing.TB, base string) *webClient {
	jar, _ := cookiejar.New(nil)
	return &webClient{tb: tb, base: base, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

func (w *webClient) do(method, path string, form url.Values, header ...string) (int, string, http.Header) {
	w.tb.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, w.base+path, body)
	if err != nil {
		w.tb.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept-Language", "en")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := w.c.Do(req)
	if err != nil {
		w.tb.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw), resp.Header
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
var requestIDField = regexp.MustCompile(`name="request_id" value="([^"]+)"`)

// csrf reads the CSRF token from a page.
func csrf(tb testing.TB, page string) string {
	tb.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		tb.Fatalf("no CSRF token on the page: %.300s", page)
	}
	return m[1]
}

// signIn signs in as a seeded user through the dev sign-in page.
func (w *webClient) signIn(user string) {
	w.tb.Helper()
	_, page, _ := w.do("GET", "/ui/signin", nil)
	st, body, h := w.do("POST", "/ui/signin/dev", url.Values{"csrf": {csrf(w.tb, page)}, "user": {user}, "next": {"/ui/"}})
	if st != http.StatusSeeOther {
		w.tb.Fatalf("dev sign-in as %s: HTTP %d: %.500s", user, st, body)
	}
	_ = h
}

func TestPagesOverHTTP(t *testing.T) {
	e := startAll(t)
	d := seedDemo(t, e, 6, 5)
	id := d.ids[0]

	// Signed out: every page sends to the sign-in page.
	anon := newWebClient(t, e.base)
	if st, _, h := anon.do("GET", "/ui/caseload", nil); st != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/ui/signin") {
		t.Errorf("signed-out caseload: HTTP %d to %q", st, h.Get("Location"))
	}
	if st, _, h := anon.do("GET", "/", nil); st != http.StatusSeeOther || h.Get("Location") != "/ui/" {
		t.Errorf("GET /: HTTP %d to %q", st, h.Get("Location"))
	}

	w := newWebClient(t, e.base)
	w.signIn("es-anna")
	st, page, h := w.do("GET", "/ui/clients/"+id, nil)
	if st != 200 {
		t.Fatalf("client page: HTTP %d: %.500s", st, page)
	}
	for _, hdr := range []string{"Content-Security-Policy", "X-Frame-Options"} {
		if h.Get(hdr) == "" {
			t.Errorf("client page without %s", hdr)
		}
	}
	token := csrf(t, page)
	contact := func(key string, extra ...string) url.Values {
		v := url.Values{"employer_name": {"Bakkerij Bolletje"}, "contact_date": {time.Now().UTC().Format(time.DateOnly)}, "request_id": {key}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}

	// A POST without the CSRF token, or with another, is refused and
	// records nothing; so is a cross-origin POST with the right token.
	before := e.count(`SELECT count(*) FROM employment.employer_contacts WHERE client_id = $1`, id)
	if st, body, _ := w.do("POST", "/ui/clients/"+id+"/contacts", contact("web-test-nocsrf-1")); st != http.StatusForbidden || !strings.Contains(body, "Form refused") {
		t.Errorf("POST without CSRF token: HTTP %d: %.300s", st, body)
	}
	if st, _, _ := w.do("POST", "/ui/clients/"+id+"/contacts", contact("web-test-badcsrf-1", "csrf", "forged")); st != http.StatusForbidden {
		t.Errorf("POST with a forged CSRF token: HTTP %d", st)
	}
	if st, _, _ := w.do("POST", "/ui/clients/"+id+"/contacts", contact("web-test-xorigin-1", "csrf", token),
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"); st != http.StatusForbidden {
		t.Errorf("cross-origin POST: HTTP %d", st)
	}
	if n := e.count(`SELECT count(*) FROM employment.employer_contacts WHERE client_id = $1`, id); n != before {
		t.Errorf("refused POSTs recorded %d contacts", n-before)
	}

	// A double submit (the same form, so the same idempotency key) records
	// one contact.
	key := requestIDField.FindStringSubmatch(page)[1]
	for range 2 {
		if st, body, _ := w.do("POST", "/ui/clients/"+id+"/contacts", contact(key, "csrf", token)); st != http.StatusSeeOther {
			t.Fatalf("employer contact: HTTP %d: %.500s", st, body)
		}
	}
	if n := e.count(`SELECT count(*) FROM employment.employer_contacts WHERE client_id = $1`, id); n != before+1 {
		t.Errorf("double submit recorded %d contacts, want 1", n-before)
	}

	// Invalid input comes back as 400 with the reason next to the field.
	st, body, _ := w.do("POST", "/ui/clients/"+id+"/placements", url.Values{"csrf": {token}, "request_id": {"web-test-job-bad"},
		"employer_name": {"X"}, "job_title": {"Y"}, "start_date": {"2026-01-05"}, "contract_kind": {"permanent"}, "hours_per_week": {"veertig"}, "hourly_wage": {"14,50"}})
	if st != http.StatusBadRequest || !regexp.MustCompile(`id="start-hours-error">Enter a number`).MatchString(body) {
		t.Errorf("invalid hours: HTTP %d, field error missing: %.300s", st, body)
	}

	// A change based on an old version is a conflict (409), not a lost
	// update; the form keeps the input.
	wg := e.want(e.do("GET", "/v1/clients/"+id+"/workGoals", "es-anna", nil), 200, "work goals")
	old := fmt.Sprint(get(wg.body, "work_goals", "version"))
	e.want(e.do("PATCH", "/v1/clients/"+id+"/workGoals?update_mask=strengths", "es-anna", map[string]any{
		"strengths": "punctueel", "version": old}), 200, "concurrent change")
	st, body, _ = w.do("POST", "/ui/clients/"+id+"/workgoals", url.Values{"csrf": {token}, "version": {old}, "goals": {"Mijn versie"}})
	if st != http.StatusConflict || !strings.Contains(body, "Someone else changed this") || !strings.Contains(body, "Mijn versie") {
		t.Errorf("stale work goals: HTTP %d: %.300s", st, body)
	}
	wg = e.want(e.do("GET", "/v1/clients/"+id+"/workGoals", "es-anna", nil), 200, "work goals")
	if get(wg.body, "work_goals", "strengths") != "punctueel" || get(wg.body, "work_goals", "goals") != d.goals {
		t.Errorf("the stale change overwrote the work goals: %s", wg.raw)
	}

	// Service errors become pages with the right status.
	if st, _, _ := w.do("GET", "/ui/clients/00000000-0000-4000-8000-000000000000", nil); st != http.StatusNotFound {
		t.Errorf("unknown client: HTTP %d", st)
	}
	if st, _, _ := w.do("GET", "/ui/clients/not-a-uuid", nil); st != http.StatusBadRequest {
		t.Errorf("malformed client id: HTTP %d", st)
	}
	if st, _, _ := w.do("GET", "/ui/region", nil); st != http.StatusForbidden {
		t.Errorf("specialist on the region dashboard: HTTP %d", st)
	}
	officer := newWebClient(t, e.base)
	officer.signIn("uwv-gijs")
	if st, _, _ := officer.do("GET", "/ui/clients/"+id+"/access", nil); st != http.StatusForbidden {
		t.Errorf("officer reads the access history: HTTP %d", st)
	}
	if st, body, _ := officer.do("GET", "/ui/clients/"+id, nil); st != 200 || strings.Contains(body, d.goals) || strings.Contains(body, `id="work-goals"`) {
		t.Errorf("officer's client page: HTTP %d, work goals shown: %v", st, strings.Contains(body, d.goals))
	}

	// The aggregate API: the decision maker gets region figures with small
	// groups suppressed; nobody else gets them.
	r := e.want(e.do("GET", "/v1/regionStatistics", "dm-lucas", nil), 200, "region statistics")
	for _, ph := range list(r.body, "phases") {
		c, _ := ph["clients"].(map[string]any)
		if n := num(t, c["count"]); n > 0 && n < 5 {
			t.Errorf("a small group left the API: %v", ph)
		}
	}
	if !strings.Contains(r.raw, `"suppressed":true`) {
		t.Errorf("1 client in job search should be suppressed: %s", r.raw)
	}
	r = e.want(e.do("GET", "/v1/regionOutcomes", "dm-lucas", nil), 200, "region outcomes")
	if strings.Contains(r.raw, id) || !strings.Contains(r.raw, `"count":5`) {
		t.Errorf("region outcomes: %s", r.raw)
	}
	e.want(e.do("GET", "/v1/regionStatistics", "es-anna", nil), 403, "specialist asks for region figures")
	e.want(e.do("GET", "/v1/regionOutcomes", "uwv-gijs", nil), 403, "officer asks for region figures")
	e.want(e.do("GET", "/v1/regionStatistics?region_id=region-oost", "dm-lucas", nil), 403, "another region's figures")

	// Signing out ends the session.
	st, page, _ = w.do("GET", "/ui/caseload", nil)
	if st != 200 {
		t.Fatalf("caseload: %d", st)
	}
	if st, _, _ := w.do("POST", "/ui/signout", url.Values{"csrf": {csrf(t, page)}}); st != http.StatusSeeOther {
		t.Errorf("sign out: HTTP %d", st)
	}
	if st, _, _ := w.do("GET", "/ui/caseload", nil); st != http.StatusSeeOther {
		t.Errorf("caseload after sign-out: HTTP %d", st)
	}
}

// BenchmarkCaseloadPage measures the whole caseload page of a specialist
// with 20 clients: the gateway's page, the employment service's caseload
// (with the clients service's roster and access checks) and PostgreSQL.
func BenchmarkCaseloadPage(b *testing.B) {
	e := startAll(b)
	seedDemo(b, e, 20, 8)
	w := newWebClient(b, e.base)
	w.signIn("es-anna")
	st, page, _ := w.do("GET", "/ui/caseload", nil)
	if st != 200 || !strings.Contains(page, "20 of at most 20") {
		b.Fatalf("caseload: HTTP %d: %.300s", st, page)
	}
	for b.Loop() {
		if st, _, _ := w.do("GET", "/ui/caseload", nil); st != 200 {
			b.Fatalf("HTTP %d", st)
		}
	}
}
