// Package app holds the funding service's use cases, on the shared request
// path (internal/access): every read and write of a client's funding
// section is decided there and audited once per client.
//
// Row-level rules on top of the policy:
//   - an agreement, and everything under it, exists only for the
//     organisations party to it (its funder and its MHA); for the funder
//     an application exists from its submission on, a claim from its
//     submission on;
//   - each step of the paperwork is taken by the role that owns it: the
//     client's employment specialist drafts the application and records
//     the client's signature; the MHA's funding officer signs for the MHA,
//     submits, starts, stops and ends trajectories and prepares and
//     submits claims; the funder's funding officer creates agreements,
//     decides applications and claim lines, pays claims and makes the
//     final determination.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/services/funding/domain"
	"github.com/ipsbridge/ipsbridge/services/funding/store"
)

// ServiceName is how this service signs its audit records and events.
const ServiceName = "funding"

// Officer is the role that manages an organisation's funding.
const Officer = "funding_officer"

// Specialist is the MHA role that prepares an application with the client.
const Specialist = "employment_specialist"

// WorkSource gives the clients' work histories (the employment service,
// asked with the caller's own token: it decides and audits the read).
type WorkSource interface {
	WorkHistories(ctx context.Context, clientIDs []string) (map[string][]domain.Work, error)
}

// BenefitSource gives a client's active benefits (the benefits service,
// asked with the caller's own token).
type BenefitSource interface {
	ActiveBenefits(ctx context.Context, clientID string) ([]domain.Benefit, error)
}

// Service is the funding service's application layer.
type Service struct {
	st       *store.Store
	path     *access.Path
	work     WorkSource
	benefits BenefitSource
	log      *slog.Logger
	now      func() time.Time
}

// New returns the application layer; now is the clock (time.Now when nil).
func New(st *store.Store, path *access.Path, work WorkSource, benefits BenefitSource, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, path: path, work: work, benefits: benefits, log: log, now: now}
}

// Today is the current civil date by the service's clock.
func (s *Service) Today() domain.Date { return domain.Today(s.now()) }

// Key is an idempotency key with its request's fingerprint.
type Key struct {
	RequestID   string
	Fingerprint []byte
}

// once runs an idempotent write through the shared idempotency store: a
// retry with the same key returns the id the first request produced and
// runs nothing.
func once(ctx context.Context, tx pgx.Tx, actor, method string, k Key, do func() (string, error)) (id string, replay bool, err error) {
	key := idempotency.Key{ActorID: actor, Method: method, Key: k.RequestID, Request: k.Fingerprint}
	r, replay, err := store.Keys.Once(ctx, tx, key, func() (idempotency.Result, error) {
		id, err := do()
		return idempotency.Result{ResourceID: id}, err
	})
	return r.ResourceID, replay, err
}

var fundingSection = []authz.Section{authz.Funding}

func denied(format string, args ...any) error {
	return fmt.Errorf("%w: %s", domain.ErrPermissionDenied, fmt.Sprintf(format, args...))
}

// officerOf reports whether the caller is org's funding officer.
func officerOf(c access.Caller, org string) bool { return c.Sub.Role == Officer && c.Sub.OrgID == org }

// party loads an agreement the caller's organisation is party to; to
// anyone else it does not exist.
func party(ctx context.Context, q store.Q, c access.Caller, id string) (domain.Agreement, error) {
	ag, err := store.Agreement(ctx, q, id)
	if err != nil {
		return ag, err
	}
	if !ag.Party(c.Sub.OrgID) {
		return domain.Agreement{}, fmt.Errorf("agreement %s: %w", id, domain.ErrNotFound)
	}
	return ag, nil
}

// agreementFor is party for a use case: a refusal (an agreement that does
// not exist for the caller) is audited.
func (s *Service) agreementFor(ctx context.Context, q store.Q, c access.Caller, id, action string) (domain.Agreement, error) {
	ag, err := party(ctx, q, c, id)
	if errors.Is(err, domain.ErrNotFound) {
		return ag, s.refuseOrg(ctx, c, action, err)
	}
	return ag, err
}

// visible reports whether the caller's organisation may know of an
// application: the MHA always (its staff are then decided per client), the
// funder from the submission on.
func visible(c access.Caller, ag domain.Agreement, a domain.Application) bool {
	return c.Sub.OrgID == ag.MHAOrgID || (c.Sub.OrgID == ag.FunderOrgID && a.State.SeenByFunder())
}

// recordOrg audits an access that names no client (agreements, budgets).
func (s *Service) recordOrg(ctx context.Context, c access.Caller, action, reason string) error {
	return s.path.Record(ctx, c.Event(ServiceName, "", fundingSection, action, audit.Allowed, reason))
}

// refuseOrg audits a refusal that names no client and returns err.
func (s *Service) refuseOrg(ctx context.Context, c access.Caller, action string, err error) error {
	return s.path.RefuseCaller(ctx, c, "", access.Op{Action: action, Sections: fundingSection}, err)
}

// ApplicationData is an application in an event's data.
type ApplicationData struct {
	ApplicationID  string `json:"application_id"`
	AgreementID    string `json:"agreement_id"`
	State          string `json:"state"`
	DecisionDate   string `json:"decision_date,omitempty"`
	DecisionReason string `json:"decision_reason,omitempty"`
	FundedUntil    string `json:"funded_until,omitempty"`
	StopDate       string `json:"stop_date,omitempty"`
	StopReason     string `json:"stop_reason,omitempty"`
	EndDate        string `json:"end_date,omitempty"`
	Version        int64  `json:"version"`
}

func applicationEvent(typ outbox.Type, regionID string, a domain.Application) outbox.Event {
	d := ApplicationData{ApplicationID: a.ID, AgreementID: a.AgreementID, State: string(a.State),
		DecisionDate: domain.FormatDate(a.DecisionOn), DecisionReason: a.DecisionReason, FundedUntil: domain.FormatDate(a.FundedUntil),
		StopDate: domain.FormatDate(a.StopOn), StopReason: a.StopReason, EndDate: domain.FormatDate(a.EndOn), Version: a.Version}
	return outbox.Event{Type: typ, ClientID: a.ClientID, RegionID: regionID, Subject: "trajectoryApplications/" + a.ID,
		Change: map[string]any{"application_id": a.ID, "state": string(a.State), "version": a.Version}, Data: d}
}
