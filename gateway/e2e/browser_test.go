package e2e_test

import (
	"context"
	"flag"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

var screenshotDir = flag.String("screenshots", "", "write a PNG of each main page the browser test visits into this directory")

// chromium finds Debian's Chromium (or another Chrome). Without one the
// browser tests are skipped, except in CI, where scripts/test installs it.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium binary found; scripts/test installs Debian's chromium package")
	}
	t.Skip("no chromium binary found (install Debian's chromium package to run the browser tests)")
	return ""
}

// browser is one headless Chromium for all subtests; each person gets a
// fresh browser context (their own cookies), as on their own computer.
type browser struct {
	t     *testing.T
	alloc context.Context
	base  string
}

func startBrowser(t *testing.T, base string) *browser {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox, // tests may run as root in a container
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 1000),
		chromedp.Flag("lang", "en-GB"),
		chromedp.Flag("accept-lang", "en-GB,en"),
	)
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	// Start the browser once, here, so its start-up is not charged to the
	// first subtest.
	ctx, cancelCtx := chromedp.NewContext(alloc)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	t.Cleanup(cancelCtx)
	return &browser{t: t, alloc: ctx, base: base}
}

// person is one signed-in browser context.
type person struct {
	t   *testing.T
	ctx context.Context
	b   *browser
}

// as opens a new browser context and signs in through the dev sign-in page
// by clicking the user's button, as a person would.
func (b *browser) as(t *testing.T, user string) *person {
	ctx, cancel := chromedp.NewContext(b.alloc, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelT)
	p := &person{t: t, ctx: ctx, b: b}
	p.run(chromedp.Navigate(b.base + "/ui/signin"))
	p.submit("#user-" + user)
	return p
}

func (p *person) run(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, actions...); err != nil {
		p.t.Fatalf("browser: %v", err)
	}
}

// eval evaluates a script expression in the page.
func eval[T any](p *person, expr string, opts ...chromedp.EvaluateOption) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		p.t.Fatalf("browser: evaluate %s: %v", expr, err)
	}
	return v
}

// js runs a script expression for its effect.
func js(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](expr)(ctx, t)
		return err
	})
}

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// open loads a page and waits for it.
func (p *person) open(path string) {
	p.t.Helper()
	p.run(chromedp.Navigate(p.b.base+path), chromedp.WaitReady(css("main")))
}

// submit clicks a button that submits a form and waits for the next page:
// the current document is marked first, so the wait cannot be satisfied by
// the page being left.
func (p *person) submit(button string) {
	p.t.Helper()
	p.run(
		js(`document.body.dataset.old = "1"`),
		chromedp.Click(css(button)),
		chromedp.WaitReady(css(`body:not([data-old])`)),
	)
}

// text is the page's visible text.
func (p *person) text() string {
	p.t.Helper()
	return eval[string](p, `document.body.innerText`)
}

func (p *person) exists(sel string) bool {
	p.t.Helper()
	return eval[bool](p, `document.querySelector(`+jsString(sel)+`) !== null`)
}

func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func (p *person) wantText(what string, want ...string) {
	p.t.Helper()
	txt := p.text()
	for _, w := range want {
		if !strings.Contains(txt, w) {
			p.t.Errorf("%s: page lacks %q:\n%.1500s", what, w, txt)
		}
	}
}

func (p *person) wantNoText(what string, unwanted ...string) {
	p.t.Helper()
	txt := p.text()
	for _, w := range unwanted {
		if strings.Contains(txt, w) {
			p.t.Errorf("%s: page shows %q", what, w)
		}
	}
}

// screenshot saves the page as a PNG when -screenshots is given.
func (p *person) screenshot(name string) {
	p.t.Helper()
	if *screenshotDir == "" {
		return
	}
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(*screenshotDir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*screenshotDir, name+".png"), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func TestBrowser(t *testing.T) {
	chromium(t)
	start := time.Now()
	e := startAll(t)
	d := seedDemo(t, e, 12, 6)
	id := d.ids[0]
	b := startBrowser(t, e.base)
	t.Logf("platform, demo data and browser ready in %s", time.Since(start).Round(time.Millisecond))
	today := time.Now().UTC().Format(time.DateOnly)

	t.Run("employment specialist", func(t *testing.T) {
		p := b.as(t, "es-anna")
		// Signing in leads to the caseload: 12 of at most 20, no warning.
		p.run(chromedp.WaitReady(css("#caseload")))
		p.wantText("caseload", "Caseload", "12 of at most 20 clients", d.names[0], d.names[11], "Job search", "Employed", "days ago")
		if p.exists("#caseload-warning") {
			t.Errorf("a caseload of 12 carries a warning")
		}
		p.screenshot("caseload")

		// The client's page: work goals, job search, the job, consents.
		p.open("/ui/clients/" + id)
		p.wantText("client page", d.names[0], d.goals, "Hotel De Rijper", "Kok", "The client's consents", "UWV Noord")
		p.screenshot("client-specialist")

		// Edit the work goals.
		p.run(chromedp.Click(css(`#work-goals summary`)),
			chromedp.SetValue(css(`#wg-goals`), "Koken in een restaurant, 20 uur"))
		p.submit(`#workgoals-form button[type=submit]`)
		p.wantText("work goals saved", "The work goals were saved.", "Koken in een restaurant, 20 uur")

		// Consent needs the client present: without the tick, the reason
		// shows next to the box and nothing is recorded.
		p.open("/ui/clients/" + d.ids[1])
		p.run(chromedp.Click(css(`#consent-section-milestones`)))
		p.submit(`#consent-form button[type=submit]`)
		p.wantText("consent without the client", "Record (or revoke) consent only with the client present")
		if !p.exists(`#consent-present-error`) {
			t.Errorf("no error next to the presence checkbox")
		}
		p.run(chromedp.Click(css(`#consent-present`)))
		p.submit(`#consent-form button[type=submit]`)
		p.wantText("consent recorded", "The consent was recorded.", "Milestones")

		// Start a job: a wrong number is shown next to its field.
		p.open("/ui/clients/" + d.ids[7])
		p.run(
			chromedp.SetValue(css(`#start-employer`), "Café Het Hoekje"),
			chromedp.SetValue(css(`#start-title`), "Barista"),
			chromedp.SetValue(css(`#start-date`), today),
			chromedp.SetValue(css(`#start-hours`), "twaalf"),
			chromedp.SetValue(css(`#start-wage`), "13,75"),
		)
		p.submit(`form[action$="/placements"] button[type=submit]`)
		if !p.exists(`#start-hours-error`) {
			t.Errorf("no error next to the hours field")
		}
		p.run(chromedp.SetValue(css(`#start-hours`), "12"))
		p.submit(`form[action$="/placements"] button[type=submit]`)
		p.wantText("job recorded", "The job was recorded.", "Barista · Café Het Hoekje", "€13.75")

		// Change the hours of that job, then end it.
		p.run(chromedp.Click(css(`section[id^="placement-"] details summary`)),
			chromedp.SetValue(css(`input[id^="terms-date-"]`), today),
			chromedp.SetValue(css(`input[id^="terms-hours-"]`), "16"))
		p.submit(`form[action$="/terms"] button[type=submit]`)
		p.wantText("terms changed", "The hours or wage were changed.")

		// A form posted without the CSRF token (here by script, as a forged
		// form would) is refused.
		p.run(
			js(`document.body.dataset.old = "1"`),
			js(`(() => {
				const f = document.createElement("form");
				f.method = "post";
				f.action = "/ui/clients/`+id+`/contacts";
				for (const [k, v] of [["employer_name", "Forged"], ["contact_date", "`+today+`"]]) {
					const i = document.createElement("input");
					i.type = "hidden"; i.name = k; i.value = v;
					f.appendChild(i);
				}
				document.body.appendChild(f);
				f.submit();
			})()`),
			chromedp.WaitReady(css(`body:not([data-old])`)),
		)
		p.wantText("POST without CSRF token", "Form refused", "HTTP 403")
		p.open("/ui/clients/" + id)
		p.wantNoText("after the forged POST", "Forged")
	})

	t.Run("clinician", func(t *testing.T) {
		p := b.as(t, "cl-carla")
		p.run(chromedp.WaitReady(css("#clients")))
		p.wantText("team's clients", d.names[0], d.names[5])
		p.open("/ui/clients/" + id)
		p.wantText("work goals and jobs", "Koken in een restaurant, 20 uur", "Kok · Hotel De Rijper")
		if p.exists("#consent-form") || p.exists("#workgoals-form") {
			t.Errorf("a clinician gets the consent or work goals form")
		}
		// Clinical input is kept as dated entries: a second one does not
		// replace the first, and the newest comes first.
		yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
		p.run(chromedp.Click(css(`#clinical-input summary`)),
			chromedp.SetValue(css(`#ci-date`), yesterday),
			chromedp.SetValue(css(`#ci-notes`), "Werkt het best in de ochtend."))
		p.submit(`form[action$="/clinical"] button[type=submit]`)
		p.wantText("clinical input added", "The clinical input was added.", "Werkt het best in de ochtend.", yesterday, "Carla Bakker")
		p.run(chromedp.Click(css(`#clinical-input summary`)),
			chromedp.SetValue(css(`#ci-work`), "Geen nachtdiensten."))
		p.submit(`form[action$="/clinical"] button[type=submit]`)
		p.wantText("second entry", "Werkt het best in de ochtend.", "Geen nachtdiensten.")
		if n := eval[int](p, `document.querySelectorAll("#clinical-entries li").length`); n != 2 {
			t.Errorf("%d clinical entries shown, want 2", n)
		}
		if first := eval[string](p, `document.querySelector("#clinical-entries li").innerText`); !strings.Contains(first, "Geen nachtdiensten.") {
			t.Errorf("the newest entry is not first: %q", first)
		}
		p.screenshot("client-clinician")
	})

	t.Run("UWV officer", func(t *testing.T) {
		p := b.as(t, "uwv-gijs")
		p.run(chromedp.WaitReady(css("#clients")))
		p.wantText("clients with consent", d.names[0], bsn(0))
		p.screenshot("clients-uwv")
		p.open("/ui/clients/" + id)
		p.wantText("client page", d.names[0], bsn(0), "Kok · Hotel De Rijper", "WIA (WGA)", "€1,200.00")
		p.wantNoText("never work goals", "Work goals", "Koken in een restaurant", d.goals, "Clinical input", "Werkt het best")
		if p.exists("#work-goals") || p.exists("#clinical-input") {
			t.Errorf("the UWV officer's page has a work goals or clinical input section")
		}
		// UWV sees only the benefits it pays, not the municipality's.
		p.wantNoText("other payer's benefit", "Participatiewet")
		p.screenshot("client-uwv")
	})

	t.Run("benefits counsellor", func(t *testing.T) {
		p := b.as(t, "gem-karin")
		p.run(chromedp.WaitReady(css("#clients")))
		p.open("/ui/clients/" + id)
		p.wantText("benefits and counselling", "WIA (WGA)", "Social assistance (Participatiewet)", "baanaanbod: 16 uur als kok")
		p.wantNoText("no work goals", "Koken in een restaurant")
		p.open("/ui/clients/" + id + "/income")
		p.run(chromedp.SetValue(css(`#income-hours`), "16"), chromedp.SetValue(css(`#income-wage`), "14,50"))
		p.submit(`form[action$="/income"] button[type=submit]`)
		p.wantText("income calculation", "Income without the job", "Income with the job", "Difference", "UWV Noord", "Gemeente Groningen")
		lines := eval[int](p, `document.querySelectorAll(".income-month:first-of-type .income-lines:last-of-type tbody tr").length`)
		if lines < 3 {
			t.Errorf("%d explained lines, want the earnings and each benefit", lines)
		}
		p.screenshot("income")
	})

	// The same calculation in Dutch, over eight months: every word Dutch,
	// every amount in euros with a decimal comma, organisations by name.
	t.Run("income calculation in Dutch", func(t *testing.T) {
		// UWV reports that from March it pays 520.54 of the WGA, having
		// offset 679.46 of the job's earnings (70% of 16 × 14.00 × 52 /
		// 12): the calculation must not deduct those earnings again.
		r := e.want(e.do("GET", "/v1/clients/"+id+"/benefits", "uwv-gijs", nil), 200, "UWV's benefits")
		wga, _ := list(r.body, "benefits")[0]["benefit_id"].(string)
		e.want(e.do("POST", "/v1/benefitDecisions", "uwv-system", map[string]any{
			"client_id": id, "benefit_id": wga, "kind": "DECISION_KIND_ADJUSTED", "effective_date": "2026-03-01",
			"monthly_amount_cents": 52054, "earnings_offset_cents": 67946,
		}, "Idempotency-Key", "browser-wga-offset"), 200, "UWV's decision")
		p := b.as(t, "gem-karin")
		p.open("/ui/lang/nl?next=" + url.QueryEscape("/ui/clients/"+id))
		p.wantText("amount history", "Bedragen door de tijd")
		p.open("/ui/clients/" + id + "/income")
		p.run(chromedp.SetValue(css(`#income-hours`), "16"), chromedp.SetValue(css(`#income-wage`), "14,00"),
			chromedp.SetValue(css(`#income-start`), "2026-01-01"), chromedp.SetValue(css(`#income-months`), "8"))
		p.submit(`form[action$="/income"] button[type=submit]`)
		months := eval[int](p, `document.querySelectorAll("#income-months tbody tr").length`)
		if months != 8 {
			t.Fatalf("%d months shown, want 8", months)
		}
		// With the WGA (1,200.00 gross, 70% offset) and the assistance (300.00
		// net), month 7 has no release: the job brings nothing extra. Every
		// month, March too, has the same figures: without the job
		// 960.00 + 300.00 = 1,260.00 net.
		p.wantText("Dutch calculation", "Inkomen zonder baan", "Inkomen met baan", "juli 2026", "UWV Noord", "Gemeente Groningen",
			"minimumloon", "niets extra", "Vrijlating", "netto", "€ 14,00")
		without := eval[[]string](p, `[...document.querySelectorAll("#income-months tbody tr td:nth-child(3)")].map(td => td.innerText)`)
		for i, w := range without {
			if w != "€ 1.260,00" {
				t.Errorf("month %d: income without the job %s, want € 1.260,00", i+1, w)
			}
		}
		with := eval[[]string](p, `[...document.querySelectorAll("#income-months tbody tr td:nth-child(4)")].map(td => td.innerText)`)
		if len(with) != 8 || with[1] != with[2] || with[2] != "€ 1.454,13" || with[6] != "€ 1.260,00" {
			t.Errorf("income with the job per month: %v; want € 1.454,13 in months 1–6 (March too), € 1.260,00 from month 7", with)
		}
		main := eval[string](p, `document.querySelector("main").innerText`)
		for _, bad := range []*regexp.Regexp{
			regexp.MustCompile(`(?i)\b(the|and|wage|earnings|benefit|month|months|gross|net|deducted|release|paid|from|with|without|income|difference|source|amount|line|assumption|note)\b`),
			regexp.MustCompile(`(?i)\b(ct|cents?)\b`),              // cents
			regexp.MustCompile(`€\d|\d\.\d{2}(\D|$)`),              // English money
			regexp.MustCompile(`uwv-noord|gem-groningen|/20\d\d-`), // ids and rule versions
		} {
			if loc := bad.FindStringIndex(main); loc != nil {
				t.Errorf("the Dutch page shows %q in %q", main[loc[0]:loc[1]], main[max(0, loc[0]-80):min(len(main), loc[1]+80)])
			}
		}
		if os.Getenv("SHOW_INCOME") != "" {
			t.Log(main)
		}
		p.screenshot("income-nl")
	})

	t.Run("supervisor access history", func(t *testing.T) {
		p := b.as(t, "sup-eva")
		p.run(chromedp.WaitReady(css("main")))
		p.wantText("supervision", "Needs attention", "No contact in the last 30 days", "Specialists above the IPS maximum", "Team Stad", "Anna de Vries")
		p.screenshot("caseload-supervisor")
		p.open("/ui/clients/" + id + "/access")
		// People by name, times labelled, one line per page view.
		p.wantText("access history", "Access history", "Gijs de Boer", "Karin Vos", "Carla Bakker", "UWV Noord", "Time (Dutch time)")
		p.wantNoText("access history", "uwv-gijs", "cl-carla", "action.")
		// Filtered to other organisations, the MHA's own people drop out.
		p.open("/ui/clients/" + id + "/access?others=1")
		p.wantText("other organisations", "Gijs de Boer", "Karin Vos")
		p.wantNoText("other organisations", "Carla Bakker")
		p.open("/ui/clients/" + id + "/access")
		// Printed, only the history remains.
		p.run(media("print"))
		headerShown := eval[bool](p, `getComputedStyle(document.querySelector("header.top")).display !== "none"`)
		if headerShown {
			t.Errorf("the page header is printed")
		}
		p.screenshot("access-history-print")
		p.run(media(""))
	})

	t.Run("decision maker", func(t *testing.T) {
		p := b.as(t, "dm-lucas")
		p.run(chromedp.WaitReady(css("#phases svg")))
		p.wantText("dashboard", "Clients per phase", "Job starts per month", "Days from intake to first employer contact", "Job retention", "Total: 12 trajectories")
		for _, chart := range []string{"#phases svg", "#jobstarts svg", "#firstcontact svg", "#retention svg"} {
			if !p.exists(chart) {
				t.Errorf("no chart %s", chart)
			}
		}
		html := eval[string](p, `document.documentElement.outerHTML`)
		for _, name := range d.names {
			for _, part := range strings.Fields(name) {
				if len(part) > 3 && strings.Contains(html, part) {
					t.Errorf("the decision maker's page contains %q (of %s)", part, name)
				}
			}
		}
		for _, cid := range d.ids {
			if strings.Contains(html, cid) {
				t.Errorf("the decision maker's page contains a client id")
			}
		}
		p.screenshot("region")
		// The client pages are closed to the decision maker.
		p.open("/ui/clients/" + id)
		p.wantText("client page refused", "No access")
		p.wantNoText("client page refused", d.names[0])
	})

	t.Run("language and keyboard", func(t *testing.T) {
		p := b.as(t, "es-anna")
		p.run(chromedp.WaitReady(css("#caseload")))
		lang := eval[string](p, `document.documentElement.lang`)
		if lang != "en" {
			t.Errorf("html lang %q for an English browser", lang)
		}
		p.submitLink(`a[hreflang="nl"]`)
		lang = eval[string](p, `document.documentElement.lang`)
		p.wantText("Dutch caseload", "12 van maximaal 20 cliënten", "Zoeken naar werk")
		if lang != "nl" {
			t.Errorf("html lang %q after choosing Dutch", lang)
		}
		p.screenshot("caseload-nl")
		// The first Tab reaches the skip link, which is then visible.
		p.run(chromedp.KeyEvent("\t"))
		focused := eval[string](p, `document.activeElement.className`)
		left := eval[float64](p, `document.activeElement.getBoundingClientRect().left`)
		if focused != "skip" || left < 0 {
			t.Errorf("first Tab focuses %q at x=%v, want the visible skip link", focused, left)
		}
		// Every input, select and textarea on the client page has a label.
		p.open("/ui/clients/" + id)
		unlabelled := eval[[]string](p, `Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea")).filter(el => !(el.labels && el.labels.length)).map(el => el.name || el.id)`)
		if len(unlabelled) > 0 {
			t.Errorf("fields without a label: %v", unlabelled)
		}
		// Sign out from the header.
		p.submit(`header form[action="/ui/signout"] button`)
		p.wantText("signed out", "Aanmelden", "Lokale omgeving")
	})
	t.Run("enrolment with consents", func(t *testing.T) {
		p := b.as(t, "es-anna")
		p.open("/ui/clients")
		p.submit(`a[href="/ui/clients/new"]`)
		// The specialist's team is chosen; without the client present, the
		// consents are refused next to the box and nobody is enrolled.
		if team := eval[string](p, `document.querySelector("#enrol-team").value`); team != "noord-team-a" {
			t.Errorf("team defaults to %q", team)
		}
		p.run(
			chromedp.SetValue(css(`#enrol-given`), "Marloes"),
			chromedp.SetValue(css(`#enrol-family`), "Wiersma"),
			chromedp.SetValue(css(`#enrol-dob`), "1988-02-14"),
			chromedp.Click(css(`input[name=organizations][value=uwv-noord]`)),
		)
		p.submit(`form[action="/ui/clients/new"] button[type=submit]`)
		p.wantText("consent without the client", "Record (or revoke) consent only with the client present")
		p.run(chromedp.Click(css(`input[name=present]`)))
		p.submit(`form[action="/ui/clients/new"] button[type=submit]`)
		p.wantText("enrolled", "The client was enrolled and the consents recorded.", "Marloes Wiersma", "UWV Noord")
		// Found by name from the client list.
		p.open("/ui/clients?q=wiers")
		p.wantText("search", "Marloes Wiersma")
		p.wantNoText("search", d.names[0])
	})

	t.Run("counsellor worklist, assignment and session", func(t *testing.T) {
		p := b.as(t, "gem-karin")
		if !p.exists(`nav a[href="/ui/counselling"]`) {
			t.Fatalf("the counsellor's menu has no worklist")
		}
		p.open("/ui/counselling")
		p.wantText("worklist", "Benefits counselling requests", d.names[0], "baanaanbod: 16 uur als kok", "not yet assigned")
		crid := eval[string](p, `(document.querySelector('#counselling-worklist a[href^="/ui/clients/`+id+`"]') || {closest: () => ({id: ""})}).closest("tr").id.replace("counselling-", "")`)
		if crid == "" {
			t.Fatalf("the first client's request is not on the worklist")
		}
		p.submit(`#assign-` + crid)
		p.wantText("assigned", "The request was assigned to you.", "assigned to you")
		if p.exists(`#assign-` + crid) {
			t.Errorf("the request assigned to the counsellor still offers to assign it")
		}
		p.submitLink(`#counselling-` + crid + ` a`)
		p.run(chromedp.Click(css(`#counselling-`+crid+` details summary`)),
			chromedp.SetValue(css(`#session-notes-`+crid), "Besproken: WGA en loon bij 16 uur."),
			chromedp.SetValue(css(`#session-outcome-`+crid), "Baan loont; WGA-wijziging doorgeven."))
		p.submit(`#session-form-` + crid + ` button[type=submit]`)
		p.wantText("session recorded", "The session was recorded.", "Besproken: WGA en loon bij 16 uur.", "Baan loont; WGA-wijziging doorgeven.")
	})

	t.Run("UWV officer reports a decision", func(t *testing.T) {
		p := b.as(t, "uwv-gijs")
		p.open("/ui/clients/" + id)
		if p.exists(`select#benefit-kind option[value=participatiewet]`) || !p.exists(`select#benefit-kind option[value=wia_wga]`) {
			t.Errorf("UWV is offered benefit kinds it does not pay, or not its own")
		}
		before := eval[int](p, `document.querySelectorAll("#benefit-list .amount-history li").length`)
		p.run(chromedp.Click(css(`details[id^="benefit-"] summary`)),
			chromedp.SetValue(css(`input[id^="decision-date-"]`), "2026-10-01"),
			chromedp.SetValue(css(`input[id^="decision-amount-"]`), "1150,00"),
			chromedp.SetValue(css(`textarea[id^="decision-reason-"]`), "Herbeoordeling"))
		p.submit(`form[id^="decision-form-"] button[type=submit]`)
		p.wantText("decision recorded", "The decision was recorded.", "€1,150.00")
		after := eval[int](p, `document.querySelectorAll("#benefit-list .amount-history li").length`)
		if after != before+1 {
			t.Errorf("amount history has %d rows after the decision, want %d", after, before+1)
		}
		last := eval[string](p, `[...document.querySelectorAll("#benefit-list .amount-history li")].pop().textContent`)
		if !strings.Contains(last, "€1,150.00") {
			t.Errorf("the newest amount is %q, want €1,150.00", last)
		}

		// In Dutch, a decision without date and amount comes back with
		// Dutch reasons next to the fields and not one English word.
		p.open("/ui/lang/nl?next=" + url.QueryEscape("/ui/clients/"+id))
		p.run(chromedp.Click(css(`details[id^="benefit-"] summary`)))
		p.submit(`form[id^="decision-form-"] button[type=submit]`)
		form := eval[string](p, `document.querySelector('form[id^="decision-form-"]').innerText`)
		for _, w := range []string{"Vul dit in.", "Verbeter de gemarkeerde velden."} {
			if !strings.Contains(form, w) {
				t.Errorf("the failed Dutch form lacks %q:\n%s", w, form)
			}
		}
		if m := regexp.MustCompile(`(?i)\b(please|required|must|enter|the|amount|date|invalid|decision)\b`).FindString(form); m != "" {
			t.Errorf("the failed Dutch form shows English %q:\n%s", m, form)
		}
	})

	t.Run("service refusal in Dutch", func(t *testing.T) {
		// The benefits service refuses a decision from before the WGA's
		// start, in English; the Dutch page says so in Dutch and changes
		// nothing.
		p := b.as(t, "uwv-gijs")
		p.open("/ui/lang/nl?next=" + url.QueryEscape("/ui/clients/"+id))
		before := eval[int](p, `document.querySelectorAll("#benefit-list .amount-history li").length`)
		p.run(chromedp.Click(css(`details[id^="benefit-"] summary`)),
			chromedp.SetValue(css(`input[id^="decision-date-"]`), "2001-01-01"),
			chromedp.SetValue(css(`input[id^="decision-amount-"]`), "900"))
		p.submit(`form[id^="decision-form-"] button[type=submit]`)
		form := eval[string](p, `document.querySelector('form[id^="decision-form-"]').innerText`)
		if !strings.Contains(form, "De uitkeringsdienst heeft dit niet vastgelegd") {
			t.Errorf("the refused Dutch form does not say so in Dutch:\n%s", form)
		}
		if m := regexp.MustCompile(`(?i)\b(effective_date|before|start_date|benefit|the)\b`).FindString(form); m != "" {
			t.Errorf("the refused Dutch form shows English %q:\n%s", m, form)
		}
		if after := eval[int](p, `document.querySelectorAll("#benefit-list .amount-history li").length`); after != before {
			t.Errorf("a refused decision changed the amount history: %d rows, was %d", after, before)
		}
	})

	t.Run("municipality officer records a benefit", func(t *testing.T) {
		p := b.as(t, "gem-jet")
		p.open("/ui/clients/" + id)
		if p.exists(`select#benefit-kind option[value=wia_wga]`) {
			t.Errorf("the municipality is offered a UWV benefit")
		}
		p.run(chromedp.SetValue(css(`#benefit-kind`), "supplement"),
			chromedp.SetValue(css(`#benefit-amount`), "45,50"),
			chromedp.SetValue(css(`#benefit-start`), today))
		p.submit(`#benefit-form button[type=submit]`)
		p.wantText("benefit recorded", "The benefit was recorded.", "Supplement", "€45.50")
	})
	t.Logf("browser test took %s", time.Since(start).Round(time.Millisecond))
}

// submitLink follows a link and waits for the next page.
func (p *person) submitLink(sel string) { p.t.Helper(); p.submit(sel) }

// media emulates a CSS media type ("print"; "" for the screen again).
func media(m string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: m})
		return err
	})
}
