package web

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/ipsbridge/ipsbridge/internal/seed"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
)

var orgNames = func() map[string]string {
	m := map[string]string{}
	for _, o := range seed.Demo.Organizations {
		m[o.ID] = o.Name
	}
	return m
}()

// submission is a posted form being checked before it goes to a service.
type submission struct {
	f    *form
	lang string
}

func (h *Handler) submission(r *http.Request) *submission {
	return &submission{f: &form{Values: r.PostForm, Errors: map[string]string{}, Key: r.PostForm.Get("request_id")}, lang: language(r)}
}

func (b *submission) fail(field, key string) {
	if _, ok := b.f.Errors[field]; !ok {
		b.f.Errors[field] = translate(b.lang, key)
	}
}

func (b *submission) text(field string, required bool) string {
	v := strings.TrimSpace(b.f.V(field))
	if required && v == "" {
		b.fail(field, "form.required")
	}
	return v
}

func (b *submission) date(field string, required bool) string {
	v := b.text(field, required)
	if v != "" && !isDate(v) {
		b.fail(field, "form.date")
	}
	return v
}

func isDate(v string) bool {
	if len(v) != 10 || v[4] != '-' || v[7] != '-' {
		return false
	}
	for i, c := range v {
		if i != 4 && i != 7 && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func (b *submission) number(field string, required bool, min, max float64) float64 {
	v := strings.ReplaceAll(b.text(field, required), ",", ".")
	if v == "" {
		return 0
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(n) || n < min || n > max {
		// Say the limits, in the page's own number format.
		if _, ok := b.f.Errors[field]; !ok {
			b.f.Errors[field] = fmt.Sprintf(translate(b.lang, "form.number"), formatNumber(b.lang, min), formatNumber(b.lang, max))
		}
		return 0
	}
	return n
}

// cents reads an hourly amount in euros ("14,25" or "14.25").
func (b *submission) cents(field string, required bool) int64 {
	return b.centsUpTo(field, required, 1000)
}

// centsUpTo reads an amount in euros of at most max euros.
func (b *submission) centsUpTo(field string, required bool, max float64) int64 {
	return int64(math.Round(b.number(field, required, 0, max) * 100))
}

func (b *submission) version(field string) int64 {
	n, err := strconv.ParseInt(b.f.V(field), 10, 64)
	if err != nil || n <= 0 {
		b.f.Message = translate(b.lang, "form.stale")
		return 0
	}
	return n
}

func (b *submission) ok() bool { return !b.f.Failed() }

// done answers a successful POST with a redirect to the client's page
// (post/redirect/get), where a message confirms what was saved.
func done(w http.ResponseWriter, r *http.Request, id, what, anchor string) error {
	http.Redirect(w, r, fmt.Sprintf("/ui/clients/%s?done=%s#%s", id, what, anchor), http.StatusSeeOther)
	return nil
}

// formFailed shows the client's page again with the form's values and the
// reasons next to its fields: 400 for invalid input, 409 when someone else
// changed the record in the meantime or the request no longer fits it.
// Other service errors become the error page.
func (h *Handler) formFailed(w http.ResponseWriter, r *http.Request, s *session, id, name string, b *submission, err error) error {
	f := b.f
	f.Key = newKey()
	code := http.StatusBadRequest
	if err != nil {
		switch status.Code(err) {
		case codes.InvalidArgument:
			fields, general := fieldViolations(err)
			for k, v := range fields {
				if _, ok := f.Values[k]; ok || k == "sections" || k == "hourly_wage_cents" || k == "desired_hours_per_week" {
					if k == "hourly_wage_cents" {
						k = "hourly_wage"
					}
					f.Errors[k] = v
				} else {
					general = append(general, k+": "+v)
				}
			}
			f.Message = strings.Join(general, "; ")
			if f.Message == "" && len(fields) == 0 {
				f.Message = status.Convert(err).Message()
			}
		case codes.Aborted:
			code = http.StatusConflict
			f.Message = translate(b.lang, "form.conflict")
		case codes.FailedPrecondition, codes.AlreadyExists:
			code = http.StatusConflict
			f.Message = status.Convert(err).Message()
		default:
			return serviceError(err)
		}
	}
	if f.Message == "" && len(f.Errors) > 0 {
		f.Message = translate(b.lang, "form.fix")
	}
	return h.renderClient(w, r, s, id, name, f, code)
}

// save finishes a form whose fields b has read: field errors first, then
// the service call (refused with 404 when the service is not deployed),
// then back to the client's page, or the form again with the service's
// reasons.
func (h *Handler) save(w http.ResponseWriter, r *http.Request, s *session, id, form string, b *submission,
	deployed bool, call func(context.Context) error, what, anchor string) error {
	if !b.ok() {
		return h.formFailed(w, r, s, id, form, b, nil)
	}
	if !deployed {
		return errNotDeployed
	}
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	if err := call(ctx); err != nil {
		return h.formFailed(w, r, s, id, form, b, err)
	}
	return done(w, r, id, what, anchor)
}

func (h *Handler) postWorkGoals(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	b := h.submission(r)
	wg := &clientsv1.WorkGoals{
		Preferences: b.text("preferences", false), Goals: b.text("goals", false),
		Strengths: b.text("strengths", false), SupportWishes: b.text("support_wishes", false),
		DesiredHoursPerWeek: int32(b.number("desired_hours_per_week", false, 0, 60)),
		Version:             b.version("version"),
	}
	for _, o := range strings.Split(b.text("preferred_occupations", false), ",") {
		if o = strings.TrimSpace(o); o != "" {
			wg.PreferredOccupations = append(wg.PreferredOccupations, o)
		}
	}
	return h.save(w, r, s, id, "workgoals", b, true, func(ctx context.Context) error {
		_, err := h.clients.UpdateWorkGoals(ctx, &clientsv1.UpdateWorkGoalsRequest{ClientId: id, WorkGoals: wg, RequestId: b.f.Key,
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"preferences", "goals", "strengths", "support_wishes", "preferred_occupations", "desired_hours_per_week"}}})
		return err
	}, "workgoals", "work-goals")
}

// postClinical adds a dated entry to the clinical input; earlier entries
// stay as they were.
func (h *Handler) postClinical(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	b := h.submission(r)
	e := &clientsv1.ClinicalEntry{EntryDate: b.date("entry_date", true), Notes: b.text("notes", false), WorkConsiderations: b.text("work_considerations", false)}
	if e.Notes == "" && e.WorkConsiderations == "" {
		b.fail("notes", "clinical.empty")
	}
	if e.EntryDate > time.Now().In(amsterdam).Format(time.DateOnly) {
		b.fail("entry_date", "clinical.future")
	}
	return h.save(w, r, s, id, "clinical", b, true, func(ctx context.Context) error {
		_, err := h.clients.AddClinicalEntry(ctx, &clientsv1.AddClinicalEntryRequest{ClientId: id, Entry: e, RequestId: b.f.Key})
		return err
	}, "clinical", "clinical-input")
}

func (h *Handler) postPhase(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	b := h.submission(r)
	ph := clientsv1.Phase(clientsv1.Phase_value["PHASE_"+strings.ToUpper(b.text("phase", true))])
	if ph == clientsv1.Phase_PHASE_UNSPECIFIED {
		b.fail("phase", "form.required")
	}
	req := &clientsv1.TransitionPhaseRequest{ClientId: id, Phase: ph, Reason: b.text("reason", false), Version: b.version("version"), RequestId: b.f.Key}
	if !b.ok() {
		return h.formFailed(w, r, s, id, "phase", b, nil)
	}
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	if _, err := h.clients.TransitionPhase(ctx, req); err != nil {
		if status.Code(err) == codes.FailedPrecondition {
			// The phase cannot follow the current one: say so at the field.
			b.f.Errors["phase"] = status.Convert(err).Message()
			return h.formFailed(w, r, s, id, "phase", b, nil)
		}
		return h.formFailed(w, r, s, id, "phase", b, err)
	}
	return done(w, r, id, "phase", "trajectory")
}

// postConsent records the client's consent. The person confirms that the
// client is present and gives it; without that nothing is recorded.
func (h *Handler) postConsent(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	b := h.submission(r)
	org := b.text("organization_id", true)
	if b.f.V("present") != "yes" {
		b.fail("present", "consent.presentrequired")
	}
	var secs []clientsv1.Section
	for _, name := range b.f.Values["sections"] {
		if v, ok := clientsv1.Section_value["SECTION_"+strings.ToUpper(name)]; ok && name != "clinical_input" {
			secs = append(secs, clientsv1.Section(v))
		}
	}
	if len(secs) == 0 {
		b.fail("sections", "consent.sectionsrequired")
	}
	return h.save(w, r, s, id, "consent", b, true, func(ctx context.Context) error {
		_, err := h.clients.RecordConsent(ctx, &clientsv1.RecordConsentRequest{ClientId: id, OrganizationId: org, Sections: secs, RequestId: b.f.Key})
		return err
	}, "consent", "consents")
}

func (h *Handler) postRevokeConsent(w http.ResponseWriter, r *http.Request, s *session) error {
	id, cid := r.PathValue("id"), r.PathValue("cid")
	b := h.submission(r)
	name := "revoke-" + cid
	if b.f.V("present") != "yes" {
		b.fail("present", "consent.presentrequired")
		return h.formFailed(w, r, s, id, name, b, nil)
	}
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	_, err := h.clients.RevokeConsent(ctx, &clientsv1.RevokeConsentRequest{ClientId: id, ConsentId: cid, RequestId: b.f.Key})
	if err != nil {
		if st := status.Code(err); st == codes.FailedPrecondition || st == codes.AlreadyExists {
			// Revoked already (a double submit): that is what was asked.
			return done(w, r, id, "revoke", "consents")
		}
		return h.formFailed(w, r, s, id, name, b, err)
	}
	return done(w, r, id, "revoke", "consents")
}

func (h *Handler) postEmployerContact(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	b := h.submission(r)
	c := &employmentv1.EmployerContact{EmployerName: b.text("employer_name", true), ContactDate: b.date("contact_date", true),
		FaceToFace: b.f.V("face_to_face") == "yes", Notes: b.text("notes", false)}
	return h.save(w, r, s, id, "contact", b, h.employment != nil, func(ctx context.Context) error {
		_, err := h.employment.CreateEmployerContact(ctx, &employmentv1.CreateEmployerContactRequest{ClientId: id, EmployerContact: c, RequestId: b.f.Key})
		return err
	}, "contact", "job-search")
}

var errNotDeployed = &pageError{status: http.StatusNotFound, key: "error.notdeployed"}

func (h *Handler) postStartPlacement(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	b := h.submission(r)
	kind := employmentv1.ContractKind(employmentv1.ContractKind_value["CONTRACT_KIND_"+strings.ToUpper(b.text("contract_kind", true))])
	if kind == employmentv1.ContractKind_CONTRACT_KIND_UNSPECIFIED {
		b.fail("contract_kind", "form.required")
	}
	p := &employmentv1.Placement{EmployerName: b.text("employer_name", true), JobTitle: b.text("job_title", true),
		StartDate: b.date("start_date", true), ContractKind: kind,
		HoursPerWeek: b.number("hours_per_week", true, 0.5, 60), HourlyWageCents: b.cents("hourly_wage", true)}
	return h.save(w, r, s, id, "placement", b, h.employment != nil, func(ctx context.Context) error {
		_, err := h.employment.StartPlacement(ctx, &employmentv1.StartPlacementRequest{ClientId: id, Placement: p, RequestId: b.f.Key})
		return err
	}, "placement", "placements")
}

func (h *Handler) postPlacementTerms(w http.ResponseWriter, r *http.Request, s *session) error {
	id, pid := r.PathValue("id"), r.PathValue("pid")
	b := h.submission(r)
	t := &employmentv1.Terms{EffectiveDate: b.date("effective_date", true),
		HoursPerWeek: b.number("hours_per_week", true, 0.5, 60), HourlyWageCents: b.cents("hourly_wage", true)}
	v := b.version("version")
	name := "terms-" + pid
	return h.save(w, r, s, id, name, b, h.employment != nil, func(ctx context.Context) error {
		_, err := h.employment.ChangePlacementTerms(ctx, &employmentv1.ChangePlacementTermsRequest{ClientId: id, PlacementId: pid, Terms: t, Version: v, RequestId: b.f.Key})
		return err
	}, "terms", "placement-"+pid)
}

func (h *Handler) postEndPlacement(w http.ResponseWriter, r *http.Request, s *session) error {
	id, pid := r.PathValue("id"), r.PathValue("pid")
	b := h.submission(r)
	req := &employmentv1.EndPlacementRequest{ClientId: id, PlacementId: pid, EndDate: b.date("end_date", true),
		EndReason: b.text("end_reason", true), Version: b.version("version"), RequestId: b.f.Key}
	name := "end-" + pid
	return h.save(w, r, s, id, name, b, h.employment != nil, func(ctx context.Context) error {
		_, err := h.employment.EndPlacement(ctx, req)
		return err
	}, "ended", "placements")
}

func (h *Handler) postFollowAlong(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	b := h.submission(r)
	with := employmentv1.FollowAlongContact_With(employmentv1.FollowAlongContact_With_value["WITH_"+strings.ToUpper(b.text("with", true))])
	if with == employmentv1.FollowAlongContact_WITH_UNSPECIFIED {
		b.fail("with", "form.required")
	}
	c := &employmentv1.FollowAlongContact{PlacementId: b.text("placement_id", false), ContactDate: b.date("contact_date", true),
		With: with, Notes: b.text("notes", false)}
	return h.save(w, r, s, id, "followalong", b, h.employment != nil, func(ctx context.Context) error {
		_, err := h.employment.CreateFollowAlongContact(ctx, &employmentv1.CreateFollowAlongContactRequest{ClientId: id, FollowAlongContact: c, RequestId: b.f.Key})
		return err
	}, "followalong", "follow-along")
}

// formatNumber writes a limit as people type it: 0,5 in Dutch, 0.5 in
// English, no trailing zeros.
func formatNumber(lang string, n float64) string {
	v := strconv.FormatFloat(n, 'f', -1, 64)
	if lang != "en" {
		v = strings.Replace(v, ".", ",", 1)
	}
	return v
}
