package app

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/services/clients/domain"
	"github.com/ipsbridge/ipsbridge/services/clients/store"
)

// The domain events this service writes to the outbox, each in the
// transaction of its change and after the change's row lock (every write
// of a client holds its trajectory row, see Store.Facts), so that the
// outbox order of one client's events is the order of its changes. The
// dispatcher decides at delivery time who may receive them; here every
// event is written in full: Change is thin (ids and what changed), Data the
// trajectory section (or the consent) after the change. Nothing of the
// identity section ever goes into an event.

// TrajectoryData is the trajectory section in an event's data; the keys
// are the API's.
type TrajectoryData struct {
	Phase                   string    `json:"phase"`
	TeamID                  string    `json:"team_id"`
	EmploymentSpecialistID  string    `json:"employment_specialist_id"`
	InvolvedOrganizationIDs []string  `json:"involved_organization_ids"`
	ClosingReason           string    `json:"closing_reason"`
	PhaseStartTime          time.Time `json:"phase_start_time"`
	ReferralTime            time.Time `json:"referral_time"`
	Version                 int64     `json:"version"`
}

func trajectoryData(t *domain.Trajectory) TrajectoryData {
	orgs := t.InvolvedOrgIDs
	if orgs == nil {
		orgs = []string{}
	}
	return TrajectoryData{
		Phase: string(t.Phase), TeamID: t.TeamID, EmploymentSpecialistID: t.SpecialistID, InvolvedOrganizationIDs: orgs,
		ClosingReason: t.ClosingReason, PhaseStartTime: t.PhaseStartedAt.UTC(), ReferralTime: t.ReferredAt.UTC(), Version: t.Version,
	}
}

// ConsentData is one consent in an event's data.
type ConsentData struct {
	ConsentID      string     `json:"consent_id"`
	OrganizationID string     `json:"organization_id"`
	Section        string     `json:"section"`
	GrantTime      time.Time  `json:"grant_time"`
	GrantedBy      string     `json:"granted_by"`
	RevokeTime     *time.Time `json:"revoke_time,omitempty"`
	RevokedBy      string     `json:"revoked_by,omitempty"`
	Active         bool       `json:"active"`
}

func consentData(c domain.Consent) ConsentData {
	d := ConsentData{ConsentID: c.ID, OrganizationID: c.OrgID, Section: c.Section, GrantTime: c.GrantedAt.UTC(),
		GrantedBy: c.GrantedBy, RevokedBy: c.RevokedBy, Active: c.RevokedAt == nil}
	if c.RevokedAt != nil {
		at := c.RevokedAt.UTC()
		d.RevokeTime = &at
	}
	return d
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// enrolledEvent reports a new client, with the trajectory as enrolled.
func enrolledEvent(clientID, mhaOrgID, regionID string, t *domain.Trajectory) outbox.Event {
	return outbox.Event{
		Type: outbox.ClientEnrolled, ClientID: clientID, RegionID: regionID, Subject: "trajectory",
		Change: map[string]any{
			"mha_organization_id": mhaOrgID, "team_id": t.TeamID, "phase": string(t.Phase),
			"referral_time": rfc3339(t.ReferredAt),
		},
		Data: trajectoryData(t),
	}
}

// phaseChangedEvent reports a move of the trajectory from one phase to
// another.
func phaseChangedEvent(clientID, regionID string, from domain.Phase, reason string, t *domain.Trajectory) outbox.Event {
	return outbox.Event{
		Type: outbox.PhaseChanged, ClientID: clientID, RegionID: regionID, Subject: "trajectory",
		Change: map[string]any{
			"from": string(from), "to": string(t.Phase), "reason": reason, "changed_at": rfc3339(t.PhaseStartedAt),
		},
		Data: trajectoryData(t),
	}
}

func consentSubject(c domain.Consent) string { return "consents/" + c.OrgID + "/" + c.Section }

// consentGivenEvent reports a consent recorded for one organisation and
// section.
func consentGivenEvent(regionID string, c domain.Consent) outbox.Event {
	return outbox.Event{
		Type: outbox.ConsentGiven, ClientID: c.ClientID, RegionID: regionID, Subject: consentSubject(c),
		Change: map[string]any{
			"consent_id": c.ID, "organization_id": c.OrgID, "section": c.Section,
			"recorded_by": c.GrantedBy, "recorded_at": rfc3339(c.GrantedAt),
		},
		Data: consentData(c),
	}
}

// consentRevokedEvent reports a revocation.
func consentRevokedEvent(regionID string, c domain.Consent) outbox.Event {
	ch := map[string]any{
		"consent_id": c.ID, "organization_id": c.OrgID, "section": c.Section, "revoked_by": c.RevokedBy,
	}
	if c.RevokedAt != nil {
		ch["revoked_at"] = rfc3339(*c.RevokedAt)
	}
	return outbox.Event{
		Type: outbox.ConsentRevoked, ClientID: c.ClientID, RegionID: regionID, Subject: consentSubject(c),
		Change: ch, Data: consentData(c),
	}
}

// emit appends events to the outbox in tx.
func emit(ctx context.Context, tx pgx.Tx, events ...outbox.Event) error {
	return outbox.Add(ctx, tx, ServiceName, events...)
}

// updateTrajectory is the one way the trajectory changes after enrolment:
// it locks and writes it through the store and, when the phase moved,
// writes PhaseChanged in the same transaction. fn returns the reason of a
// phase change.
func updateTrajectory(ctx context.Context, tx pgx.Tx, clientID, regionID string, version int64, by string, fn func(*domain.Trajectory) (string, error)) (*domain.Trajectory, error) {
	var from domain.Phase
	var reason string
	out, err := store.UpdateTrajectory(ctx, tx, clientID, version, by, func(t *domain.Trajectory) (string, error) {
		from = t.Phase
		var err error
		reason, err = fn(t)
		return reason, err
	})
	if err != nil {
		return nil, err
	}
	if out.Phase != from {
		if err := emit(ctx, tx, phaseChangedEvent(clientID, regionID, from, reason, out)); err != nil {
			return nil, err
		}
	}
	return out, nil
}
