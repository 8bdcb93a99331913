package app

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/services/benefits/domain"
	"github.com/ipsbridge/ipsbridge/services/benefits/store"
)

// The domain events this service writes to the outbox, each in the
// transaction of its change, after the change's row lock. The region is the
// client's, from the access facts of the request; a benefit's events name
// the organisation that pays it, so that the dispatcher gives payers only
// the benefits they pay, as the API does.

// BenefitData is a benefit in an event's data; the keys are the API's.
type BenefitData struct {
	BenefitID           string    `json:"benefit_id"`
	Kind                string    `json:"kind"`
	PayerOrganizationID string    `json:"payer_organization_id"`
	MonthlyAmountCents  int64     `json:"monthly_amount_cents"`
	StartDate           string    `json:"start_date"`
	EndDate             string    `json:"end_date,omitempty"`
	Status              string    `json:"status"`
	Version             int64     `json:"version"`
	UpdateTime          time.Time `json:"update_time"`
	// The amount's history and the basis, as the API gives them.
	Amounts                      []AmountData `json:"amounts"`
	PreviousMonthlyWageCents     int64        `json:"previous_monthly_wage_cents,omitempty"`
	ResidualEarningCapacityCents int64        `json:"residual_earning_capacity_cents,omitempty"`
	DisabilityPercent            int32        `json:"disability_percent,omitempty"`
	WageRelatedEndDate           string       `json:"wage_related_end_date,omitempty"`
}

// AmountData is a row of a benefit's amount history in an event's data.
type AmountData struct {
	EffectiveDate       string `json:"effective_date"`
	MonthlyAmountCents  int64  `json:"monthly_amount_cents"`
	EarningsOffsetCents int64  `json:"earnings_offset_cents"`
	PaidCents           int64  `json:"paid_cents"`
	Suspended           bool   `json:"suspended"`
	Source              string `json:"source"`
}

func benefitData(b domain.Benefit) BenefitData {
	d := BenefitData{BenefitID: b.ID, Kind: string(b.Kind), PayerOrganizationID: b.PayerOrgID, MonthlyAmountCents: b.MonthlyAmountCents,
		StartDate: b.Start.Format(time.DateOnly), Status: string(b.Status), Version: b.Version, UpdateTime: b.UpdatedAt.UTC(),
		PreviousMonthlyWageCents: b.Basis.PreviousWageCents, ResidualEarningCapacityCents: b.Basis.ResidualCapacityCents,
		DisabilityPercent: b.Basis.DisabilityPercent, Amounts: []AmountData{}}
	if b.End != nil {
		d.EndDate = b.End.Format(time.DateOnly)
	}
	if b.Basis.WageRelatedEnd != nil {
		d.WageRelatedEndDate = b.Basis.WageRelatedEnd.Format(time.DateOnly)
	}
	for _, a := range b.Amounts {
		d.Amounts = append(d.Amounts, AmountData{EffectiveDate: a.From.Format(time.DateOnly), MonthlyAmountCents: a.Cents,
			EarningsOffsetCents: a.EarningsOffsetCents, PaidCents: a.PaidCents(), Suspended: a.Suspended, Source: string(a.Source)})
	}
	return d
}

// benefitEvent reports a benefit recorded (BenefitRecorded) or changed
// (BenefitChanged, with the fields that changed); like a decision, only to
// the organisation that pays it among the payers.
func benefitEvent(typ outbox.Type, regionID string, b domain.Benefit, fields []string) outbox.Event {
	change := map[string]any{"benefit_id": b.ID, "kind": string(b.Kind), "version": b.Version}
	if fields != nil {
		change["changed_fields"] = fields
	}
	return outbox.Event{Type: typ, ClientID: b.ClientID, RegionID: regionID, Subject: "benefits/" + b.ID, PayerOrgID: b.PayerOrgID,
		Change: change, Data: benefitData(b)}
}

// DecisionData is a reported decision in an event's data.
type DecisionData struct {
	DecisionID         string    `json:"decision_id"`
	BenefitID          string    `json:"benefit_id"`
	Kind               string    `json:"kind"`
	EffectiveDate      string    `json:"effective_date"`
	MonthlyAmountCents int64     `json:"monthly_amount_cents"`
	EarningsOffset     int64     `json:"earnings_offset_cents"`
	Reason             string    `json:"reason"`
	ReportedBy         string    `json:"reported_by"`
	ReceiveTime        time.Time `json:"receive_time"`
}

// DecisionEventData is the data of BenefitDecisionReceived: the benefit
// after the decision, and the decision.
type DecisionEventData struct {
	Benefit  BenefitData  `json:"benefit"`
	Decision DecisionData `json:"decision"`
}

// CounsellingRequestData is a counselling request in an event's data
// (never its sessions).
type CounsellingRequestData struct {
	CounsellingRequestID string    `json:"counselling_request_id"`
	Reason               string    `json:"reason"`
	CounsellorID         string    `json:"counsellor_id"`
	Status               string    `json:"status"`
	RequestedBy          string    `json:"requested_by"`
	CreateTime           time.Time `json:"create_time"`
}

// decisionEvent reports a decision applied to a benefit.
func decisionEvent(regionID string, b domain.Benefit, d domain.Decision) outbox.Event {
	return outbox.Event{
		Type: outbox.BenefitDecisionReceived, ClientID: b.ClientID, RegionID: regionID, Subject: "benefits/" + b.ID,
		PayerOrgID: b.PayerOrgID,
		Change: map[string]any{
			"benefit_id": b.ID, "decision_id": d.ID, "kind": string(d.Kind), "effective_date": d.Effective.Format(time.DateOnly),
			"version": b.Version,
		},
		Data: DecisionEventData{
			Benefit: benefitData(b),
			Decision: DecisionData{DecisionID: d.ID, BenefitID: d.BenefitID, Kind: string(d.Kind), EffectiveDate: d.Effective.Format(time.DateOnly),
				MonthlyAmountCents: d.MonthlyAmountCents, EarningsOffset: d.EarningsOffsetCents, Reason: d.Reason, ReportedBy: d.ReportedBy, ReceiveTime: d.ReceivedAt.UTC()},
		},
	}
}

// counsellingRequestedEvent reports a new counselling request.
func counsellingRequestedEvent(regionID string, r store.CounsellingRequest) outbox.Event {
	return outbox.Event{
		Type: outbox.CounsellingRequested, ClientID: r.ClientID, RegionID: regionID, Subject: "counselling-requests/" + r.ID,
		Change: map[string]any{
			"counselling_request_id": r.ID, "requested_by": r.RequestedBy, "counsellor_id": r.CounsellorID,
			"requested_at": r.CreatedAt.UTC().Format(time.RFC3339Nano),
		},
		Data: CounsellingRequestData{CounsellingRequestID: r.ID, Reason: r.Reason, CounsellorID: r.CounsellorID, Status: r.Status,
			RequestedBy: r.RequestedBy, CreateTime: r.CreatedAt.UTC()},
	}
}

// emit appends events to the outbox in tx.
func emit(ctx context.Context, tx pgx.Tx, events ...outbox.Event) error {
	return outbox.Add(ctx, tx, ServiceName, events...)
}
