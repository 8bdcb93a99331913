// Package visibility decides what an event may carry to an organisation, at
// the moment it is delivered or read from the feed, with the same policy and
// the same facts as an API read by that organisation's partner system: the
// section the event is about must be readable now, with the client's consent
// as it stands now. Deciding late is the point: a consent revoked after the
// change and before the delivery stops the delivery.
package visibility

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
)

// Event is one entry of the event log.
type Event struct {
	Position   int64
	EventID    string
	Source     string
	Type       string
	ClientID   string
	RegionID   string
	Section    string
	PayerOrgID string
	Subject    string
	Change     json.RawMessage
	Data       json.RawMessage
	OccurredAt time.Time
}

// Verdict is whether one event may go to one organisation, and why not.
type Verdict struct {
	Deliver bool
	Reason  string
}

// Judge looks up access facts and applies the policy.
type Judge struct {
	pool  *pgxpool.Pool
	az    *authz.Authorizer
	probe access.FundingProbe
}

// New returns a judge reading facts from the clients schema's
// access_facts function (the clients service's contract for this) and,
// once the funding schema exists, the funding parties.
func New(pool *pgxpool.Pool, az *authz.Authorizer) *Judge { return &Judge{pool: pool, az: az} }

// PartnerSystem is the subject an organisation's subscription acts as: its
// partner system, which may read what the policy gives partner systems.
func PartnerSystem(orgID, orgKind, regionID string) authz.Subject {
	return authz.PartnerSystem(orgID, orgKind, regionID)
}

// Judge returns one verdict per event for sub, looking up each client's
// facts once.
func (j *Judge) Judge(ctx context.Context, sub authz.Subject, events []Event) ([]Verdict, error) {
	return j.JudgeIn(ctx, j.pool, sub, events)
}

// JudgeIn is Judge reading the facts through q (e.g. the relay's
// transaction).
func (j *Judge) JudgeIn(ctx context.Context, q access.Querier, sub authz.Subject, events []Event) ([]Verdict, error) {
	var ids []string
	for _, e := range events {
		if !slices.Contains(ids, e.ClientID) {
			ids = append(ids, e.ClientID)
		}
	}
	// Funding facts: milestone and funding events follow the funded
	// relation, as the API does.
	funding, err := j.probe.Published(ctx, q)
	if err != nil {
		return nil, err
	}
	facts, err := access.FactsOf(ctx, q, sub.OrgID, ids, access.FactsOptions{Funding: funding})
	if err != nil {
		return nil, err
	}
	out := make([]Verdict, len(events))
	for i, e := range events {
		f, found := facts[e.ClientID]
		if out[i], err = j.verdict(sub, f, found, e); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (j *Judge) verdict(sub authz.Subject, f authz.ClientFacts, found bool, e Event) (Verdict, error) {
	if !found {
		return Verdict{Reason: "the client no longer exists"}, nil
	}
	sec := authz.Section(e.Section)
	ok, err := j.az.Allowed(sub, f, sec, authz.Read)
	if err != nil {
		return Verdict{}, fmt.Errorf("decide %s for %s: %w", e.Type, sub.OrgID, err)
	}
	if !ok {
		withConsent := f
		withConsent.ConsentedSections = append(slices.Clone(f.ConsentedSections), sec)
		if would, err := j.az.Allowed(sub, withConsent, sec, authz.Read); err == nil && would {
			return Verdict{Reason: fmt.Sprintf("the client has not given (or has revoked) consent for %s to see %s", sub.OrgID, sec)}, nil
		}
		return Verdict{Reason: fmt.Sprintf("%s may not read %s of this client", sub.OrgID, sec)}, nil
	}
	// Payers see only the benefits they pay, in events as in the API.
	if sec == authz.Benefits && e.PayerOrgID != "" && e.PayerOrgID != sub.OrgID && payerKind(sub.OrgKind) {
		return Verdict{Reason: "the benefit is paid by another organisation"}, nil
	}
	// Who else has consent is not the organisation's business: the API
	// shows consents only inside the MHA. A consent event goes to the
	// organisation it concerns.
	if outbox.Type(e.Type) == outbox.ConsentGiven || outbox.Type(e.Type) == outbox.ConsentRevoked {
		var c struct {
			OrganizationID string `json:"organization_id"`
		}
		if err := json.Unmarshal(e.Change, &c); err != nil || c.OrganizationID != sub.OrgID {
			return Verdict{Reason: "the consent concerns another organisation"}, nil
		}
	}
	return Verdict{Deliver: true}, nil
}

func payerKind(kind string) bool { return kind == "uwv" || kind == "municipality" }

// Payload is the data of the CloudEvent for an allowed event: the client,
// the change, and the section's data when the subscriber asked for it.
func Payload(e Event, includeData bool) map[string]any {
	p := map[string]any{"client_id": e.ClientID, "change": json.RawMessage(orEmpty(e.Change))}
	if includeData && len(e.Data) > 0 && string(e.Data) != "{}" && string(e.Data) != "null" {
		p["data"] = json.RawMessage(e.Data)
	}
	return p
}

func orEmpty(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("{}")
	}
	return b
}
