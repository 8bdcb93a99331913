package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/seed"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
)

// enrolData is the enrolment form: who the client is, the team, the
// organisations involved and the consents the client gives at intake.
type enrolData struct {
	F        *form
	Teams    []orgOption
	Orgs     []orgOption
	Sections []string
}

// intakeSections are offered for consent at intake, all ticked: what a
// payer needs to coordinate benefits with the job.
var intakeSections = []string{"identity", "trajectory", "placements", "benefits", "milestones"}

func (h *Handler) mayEnrol(s *session) bool {
	return s.OrgKind == seed.KindMHA && h.roleMay(s, authz.Identity, authz.Write) && h.roleMay(s, authz.Trajectory, authz.Write)
}

// enrolPage shows an empty enrolment form.
func (h *Handler) enrolPage(w http.ResponseWriter, r *http.Request, s *session) error {
	if !h.mayEnrol(s) {
		return &pageError{status: http.StatusForbidden, key: "error.forbidden"}
	}
	f := &form{Values: url.Values{}, Errors: map[string]string{}, Key: newKey()}
	if len(s.Teams) > 0 {
		f.Values.Set("team_id", s.Teams[0]) // the specialist's own team
	}
	for _, sec := range intakeSections {
		f.Values.Add("sections", sec)
	}
	return h.renderEnrol(w, r, s, f, http.StatusOK)
}

func (h *Handler) renderEnrol(w http.ResponseWriter, r *http.Request, s *session, f *form, code int) error {
	d := enrolData{F: f, Sections: consentableSections}
	for _, t := range seed.Demo.Teams {
		if slices.Contains(s.Teams, t.ID) {
			d.Teams = append(d.Teams, orgOption{ID: t.ID, Name: t.Name})
		}
	}
	for _, o := range seed.Demo.Organizations {
		if o.RegionID == s.RegionID && (o.Kind == seed.KindUWV || o.Kind == seed.KindMunicipality) {
			d.Orgs = append(d.Orgs, orgOption{ID: o.ID, Name: o.Name})
		}
	}
	return h.render(w, code, "enrol", h.newPage(r, s, "enrol.title", d))
}

// postEnrol enrols the client and records the consents given at intake.
// Every call carries a key derived from the form's, so a resubmitted form
// (after a failure half-way) enrols once and records each consent once.
func (h *Handler) postEnrol(w http.ResponseWriter, r *http.Request, s *session) error {
	if !h.mayEnrol(s) {
		return &pageError{status: http.StatusForbidden, key: "error.forbidden"}
	}
	b := h.submission(r)
	if b.f.Key == "" {
		b.f.Key = newKey()
	}
	id := &clientsv1.Identity{GivenName: b.text("given_name", true), FamilyName: b.text("family_name", true),
		DateOfBirth: b.date("date_of_birth", false), Bsn: strings.ReplaceAll(b.text("bsn", false), " ", ""),
		Email: b.text("email", false), Phone: b.text("phone", false)}
	team := b.text("team_id", true)
	if team != "" && !slices.Contains(s.Teams, team) {
		b.fail("team_id", "enrol.team")
	}
	orgs := b.f.Values["organizations"]
	var secs []clientsv1.Section
	for _, name := range b.f.Values["sections"] {
		if v, ok := clientsv1.Section_value["SECTION_"+strings.ToUpper(name)]; ok && name != "clinical_input" {
			secs = append(secs, clientsv1.Section(v))
		}
	}
	if len(orgs) > 0 && len(secs) > 0 && b.f.V("present") != "yes" {
		b.fail("present", "consent.presentrequired")
	}
	if !b.ok() {
		return h.renderEnrol(w, r, s, b.f, http.StatusBadRequest)
	}
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	resp, err := h.clients.CreateClient(ctx, &clientsv1.CreateClientRequest{RequestId: b.f.Key, Client: &clientsv1.Client{
		Identity: id, Trajectory: &clientsv1.Trajectory{TeamId: team, InvolvedOrganizationIds: orgs},
	}})
	if err != nil {
		return h.enrolFailed(w, r, s, b, err)
	}
	cid := resp.GetClient().GetClientId()
	if len(secs) > 0 {
		for _, org := range orgs {
			_, err := h.clients.RecordConsent(ctx, &clientsv1.RecordConsentRequest{ClientId: cid, OrganizationId: org, Sections: secs,
				RequestId: b.f.Key + "-consent-" + org})
			if err != nil {
				// The client is enrolled; the consent can be recorded on the
				// client's page.
				http.Redirect(w, r, fmt.Sprintf("/ui/clients/%s?done=enrolled-noconsent#consents", cid), http.StatusSeeOther)
				return nil
			}
		}
	}
	http.Redirect(w, r, fmt.Sprintf("/ui/clients/%s?done=enrolled", cid), http.StatusSeeOther)
	return nil
}

// enrolFailed shows the form again with the service's reasons, keeping its
// key: nothing was enrolled, and a resubmit is the same request.
func (h *Handler) enrolFailed(w http.ResponseWriter, r *http.Request, s *session, b *submission, err error) error {
	switch status.Code(err) {
	case codes.InvalidArgument:
		fields, general := fieldViolations(err)
		for k, v := range fields {
			if _, ok := b.f.Values[k]; ok {
				b.f.Errors[k] = v
			} else {
				general = append(general, v)
			}
		}
		b.f.Message = strings.Join(general, "; ")
		if b.f.Message == "" && len(fields) == 0 {
			b.f.Message = status.Convert(err).Message()
		}
		return h.renderEnrol(w, r, s, b.f, http.StatusBadRequest)
	case codes.AlreadyExists, codes.FailedPrecondition:
		b.f.Message = translate(b.lang, "enrol.exists")
		return h.renderEnrol(w, r, s, b.f, http.StatusConflict)
	}
	return serviceError(err)
}
