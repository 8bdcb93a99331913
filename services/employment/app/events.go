package app

import (
	"context"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/services/employment/domain"
	"github.com/ipsbridge/ipsbridge/services/employment/store"
)

// The domain events this service writes to the outbox, each in the
// transaction of its change. A write that reports events first takes the
// client's row (store.LockClient), then changes, then appends its events,
// so that one client's events are in the outbox in the order of its
// changes. The region is the client's, from the access facts of the
// request. Change is thin (ids and what changed); Data is the placement or
// milestone after the change, with the API's keys.

// TermsData is one entry of a placement's terms history.
type TermsData struct {
	EffectiveDate   string    `json:"effective_date"`
	HoursPerWeek    float64   `json:"hours_per_week"`
	HourlyWageCents int64     `json:"hourly_wage_cents"`
	RecordedBy      string    `json:"recorded_by"`
	RecordTime      time.Time `json:"record_time"`
}

// PlacementData is a placement in an event's data.
type PlacementData struct {
	PlacementID     string      `json:"placement_id"`
	EmployerName    string      `json:"employer_name"`
	JobTitle        string      `json:"job_title"`
	StartDate       string      `json:"start_date"`
	ContractKind    string      `json:"contract_kind"`
	HoursPerWeek    float64     `json:"hours_per_week"`
	HourlyWageCents int64       `json:"hourly_wage_cents"`
	TermsHistory    []TermsData `json:"terms_history"`
	EndDate         string      `json:"end_date,omitempty"`
	EndReason       string      `json:"end_reason,omitempty"`
	Active          bool        `json:"active"`
	Version         int64       `json:"version"`
	UpdateTime      time.Time   `json:"update_time"`
}

func placementData(p domain.Placement) PlacementData {
	cur := p.Current()
	d := PlacementData{
		PlacementID: p.ID, EmployerName: p.EmployerName, JobTitle: p.JobTitle, StartDate: domain.FormatDate(p.Start),
		ContractKind: string(p.ContractKind), HoursPerWeek: cur.HoursPerWeek, HourlyWageCents: cur.HourlyWageCents,
		TermsHistory: make([]TermsData, len(p.Terms)), EndDate: domain.FormatDate(p.End), EndReason: p.EndReason,
		Active: p.Active(), Version: p.Version, UpdateTime: p.UpdatedAt.UTC(),
	}
	for i, t := range p.Terms {
		d.TermsHistory[i] = TermsData{EffectiveDate: domain.FormatDate(t.Effective), HoursPerWeek: t.HoursPerWeek,
			HourlyWageCents: t.HourlyWageCents, RecordedBy: t.RecordedBy, RecordTime: t.RecordedAt.UTC()}
	}
	return d
}

// MilestoneData is an announced milestone in an event's data.
type MilestoneData struct {
	Kind              string   `json:"kind"`
	State             string   `json:"state"`
	ReachedDate       string   `json:"reached_date"`
	PlacementIDs      []string `json:"placement_ids"`
	EmployerContactID string   `json:"employer_contact_id,omitempty"`
}

func placementEvent(typ outbox.Type, regionID string, p domain.Placement, change map[string]any) outbox.Event {
	change["placement_id"] = p.ID
	change["version"] = p.Version
	return outbox.Event{Type: typ, ClientID: p.ClientID, RegionID: regionID, Subject: "placements/" + p.ID,
		Change: change, Data: placementData(p)}
}

// jobStartedEvent reports a new placement. active is the number of the
// client's placements active after it (the clients service moves the
// trajectory phase by it).
func jobStartedEvent(regionID string, p domain.Placement, active int) outbox.Event {
	return placementEvent(outbox.JobStarted, regionID, p, map[string]any{"start_date": domain.FormatDate(p.Start),
		"active_placements": active})
}

// termsEvents reports a terms change: HoursChanged and WageChanged, each
// only when its value changed from what was in effect on the effective
// date before.
func termsEvents(regionID string, p domain.Placement, old, t domain.Terms) []outbox.Event {
	var evs []outbox.Event
	eff := domain.FormatDate(t.Effective)
	if old.HoursPerWeek != t.HoursPerWeek {
		evs = append(evs, placementEvent(outbox.HoursChanged, regionID, p, map[string]any{
			"effective_date": eff, "old_hours_per_week": old.HoursPerWeek, "new_hours_per_week": t.HoursPerWeek,
		}))
	}
	if old.HourlyWageCents != t.HourlyWageCents {
		evs = append(evs, placementEvent(outbox.WageChanged, regionID, p, map[string]any{
			"effective_date": eff, "old_hourly_wage_cents": old.HourlyWageCents, "new_hourly_wage_cents": t.HourlyWageCents,
		}))
	}
	return evs
}

// jobEndedEvent reports the end of a placement, with the number of the
// client's placements still active after it.
func jobEndedEvent(regionID string, p domain.Placement, active int) outbox.Event {
	return placementEvent(outbox.JobEnded, regionID, p, map[string]any{
		"end_date": domain.FormatDate(p.End), "end_reason": p.EndReason, "active_placements": active,
	})
}

// milestoneEvent reports a milestone announced for the first time.
func milestoneEvent(regionID string, a store.Announcement) outbox.Event {
	ids := a.PlacementIDs
	if ids == nil {
		ids = []string{}
	}
	change := map[string]any{"kind": string(a.Kind), "reached_date": domain.FormatDate(a.ReachedOn)}
	if len(ids) > 0 {
		change["placement_ids"] = ids
	}
	if a.EmployerContactID != "" {
		change["employer_contact_id"] = a.EmployerContactID
	}
	return outbox.Event{
		Type: outbox.MilestoneReached, ClientID: a.ClientID, RegionID: regionID, Subject: "milestones/" + string(a.Kind),
		Change: change,
		Data: MilestoneData{Kind: string(a.Kind), State: string(domain.Reached), ReachedDate: domain.FormatDate(a.ReachedOn),
			PlacementIDs: ids, EmployerContactID: a.EmployerContactID},
	}
}

// emit appends events to the outbox in tx.
func emit(ctx context.Context, tx pgx.Tx, events ...outbox.Event) error {
	return outbox.Add(ctx, tx, ServiceName, events...)
}

// announce records a reached milestone and reports it, unless it was
// announced before.
func announce(ctx context.Context, tx pgx.Tx, regionID string, a store.Announcement) (bool, error) {
	first, err := store.Announce(ctx, tx, a)
	if err != nil || !first {
		return false, err
	}
	return true, emit(ctx, tx, milestoneEvent(regionID, a))
}

// placementMilestones are the milestones derived from placements alone.
var placementMilestones = []domain.MilestoneKind{domain.JobStart, domain.Employed3Months, domain.Employed6Months}

// announcePlacementMilestones announces the job start and continuous
// employment milestones the client's placements have reached as of now.
// The caller holds the client's row, so the placements read here are the
// latest and no other writer announces for the client meanwhile.
func announcePlacementMilestones(ctx context.Context, tx pgx.Tx, clientID, regionID string, now time.Time) (int, error) {
	ps, err := store.Placements(ctx, tx, []string{clientID}, "", false)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range domain.Milestones(domain.Date{}, nil, ps, now) {
		if m.State != domain.Reached || !slices.Contains(placementMilestones, m.Kind) {
			continue
		}
		first, err := announce(ctx, tx, regionID, store.Announcement{ClientID: clientID, Kind: m.Kind, ReachedOn: m.Reached,
			PlacementIDs: domain.Evidence(m, ps)})
		if err != nil {
			return n, err
		}
		if first {
			n++
		}
	}
	return n, nil
}

// announceFirstContact announces the first employer contact milestone when
// the client's contacts, with the given intake date, reach it now.
func announceFirstContact(ctx context.Context, tx pgx.Tx, clientID, regionID string, intake domain.Date, now time.Time) error {
	if intake.IsZero() {
		return nil
	}
	contacts, err := store.ContactDatesTx(ctx, tx, clientID)
	if err != nil {
		return err
	}
	var m domain.Milestone
	for _, x := range domain.Milestones(intake, contacts, nil, now) {
		if x.Kind == domain.FirstEmployerContact {
			m = x
		}
	}
	if m.State != domain.Reached {
		return nil
	}
	contactID, err := store.FirstContactOn(ctx, tx, clientID, m.Reached)
	if err != nil {
		return err
	}
	_, err = announce(ctx, tx, regionID, store.Announcement{ClientID: clientID, Kind: m.Kind, ReachedOn: m.Reached, EmployerContactID: contactID})
	return err
}
