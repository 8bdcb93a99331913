package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	benefitsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/benefits/v1"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
)

// payableKinds are the benefit kinds an organisation of a kind pays, as
// the benefits service's domain allows them (it checks again).
var payableKinds = map[string][]string{
	"uwv":          {"wia_wga", "wia_iva", "wajong", "ww", "supplement"},
	"municipality": {"participatiewet", "supplement"},
}

// decisionKinds are the decisions a payer reports.
var decisionKinds = []string{"adjusted", "suspended", "ended"}

// maxMonthlyEuros bounds a monthly benefit amount typed in a form (the
// service allows up to 100,000 euros).
const maxMonthlyEuros = 100000

// inLanguage gives a service's refusal of a benefits form in the page's
// language: the services explain in English, which a Dutch page must not
// show, so a Dutch page says in Dutch that the service refused and the
// English reason goes to the log.
func (h *Handler) inLanguage(b *submission, err error) error {
	c := status.Code(err)
	if b.lang == "en" || (c != codes.InvalidArgument && c != codes.FailedPrecondition && c != codes.AlreadyExists) {
		return err
	}
	h.log.Info("benefits form refused", "code", c, "err", err)
	return status.Error(codes.FailedPrecondition, translate(b.lang, "benefit.refused"))
}

// postCreateBenefit records a benefit the officer's organisation pays.
func (h *Handler) postCreateBenefit(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	b := h.submission(r)
	k := b.text("kind", true)
	kind := benefitsv1.BenefitKind(benefitsv1.BenefitKind_value["BENEFIT_KIND_"+strings.ToUpper(k)])
	if k != "" && (kind == benefitsv1.BenefitKind_BENEFIT_KIND_UNSPECIFIED || !slices.Contains(payableKinds[s.OrgKind], k)) {
		b.fail("kind", "benefit.notpayable")
	}
	bf := &benefitsv1.Benefit{Kind: kind, MonthlyAmountCents: b.centsUpTo("monthly_amount", true, maxMonthlyEuros),
		StartDate: b.date("start_date", true)}
	return h.save(w, r, s, id, "benefit", b, h.benefits != nil, func(ctx context.Context) error {
		_, err := h.benefits.CreateBenefit(ctx, &benefitsv1.CreateBenefitRequest{ClientId: id, Benefit: bf, RequestId: b.f.Key})
		return h.inLanguage(b, err)
	}, "benefit", "benefits")
}

// postBenefitDecision reports a decision on one of the organisation's
// benefits: a new amount from a date, a suspension or the end.
func (h *Handler) postBenefitDecision(w http.ResponseWriter, r *http.Request, s *session) error {
	id, bid := r.PathValue("id"), r.PathValue("bid")
	b := h.submission(r)
	k := b.text("kind", true)
	kind := benefitsv1.DecisionKind(benefitsv1.DecisionKind_value["DECISION_KIND_"+strings.ToUpper(k)])
	if k != "" && kind == benefitsv1.DecisionKind_DECISION_KIND_UNSPECIFIED {
		b.fail("kind", "form.required")
	}
	adjusted := kind == benefitsv1.DecisionKind_DECISION_KIND_ADJUSTED
	req := &benefitsv1.ReportBenefitDecisionRequest{ClientId: id, BenefitId: bid, Kind: kind,
		EffectiveDate:       b.date("effective_date", true),
		MonthlyAmountCents:  b.centsUpTo("monthly_amount", adjusted, maxMonthlyEuros),
		EarningsOffsetCents: b.centsUpTo("earnings_offset", false, maxMonthlyEuros),
		Reason:              b.text("reason", false), RequestId: b.f.Key}
	if !adjusted && req.EarningsOffsetCents > 0 {
		b.fail("earnings_offset", "benefit.offsetadjustedonly")
	}
	return h.save(w, r, s, id, "decision-"+bid, b, h.benefits != nil, func(ctx context.Context) error {
		_, err := h.benefits.ReportBenefitDecision(ctx, req)
		return h.inLanguage(b, err)
	}, "decision", "benefit-"+bid)
}

// postCounsellingSession records a counselling conversation, and closes the
// request when the counsellor says it is done.
func (h *Handler) postCounsellingSession(w http.ResponseWriter, r *http.Request, s *session) error {
	id, crid := r.PathValue("id"), r.PathValue("crid")
	b := h.submission(r)
	ss := &benefitsv1.CounsellingSession{SessionDate: b.date("session_date", true), Notes: b.text("notes", false), Outcome: b.text("outcome", false)}
	if ss.Notes == "" && ss.Outcome == "" {
		b.fail("notes", "counselling.nonotes")
	}
	closeIt := b.f.V("close_request") == "yes"
	what := "session"
	if closeIt {
		what = "sessionclosed"
	}
	return h.save(w, r, s, id, "session-"+crid, b, h.benefits != nil, func(ctx context.Context) error {
		_, err := h.benefits.RecordCounsellingSession(ctx, &benefitsv1.RecordCounsellingSessionRequest{ClientId: id,
			CounsellingRequestId: crid, Session: ss, CloseRequest: closeIt, RequestId: b.f.Key})
		return h.inLanguage(b, err)
	}, what, "counselling-"+crid)
}

type counsellingRow struct {
	R    *benefitsv1.CounsellingRequest
	Name string
	// Key is the idempotency key of the row's assign form.
	Key string
}

type counsellingData struct {
	Rows    []counsellingRow
	Message string
}

// counsellingPage is the benefits counsellor's worklist: the open
// counselling requests of clients the counsellor may counsel, her own and
// those nobody took yet.
func (h *Handler) counsellingPage(w http.ResponseWriter, r *http.Request, s *session) error {
	return h.renderCounselling(w, r, s, "", http.StatusOK)
}

func (h *Handler) renderCounselling(w http.ResponseWriter, r *http.Request, s *session, message string, code int) error {
	if h.benefits == nil {
		return errNotDeployed
	}
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	resp, err := h.benefits.ListOpenCounsellingRequests(ctx, &benefitsv1.ListOpenCounsellingRequestsRequest{IncludeUnassigned: true})
	if err != nil {
		return serviceError(err)
	}
	// The names come from the client list the counsellor may see (one
	// call, not one per client); a client not on its first page shows
	// without a name.
	names := map[string]string{}
	if len(resp.GetCounsellingRequests()) > 0 {
		cl, err := h.clients.ListClients(ctx, &clientsv1.ListClientsRequest{PageSize: 100})
		if err != nil && !refused(err) {
			return serviceError(err)
		}
		for _, c := range cl.GetClients() {
			names[c.GetClientId()] = displayName(c)
		}
	}
	d := &counsellingData{Message: message}
	for _, cr := range resp.GetCounsellingRequests() {
		d.Rows = append(d.Rows, counsellingRow{R: cr, Name: names[cr.GetClientId()], Key: newKey()})
	}
	return h.render(w, code, "counselling", h.newPage(r, s, "counselling.title", d))
}

// postAssignCounselling assigns an open request to the counsellor herself.
func (h *Handler) postAssignCounselling(w http.ResponseWriter, r *http.Request, s *session) error {
	if h.benefits == nil {
		return errNotDeployed
	}
	crid := r.PathValue("crid")
	b := h.submission(r)
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	_, err := h.benefits.AssignCounsellingRequest(ctx, &benefitsv1.AssignCounsellingRequestRequest{
		ClientId: b.text("client_id", true), CounsellingRequestId: crid, RequestId: b.f.Key})
	switch status.Code(err) {
	case codes.OK:
		http.Redirect(w, r, fmt.Sprintf("/ui/counselling?done=assigned#counselling-%s", crid), http.StatusSeeOther)
		return nil
	case codes.InvalidArgument, codes.FailedPrecondition, codes.AlreadyExists, codes.Aborted:
		h.log.Info("counselling assignment refused", "err", err)
		return h.renderCounselling(w, r, s, translate(b.lang, "counselling.assignrefused"), http.StatusConflict)
	default:
		return serviceError(err)
	}
}
