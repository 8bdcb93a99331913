package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/services/funding/domain"
	"github.com/ipsbridge/ipsbridge/services/funding/store"
)

// claimable are the applications under an agreement that can still earn
// or lose parts: funded and not finally determined.
func claimable(apps []domain.Application) []domain.Application {
	var out []domain.Application
	for _, a := range apps {
		if a.State.Funded() && a.State != domain.Determined {
			out = append(out, a)
		}
	}
	return out
}

// earnedBy evaluates applications against their schedules and the work
// histories up to asOf.
func (s *Service) earnedBy(ctx context.Context, ag domain.Agreement, apps []domain.Application, asOf domain.Date) (map[string][]domain.Earned, map[string][]domain.Work, error) {
	clients := make([]string, 0, len(apps))
	for _, a := range apps {
		clients = append(clients, a.ClientID)
	}
	work := map[string][]domain.Work{}
	if len(clients) > 0 {
		var err error
		if work, err = s.work.WorkHistories(ctx, clients); err != nil {
			return nil, nil, err
		}
	}
	earned := map[string][]domain.Earned{}
	for _, a := range apps {
		sched, ok := ag.ScheduleOn(a.DecisionOn)
		if !ok {
			continue
		}
		earned[a.ID] = domain.Earn(a, sched, work[a.ClientID], asOf)
	}
	return earned, work, nil
}

// derive returns the lines a claim up to asOf would carry for apps.
func (s *Service) derive(ctx context.Context, ag domain.Agreement, apps []domain.Application, asOf domain.Date) ([]domain.Line, error) {
	apps = claimable(apps)
	if len(apps) == 0 {
		return nil, nil
	}
	earned, _, err := s.earnedBy(ctx, ag, apps, asOf)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(apps))
	for i, a := range apps {
		ids[i] = a.ID
	}
	prior, err := store.SubmittedLines(ctx, s.st.Pool(), ids)
	if err != nil {
		return nil, err
	}
	byApp := map[string][]domain.Line{}
	for _, l := range prior {
		byApp[l.ApplicationID] = append(byApp[l.ApplicationID], l)
	}
	var out []domain.Line
	for _, a := range apps {
		out = append(out, domain.Derive(a, earned[a.ID], byApp[a.ID], asOf)...)
	}
	return out, nil
}

// ClaimRequest is what the MHA asks to claim.
type ClaimRequest struct {
	AgreementID string
	PeriodEnd   domain.Date
	// Expected, when set, is the total the MHA expects: a different
	// derived total is refused.
	Expected *int64
	// OnlyParts, when set, limits the charges to these
	// "<application_id>/<part_id>"; naming one not earned is refused.
	OnlyParts []string
}

// CreateClaim derives a draft claim of an agreement (the MHA's funding
// officer). Nothing is typed in: the lines come from the placement
// history; credits from earlier claims that history no longer supports.
func (s *Service) CreateClaim(ctx context.Context, r ClaimRequest, k Key) (store.Claim, error) {
	c, err := access.CallerFrom(ctx)
	if err != nil {
		return store.Claim{}, err
	}
	ag, err := s.agreementFor(ctx, s.st.Pool(), c, r.AgreementID, "create")
	if err != nil {
		return store.Claim{}, err
	}
	if !officerOf(c, ag.MHAOrgID) {
		return store.Claim{}, s.refuseOrg(ctx, c, "create", denied("the MHA's funding officer prepares claims"))
	}
	if r.PeriodEnd.After(s.Today()) {
		return store.Claim{}, domain.Invalid("period_end", "is in the future")
	}
	prev, err := store.Replayed(ctx, s.st.Pool(), idempotency.Key{ActorID: c.P.Subject, Method: "CreateClaim", Key: k.RequestID, Request: k.Fingerprint})
	if err != nil {
		return store.Claim{}, err
	}
	if prev != "" {
		return s.GetClaim(ctx, prev)
	}
	apps, err := store.Applications(ctx, s.st.Pool(), []string{ag.ID})
	if err != nil {
		return store.Claim{}, err
	}
	lines, err := s.derive(ctx, ag, apps, r.PeriodEnd)
	if err != nil {
		return store.Claim{}, err
	}
	if len(r.OnlyParts) > 0 {
		if lines, err = only(lines, r.OnlyParts, r.PeriodEnd); err != nil {
			return store.Claim{}, err
		}
	}
	if len(lines) == 0 {
		return store.Claim{}, domain.Precondition("nothing to claim up to %s: every part earned is claimed", domain.FormatDate(r.PeriodEnd))
	}
	var total int64
	clients := make([]string, 0, len(lines))
	for _, l := range lines {
		total += l.AmountCents
		clients = append(clients, l.ClientID)
	}
	if r.Expected != nil && *r.Expected != total {
		return store.Claim{}, domain.Invalid("expected_total_cents", "the amounts do not add up: the lines earned come to %d cents, not %d", total, *r.Expected)
	}
	before, err := store.SubmittedLines(ctx, s.st.Pool(), appIDs(apps))
	if err != nil {
		return store.Claim{}, err
	}
	var id string
	op := access.Writing("create", authz.Funding)
	err = s.path.WriteMany(ctx, clients, op, func(ctx context.Context, tx pgx.Tx, _ map[string]*access.Access) error {
		var err error
		id, _, err = once(ctx, tx, c.P.Subject, "CreateClaim", k, func() (string, error) {
			// Claims of the agreement are serialised on its row: a claim
			// submitted since the lines were derived would be claimed twice.
			if _, err := tx.Exec(ctx, `SELECT 1 FROM funding.agreements WHERE id = $1 FOR UPDATE`, ag.ID); err != nil {
				return "", fmt.Errorf("lock agreement: %w", err)
			}
			now, err := store.SubmittedLines(ctx, tx, appIDs(apps))
			if err != nil {
				return "", err
			}
			if len(now) != len(before) {
				return "", fmt.Errorf("%w: another claim of this agreement was submitted meanwhile; create the claim again", domain.ErrVersionConflict)
			}
			return store.InsertClaim(ctx, tx, ag.ID, r.PeriodEnd, lines, c.P.Subject)
		})
		return err
	})
	if err != nil {
		return store.Claim{}, err
	}
	return s.GetClaim(ctx, id)
}

func appIDs(apps []domain.Application) []string {
	out := make([]string, len(apps))
	for i, a := range apps {
		out[i] = a.ID
	}
	return out
}

// only keeps the charges named (and every credit, which is never left
// out); a name that is not an earned, unclaimed part is refused.
func only(lines []domain.Line, names []string, asOf domain.Date) ([]domain.Line, error) {
	var out []domain.Line
	for _, n := range names {
		app, part, ok := strings.Cut(n, "/")
		i := slices.IndexFunc(lines, func(l domain.Line) bool {
			return l.AmountCents > 0 && l.ApplicationID == app && l.PartID == part
		})
		if !ok || i < 0 {
			return nil, domain.Precondition("part %q is not reached by %s (or was claimed already): a line is only for a milestone reached", n, domain.FormatDate(asOf))
		}
		out = append(out, lines[i])
	}
	for _, l := range lines {
		if l.AmountCents < 0 {
			out = append(out, l)
		}
	}
	return out, nil
}

// GetClaim returns a claim the caller's organisation may see, with job
// details only for clients whose placements the caller may read.
func (s *Service) GetClaim(ctx context.Context, id string) (store.Claim, error) {
	c, err := access.CallerFrom(ctx)
	if err != nil {
		return store.Claim{}, err
	}
	cl, _, err := s.claim(ctx, c, id, "read")
	if err != nil {
		return cl, err
	}
	out, err := s.show(ctx, []store.Claim{cl})
	if err != nil || len(out) == 0 {
		return store.Claim{}, err
	}
	return out[0], nil
}

// claim loads a claim its organisation may see: the MHA's always, the
// funder's from submission on; otherwise the refusal is audited and the
// answer is NotFound.
func (s *Service) claim(ctx context.Context, c access.Caller, id, action string) (store.Claim, domain.Agreement, error) {
	cl, err := store.OneClaim(ctx, s.st.Pool(), id, false)
	if errors.Is(err, domain.ErrNotFound) {
		return cl, domain.Agreement{}, s.refuseOrg(ctx, c, action, err)
	}
	if err != nil {
		return cl, domain.Agreement{}, err
	}
	ag, err := party(ctx, s.st.Pool(), c, cl.AgreementID)
	if errors.Is(err, domain.ErrNotFound) || (err == nil && !claimVisible(c, ag, cl)) {
		return store.Claim{}, domain.Agreement{}, s.refuseOrg(ctx, c, action, notFound("claim", id))
	}
	if err != nil {
		return store.Claim{}, domain.Agreement{}, err
	}
	return cl, ag, nil
}

func claimVisible(c access.Caller, ag domain.Agreement, cl store.Claim) bool {
	return c.Sub.OrgID == ag.MHAOrgID || (c.Sub.OrgID == ag.FunderOrgID && cl.State != store.ClaimDraft)
}

// show decides the claims' clients in one go and records the read: lines
// of a client the caller may not read the funding of are left out. The
// job's details are never taken from the claim: they are asked of the
// employment service, with the caller's token, for the clients whose
// placements the caller may read (a funder with the placements consent),
// and left empty for the others.
func (s *Service) show(ctx context.Context, cls []store.Claim) ([]store.Claim, error) {
	var clients []string
	for _, cl := range cls {
		clients = append(clients, cl.ClientIDs()...)
	}
	err := s.path.ReadMany(ctx, clients, access.Reading(authz.Funding), func(allowed map[string]*access.Access) error {
		var withJobs []string
		for id, a := range allowed {
			if a.Decision.Read[authz.Placements] {
				withJobs = append(withJobs, id)
			}
		}
		jobs := map[string]domain.Work{}
		if len(withJobs) > 0 {
			hs, err := s.work.WorkHistories(ctx, withJobs)
			if err != nil {
				return err
			}
			for _, ws := range hs {
				for _, w := range ws {
					jobs[w.PlacementID] = w
				}
			}
		}
		for i := range cls {
			var kept []domain.Line
			for _, l := range cls[i].Lines {
				a := allowed[l.ClientID]
				if a == nil {
					continue
				}
				a.Touch(authz.Funding)
				l.Employer, l.JobTitle = "", ""
				if a.Decision.Read[authz.Placements] {
					a.Touch(authz.Placements)
					if w, ok := jobs[l.PlacementID]; ok {
						l.Employer, l.JobTitle = w.Employer, w.JobTitle
					}
				}
				kept = append(kept, l)
			}
			cls[i].Lines = kept
		}
		return nil
	})
	return cls, err
}

// ListClaims lists the claims of the caller's organisation's agreements
// (one agreement's when set).
func (s *Service) ListClaims(ctx context.Context, agreementID string) ([]store.Claim, error) {
	c, err := access.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	var ags []domain.Agreement
	if agreementID != "" {
		ag, err := s.agreementFor(ctx, s.st.Pool(), c, agreementID, "list")
		if err != nil {
			return nil, err
		}
		ags = []domain.Agreement{ag}
	} else if ags, err = store.AgreementsOf(ctx, s.st.Pool(), c.Sub.OrgID); err != nil {
		return nil, err
	}
	byID := map[string]domain.Agreement{}
	ids := make([]string, len(ags))
	for i, ag := range ags {
		byID[ag.ID], ids[i] = ag, ag.ID
	}
	cls, err := store.Claims(ctx, s.st.Pool(), ids, nil, false)
	if err != nil {
		return nil, err
	}
	var out []store.Claim
	for _, cl := range cls {
		if claimVisible(c, byID[cl.AgreementID], cl) {
			out = append(out, cl)
		}
	}
	if err := s.recordOrg(ctx, c, "list", "funding claims of "+c.Sub.OrgID); err != nil {
		return nil, err
	}
	return s.show(ctx, out)
}

// claimStep is a change of a whole claim by the owning role, audited for
// every client of the claim in the change's transaction.
func (s *Service) claimStep(ctx context.Context, id string, version int64, k Key, method string,
	who func(c access.Caller, ag domain.Agreement) error,
	change func(ctx context.Context, tx pgx.Tx, cl store.Claim, ag domain.Agreement, by string) error,
) (store.Claim, error) {
	c, err := access.CallerFrom(ctx)
	if err != nil {
		return store.Claim{}, err
	}
	cl, ag, err := s.claim(ctx, c, id, "write")
	if err != nil {
		return cl, err
	}
	if err := who(c, ag); err != nil {
		return cl, s.refuseOrg(ctx, c, "write", err)
	}
	op := access.Writing("write", authz.Funding)
	op.Reason = method
	err = s.path.WriteMany(ctx, cl.ClientIDs(), op, func(ctx context.Context, tx pgx.Tx, _ map[string]*access.Access) error {
		_, _, err := once(ctx, tx, c.P.Subject, method, k, func() (string, error) {
			cur, err := store.OneClaim(ctx, tx, id, true)
			if err != nil {
				return "", err
			}
			if cur.Version != version {
				return "", fmt.Errorf("claim %s is at version %d, not %d: %w", id, cur.Version, version, domain.ErrVersionConflict)
			}
			return id, change(ctx, tx, cur, ag, c.P.Subject)
		})
		return err
	})
	if err != nil {
		return store.Claim{}, err
	}
	return s.GetClaim(ctx, id)
}

func claimEvents(typ outbox.Type, ag domain.Agreement, cl store.Claim, state string) []outbox.Event {
	var evs []outbox.Event
	for _, client := range cl.ClientIDs() {
		var sum int64
		n := 0
		for _, l := range cl.Lines {
			if l.ClientID == client {
				sum += l.AmountCents
				n++
			}
		}
		evs = append(evs, outbox.Event{Type: typ, ClientID: client, RegionID: ag.RegionID, Subject: "fundingClaims/" + cl.ID,
			Change: map[string]any{"claim_id": cl.ID, "agreement_id": ag.ID, "state": state, "lines": n, "client_total_cents": sum}})
	}
	return evs
}

// SubmitClaim submits a draft claim (the MHA's funding officer).
func (s *Service) SubmitClaim(ctx context.Context, id string, version int64, k Key) (store.Claim, error) {
	today := s.Today()
	return s.claimStep(ctx, id, version, k, "SubmitClaim", mhaOfficer("submits claims"),
		func(ctx context.Context, tx pgx.Tx, cl store.Claim, ag domain.Agreement, by string) error {
			if cl.State != store.ClaimDraft {
				return domain.Precondition("the claim is %s already", cl.State)
			}
			if _, err := tx.Exec(ctx, `SELECT 1 FROM funding.agreements WHERE id = $1 FOR UPDATE`, ag.ID); err != nil {
				return fmt.Errorf("lock agreement: %w", err)
			}
			// A claim of credits only awaits no decision: it is decided as
			// it is submitted.
			next := store.ClaimSubmitted
			if !slices.ContainsFunc(cl.Lines, func(l domain.Line) bool { return l.State == domain.Pending }) {
				next = store.ClaimDecided
			}
			if err := store.SetClaimState(ctx, tx, cl.ID, next, today, domain.Date{}, by); err != nil {
				return err
			}
			evs := claimEvents(outbox.ClaimSubmitted, ag, cl, store.ClaimSubmitted)
			if next == store.ClaimDecided {
				evs = append(evs, claimEvents(outbox.ClaimDecided, ag, cl, next)...)
			}
			return outbox.Add(ctx, tx, ServiceName, evs...)
		})
}

// DecideClaimLine approves or rejects one pending line of a submitted
// claim (the funder's funding officer); when the last line is decided the
// claim is decided.
func (s *Service) DecideClaimLine(ctx context.Context, id, lineID string, approve bool, reason string, version int64, k Key) (store.Claim, error) {
	if !approve && strings.TrimSpace(reason) == "" {
		return store.Claim{}, domain.Invalid("reason", "a rejection needs a reason")
	}
	return s.claimStep(ctx, id, version, k, "DecideClaimLine", funderOfficer("decides claim lines"),
		func(ctx context.Context, tx pgx.Tx, cl store.Claim, ag domain.Agreement, by string) error {
			if cl.State != store.ClaimSubmitted {
				return domain.Precondition("only a submitted claim's lines are decided; this claim is %s", cl.State)
			}
			i := slices.IndexFunc(cl.Lines, func(l domain.Line) bool { return l.ID == lineID })
			if i < 0 {
				return notFound("claim line", lineID)
			}
			if l := cl.Lines[i]; l.State != domain.Pending {
				return domain.Precondition("line %s is %s already", lineID, l.State)
			}
			state := domain.Accepted
			if !approve {
				state = domain.Rejected
			}
			if err := store.DecideLine(ctx, tx, lineID, state, reason, by); err != nil {
				return err
			}
			cl.Lines[i].State = state
			next := store.ClaimSubmitted
			if !slices.ContainsFunc(cl.Lines, func(l domain.Line) bool { return l.State == domain.Pending }) {
				next = store.ClaimDecided
			}
			if err := store.SetClaimState(ctx, tx, cl.ID, next, domain.Date{}, domain.Date{}, by); err != nil {
				return err
			}
			if next == store.ClaimDecided {
				return outbox.Add(ctx, tx, ServiceName, claimEvents(outbox.ClaimDecided, ag, cl, next)...)
			}
			return nil
		})
}

// PayClaim records the payment of a decided claim (the funder's funding
// officer).
func (s *Service) PayClaim(ctx context.Context, id string, on domain.Date, version int64, k Key) (store.Claim, error) {
	if on.After(s.Today()) {
		return store.Claim{}, domain.Invalid("paid_date", "is in the future")
	}
	return s.claimStep(ctx, id, version, k, "PayClaim", funderOfficer("pays claims"),
		func(ctx context.Context, tx pgx.Tx, cl store.Claim, _ domain.Agreement, by string) error {
			if cl.State != store.ClaimDecided {
				return domain.Precondition("only a decided claim is paid; this claim is %s", cl.State)
			}
			return store.SetClaimState(ctx, tx, cl.ID, store.ClaimPaid, domain.Date{}, on, by)
		})
}

// Totals are a claim's sums: all lines, and what the funder owes
// (approved lines and the credits of approved lines).
func Totals(cl store.Claim) (total, approved int64) {
	for _, l := range cl.Lines {
		total += l.AmountCents
		switch {
		case l.AmountCents > 0 && l.State == domain.Accepted:
			approved += l.AmountCents
		case l.AmountCents < 0 && l.CreditsState == domain.Accepted:
			approved += l.AmountCents
		}
	}
	return total, approved
}
