package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/ipsbridge/ipsbridge/internal/outbox"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
)

// outboxEvent is one row of outbox.events as a test reads it.
type outboxEvent struct {
	Source, Type, ClientID, RegionID, Section, PayerOrgID, Subject string
	Change, Data                                                   map[string]any
	raw                                                            string
}

// eventsOf returns a client's outbox events in outbox order.
func eventsOf(t *testing.T, f *fixture, clientID string) []outboxEvent {
	t.Helper()
	rows, err := f.p.Pool.Query(context.Background(), `SELECT source, type, client_id, region_id, section, payer_org_id, subject,
			change::text, data::text FROM outbox.events WHERE client_id = $1 ORDER BY id`, clientID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []outboxEvent
	for rows.Next() {
		var e outboxEvent
		var change, data string
		if err := rows.Scan(&e.Source, &e.Type, &e.ClientID, &e.RegionID, &e.Section, &e.PayerOrgID, &e.Subject, &change, &data); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(change), &e.Change); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(data), &e.Data); err != nil {
			t.Fatal(err)
		}
		e.raw = change + data
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// wantEvents checks the types of a client's events since index from and
// returns them.
func wantEvents(t *testing.T, f *fixture, clientID string, from int, types ...outbox.Type) []outboxEvent {
	t.Helper()
	all := eventsOf(t, f, clientID)
	if len(all) < from {
		t.Fatalf("%d events, expected at least %d before", len(all), from)
	}
	got := all[from:]
	ok := len(got) == len(types)
	for i := 0; ok && i < len(got); i++ {
		ok = got[i].Type == string(types[i])
	}
	if !ok {
		names := make([]string, len(got))
		for i, e := range got {
			names[i] = e.Type
		}
		t.Fatalf("events %v, want %v", names, types)
	}
	for _, e := range got {
		if e.Source != "clients" || e.ClientID != clientID || e.RegionID != "region-noord" || e.PayerOrgID != "" ||
			e.Section != string(outbox.Sections[outbox.Type(e.Type)]) {
			t.Errorf("event %s: source %q client %q region %q section %q payer %q", e.Type, e.Source, e.ClientID, e.RegionID, e.Section, e.PayerOrgID)
		}
	}
	return got
}

// TestEventsOfClientChanges: enrolment, phase changes, consents given and
// revoked each write exactly their event with the client's region and the
// trajectory section; retries, refusals, stale versions and changes that
// change nothing write none; no event carries identity data.
func TestEventsOfClientChanges(t *testing.T) {
	f := newFixture(t)
	anna := f.p.As(t, "es-anna")
	c := f.enrol(t, "es-anna", "111222333", "events-enrol-1")
	id := c.GetClientId()

	ev := wantEvents(t, f, id, 0, outbox.ClientEnrolled)[0]
	if ev.Subject != "trajectory" || ev.Change["mha_organization_id"] != "mha-noord" || ev.Change["team_id"] != "noord-team-a" ||
		ev.Data["phase"] != "referral" || ev.Data["employment_specialist_id"] != "es-anna" {
		t.Errorf("enrolled: %+v", ev)
	}
	if orgs, _ := ev.Data["involved_organization_ids"].([]any); len(orgs) != 2 {
		t.Errorf("enrolled: involved organisations %v", ev.Data["involved_organization_ids"])
	}
	// A retried enrolment returns the client and reports nothing new.
	f.enrol(t, "es-anna", "111222333", "events-enrol-1")
	wantEvents(t, f, id, 1)

	tr := c.GetTrajectory()
	r, err := f.cli.TransitionPhase(anna, &clientsv1.TransitionPhaseRequest{ClientId: id, Phase: clientsv1.Phase_PHASE_INTAKE, Reason: "first meeting", Version: tr.GetVersion()})
	if err != nil {
		t.Fatal(err)
	}
	ev = wantEvents(t, f, id, 1, outbox.PhaseChanged)[0]
	if ev.Change["from"] != "referral" || ev.Change["to"] != "intake" || ev.Change["reason"] != "first meeting" || ev.Change["changed_at"] == "" ||
		ev.Data["phase"] != "intake" || ev.Data["version"] != float64(r.GetTrajectory().GetVersion()) {
		t.Errorf("phase changed: %+v", ev)
	}
	// Refused: a stale version, a move IPS does not allow, a clinician.
	if _, err := f.cli.TransitionPhase(anna, &clientsv1.TransitionPhaseRequest{ClientId: id, Phase: clientsv1.Phase_PHASE_JOB_SEARCH, Version: tr.GetVersion()}); err == nil {
		t.Fatal("stale version accepted")
	}
	v := r.GetTrajectory().GetVersion()
	if _, err := f.cli.TransitionPhase(anna, &clientsv1.TransitionPhaseRequest{ClientId: id, Phase: clientsv1.Phase_PHASE_EMPLOYED, Version: v}); err == nil {
		t.Fatal("intake to employed accepted")
	}
	if _, err := f.cli.TransitionPhase(f.p.As(t, "cl-carla"), &clientsv1.TransitionPhaseRequest{ClientId: id, Phase: clientsv1.Phase_PHASE_JOB_SEARCH, Version: v}); err == nil {
		t.Fatal("clinician moved the phase")
	}
	// A trajectory change without a phase move reports no phase change.
	u, err := f.cli.UpdateTrajectory(anna, &clientsv1.UpdateTrajectoryRequest{ClientId: id, UpdateMask: mask("employment_specialist_id"),
		Trajectory: &clientsv1.Trajectory{EmploymentSpecialistId: "es-bram", Version: v}})
	if err != nil {
		t.Fatal(err)
	}
	wantEvents(t, f, id, 2)
	if _, err := f.cli.TransitionPhase(anna, &clientsv1.TransitionPhaseRequest{ClientId: id, Phase: clientsv1.Phase_PHASE_CLOSED, Reason: "moved abroad", Version: u.GetTrajectory().GetVersion()}); err != nil {
		t.Fatal(err)
	}
	ev = wantEvents(t, f, id, 2, outbox.PhaseChanged)[0]
	if ev.Change["from"] != "intake" || ev.Change["to"] != "closed" || ev.Data["closing_reason"] != "moved abroad" || ev.Data["employment_specialist_id"] != "es-bram" {
		t.Errorf("closed: %+v", ev)
	}

	// Consent for two sections: two events, one per section.
	consent := func(rid string, secs ...clientsv1.Section) (*clientsv1.RecordConsentResponse, error) {
		return f.cli.RecordConsent(anna, &clientsv1.RecordConsentRequest{ClientId: id, OrganizationId: "uwv-noord", Sections: secs, RequestId: rid})
	}
	cs, err := consent("events-consent-1", clientsv1.Section_SECTION_PLACEMENTS, clientsv1.Section_SECTION_BENEFITS)
	if err != nil {
		t.Fatal(err)
	}
	given := wantEvents(t, f, id, 3, outbox.ConsentGiven, outbox.ConsentGiven)
	for i, sec := range []string{"placements", "benefits"} {
		e := given[i]
		if e.Subject != "consents/uwv-noord/"+sec || e.Change["organization_id"] != "uwv-noord" || e.Change["section"] != sec ||
			e.Change["recorded_by"] != "es-anna" || e.Change["recorded_at"] == nil || e.Change["consent_id"] != cs.GetConsents()[i].GetConsentId() ||
			e.Data["active"] != true {
			t.Errorf("consent given %d: %+v", i, e)
		}
	}
	// The retry, and a consent already given, change nothing.
	if _, err := consent("events-consent-1", clientsv1.Section_SECTION_PLACEMENTS, clientsv1.Section_SECTION_BENEFITS); err != nil {
		t.Fatal(err)
	}
	if _, err := consent("events-consent-2", clientsv1.Section_SECTION_PLACEMENTS); err != nil {
		t.Fatal(err)
	}
	// Refused: an organisation not involved, clinical input, a clinician.
	if _, err := f.cli.RecordConsent(anna, &clientsv1.RecordConsentRequest{ClientId: id, OrganizationId: "mha-oost", Sections: []clientsv1.Section{clientsv1.Section_SECTION_PLACEMENTS}, RequestId: "events-consent-3"}); err == nil {
		t.Fatal("consent for an organisation not involved accepted")
	}
	if _, err := consent("events-consent-4", clientsv1.Section_SECTION_CLINICAL_INPUT); err == nil {
		t.Fatal("consent for clinical input accepted")
	}
	if _, err := f.cli.RecordConsent(f.p.As(t, "cl-carla"), &clientsv1.RecordConsentRequest{ClientId: id, OrganizationId: "uwv-noord", Sections: []clientsv1.Section{clientsv1.Section_SECTION_TRAJECTORY}, RequestId: "events-consent-5"}); err == nil {
		t.Fatal("clinician recorded consent")
	}
	wantEvents(t, f, id, 5)

	placements := cs.GetConsents()[0].GetConsentId()
	if _, err := f.cli.RevokeConsent(anna, &clientsv1.RevokeConsentRequest{ClientId: id, ConsentId: placements}); err != nil {
		t.Fatal(err)
	}
	ev = wantEvents(t, f, id, 5, outbox.ConsentRevoked)[0]
	if ev.Subject != "consents/uwv-noord/placements" || ev.Change["consent_id"] != placements || ev.Change["revoked_by"] != "es-anna" ||
		ev.Change["revoked_at"] == nil || ev.Data["active"] != false {
		t.Errorf("consent revoked: %+v", ev)
	}
	// Revoking it again changes nothing.
	if _, err := f.cli.RevokeConsent(anna, &clientsv1.RevokeConsentRequest{ClientId: id, ConsentId: placements}); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, f, id, 6)

	for _, e := range eventsOf(t, f, id) {
		for _, secret := range []string{"111222333", "Kuipers", "Sanne", "sanne@example.nl", "1991-04-12"} {
			if strings.Contains(e.raw, secret) {
				t.Errorf("event %s carries identity data %q", e.Type, secret)
			}
		}
	}
	// Nothing was written for another client.
	var others int
	if err := f.p.Pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox.events WHERE client_id <> $1`, id).Scan(&others); err != nil || others != 0 {
		t.Errorf("%d events of other clients (%v)", others, err)
	}
}

// Consents given at intake are recorded with the enrolment, in its
// transaction: the enrolled event first, then one consent event per
// section. A grant the rules refuse refuses the whole enrolment.
func TestConsentsAtEnrolment(t *testing.T) {
	f := newFixture(t)
	anna := f.p.As(t, "es-anna")
	newClient := func() *clientsv1.Client {
		return &clientsv1.Client{Identity: &clientsv1.Identity{GivenName: "Iris", FamilyName: "Bos"},
			Trajectory: &clientsv1.Trajectory{TeamId: "noord-team-a", InvolvedOrganizationIds: []string{"uwv-noord"}}}
	}
	grant := func(org string, secs ...clientsv1.Section) []*clientsv1.ConsentGrant {
		return []*clientsv1.ConsentGrant{{OrganizationId: org, Sections: secs}}
	}
	clientCount := func() int {
		var n int
		if err := f.p.Pool.QueryRow(context.Background(), `SELECT count(*) FROM clients.clients`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := clientCount()
	for name, g := range map[string][]*clientsv1.ConsentGrant{
		"an organisation not involved": grant("gem-groningen", clientsv1.Section_SECTION_TRAJECTORY),
		"clinical input":               grant("uwv-noord", clientsv1.Section_SECTION_CLINICAL_INPUT),
		"the client's own MHA":         grant("mha-noord", clientsv1.Section_SECTION_TRAJECTORY),
	} {
		_, err := f.cli.CreateClient(anna, &clientsv1.CreateClientRequest{Client: newClient(), RequestId: "intake-" + strings.ReplaceAll(name, " ", "-"), Consents: g})
		if code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
		}
	}
	if after := clientCount(); after != before {
		t.Fatalf("refused enrolments wrote %d clients", after-before)
	}

	r, err := f.cli.CreateClient(anna, &clientsv1.CreateClientRequest{Client: newClient(), RequestId: "intake-ok-1",
		Consents: grant("uwv-noord", clientsv1.Section_SECTION_TRAJECTORY, clientsv1.Section_SECTION_PLACEMENTS)})
	if err != nil {
		t.Fatal(err)
	}
	id := r.GetClient().GetClientId()
	evs := wantEvents(t, f, id, 0, outbox.ClientEnrolled, outbox.ConsentGiven, outbox.ConsentGiven)
	if evs[1].Change["organization_id"] != "uwv-noord" || evs[1].Change["section"] != "placements" && evs[1].Change["section"] != "trajectory" {
		t.Errorf("consent event %+v", evs[1].Change)
	}
	cs, err := f.cli.ListConsents(anna, &clientsv1.ListConsentsRequest{ClientId: id})
	if err != nil || len(cs.GetConsents()) != 2 {
		t.Fatalf("consents after enrolment: %v %v", cs, err)
	}
	// The retry returns the client and records nothing more; the same key
	// with other consents is refused.
	if _, err := f.cli.CreateClient(anna, &clientsv1.CreateClientRequest{Client: newClient(), RequestId: "intake-ok-1",
		Consents: grant("uwv-noord", clientsv1.Section_SECTION_TRAJECTORY, clientsv1.Section_SECTION_PLACEMENTS)}); err != nil {
		t.Fatal(err)
	}
	wantEvents(t, f, id, 3)
	if _, err := f.cli.CreateClient(anna, &clientsv1.CreateClientRequest{Client: newClient(), RequestId: "intake-ok-1",
		Consents: grant("uwv-noord", clientsv1.Section_SECTION_TRAJECTORY)}); err == nil {
		t.Fatal("the same key with other consents was accepted")
	}
}
