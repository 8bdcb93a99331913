package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	fundingv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/funding/v1"
)

// The funding pages: for the MHA, the applications to prepare and sign and
// the claims to submit; for the funder, the applications to decide and the
// claims to review line by line; the budget of each agreement for both; and
// the application as a document that prints well. Every figure comes from
// the funding service with the signed-in person's token.

type agreementRow struct {
	A      *fundingv1.Agreement
	Budget *fundingv1.Budget
	// Funder: the signed-in person's organisation funds it.
	Funder bool
}

type clientOption struct{ ID, Name string }

type fundingData struct {
	Officer      bool
	Specialist   bool
	Agreements   []agreementRow
	ToAct        []*fundingv1.Application
	Applications []*fundingv1.Application
	Claims       []*fundingv1.Claim
	Clients      []clientOption
	Key          string
}

func (h *Handler) fundingDeployed() error {
	if h.funding == nil {
		return errNotDeployed
	}
	return nil
}

// fundingPage lists the caller's organisation's agreements (with their
// budgets for funding officers), the applications (first those waiting for
// the caller) and the claims.
func (h *Handler) fundingPage(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := h.fundingDeployed(); err != nil {
		return err
	}
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	d := fundingData{Officer: s.Role == "funding_officer", Specialist: s.Role == "employment_specialist", Key: newKey()}
	ags, err := h.funding.ListAgreements(ctx, &fundingv1.ListAgreementsRequest{})
	if err != nil {
		return serviceError(err)
	}
	for _, a := range ags.GetAgreements() {
		row := agreementRow{A: a, Funder: a.GetFunderOrganizationId() == s.OrgID}
		if d.Officer {
			b, err := h.funding.GetBudget(ctx, &fundingv1.GetBudgetRequest{AgreementId: a.GetAgreementId()})
			if err != nil {
				return serviceError(err)
			}
			row.Budget = b.GetBudget()
		}
		d.Agreements = append(d.Agreements, row)
	}
	apps, err := h.funding.ListApplications(ctx, &fundingv1.ListApplicationsRequest{})
	if err != nil {
		return serviceError(err)
	}
	funder := map[string]bool{}
	for _, a := range d.Agreements {
		funder[a.A.GetAgreementId()] = a.Funder
	}
	for _, a := range apps.GetApplications() {
		if waitsFor(s.Role, funder[a.GetAgreementId()], a) {
			d.ToAct = append(d.ToAct, a)
		} else {
			d.Applications = append(d.Applications, a)
		}
	}
	if d.Officer {
		cls, err := h.funding.ListClaims(ctx, &fundingv1.ListClaimsRequest{})
		if err != nil {
			return serviceError(err)
		}
		d.Claims = cls.GetClaims()
	}
	if d.Specialist {
		cs, err := h.clients.ListClients(ctx, &clientsv1.ListClientsRequest{PageSize: 100})
		if err != nil {
			return serviceError(err)
		}
		for _, c := range cs.GetClients() {
			name := strings.TrimSpace(c.GetIdentity().GetGivenName() + " " + c.GetIdentity().GetFamilyName())
			d.Clients = append(d.Clients, clientOption{ID: c.GetClientId(), Name: name})
		}
	}
	return h.render(w, http.StatusOK, "funding", h.newPage(r, s, "funding.title", d))
}

// waitsFor reports whether an application waits for the signed-in role.
func waitsFor(role string, funder bool, a *fundingv1.Application) bool {
	switch a.GetState() {
	case fundingv1.ApplicationState_APPLICATION_STATE_DRAFT:
		return (role == "employment_specialist" && a.GetClientSignedBy() == "") || (role == "funding_officer" && !funder && a.GetMhaSignedBy() == "")
	case fundingv1.ApplicationState_APPLICATION_STATE_SIGNED, fundingv1.ApplicationState_APPLICATION_STATE_APPROVED:
		return role == "funding_officer" && !funder
	case fundingv1.ApplicationState_APPLICATION_STATE_SUBMITTED, fundingv1.ApplicationState_APPLICATION_STATE_STOPPED,
		fundingv1.ApplicationState_APPLICATION_STATE_ENDED:
		return role == "funding_officer" && funder
	}
	return false
}

type applicationData struct {
	A          *fundingv1.Application
	Agreement  *fundingv1.Agreement
	ClientName string
	Funder     bool
	MHA        bool
	Officer    bool
	Specialist bool
	Key        string
}

// applicationPage is the trajectory application as a document: the
// parties, the client, the signatures, the decision, the funded period, the
// stop notice or end report and the final determination, with the next
// step's form for whoever takes it. It prints without the forms.
func (h *Handler) applicationPage(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := h.fundingDeployed(); err != nil {
		return err
	}
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	a, err := h.funding.GetApplication(ctx, &fundingv1.GetApplicationRequest{ApplicationId: r.PathValue("id")})
	if err != nil {
		return serviceError(err)
	}
	ag, err := h.funding.GetAgreement(ctx, &fundingv1.GetAgreementRequest{AgreementId: a.GetApplication().GetAgreementId()})
	if err != nil {
		return serviceError(err)
	}
	d := applicationData{A: a.GetApplication(), Agreement: ag.GetAgreement(), Key: newKey(),
		Funder: ag.GetAgreement().GetFunderOrganizationId() == s.OrgID, MHA: ag.GetAgreement().GetMhaOrganizationId() == s.OrgID,
		Officer: s.Role == "funding_officer", Specialist: s.Role == "employment_specialist"}
	// The client's name where the person may read it (the MHA); the
	// funder's document names the client by the application.
	if c, err := h.clients.GetClient(ctx, &clientsv1.GetClientRequest{ClientId: d.A.GetClientId()}); err == nil {
		d.ClientName = strings.TrimSpace(c.GetClient().GetIdentity().GetGivenName() + " " + c.GetClient().GetIdentity().GetFamilyName())
	}
	return h.render(w, http.StatusOK, "application", h.newPage(r, s, "funding.application", d))
}

// postApplication takes one step of an application's paperwork.
func (h *Handler) postApplication(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := h.fundingDeployed(); err != nil {
		return err
	}
	id, step := r.PathValue("id"), r.PathValue("step")
	version, _ := strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	key := r.PostForm.Get("request_id")
	text := strings.TrimSpace(r.PostForm.Get("text"))
	day := strings.TrimSpace(r.PostForm.Get("date"))
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	var err error
	switch step {
	case "sign-client", "sign-mha":
		signer := fundingv1.Signer_SIGNER_MHA
		if step == "sign-client" {
			signer = fundingv1.Signer_SIGNER_CLIENT
		}
		_, err = h.funding.SignApplication(ctx, &fundingv1.SignApplicationRequest{ApplicationId: id, Signer: signer, SignedDate: day, Version: version, RequestId: key})
	case "submit":
		_, err = h.funding.SubmitApplication(ctx, &fundingv1.SubmitApplicationRequest{ApplicationId: id, Version: version, RequestId: key})
	case "approve", "refuse":
		ext, _ := strconv.Atoi(r.PostForm.Get("extension_months"))
		_, err = h.funding.DecideApplication(ctx, &fundingv1.DecideApplicationRequest{ApplicationId: id, Approve: step == "approve",
			Reason: text, ExtensionMonths: int32(ext), Version: version, RequestId: key})
	case "start":
		_, err = h.funding.StartTrajectory(ctx, &fundingv1.StartTrajectoryRequest{ApplicationId: id, Version: version, RequestId: key})
	case "stop":
		_, err = h.funding.StopTrajectory(ctx, &fundingv1.StopTrajectoryRequest{ApplicationId: id, StopDate: day, Reason: text, Version: version, RequestId: key})
	case "end":
		_, err = h.funding.EndTrajectory(ctx, &fundingv1.EndTrajectoryRequest{ApplicationId: id, EndDate: day, Report: text, Version: version, RequestId: key})
	case "determine":
		_, err = h.funding.DetermineApplication(ctx, &fundingv1.DetermineApplicationRequest{ApplicationId: id, Version: version, RequestId: key})
	default:
		return errNotFound
	}
	if err != nil {
		return serviceError(err)
	}
	http.Redirect(w, r, "/ui/funding/applications/"+id+"?done=funding", http.StatusSeeOther)
	return nil
}

// postDraft drafts an application (the client's specialist).
func (h *Handler) postDraft(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := h.fundingDeployed(); err != nil {
		return err
	}
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	a, err := h.funding.CreateApplication(ctx, &fundingv1.CreateApplicationRequest{AgreementId: r.PostForm.Get("agreement_id"),
		ClientId: r.PostForm.Get("client_id"), RequestId: r.PostForm.Get("request_id")})
	if err != nil {
		return serviceError(err)
	}
	http.Redirect(w, r, "/ui/funding/applications/"+a.GetApplication().GetApplicationId()+"?done=funding", http.StatusSeeOther)
	return nil
}

type claimData struct {
	C       *fundingv1.Claim
	Funder  bool
	MHA     bool
	Officer bool
	Key     string
}

// claimPage shows a claim line by line, with the funder's decision form on
// each pending line and the claim's next step.
func (h *Handler) claimPage(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := h.fundingDeployed(); err != nil {
		return err
	}
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	c, err := h.funding.GetClaim(ctx, &fundingv1.GetClaimRequest{ClaimId: r.PathValue("id")})
	if err != nil {
		return serviceError(err)
	}
	d := claimData{C: c.GetClaim(), Funder: c.GetClaim().GetFunderOrganizationId() == s.OrgID,
		MHA: c.GetClaim().GetMhaOrganizationId() == s.OrgID, Officer: s.Role == "funding_officer", Key: newKey()}
	return h.render(w, http.StatusOK, "claim", h.newPage(r, s, "funding.claim", d))
}

// postClaim prepares (create), submits, pays a claim or decides one line.
func (h *Handler) postClaim(w http.ResponseWriter, r *http.Request, s *session) error {
	if err := h.fundingDeployed(); err != nil {
		return err
	}
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	id, step := r.PathValue("id"), r.PathValue("step")
	version, _ := strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	key := r.PostForm.Get("request_id")
	var err error
	switch {
	case id == "":
		var c *fundingv1.CreateClaimResponse
		c, err = h.funding.CreateClaim(ctx, &fundingv1.CreateClaimRequest{AgreementId: r.PostForm.Get("agreement_id"),
			PeriodEnd: strings.TrimSpace(r.PostForm.Get("date")), RequestId: key})
		if err == nil {
			id = c.GetClaim().GetClaimId()
		}
	case step == "submit":
		_, err = h.funding.SubmitClaim(ctx, &fundingv1.SubmitClaimRequest{ClaimId: id, Version: version, RequestId: key})
	case step == "pay":
		_, err = h.funding.PayClaim(ctx, &fundingv1.PayClaimRequest{ClaimId: id, PaidDate: strings.TrimSpace(r.PostForm.Get("date")), Version: version, RequestId: key})
	case r.PathValue("lid") != "":
		_, err = h.funding.DecideClaimLine(ctx, &fundingv1.DecideClaimLineRequest{ClaimId: id, LineId: r.PathValue("lid"),
			Approve: r.PostForm.Get("decision") == "approve", Reason: strings.TrimSpace(r.PostForm.Get("text")), Version: version, RequestId: key})
	default:
		return errNotFound
	}
	if err != nil {
		return serviceError(err)
	}
	http.Redirect(w, r, fmt.Sprintf("/ui/funding/claims/%s?done=funding", id), http.StatusSeeOther)
	return nil
}

// stateKey is the message key of an application state.
func stateKey(s fundingv1.ApplicationState) string {
	return "appstate." + strings.ToLower(strings.TrimPrefix(s.String(), "APPLICATION_STATE_"))
}

func claimStateKey(s fundingv1.ClaimState) string {
	return "claimstate." + strings.ToLower(strings.TrimPrefix(s.String(), "CLAIM_STATE_"))
}

func lineStateKey(s fundingv1.LineState) string {
	return "linestate." + strings.ToLower(strings.TrimPrefix(s.String(), "LINE_STATE_"))
}

func init() {
	funcs["appstate"] = stateKey
	funcs["claimstate"] = claimStateKey
	funcs["linestate"] = lineStateKey
	funcs["isstate"] = func(a *fundingv1.Application, names ...string) bool {
		for _, n := range names {
			if a.GetState().String() == "APPLICATION_STATE_"+strings.ToUpper(n) {
				return true
			}
		}
		return false
	}
	funcs["claimis"] = func(c *fundingv1.Claim, name string) bool {
		return c.GetState().String() == "CLAIM_STATE_"+strings.ToUpper(name)
	}
	funcs["pending"] = func(l *fundingv1.ClaimLine) bool { return l.GetState() == fundingv1.LineState_LINE_STATE_PENDING }
}
