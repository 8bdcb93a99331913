package web

import (
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	benefitsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/benefits/v1"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
)

// form is one form's state: the values to show, the errors next to its
// fields, and its idempotency key.
type form struct {
	Values  url.Values
	Errors  map[string]string
	Message string
	// Key is the idempotency key a create form sends; a double submit
	// sends the same one, so nothing is recorded twice.
	Key string
}

// V returns a submitted value (empty for a fresh form).
func (f *form) V(name string) string { return f.Values.Get(name) }

// Has reports whether a checkbox or multi-select value was submitted.
func (f *form) Has(name, value string) bool { return slices.Contains(f.Values[name], value) }

// Val returns the submitted value of a form that came back with errors,
// else def (the record's current value).
func (f *form) Val(name, def string) string {
	if f.Failed() {
		return f.V(name)
	}
	return def
}

// E returns the error shown next to a field.
func (f *form) E(name string) string { return f.Errors[name] }

// Failed reports whether the form came back with errors.
func (f *form) Failed() bool { return f.Message != "" || len(f.Errors) > 0 }

type orgOption struct{ ID, Name string }

// clientData is everything one client's page shows; each part only when
// the services returned it to this person.
type clientData struct {
	ID string
	C  *clientsv1.Client
	// Today is the date forms default to, in Dutch time.
	Today      string
	Name       string
	Phase      string
	Phases     []string
	Read       map[string]bool
	Write      map[string]bool
	Employment bool
	Benefits   bool

	Contacts     []*employmentv1.EmployerContact
	Applications []*employmentv1.Application
	Placements   []*employmentv1.Placement
	FollowAlong  []*employmentv1.FollowAlongContact
	Milestones   []*employmentv1.Milestone

	BenefitList    []*benefitsv1.Benefit
	BenefitSummary *benefitsv1.GetBenefitSummaryResponse
	Counselling    []*benefitsv1.CounsellingRequest
	// PayableKinds are the benefit kinds the officer's organisation pays,
	// set when the person may record benefits and decisions.
	PayableKinds  []string
	DecisionKinds []string
	// Counsel: the person is a benefits counsellor, who records sessions.
	Counsel bool

	Consents        []*clientsv1.Consent
	ConsentRead     bool
	ConsentWrite    bool
	ConsentOrgs     []orgOption
	ConsentSections []string
	AuditRead       bool

	// Unavailable names the parts a service could not deliver just now.
	Unavailable []string

	failed     string
	failedForm *form
	mu         sync.Mutex
}

// Form returns the named form: the failed one with its values and errors,
// or a fresh one with a new idempotency key.
func (d *clientData) Form(name string) *form {
	if name == d.failed && d.failedForm != nil {
		return d.failedForm
	}
	return &form{Values: url.Values{}, Key: newKey()}
}

func (d *clientData) unavailable(part string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Unavailable = append(d.Unavailable, part)
}

var consentableSections = []string{"identity", "trajectory", "work_goals", "job_search", "placements", "benefits", "milestones"}

var allPhases = []string{"referral", "intake", "job_search", "employed", "follow_along", "closed"}

func sectionName(s clientsv1.Section) string { return enumKey(s.String(), "SECTION_") }

// clientPage shows one client.
func (h *Handler) clientPage(w http.ResponseWriter, r *http.Request, s *session) error {
	return h.renderClient(w, r, s, r.PathValue("id"), "", nil, http.StatusOK)
}

// renderClient loads what the person may see of a client and renders the
// page; failedName and failed carry a form that came back with errors.
func (h *Handler) renderClient(w http.ResponseWriter, r *http.Request, s *session, id, failedName string, failed *form, status int) error {
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	// One page view is one audit record of the client: the clients
	// service's record of this read also lists the sections the page's
	// other calls read (those the person may read), and those calls,
	// marked as covered, add no record of their own.
	cover := access.CoverSections(ctx, authz.JobSearch, authz.Placements, authz.Milestones, authz.Benefits, authz.Consent)
	resp, err := h.clients.GetClient(cover, &clientsv1.GetClientRequest{ClientId: id})
	if err != nil {
		return serviceError(err)
	}
	ctx = access.CoveredCall(ctx)
	c := resp.GetClient()
	d := &clientData{
		ID: c.GetClientId(), C: c, Name: displayName(c), Today: time.Now().In(amsterdam).Format(time.DateOnly), Phase: phaseKey(c.GetTrajectory().GetPhase()), Phases: allPhases,
		Read: map[string]bool{}, Write: map[string]bool{}, Employment: h.employment != nil, Benefits: h.benefits != nil,
		ConsentSections: consentableSections, failed: failedName, failedForm: failed,
	}
	for _, sec := range c.GetReadableSections() {
		d.Read[sectionName(sec)] = true
	}
	for _, sec := range c.GetWritableSections() {
		d.Write[sectionName(sec)] = true
	}
	mha := s.OrgKind == "mha" && s.OrgID == c.GetMhaOrganizationId()
	d.ConsentRead = mha && h.roleMay(s, authz.Consent, authz.Read)
	d.ConsentWrite = mha && h.roleMay(s, authz.Consent, authz.Write)
	d.AuditRead = mha && h.roleMay(s, authz.Audit, authz.Read)
	if h.benefits != nil && d.Write["benefits"] {
		d.PayableKinds, d.DecisionKinds = payableKinds[s.OrgKind], decisionKinds
	}
	d.Counsel = h.benefits != nil && s.Role == "benefits_counsellor"
	for _, org := range c.GetTrajectory().GetInvolvedOrganizationIds() {
		d.ConsentOrgs = append(d.ConsentOrgs, orgOption{ID: org, Name: orgName(org)})
	}

	// The sections' own calls run side by side; a part that is refused is
	// left out, a part whose service is down is named as unavailable.
	var g errgroup.Group
	part := func(name string, f func() error) {
		g.Go(func() error {
			if err := f(); err != nil {
				if !refused(err) {
					h.log.Warn("page part unavailable", "part", name, "err", err)
					d.unavailable(name)
				}
			}
			return nil
		})
	}
	if h.employment != nil {
		if d.Read["job_search"] {
			part("job_search", func() error {
				r, err := h.employment.ListEmployerContacts(ctx, &employmentv1.ListEmployerContactsRequest{ClientId: id})
				d.Contacts = r.GetEmployerContacts()
				return err
			})
			part("job_search", func() error {
				r, err := h.employment.ListApplications(ctx, &employmentv1.ListApplicationsRequest{ClientId: id})
				d.Applications = r.GetApplications()
				return err
			})
		}
		if d.Read["placements"] {
			part("placements", func() error {
				r, err := h.employment.ListPlacements(ctx, &employmentv1.ListPlacementsRequest{ClientId: id})
				d.Placements = r.GetPlacements()
				return err
			})
			if s.OrgKind == "mha" {
				part("placements", func() error {
					r, err := h.employment.ListFollowAlongContacts(ctx, &employmentv1.ListFollowAlongContactsRequest{ClientId: id})
					d.FollowAlong = r.GetFollowAlongContacts()
					return err
				})
			}
		}
		if d.Read["milestones"] {
			part("milestones", func() error {
				r, err := h.employment.ListMilestones(ctx, &employmentv1.ListMilestonesRequest{ClientId: id})
				d.Milestones = r.GetMilestones()
				return err
			})
		}
	}
	if h.benefits != nil {
		switch {
		case d.Read["benefits"]:
			part("benefits", func() error {
				r, err := h.benefits.ListBenefits(ctx, &benefitsv1.ListBenefitsRequest{ClientId: id})
				d.BenefitList = r.GetBenefits()
				return err
			})
			part("benefits", func() error {
				r, err := h.benefits.ListCounsellingRequests(ctx, &benefitsv1.ListCounsellingRequestsRequest{ClientId: id})
				d.Counselling = r.GetCounsellingRequests()
				return err
			})
		case mha && h.roleMay(s, authz.Benefits, authz.ReadSummary):
			part("benefits", func() error {
				r, err := h.benefits.GetBenefitSummary(ctx, &benefitsv1.GetBenefitSummaryRequest{ClientId: id})
				d.BenefitSummary = r
				return err
			})
		}
	}
	if d.ConsentRead {
		part("consents", func() error {
			r, err := h.clients.ListConsents(ctx, &clientsv1.ListConsentsRequest{ClientId: id})
			d.Consents = r.GetConsents()
			return err
		})
	}
	_ = g.Wait()
	d.Unavailable = slices.Compact(d.Unavailable)

	p := h.newPage(r, s, "client.title", d)
	if d.Name != "" {
		p.Title = d.Name
	}
	return h.render(w, status, "client", p)
}

// orgName is an organisation's display name from the directory the pages
// know (the seeded one); the id otherwise.
func orgName(id string) string {
	if n, ok := orgNames[id]; ok {
		return n
	}
	return id
}
