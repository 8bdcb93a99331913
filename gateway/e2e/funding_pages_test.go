package e2e_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var lineDecide = regexp.MustCompile(`action="(/ui/funding/claims/[^/"]+/lines/[^/"]+/decide)"`)

// post submits a form of page to action with the page's CSRF token and a
// fresh request id, and expects the post/redirect/get answer.
func (w *webClient) post(page, action string, fields url.Values) string {
	w.tb.Helper()
	if fields == nil {
		fields = url.Values{}
	}
	fields.Set("csrf", csrf(w.tb, page))
	if fields.Get("request_id") == "" {
		fields.Set("request_id", "page-"+strings.ReplaceAll(action, "/", "-"))
	}
	if m := regexp.MustCompile(`(?s)action="` + regexp.QuoteMeta(action) + `">.*?name="version" value="([0-9]+)"`).FindStringSubmatch(page); m != nil {
		fields.Set("version", m[1])
	}
	st, body, h := w.do("POST", action, fields)
	if st != http.StatusSeeOther {
		w.tb.Fatalf("POST %s: HTTP %d: %.800s", action, st, body)
	}
	return h.Get("Location")
}

func (w *webClient) page(path string, want int) string {
	w.tb.Helper()
	st, body, _ := w.do("GET", path, nil)
	if st != want {
		w.tb.Fatalf("GET %s: HTTP %d, want %d: %.500s", path, st, want, body)
	}
	return body
}

// TestFundingPages walks the funding pages as the people who use them: the
// funder's funding officer decides the application on its printable page,
// the MHA's funding officer prepares and submits a claim, the funder
// reviews it line by line, and the budget shows on both sides; another
// funder's officer finds none of it.
func TestFundingPages(t *testing.T) {
	e, clk := startWithFunding(t, mustDate("2027-01-04"))
	ag := e.want(e.do("POST", "/v1/fundingAgreements", "fo-otto", map[string]any{"request_id": "agreement-page-1",
		"agreement": fundingAgreement("UWV Noord pagina's", 12)}), 200, "agreement").body["agreement"].(map[string]any)
	id := e.fundedClient("pages")

	// The specialist drafts the application on the funding page and
	// records the client's signature; the MHA's officer signs and submits.
	anna := newWebClient(t, e.base)
	anna.signIn("es-anna")
	home := anna.page("/ui/funding", 200)
	if !strings.Contains(home, "UWV Noord pagina") || !strings.Contains(home, `value="`+id+`"`) {
		t.Fatalf("the specialist's funding page lacks the agreement or the client: %.2000s", home)
	}
	loc := anna.post(home, "/ui/funding/applications", url.Values{"agreement_id": {ag["agreement_id"].(string)}, "client_id": {id}})
	appPath := strings.SplitN(loc, "?", 2)[0]
	doc := anna.page(appPath, 200)
	if !strings.Contains(doc, "Sanne Kuipers") || !strings.Contains(doc, "@media print") && !strings.Contains(doc, "print-only") {
		t.Errorf("the application document lacks the client's name or its print layout")
	}
	anna.post(doc, appPath+"/sign-client", nil)

	nina := newWebClient(t, e.base)
	nina.signIn("fo-nina")
	doc = nina.page(appPath, 200)
	nina.post(doc, appPath+"/sign-mha", nil)
	doc = nina.page(appPath, 200)
	nina.post(doc, appPath+"/submit", nil)

	// The funder finds it waiting, and approves it on the document.
	otto := newWebClient(t, e.base)
	otto.signIn("fo-otto")
	home = otto.page("/ui/funding", 200)
	if !strings.Contains(home, appPath) || !strings.Contains(home, "Waiting for you") {
		t.Fatalf("the funder's page does not list the submitted application: %.2000s", home)
	}
	doc = otto.page(appPath, 200)
	otto.post(doc, appPath+"/approve", url.Values{"extension_months": {"0"}})
	if doc = otto.page(appPath, 200); !strings.Contains(doc, "approved") || !strings.Contains(doc, "2029-01-03") && !strings.Contains(doc, "3 Jan 2029") && !strings.Contains(doc, "3 January 2029") {
		t.Errorf("approved application page: %.3000s", doc)
	}

	// A job, four months, and the MHA's officer prepares and submits a
	// claim on the funding page.
	e.want(e.do("POST", "/v1/clients/"+id+"/placements", "es-anna", map[string]any{"request_id": "job-page-0001",
		"placement": map[string]any{"employer_name": "Bakkerij Bol", "job_title": "Baker", "start_date": "2027-02-01",
			"contract_kind": "CONTRACT_KIND_PERMANENT", "hours_per_week": 20, "hourly_wage_cents": 1500}}), 200, "job")
	clk.set(mustDate("2027-06-01"))
	home = nina.page("/ui/funding", 200)
	loc = nina.post(home, "/ui/funding/claims", url.Values{"agreement_id": {ag["agreement_id"].(string)}, "date": {"2027-05-31"}})
	claimPath := strings.SplitN(loc, "?", 2)[0]
	cl := nina.page(claimPath, 200)
	nina.post(cl, claimPath+"/submit", nil)

	// The funder reviews line by line: rejects the first with a reason,
	// approves the others; the budget shows what was approved.
	cl = otto.page(claimPath, 200)
	actions := lineDecide.FindAllStringSubmatch(cl, -1)
	if len(actions) != 3 { // approval, job start, 3 months
		t.Fatalf("%d lines to decide, want 3: %.3000s", len(actions), cl)
	}
	for i, a := range actions {
		cl = otto.page(claimPath, 200)
		f := url.Values{"decision": {"approve"}}
		if i == 0 {
			f = url.Values{"decision": {"reject"}, "text": {"no signed contract"}}
		}
		otto.post(cl, a[1], f)
	}
	cl = otto.page(claimPath, 200)
	if !strings.Contains(cl, "no signed contract") || !strings.Contains(cl, "decided") || !strings.Contains(cl, "Bakkerij Bol") {
		t.Errorf("decided claim page: %.3000s", cl)
	}
	for _, who := range []*webClient{otto, nina} {
		if home = who.page("/ui/funding", 200); !strings.Contains(home, "Budget") || !strings.Contains(home, "Forecast") {
			t.Errorf("no budget on the funding page: %.2000s", home)
		}
	}

	// The municipality's funding officer finds none of it.
	pien := newWebClient(t, e.base)
	pien.signIn("fo-pien")
	if home = pien.page("/ui/funding", 200); strings.Contains(home, "UWV Noord pagina") || strings.Contains(home, appPath) {
		t.Errorf("another funder sees the agreement or the application")
	}
	pien.page(appPath, 404)
	pien.page(claimPath, 404)
}
