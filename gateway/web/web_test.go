package web

import (
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// newTestHandler is a Handler without services: enough for sessions,
// middleware and rendering.
func newTestHandler(t testing.TB) *Handler {
	t.Helper()
	c, err := newCodec([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{cfg: Config{SessionTTL: time.Hour}, log: slog.New(slog.DiscardHandler), codec: c, pages: pages, now: time.Now}
	h.handler = h.routes()
	return h
}

func TestEveryMessageHasBothLanguages(t *testing.T) {
	for k, m := range messages {
		if m[0] == "" || m[1] == "" {
			t.Errorf("message %q lacks a language: %q", k, m)
		}
	}
	// Every literal key the templates and the code use exists.
	used := regexp.MustCompile(`(?:\.T|\.Tf|translate\(b?\.?lang,|translate\(lang,) "([a-z_.]+)"|key: "([a-z_.]+)"|b\.fail\("[a-z_]+", "([a-z_.]+)"\)`)
	check := func(name, text string) {
		for _, m := range used.FindAllStringSubmatch(text, -1) {
			k := m[1] + m[2] + m[3]
			if _, ok := messages[k]; !ok {
				t.Errorf("%s uses message %q, which does not exist", name, k)
			}
		}
	}
	_ = fs.WalkDir(templateFiles, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(templateFiles, p)
			check(p, string(b))
		}
		return nil
	})
	// Keys built from a prefix and a value: every value they can take.
	for _, prefix := range []string{"phase.", "role.", "section.", "contract.", "with."} {
		n := 0
		for k := range messages {
			if strings.HasPrefix(k, prefix) {
				n++
			}
		}
		if n < 3 {
			t.Errorf("few %s* messages: %d", prefix, n)
		}
	}
	for _, k := range []string{"notfound", "forbidden", "invalid", "conflict", "precondition", "signedout", "unavailable", "internal", "csrf", "badrequest", "signin", "notdeployed"} {
		for _, key := range []string{"error." + k, "error." + k + ".help"} {
			if _, ok := messages[key]; !ok {
				t.Errorf("no message %q", key)
			}
		}
	}
}

func TestLanguage(t *testing.T) {
	for _, c := range []struct{ cookie, accept, want string }{
		{"", "", "nl"},
		{"", "en-GB,en;q=0.9", "en"},
		{"", "de-DE, nl;q=0.8, en;q=0.5", "nl"},
		{"en", "nl", "en"},
		{"fr", "en", "en"},
	} {
		r := httptest.NewRequest("GET", "/ui/", nil)
		r.Header.Set("Accept-Language", c.accept)
		if c.cookie != "" {
			r.AddCookie(&http.Cookie{Name: langCookie, Value: c.cookie})
		}
		if got := language(r); got != c.want {
			t.Errorf("language(cookie %q, Accept-Language %q) = %q, want %q", c.cookie, c.accept, got, c.want)
		}
	}
}

func TestSessionCookie(t *testing.T) {
	h := newTestHandler(t)
	s := &session{Token: "tok", Expires: time.Now().Add(time.Hour).Unix(), CSRF: "c", UserID: "es-anna"}
	w := httptest.NewRecorder()
	if err := h.saveSession(w, s); err != nil {
		t.Fatal(err)
	}
	cookie := w.Result().Cookies()[0]
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" {
		t.Errorf("cookie attributes: %+v", cookie)
	}
	if strings.Contains(cookie.Value, "tok") || strings.Contains(cookie.Value, "es-anna") {
		t.Errorf("the cookie shows its content: %s", cookie.Value)
	}
	r := httptest.NewRequest("GET", "/ui/", nil)
	r.AddCookie(cookie)
	got, fresh := h.loadSession(r)
	if fresh || got.Token != "tok" || got.UserID != "es-anna" {
		t.Errorf("loadSession = %+v, fresh %v", got, fresh)
	}
	// A changed cookie is not accepted.
	tampered := *cookie
	tampered.Value = cookie.Value[:len(cookie.Value)-2] + "AA"
	r = httptest.NewRequest("GET", "/ui/", nil)
	r.AddCookie(&tampered)
	if got, fresh := h.loadSession(r); !fresh || got.Token != "" {
		t.Errorf("tampered cookie accepted: %+v", got)
	}
	// Over https the cookie is Secure and __Host- prefixed.
	h.secure = true
	w = httptest.NewRecorder()
	_ = h.saveSession(w, s)
	if c := w.Result().Cookies()[0]; !c.Secure || !strings.HasPrefix(c.Name, "__Host-") {
		t.Errorf("https cookie: %+v", c)
	}
}

func TestPOSTNeedsCSRFToken(t *testing.T) {
	h := newTestHandler(t)
	// A signed-out visitor gets a session (and its token) with the page.
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/ui/signin", nil))
	if w.Code != 200 {
		t.Fatalf("sign-in page: %d", w.Code)
	}
	cookies := w.Result().Cookies()
	if len(cookies) == 0 {
		t.Fatal("no session cookie with the sign-in page")
	}
	post := func(form url.Values, hdr ...string) int {
		r := httptest.NewRequest("POST", "/ui/signout", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		for _, c := range cookies {
			r.AddCookie(c)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	s, _ := h.loadSession(func() *http.Request {
		r := httptest.NewRequest("GET", "/", nil)
		for _, c := range cookies {
			r.AddCookie(c)
		}
		return r
	}())
	if code := post(url.Values{}); code != http.StatusForbidden {
		t.Errorf("POST without token: %d", code)
	}
	if code := post(url.Values{"csrf": {"wrong"}}); code != http.StatusForbidden {
		t.Errorf("POST with a wrong token: %d", code)
	}
	if code := post(url.Values{"csrf": {s.CSRF}}, "Sec-Fetch-Site", "cross-site"); code != http.StatusForbidden {
		t.Errorf("cross-site POST with the token: %d", code)
	}
	if code := post(url.Values{"csrf": {s.CSRF}}); code != http.StatusSeeOther {
		t.Errorf("POST with the token: %d", code)
	}
}

func TestPrivatePagesNeedSignIn(t *testing.T) {
	h := newTestHandler(t)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/ui/caseload", nil))
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/ui/signin?next=") {
		t.Errorf("signed-out caseload: %d %s", w.Code, w.Header().Get("Location"))
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/ui/no/such/page", nil))
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), `<html lang="nl">`) {
		t.Errorf("unknown page: %d", w.Code)
	}
}

func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/ui/caseload":          "/ui/caseload",
		"/ui/clients/x?done=a":  "/ui/clients/x?done=a",
		"https://evil.example/": "/ui/",
		"//evil.example/ui/":    "/ui/",
		"/v1/clients":           "/ui/",
		"/ui/\\evil":            "/ui/",
		"":                      "/ui/",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestChartEscapes(t *testing.T) {
	svg := string(barChart("c", `<script>alert(1)</script>`, []bar{{Label: `"><img>`, Value: 3, Text: "3"}, {Label: "x", Hidden: true, Text: "< 5"}}))
	if strings.Contains(svg, "<script>") || strings.Contains(svg, `"><img>`) {
		t.Errorf("chart does not escape: %s", svg)
	}
	if !strings.Contains(svg, `class="bar hidden"`) {
		t.Errorf("suppressed bar not drawn as hidden: %s", svg)
	}
}

func TestMoney(t *testing.T) {
	for _, c := range []struct {
		lang  string
		cents int64
		want  string
	}{{"nl", 123456, "€ 1.234,56"}, {"en", 123456, "€1,234.56"}, {"en", -5, "−€0.05"}, {"nl", 100000000, "€ 1.000.000,00"}} {
		if got := formatMoney(c.lang, c.cents); got != c.want {
			t.Errorf("formatMoney(%s, %d) = %q, want %q", c.lang, c.cents, got, c.want)
		}
	}
}

// BenchmarkRenderCaseload is the page's own share of a caseload of 20:
// building and rendering the HTML (the services' share is measured end to
// end by BenchmarkCaseloadPage in gateway/e2e).
func BenchmarkRenderCaseload(b *testing.B) {
	h := newTestHandler(b)
	s := &session{Token: "t", Expires: time.Now().Add(time.Hour).Unix(), CSRF: "c", UserID: "es-anna", Name: "Anna de Vries", Role: "employment_specialist"}
	d := caseloadData{Limit: 20, Count: 20}
	for i := range 20 {
		d.Rows = append(d.Rows, caseloadRow{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), Name: "Sanne Kuipers",
			Phase: "job_search", Days: int32(i), HasDays: true, Milestone: "job_start", MilestoneDate: "2026-03-01"})
	}
	r := httptest.NewRequest("GET", "/ui/caseload", nil)
	for b.Loop() {
		w := httptest.NewRecorder()
		if err := h.render(w, 200, "caseload", h.newPage(r, s, "caseload.title", d)); err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, w.Body)
	}
}
