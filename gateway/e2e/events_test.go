package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
)

// TestPartnerEventsOverREST: every kind of domain change, made through the
// REST API by the seeded users, reaches the subscribed partner systems as
// a signed CloudEvent, in order per client and only where the partner may
// see it at delivery time: UWV receives every event type, the
// municipality never UWV's benefit decision, and once UWV's placements
// consent is revoked a placement event is withheld from UWV with a reason.
func TestPartnerEventsOverREST(t *testing.T) {
	e := startWithEventSources(t)
	uwv := e.subscribePartner("uwv-noord", "uwv")
	gem := e.subscribePartner("gem-groningen", "municipality")
	today := time.Now().UTC()

	// The dispatcher runs from the start: every event is judged moments
	// after its commit.
	e.runDispatcher()

	// Enrolment with UWV and the municipality involved and, given at
	// intake in the same transaction, their consent to see the trajectory,
	// placements and benefits; so the enrolment itself reaches them. The
	// milestones consent follows separately.
	grant := func(org string) map[string]any {
		return map[string]any{"organization_id": org,
			"sections": []string{"SECTION_TRAJECTORY", "SECTION_PLACEMENTS", "SECTION_BENEFITS"}}
	}
	r := e.want(e.do("POST", "/v1/clients", "es-anna", map[string]any{
		"request_id": "e2e-events-enrol-1",
		"client": map[string]any{
			"identity":   map[string]any{"given_name": "Sanne", "family_name": "Kuipers", "date_of_birth": "1991-04-12"},
			"trajectory": map[string]any{"team_id": "noord-team-a", "involved_organization_ids": []string{"uwv-noord", "gem-groningen"}},
		},
		"consents": []any{grant("uwv-noord"), grant("gem-groningen")},
	}), 200, "enrol")
	id, _ := get(r.body, "client", "client_id").(string)
	if id == "" {
		t.Fatalf("no client id in %s", r.raw)
	}
	for _, org := range []string{"uwv-noord", "gem-groningen"} {
		e.want(e.do("POST", "/v1/clients/"+id+"/consents", "es-anna", map[string]any{
			"organization_id": org, "request_id": "e2e-events-consent-" + org,
			"sections": []string{"SECTION_MILESTONES"},
		}), 200, "consent for "+org)
	}

	// Phase changes, and an employer contact within the window after
	// intake: the first-contact milestone.
	e.transition(id, "PHASE_INTAKE")
	e.transition(id, "PHASE_JOB_SEARCH")
	e.want(e.do("POST", "/v1/clients/"+id+"/employerContacts", "es-anna", map[string]any{
		"request_id":       "e2e-events-contact-1",
		"employer_contact": map[string]any{"employer_name": "Bakkerij Bolletje", "contact_date": day(today), "face_to_face": true},
	}), 200, "employer contact")

	// A job started four months ago (recorded late): the write announces
	// the job start and three months of employment; the trajectory moves
	// to employed.
	start := today.AddDate(0, -4, 0)
	r = e.want(e.do("POST", "/v1/clients/"+id+"/placements", "es-anna", map[string]any{
		"request_id": "e2e-events-placement-1",
		"placement": map[string]any{
			"employer_name": "Bakkerij Bolletje", "job_title": "Baker's assistant", "start_date": day(start),
			"contract_kind": "CONTRACT_KIND_TEMPORARY", "hours_per_week": 16, "hourly_wage_cents": 1450,
		},
	}), 200, "start placement")
	pid, _ := get(r.body, "placement", "placement_id").(string)
	if pid == "" {
		t.Fatalf("no placement id in %s", r.raw)
	}
	r = e.want(e.do("POST", "/v1/clients/"+id+"/placements/"+pid+":changeTerms", "es-anna", map[string]any{
		"terms":   map[string]any{"effective_date": day(today), "hours_per_week": 24, "hourly_wage_cents": 1600},
		"version": get(r.body, "placement", "version"),
	}), 200, "change hours and wage")
	version := get(r.body, "placement", "version")

	// Counselling, and a benefit of each payer with a decision reported by
	// the payer's own system.
	e.want(e.do("POST", "/v1/clients/"+id+"/counsellingRequests", "es-anna", map[string]any{
		"reason": "job offer: more hours at the bakery",
	}, "Idempotency-Key", "counsel-"+id), 200, "request counselling")
	const wgaCents, wgaDecisionCents, pwCents, pwDecisionCents = 187650, 176540, 123450, 65430
	r = e.want(e.do("POST", "/v1/clients/"+id+"/benefits", "uwv-gijs", map[string]any{
		"request_id": "e2e-events-wga-1",
		"benefit":    map[string]any{"kind": "BENEFIT_KIND_WIA_WGA", "monthly_amount_cents": wgaCents, "start_date": "2025-01-01"},
	}), 200, "UWV records WGA")
	wgaID, _ := get(r.body, "benefit", "benefit_id").(string)
	r = e.want(e.do("POST", "/v1/clients/"+id+"/benefits", "gem-ivo", map[string]any{
		"request_id": "e2e-events-pw-1",
		"benefit":    map[string]any{"kind": "BENEFIT_KIND_PARTICIPATIEWET", "monthly_amount_cents": pwCents, "start_date": "2025-01-01"},
	}), 200, "municipality records Participatiewet")
	pwID, _ := get(r.body, "benefit", "benefit_id").(string)
	if wgaID == "" || pwID == "" {
		t.Fatalf("benefit ids %q, %q", wgaID, pwID)
	}
	// UWV adds the wage the WGA is based on: a changed benefit.
	e.want(e.do("PATCH", "/v1/clients/"+id+"/benefits/"+wgaID+"?update_mask=previous_monthly_wage_cents", "uwv-gijs", map[string]any{
		"previous_monthly_wage_cents": 268000, "version": 1,
	}), 200, "UWV corrects the WGA's basis")
	e.want(e.do("POST", "/v1/benefitDecisions", "uwv-system", map[string]any{
		"client_id": id, "benefit_id": wgaID, "kind": "DECISION_KIND_ADJUSTED",
		"effective_date": "2026-02-01", "monthly_amount_cents": wgaDecisionCents, "reason": "earnings from the job",
	}, "Idempotency-Key", "e2e-events-uwv-decision-1"), 200, "UWV's decision")
	e.want(e.do("POST", "/v1/benefitDecisions", "gem-system", map[string]any{
		"client_id": id, "benefit_id": pwID, "kind": "DECISION_KIND_ADJUSTED",
		"effective_date": "2026-02-01", "monthly_amount_cents": pwDecisionCents, "reason": "earnings from the job",
	}, "Idempotency-Key", "e2e-events-gem-decision-1"), 200, "the municipality's decision")

	// The job ends; the trajectory goes back to job search.
	e.want(e.do("POST", "/v1/clients/"+id+"/placements/"+pid+":end", "es-anna", map[string]any{
		"end_date": day(today), "end_reason": "contract not renewed", "version": version,
	}), 200, "end placement")
	pollUntil(t, 10*time.Second, "every delivery decided", e.settled)

	// The client withdraws UWV's placements consent (the specialist records
	// it). The next placement event is withheld from UWV, not from the
	// municipality.
	r = e.want(e.do("GET", "/v1/clients/"+id+"/consents", "es-anna", nil), 200, "list consents")
	var consentID string
	for _, c := range list(r.body, "consents") {
		if c["organization_id"] == "uwv-noord" && c["section"] == "SECTION_PLACEMENTS" && c["active"] == true {
			consentID, _ = c["consent_id"].(string)
		}
	}
	if consentID == "" {
		t.Fatalf("no active placements consent of UWV in %s", r.raw)
	}
	e.want(e.do("POST", "/v1/clients/"+id+"/consents/"+consentID+":revoke", "es-anna", map[string]any{}), 200, "revoke")
	r = e.want(e.do("POST", "/v1/clients/"+id+"/placements", "es-anna", map[string]any{
		"request_id": "e2e-events-placement-2",
		"placement": map[string]any{
			"employer_name": "Groenvoorziening Noord", "job_title": "Gardener", "start_date": day(today),
			"contract_kind": "CONTRACT_KIND_TEMPORARY", "hours_per_week": 20, "hourly_wage_cents": 1500,
		},
	}), 200, "start a second placement")
	pid2, _ := get(r.body, "placement", "placement_id").(string)
	pollUntil(t, 10*time.Second, "every delivery decided", e.settled)

	log := e.eventLog(id)
	e.checkStream(uwv, id, log)
	e.checkStream(gem, id, log)

	// Every type reached UWV, but milestones and funding: those reach a
	// payer only for clients under its own funding agreements, and this
	// client is under none (TestFundingEvents shows them delivered).
	got := map[string]bool{}
	for _, h := range uwv.received() {
		got[h.Event.Type] = true
	}
	for _, typ := range outbox.Types {
		if sec := outbox.Sections[typ]; sec == authz.Milestones || sec == authz.Funding {
			if got[string(typ)] {
				t.Errorf("UWV received %s of a client under none of its agreements", typ)
			}
			continue
		}
		if !got[string(typ)] {
			for _, l := range log {
				if l.Type == string(typ) {
					st, reason := e.deliveryState(uwv, l.Position)
					t.Logf("position %d, %s, for UWV: %s %q", l.Position, typ, st, reason)
				}
			}
			t.Errorf("UWV never received %s (the log has %v)", typ, log.types())
		}
	}

	// Each payer received its own benefit's decision, with its amounts,
	// and nothing of the other's.
	for _, c := range []struct {
		p          *partner
		own, other string
		ownCents   int
		others     []int
	}{
		{gem, pwID, wgaID, pwDecisionCents, []int{wgaCents, wgaDecisionCents}},
		{uwv, wgaID, pwID, wgaDecisionCents, []int{pwCents, pwDecisionCents}},
	} {
		own := 0
		for _, h := range c.p.received() {
			if strings.Contains(h.Raw, c.other) {
				t.Errorf("%s received an event about the other payer's benefit: %s", c.p.org, h.Raw)
			}
			nums := jsonNumbers(t, h.Event.Data)
			for _, cents := range c.others {
				if slices.Contains(nums, float64(cents)) {
					t.Errorf("%s received the other payer's amount %d: %s", c.p.org, cents, h.Raw)
				}
			}
			if h.Event.Type == string(outbox.BenefitDecisionReceived) && h.Data.Change["benefit_id"] == c.own {
				own++
				if !slices.Contains(jsonNumbers(t, h.Data.Data), float64(c.ownCents)) {
					t.Errorf("%s's own decision without its amount: %s", c.p.org, h.Raw)
				}
			}
		}
		if own != 1 {
			t.Errorf("%s received its own benefit's decision %d times, want 1", c.p.org, own)
		}
	}
	// What an organisation may not see leaves no delivery behind.
	if s, reason := e.deliveryState(gem, log.find(outbox.BenefitDecisionReceived, "benefits/"+wgaID)); s != "absent" {
		t.Errorf("UWV's decision for the municipality: %s (%q), want no delivery at all", s, reason)
	}

	// After the revocation: the consent event still reaches UWV (it is
	// about the trajectory), the placement event does not.
	second := log.find(outbox.JobStarted, "placements/"+pid2)
	if s, reason := e.deliveryState(uwv, second); s != "absent" {
		t.Errorf("the placement event after the revocation, for UWV: %s (%q), want no delivery at all", s, reason)
	}
	for _, h := range uwv.received() {
		if h.Event.Subject == "placements/"+pid2 {
			t.Errorf("UWV received a placement event after its placements consent was revoked: %s", h.Raw)
		}
	}
	if s, _ := e.deliveryState(gem, second); s != "delivered" {
		t.Errorf("the placement event after UWV's revocation, for the municipality: %s, want delivered", s)
	}
	revoked := false
	for _, h := range uwv.received() {
		revoked = revoked || (h.Event.Type == string(outbox.ConsentRevoked) && h.Data.Change["consent_id"] == consentID)
	}
	if !revoked {
		t.Errorf("UWV did not receive the revocation of its placements consent")
	}
}

// logEntry is one event of the log, as the relay numbered it.
type logEntry struct {
	Position int64
	EventID  string
	Type     string
	ClientID string
	Subject  string
}

type eventLog []logEntry

// eventLog reads the log; every event in it must be about client (the
// test's only one), at gapless positions from 1.
func (e *env) eventLog(client string) eventLog {
	e.t.Helper()
	rows, err := e.p.Pool.Query(context.Background(),
		`SELECT position, event_id::text, type, client_id, subject FROM events.log ORDER BY position`)
	if err != nil {
		e.t.Fatal(err)
	}
	log, err := pgx.CollectRows(rows, pgx.RowToStructByPos[logEntry])
	if err != nil {
		e.t.Fatal(err)
	}
	for i, l := range log {
		if l.Position != int64(i+1) || l.ClientID != client {
			e.t.Fatalf("log entry %d is %+v: want position %d of client %s", i, l, i+1, client)
		}
	}
	return log
}

func (l eventLog) types() []string {
	var out []string
	for _, x := range l {
		out = append(out, strings.TrimPrefix(x.Type, "nl.ipsbridge."))
	}
	return out
}

// find returns the position of the one event of typ about subject.
func (l eventLog) find(typ outbox.Type, subject string) int64 {
	var found []int64
	for _, x := range l {
		if x.Type == string(typ) && x.Subject == subject {
			found = append(found, x.Position)
		}
	}
	if len(found) != 1 {
		panic(fmt.Sprintf("%d events %s about %s in the log", len(found), typ, subject))
	}
	return found[0]
}

// deliveryState returns the state and reason of the delivery of the event at
// position to p's subscription; "absent" when there is none.
func (e *env) deliveryState(p *partner, position int64) (state, reason string) {
	e.t.Helper()
	err := e.p.Pool.QueryRow(context.Background(), `SELECT state, reason FROM events.deliveries
		WHERE subscription_id = $1 AND position = $2`, p.subID, position).Scan(&state, &reason)
	if errors.Is(err, pgx.ErrNoRows) {
		return "absent", ""
	}
	if err != nil {
		e.t.Fatalf("delivery of %d to %s: %v", position, p.org, err)
	}
	return state, reason
}

// checkStream checks what p received against the log: each event is the
// log's (id, type, client, sequence = position), its data names the
// client, the sequence rises with every event, and every position of the
// client's events is accounted for exactly once: received, or withheld
// without any delivery record (an organisation must not learn of an event
// it may not see, not even from a withheld record).
func (e *env) checkStream(p *partner, client string, log eventLog) {
	e.t.Helper()
	byPos := map[int64]logEntry{}
	for _, l := range log {
		byPos[l.Position] = l
	}
	accounted := map[int64]string{}
	var last int64
	for _, h := range p.received() {
		seq, err := strconv.ParseInt(h.Event.Sequence, 10, 64)
		if err != nil {
			e.t.Errorf("%s: event %s has sequence %q", p.org, h.Event.ID, h.Event.Sequence)
			continue
		}
		l := byPos[seq]
		if h.Event.ID != l.EventID || h.Event.Type != l.Type || h.Event.ClientID != client || h.Data.ClientID != client {
			e.t.Errorf("%s: received %s %s of client %s/%s at sequence %d; the log has %+v",
				p.org, h.Event.ID, h.Event.Type, h.Event.ClientID, h.Data.ClientID, seq, l)
		}
		if seq <= last {
			e.t.Errorf("%s: sequence %d (%s) after %d", p.org, seq, h.Event.Type, last)
		}
		last = seq
		accounted[seq] = "received"
	}
	rows, err := e.p.Pool.Query(context.Background(), `SELECT position, state, reason FROM events.deliveries
		WHERE subscription_id = $1 AND client_id = $2 ORDER BY position`, p.subID, client)
	if err != nil {
		e.t.Fatal(err)
	}
	type row struct {
		Position      int64
		State, Reason string
	}
	ds, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		e.t.Fatal(err)
	}
	recorded := map[int64]bool{}
	for _, d := range ds {
		recorded[d.Position] = true
		switch {
		case d.State == "delivered":
			if accounted[d.Position] != "received" {
				e.t.Errorf("%s: position %d (%s) delivered but not received", p.org, d.Position, byPos[d.Position].Type)
			}
		default:
			e.t.Errorf("%s: position %d (%s) is %s (%q)", p.org, d.Position, byPos[d.Position].Type, d.State, d.Reason)
		}
	}
	var missing []int64
	for _, l := range log {
		switch {
		case accounted[l.Position] == "" && !recorded[l.Position]:
			accounted[l.Position] = "withheld"
		case accounted[l.Position] == "":
			missing = append(missing, l.Position)
		}
	}
	if len(missing) > 0 || len(accounted) != len(log) {
		e.t.Errorf("%s: positions %v neither received nor withheld; %d of %d accounted for", p.org, missing, len(accounted), len(log))
	}
	if testing.Verbose() {
		var lines []string
		for _, l := range log {
			lines = append(lines, fmt.Sprintf("%d %s %s", l.Position, strings.TrimPrefix(l.Type, "nl.ipsbridge."), accounted[l.Position]))
		}
		e.t.Logf("%s:\n%s", p.org, strings.Join(lines, "\n"))
	}
}

// jsonNumbers returns every JSON number in raw (amounts; timestamps are
// strings, so their digits do not count).
func jsonNumbers(t testing.TB, raw json.RawMessage) []float64 {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("not JSON: %s", raw)
	}
	var out []float64
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case float64:
			out = append(out, x)
		case []any:
			for _, y := range x {
				walk(y)
			}
		case map[string]any:
			for _, y := range x {
				walk(y)
			}
		}
	}
	walk(v)
	return out
}
