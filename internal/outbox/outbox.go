// Package outbox is the transactional outbox every service writes its domain
// events to: Add inserts them with the caller's transaction, so an event is
// recorded exactly when its change commits, and a crash between the change
// and the delivery loses nothing. The dispatcher (services/events) relays
// committed rows into the delivery log.
package outbox

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/database"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations creates the outbox schema. Every service that writes events
// applies it (tern makes concurrent appliers wait for each other).
var Migrations = database.Embedded("outbox", migrationFiles)

// LogChannel is the PostgreSQL notification channel the dispatcher's relay
// notifies, at commit, whenever it appended events to the event log
// (events.log); event consumers (internal/consumer) listen on it.
const LogChannel = "ipsbridge_log"

// Type is a CloudEvents type. The suffix is the payload's version: a
// breaking change of a payload gets a new type, so subscribers choose when
// to move.
type Type string

// The domain events.
const (
	ClientEnrolled          Type = "nl.ipsbridge.client.enrolled.v1"
	ConsentGiven            Type = "nl.ipsbridge.consent.given.v1"
	ConsentRevoked          Type = "nl.ipsbridge.consent.revoked.v1"
	PhaseChanged            Type = "nl.ipsbridge.trajectory.phase_changed.v1"
	JobStarted              Type = "nl.ipsbridge.placement.job_started.v1"
	HoursChanged            Type = "nl.ipsbridge.placement.hours_changed.v1"
	WageChanged             Type = "nl.ipsbridge.placement.wage_changed.v1"
	JobEnded                Type = "nl.ipsbridge.placement.job_ended.v1"
	MilestoneReached        Type = "nl.ipsbridge.milestone.reached.v1"
	CounsellingRequested    Type = "nl.ipsbridge.counselling.requested.v1"
	BenefitDecisionReceived Type = "nl.ipsbridge.benefit.decision_received.v1"
	// BenefitRecorded: a paying organisation recorded a benefit;
	// BenefitChanged: it corrected one (amount, end date or basis).
	BenefitRecorded Type = "nl.ipsbridge.benefit.recorded.v1"
	BenefitChanged  Type = "nl.ipsbridge.benefit.changed.v1"
	// Funding: a trajectory application decided, a trajectory stopped
	// early or ended, a claim submitted or decided (one event per client
	// of the claim).
	ApplicationDecided Type = "nl.ipsbridge.funding.application_decided.v1"
	TrajectoryStopped  Type = "nl.ipsbridge.funding.trajectory_stopped.v1"
	TrajectoryEnded    Type = "nl.ipsbridge.funding.trajectory_ended.v1"
	ClaimSubmitted     Type = "nl.ipsbridge.funding.claim_submitted.v1"
	ClaimDecided       Type = "nl.ipsbridge.funding.claim_decided.v1"
)

// Sections maps every type to the section a subscriber must be allowed to
// read, at delivery time, to receive the event. A consent event is about the
// trajectory: it says who may now see what, not the data itself.
var Sections = map[Type]authz.Section{
	ClientEnrolled:          authz.Trajectory,
	ConsentGiven:            authz.Trajectory,
	ConsentRevoked:          authz.Trajectory,
	PhaseChanged:            authz.Trajectory,
	JobStarted:              authz.Placements,
	HoursChanged:            authz.Placements,
	WageChanged:             authz.Placements,
	JobEnded:                authz.Placements,
	MilestoneReached:        authz.Milestones,
	CounsellingRequested:    authz.Benefits,
	BenefitDecisionReceived: authz.Benefits,
	BenefitRecorded:         authz.Benefits,
	BenefitChanged:          authz.Benefits,
	ApplicationDecided:      authz.Funding,
	TrajectoryStopped:       authz.Funding,
	TrajectoryEnded:         authz.Funding,
	ClaimSubmitted:          authz.Funding,
	ClaimDecided:            authz.Funding,
}

// Types lists every type, in a stable order.
var Types = []Type{ClientEnrolled, ConsentGiven, ConsentRevoked, PhaseChanged, JobStarted, HoursChanged,
	WageChanged, JobEnded, MilestoneReached, CounsellingRequested, BenefitDecisionReceived, BenefitRecorded, BenefitChanged,
	ApplicationDecided, TrajectoryStopped, TrajectoryEnded, ClaimSubmitted, ClaimDecided}

// Event is one domain change as a service reports it.
type Event struct {
	Type     Type
	ClientID string
	// RegionID is the client's region; subscriptions are matched within it.
	RegionID string
	// Subject names the resource within the client, e.g. "placements/<id>".
	Subject string
	// PayerOrgID: for benefit events about one benefit, the organisation
	// that pays it.
	PayerOrgID string
	// Change is the thin payload every allowed subscriber gets: ids and what
	// changed, no personal data beyond what the section's read allows.
	Change map[string]any
	// Data is the section's data after the change, for subscribers that ask
	// for data and may read the section.
	Data any
	// OccurredAt defaults to the transaction's time.
	OccurredAt time.Time
}

// ErrInvalid: an event is incomplete; a bug in the calling service.
var ErrInvalid = errors.New("invalid outbox event")

// Add appends events in tx. source names the service (the CloudEvents
// source is derived from it).
func Add(ctx context.Context, tx pgx.Tx, source string, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	for _, e := range events {
		section, ok := Sections[e.Type]
		if !ok {
			return fmt.Errorf("%w: unknown type %q", ErrInvalid, e.Type)
		}
		if e.ClientID == "" || e.RegionID == "" {
			return fmt.Errorf("%w: %s without client or region", ErrInvalid, e.Type)
		}
		change, err := json.Marshal(orEmpty(e.Change))
		if err != nil {
			return fmt.Errorf("encode change of %s: %w", e.Type, err)
		}
		var data []byte = []byte("{}")
		if e.Data != nil {
			if data, err = json.Marshal(e.Data); err != nil {
				return fmt.Errorf("encode data of %s: %w", e.Type, err)
			}
		}
		var at *time.Time
		if !e.OccurredAt.IsZero() {
			at = &e.OccurredAt
		}
		batch.Queue(`INSERT INTO outbox.events (event_id, source, type, client_id, region_id, section, payer_org_id,
				subject, change, data, occurred_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, coalesce($11, now()))`,
			uuid.New(), source, string(e.Type), e.ClientID, e.RegionID, string(section), e.PayerOrgID,
			e.Subject, change, data, at)
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("append %d events to the outbox: %w", len(events), err)
	}
	return nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
