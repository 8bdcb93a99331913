package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/consumer"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/services/benefits/domain"
)

// JobConsumer is the consumer that tells the benefits counsellor and the
// paying organisations of every job start, hours or wage change and job
// end the employment service commits (issue 16): once per event, whether
// or not anyone reports it by hand.
// JobConsumerName is the job consumer's cursor.
const JobConsumerName = "benefits.jobs"

func (s *Service) JobConsumer() consumer.Config {
	return consumer.Config{Name: JobConsumerName, Handle: s.jobEvent,
		Types: []outbox.Type{outbox.JobStarted, outbox.HoursChanged, outbox.WageChanged, outbox.JobEnded}}
}

// jobEventKinds maps the employment events to job change kinds.
var jobEventKinds = map[outbox.Type]string{
	outbox.JobStarted: "started", outbox.HoursChanged: "hours_changed", outbox.WageChanged: "wage_changed", outbox.JobEnded: "ended",
}

// placementEvent is what jobEvent reads of a placement event: the change
// (its date and new values) and the placement after it (the employment
// service's PlacementData).
type placementEvent struct {
	change struct {
		PlacementID        string   `json:"placement_id"`
		StartDate          string   `json:"start_date"`
		EffectiveDate      string   `json:"effective_date"`
		EndDate            string   `json:"end_date"`
		NewHoursPerWeek    *float64 `json:"new_hours_per_week"`
		NewHourlyWageCents *int64   `json:"new_hourly_wage_cents"`
	}
	data struct {
		HoursPerWeek    float64 `json:"hours_per_week"`
		HourlyWageCents int64   `json:"hourly_wage_cents"`
	}
}

// jobChangeOf reads a job change from an employment event.
func jobChangeOf(e consumer.Event) (JobChange, error) {
	var p placementEvent
	if err := e.DecodeChange(&p.change); err != nil {
		return JobChange{}, err
	}
	if err := e.DecodeData(&p.data); err != nil {
		return JobChange{}, err
	}
	jc := JobChange{ClientID: e.ClientID, Kind: jobEventKinds[e.Type], EventID: e.EventID, PlacementID: p.change.PlacementID,
		HoursPerWeek: p.data.HoursPerWeek, HourlyWageCents: p.data.HourlyWageCents, ReportedBy: "employment"}
	// The new value of the change itself, which a later-dated terms row
	// would hide in the placement's current terms.
	if p.change.NewHoursPerWeek != nil {
		jc.HoursPerWeek = *p.change.NewHoursPerWeek
	}
	if p.change.NewHourlyWageCents != nil {
		jc.HourlyWageCents = *p.change.NewHourlyWageCents
	}
	on := map[outbox.Type]string{outbox.JobStarted: p.change.StartDate, outbox.HoursChanged: p.change.EffectiveDate,
		outbox.WageChanged: p.change.EffectiveDate, outbox.JobEnded: p.change.EndDate}[e.Type]
	eff, err := domain.ParseDate("date of "+string(e.Type), on)
	if err != nil {
		// Not from an event this service understands: the occurrence
		// date is the best there is.
		eff = e.OccurredAt.UTC().Truncate(24 * time.Hour)
	}
	jc.Effective = eff
	return jc, nil
}

// jobEvent records one job event's change and its task and notices in the
// consumer's transaction, audited as the platform acting on the event.
func (s *Service) jobEvent(ctx context.Context, tx pgx.Tx, e consumer.Event) error {
	jc, err := jobChangeOf(e)
	if err != nil {
		return err
	}
	c := access.System("benefits-jobs", e.EventID, "tell the counsellor and the payers of a job change")
	op := access.Writing("create", authz.Benefits, authz.Placements)
	err = s.path.WriteAsSystem(ctx, tx, c, e.ClientID, op, func(ctx context.Context, tx pgx.Tx, facts authz.ClientFacts) (bool, string, error) {
		_, n, fresh, err := s.recordJobChange(ctx, tx, jc, facts)
		return fresh, fmt.Sprintf("job change %s: %d counsellor task, %d payer notices", jc.Kind, len(n.Tasks), len(n.Notices)), err
	})
	if errors.Is(err, access.ErrNoClient) {
		return nil
	}
	return err
}
