package server_test

import (
	"github.com/google/uuid"

	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/ipsbridge/ipsbridge/internal/outbox"
	benefitsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/benefits/v1"
)

// outboxEvent is one of this service's outbox rows as a test reads it.
type outboxEvent struct {
	Type, ClientID, RegionID, Section, PayerOrgID, Subject string
	Change, Data                                           map[string]any
}

// benefitEvents returns the benefits service's events of a client in outbox
// order.
func benefitEvents(t *testing.T, f *fixture, clientID string) []outboxEvent {
	t.Helper()
	rows, err := f.p.Pool.Query(context.Background(), `SELECT type, client_id, region_id, section, payer_org_id, subject, change::text, data::text
		FROM outbox.events WHERE source = 'benefits' AND client_id = $1 ORDER BY id`, clientID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []outboxEvent
	for rows.Next() {
		var e outboxEvent
		var change, data string
		if err := rows.Scan(&e.Type, &e.ClientID, &e.RegionID, &e.Section, &e.PayerOrgID, &e.Subject, &change, &data); err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(json.Unmarshal([]byte(change), &e.Change), json.Unmarshal([]byte(data), &e.Data)); err != nil {
			t.Fatal(err)
		}
		if e.RegionID != "region-noord" || e.Section != "benefits" {
			t.Errorf("%s: region %q section %q", e.Type, e.RegionID, e.Section)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEventsOfBenefitChanges: a benefit recorded or changed, a counselling
// request and a partner system's decision each write one event with the
// client's region, the benefits section and, for a benefit, the paying
// organisation; a refused request, a decision on another payer's benefit,
// invalid input and idempotent retries (also concurrent ones) write none.
func TestEventsOfBenefitChanges(t *testing.T) {
	f := newFixture(t)
	id := f.enrol(t, "events-key-1", true)
	wga := f.addBenefit(t, "uwv-system", id, benefitsv1.BenefitKind_BENEFIT_KIND_WIA_WGA, 150000)
	pw := f.addBenefit(t, "gem-system", id, benefitsv1.BenefitKind_BENEFIT_KIND_PARTICIPATIEWET, 40000)
	evs := benefitEvents(t, f, id)
	if len(evs) != 2 {
		t.Fatalf("benefits recorded: %d events, want 2", len(evs))
	}
	for i, c := range []struct {
		b     *benefitsv1.Benefit
		payer string
		cents float64
	}{{wga, "uwv-noord", 150000}, {pw, "gem-groningen", 40000}} {
		e := evs[i]
		amounts, _ := e.Data["amounts"].([]any)
		if e.Type != string(outbox.BenefitRecorded) || e.PayerOrgID != c.payer || e.Subject != "benefits/"+c.b.GetBenefitId() ||
			e.Change["benefit_id"] != c.b.GetBenefitId() || e.Data["monthly_amount_cents"] != c.cents || len(amounts) != 1 {
			t.Errorf("benefit recorded: %+v", e)
		}
	}
	// A correction of the WGA's basis: one BenefitChanged; a stale version
	// is refused and writes nothing.
	upd := &benefitsv1.UpdateBenefitRequest{ClientId: id, BenefitId: wga.GetBenefitId(), UpdateMask: mask("previous_monthly_wage_cents"),
		Benefit: &benefitsv1.Benefit{PreviousMonthlyWageCents: 250000, Version: wga.GetVersion()}}
	changed, err := f.ben.UpdateBenefit(f.p.As(t, "uwv-system"), upd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ben.UpdateBenefit(f.p.As(t, "uwv-system"), upd); code(err) != codes.Aborted {
		t.Fatalf("stale update: %v", err)
	}
	evs = benefitEvents(t, f, id)
	if len(evs) != 3 {
		t.Fatalf("%d events after one change, want 3", len(evs))
	}
	if e := evs[2]; e.Type != string(outbox.BenefitChanged) || e.PayerOrgID != "uwv-noord" || e.Change["version"] != float64(changed.GetBenefit().GetVersion()) ||
		e.Data["previous_monthly_wage_cents"] != float64(250000) || !slices.Equal(e.Change["changed_fields"].([]any), []any{"previous_monthly_wage_cents"}) {
		t.Errorf("benefit changed: %+v", e)
	}

	cr, err := f.ben.CreateCounsellingRequest(f.p.As(t, "es-anna"), &benefitsv1.CreateCounsellingRequestRequest{RequestId: uuid.NewString(), ClientId: id,
		CounsellingRequest: &benefitsv1.CounsellingRequest{Reason: "job offer"}})
	if err != nil {
		t.Fatal(err)
	}
	crID := cr.GetCounsellingRequest().GetCounsellingRequestId()
	if _, err := f.ben.CreateCounsellingRequest(f.p.As(t, "cl-carla"), &benefitsv1.CreateCounsellingRequestRequest{RequestId: uuid.NewString(), ClientId: id,
		CounsellingRequest: &benefitsv1.CounsellingRequest{Reason: "clinician asks"}}); err == nil {
		t.Fatal("clinician asked for counselling")
	}
	evs = benefitEvents(t, f, id)[3:]
	if len(evs) != 1 {
		t.Fatalf("%d events after one counselling request, want 1", len(evs))
	}
	if e := evs[0]; e.Type != string(outbox.CounsellingRequested) || e.Subject != "counselling-requests/"+crID || e.PayerOrgID != "" ||
		e.Change["counselling_request_id"] != crID || e.Change["requested_by"] != "es-anna" || e.Data["reason"] != "job offer" || e.Data["status"] != "open" {
		t.Errorf("counselling requested: %+v", e)
	}

	uwv := f.p.As(t, "uwv-system")
	req := &benefitsv1.ReportBenefitDecisionRequest{ClientId: id, BenefitId: wga.GetBenefitId(),
		Kind: benefitsv1.DecisionKind_DECISION_KIND_ADJUSTED, EffectiveDate: "2026-03-01", MonthlyAmountCents: 52934, RequestId: "events-dec-1"}
	dec, err := f.ben.ReportBenefitDecision(uwv, req)
	if err != nil {
		t.Fatal(err)
	}
	// The retry, the same key with another body, another payer's benefit
	// and an effective date before the benefit's start write nothing.
	if _, err := f.ben.ReportBenefitDecision(uwv, req); err != nil {
		t.Fatal(err)
	}
	other := proto.Clone(req).(*benefitsv1.ReportBenefitDecisionRequest)
	other.MonthlyAmountCents = 1
	if _, err := f.ben.ReportBenefitDecision(uwv, other); err == nil {
		t.Fatal("reused key accepted")
	}
	if _, err := f.ben.ReportBenefitDecision(f.p.As(t, "gem-system"), &benefitsv1.ReportBenefitDecisionRequest{ClientId: id, BenefitId: wga.GetBenefitId(),
		Kind: benefitsv1.DecisionKind_DECISION_KIND_ENDED, EffectiveDate: "2026-03-01", RequestId: "events-dec-wrong"}); err == nil {
		t.Fatal("decision on UWV's benefit by the municipality accepted")
	}
	early := proto.Clone(req).(*benefitsv1.ReportBenefitDecisionRequest)
	early.RequestId, early.EffectiveDate = "events-dec-early", "2023-01-01"
	if _, err := f.ben.ReportBenefitDecision(uwv, early); err == nil {
		t.Fatal("decision before the benefit's start accepted")
	}
	evs = benefitEvents(t, f, id)[3:]
	if len(evs) != 2 {
		t.Fatalf("%d events, want 2", len(evs))
	}
	e := evs[1]
	benefit, _ := e.Data["benefit"].(map[string]any)
	decision, _ := e.Data["decision"].(map[string]any)
	if e.Type != string(outbox.BenefitDecisionReceived) || e.PayerOrgID != "uwv-noord" || e.Subject != "benefits/"+wga.GetBenefitId() ||
		e.Change["benefit_id"] != wga.GetBenefitId() || e.Change["kind"] != "adjusted" || e.Change["effective_date"] != "2026-03-01" ||
		e.Change["decision_id"] != dec.GetDecision().GetDecisionId() ||
		benefit["monthly_amount_cents"] != float64(52934) || benefit["version"] != float64(dec.GetBenefit().GetVersion()) || benefit["payer_organization_id"] != "uwv-noord" ||
		decision["decision_id"] != dec.GetDecision().GetDecisionId() || decision["effective_date"] != "2026-03-01" || decision["reported_by"] != "uwv-system" {
		t.Errorf("decision received: %+v", e)
	}

	// Two concurrent requests with a new key: one decision, one event; the
	// municipality's decision names the municipality as payer.
	req2 := proto.Clone(req).(*benefitsv1.ReportBenefitDecisionRequest)
	req2.RequestId, req2.Kind, req2.MonthlyAmountCents = "events-dec-2", benefitsv1.DecisionKind_DECISION_KIND_SUSPENDED, 0
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := f.ben.ReportBenefitDecision(uwv, req2); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, err := f.ben.ReportBenefitDecision(f.p.As(t, "gem-system"), &benefitsv1.ReportBenefitDecisionRequest{ClientId: id, BenefitId: pw.GetBenefitId(),
		Kind: benefitsv1.DecisionKind_DECISION_KIND_ENDED, EffectiveDate: "2026-04-01", RequestId: "events-dec-gem"}); err != nil {
		t.Fatal(err)
	}
	evs = benefitEvents(t, f, id)[3:]
	if len(evs) != 4 {
		t.Fatalf("%d events, want 4", len(evs))
	}
	if e := evs[2]; e.Change["kind"] != "suspended" || e.PayerOrgID != "uwv-noord" {
		t.Errorf("suspension: %+v", e)
	}
	if e := evs[3]; e.Change["kind"] != "ended" || e.PayerOrgID != "gem-groningen" || e.Subject != "benefits/"+pw.GetBenefitId() {
		t.Errorf("end: %+v", e)
	}
	if n := f.count(t, `SELECT count(*) FROM benefits.decisions WHERE client_id = $1`, id); n != 3 {
		t.Errorf("%d decisions, want 3", n)
	}
}
