package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static/style.css
var styleCSS []byte

func serveCSS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = w.Write(styleCSS)
}

type pageTemplate struct{ t *template.Template }

var funcs = template.FuncMap{
	"date":       formatDate,
	"datetime":   formatDateTime,
	"join":       strings.Join,
	"inc":        func(i int) int { return i + 1 },
	"list":       func(v ...any) []any { return v },
	"field":      newField,
	"euros":      func(cents int64) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) },
	"hours":      func(h float64) string { return strconv.FormatFloat(h, 'f', -1, 64) },
	"enumkey":    enumKey,
	"phasekey":   phaseKey,
	"orgname":    orgName,
	"personname": func(id string) string { return personName("nl", id) },
	"sectionkey": sectionName,
	"contractkinds": func() []string {
		return []string{"permanent", "temporary", "zero_hours", "on_call", "self_employed", "apprenticeship"}
	},
	"withkinds":  func() []string { return []string{"client", "employer", "both"} },
	"statusName": reviewStatus,
}

// fieldData is one labelled form field with its error, for the "input"
// template.
type fieldData struct {
	ID, Name, Label, Type, Value, Error string
	Required                            bool
}

// newField builds a field of form f: id, name, label, type (text, date,
// number, textarea), value and whether it is required.
func newField(f *form, id, name, label, typ, value string, required bool) fieldData {
	return fieldData{ID: id, Name: name, Label: label, Type: typ, Value: value, Error: f.E(name), Required: required}
}

// parsePages parses every page template together with the layout.
func parsePages() (map[string]*pageTemplate, error) {
	base, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	out := map[string]*pageTemplate{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFiles, n)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", n, err)
		}
		out[name] = &pageTemplate{t: t}
	}
	return out, nil
}

// page is what every template gets.
type page struct {
	Lang      string
	TitleKey  string
	Title     string
	User      *session
	CSRF      string
	Path      string
	Flash     string
	RequestID string
	Nav       []navItem
	Data      any
}

type navItem struct {
	Href, Key string
	Current   bool
}

// T translates a message key into the page's language.
func (p *page) T(key string) string { return translate(p.Lang, key) }

// Tf translates a message key with fmt arguments.
func (p *page) Tf(key string, args ...any) string {
	return fmt.Sprintf(translate(p.Lang, key), args...)
}

// Money formats euro cents for the page's language.
func (p *page) Money(cents int64) string { return formatMoney(p.Lang, cents) }

// newPage fills in what every page needs.
func (h *Handler) newPage(r *http.Request, s *session, titleKey string, data any) *page {
	p := &page{
		Lang: language(r), TitleKey: titleKey, CSRF: s.CSRF, Path: r.URL.RequestURI(),
		RequestID: r.Header.Get("X-Request-Id"), Data: data,
	}
	p.Title = p.T(titleKey)
	if s.signedIn(h.now()) {
		p.User = s
		p.Nav = h.nav(s, r.URL.Path)
	}
	if k := r.URL.Query().Get("done"); k != "" && hasMessage("done."+k) {
		p.Flash = p.T("done." + k)
	}
	return p
}

// nav lists the pages the user's role has.
func (h *Handler) nav(s *session, path string) []navItem {
	var items []navItem
	add := func(href, key string) {
		items = append(items, navItem{Href: href, Key: key, Current: path == href})
	}
	switch s.Role {
	case "employment_specialist", "ips_supervisor":
		add("/ui/caseload", "nav.caseload")
		add("/ui/clients", "nav.clients")
		if s.Role == "ips_supervisor" && h.fidelity != nil {
			add("/ui/fidelity", "nav.fidelity")
		}
		if s.Role == "employment_specialist" && h.funding != nil {
			add("/ui/funding", "nav.funding")
		}
	case "funding_officer":
		add("/ui/funding", "nav.funding")
	case "decision_maker":
		add("/ui/region", "nav.region")
		if h.fidelity != nil {
			add("/ui/fidelity", "nav.fidelity")
		}
	case "fidelity_reviewer":
		add("/ui/fidelity", "nav.fidelity")
	case "benefits_counsellor":
		if h.benefits != nil {
			add("/ui/counselling", "nav.counselling")
		}
		add("/ui/clients", "nav.clients")
	case "org_admin", "partner_system":
	default:
		add("/ui/clients", "nav.clients")
	}
	return items
}

// render writes a page with the given status. It renders into a buffer
// first, so a template failure becomes an error page, not half a page.
func (h *Handler) render(w http.ResponseWriter, status int, name string, p *page) error {
	t, ok := h.pages[name]
	if !ok {
		return fmt.Errorf("no page template %q", name)
	}
	var buf bytes.Buffer
	buf.Grow(16 << 10)
	if err := t.t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", p.Lang)
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
	return nil
}

// pageError is an error with the page status and message it deserves.
type pageError struct {
	status int
	key    string
	detail string
	cause  error
}

func (e *pageError) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s (%d): %v", e.key, e.status, e.cause)
	}
	return fmt.Sprintf("%s (%d)", e.key, e.status)
}

func (e *pageError) Unwrap() error { return e.cause }

// serviceError maps a service's status to a page error: the status codes
// people meet (403, 404, 409, 400) get their own words; causes of internal
// errors are logged, not shown.
func serviceError(err error) *pageError {
	var pe *pageError
	if errors.As(err, &pe) {
		return pe
	}
	st, ok := status.FromError(err)
	if !ok {
		return &pageError{status: http.StatusInternalServerError, key: "error.internal", cause: err}
	}
	switch st.Code() {
	case codes.NotFound:
		return &pageError{status: http.StatusNotFound, key: "error.notfound", cause: err}
	case codes.PermissionDenied:
		return &pageError{status: http.StatusForbidden, key: "error.forbidden", cause: err}
	case codes.InvalidArgument:
		return &pageError{status: http.StatusBadRequest, key: "error.invalid", detail: st.Message(), cause: err}
	case codes.Aborted:
		return &pageError{status: http.StatusConflict, key: "error.conflict", cause: err}
	case codes.FailedPrecondition, codes.AlreadyExists:
		return &pageError{status: http.StatusConflict, key: "error.precondition", detail: st.Message(), cause: err}
	case codes.Unauthenticated:
		return &pageError{status: http.StatusUnauthorized, key: "error.signedout", cause: err}
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled:
		return &pageError{status: http.StatusServiceUnavailable, key: "error.unavailable", cause: err}
	case codes.Unimplemented:
		return &pageError{status: http.StatusNotFound, key: "error.notdeployed", cause: err}
	}
	return &pageError{status: http.StatusInternalServerError, key: "error.internal", cause: err}
}

// fieldViolations returns the bad fields a service named, keyed by the
// last element of the field path (the form field's name).
func fieldViolations(err error) (map[string]string, []string) {
	st, ok := status.FromError(err)
	if !ok {
		return nil, nil
	}
	fields := map[string]string{}
	var general []string
	for _, d := range st.Details() {
		br, ok := d.(*errdetails.BadRequest)
		if !ok {
			continue
		}
		for _, v := range br.GetFieldViolations() {
			f := v.GetField()
			if i := strings.LastIndexByte(f, '.'); i >= 0 {
				f = f[i+1:]
			}
			if f == "" {
				general = append(general, v.GetDescription())
				continue
			}
			fields[f] = v.GetDescription()
		}
	}
	return fields, general
}

type errorData struct {
	Status int
	Key    string
	Detail string
}

// renderError writes the friendly error page for err.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, s *session, err error) {
	pe := serviceError(err)
	switch {
	case pe.status >= 500:
		h.log.Error("page failed", "path", r.URL.Path, "status", pe.status, "err", err)
	case pe.cause != nil:
		h.log.Info("page refused", "path", r.URL.Path, "status", pe.status, "err", err)
	}
	if pe.status == http.StatusUnauthorized && r.Method == http.MethodGet {
		http.Redirect(w, r, "/ui/signin?expired=1&next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	if s == nil {
		s = &session{}
	}
	p := h.newPage(r, s, "error.title", errorData{Status: pe.status, Key: pe.key, Detail: pe.detail})
	if rerr := h.render(w, pe.status, "error", p); rerr != nil {
		h.log.Error("error page failed", "err", rerr)
		http.Error(w, http.StatusText(pe.status), pe.status)
	}
}

func formatDate(v any) string {
	switch t := v.(type) {
	case *timestamppb.Timestamp:
		if t == nil {
			return ""
		}
		return t.AsTime().Local().Format(time.DateOnly)
	case time.Time:
		if t.IsZero() {
			return ""
		}
		return t.Format(time.DateOnly)
	case string:
		return t
	}
	return ""
}

func formatDateTime(v any) string {
	if t, ok := v.(*timestamppb.Timestamp); ok && t != nil {
		return t.AsTime().Local().Format("2006-01-02 15:04:05")
	}
	return ""
}

// formatMoney writes cents as euros: € 1.234,56 in Dutch, €1,234.56 in
// English.
func formatMoney(lang string, cents int64) string {
	neg := cents < 0
	if neg {
		cents = -cents
	}
	euros, rest := cents/100, cents%100
	digits := fmt.Sprint(euros)
	thousands, decimal := ",", "."
	if lang == "nl" {
		thousands, decimal = ".", ","
	}
	var b strings.Builder
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString(thousands)
		}
		b.WriteRune(c)
	}
	sign := ""
	if neg {
		sign = "−"
	}
	if lang == "nl" {
		return fmt.Sprintf("%s€ %s%s%02d", sign, b.String(), decimal, rest)
	}
	return fmt.Sprintf("%s€%s%s%02d", sign, b.String(), decimal, rest)
}
