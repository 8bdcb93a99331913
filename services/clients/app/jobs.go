package app

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/consumer"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/services/clients/domain"
	"github.com/ipsbridge/ipsbridge/services/clients/store"
)

// PhaseConsumer is the consumer that makes the trajectory phase follow the
// client's jobs (domain.PhaseForJobs): it reacts to the employment
// service's job start and job end events, so that a committed job start
// moves the phase whether or not its caller is still there to ask.
func (s *Service) PhaseConsumer() consumer.Config {
	return consumer.Config{Name: PhaseConsumerName, Types: []outbox.Type{outbox.JobStarted, outbox.JobEnded}, Handle: s.followJobs}
}

// PhaseConsumerName is the phase consumer's cursor.
const PhaseConsumerName = "clients.phase"

// jobChange is what followJobs reads of a job event's change.
type jobChange struct {
	// ActivePlacements is the number of the client's placements still
	// active after the change; absent in events written before it was
	// added.
	ActivePlacements *int `json:"active_placements"`
}

// followJobs applies one job event in the consumer's transaction. It
// looks at the phase as it is now, under the trajectory's lock, so a
// replayed event or one whose effect a specialist already made changes
// nothing and reports nothing.
func (s *Service) followJobs(ctx context.Context, tx pgx.Tx, e consumer.Event) error {
	var ch jobChange
	if err := e.DecodeChange(&ch); err != nil {
		return err
	}
	active := 0
	switch {
	case ch.ActivePlacements != nil:
		active = *ch.ActivePlacements
	case e.Type == outbox.JobStarted:
		active = 1
	default:
		return nil // an older job end: whether another job is active is unknown
	}
	c := access.System("phase", e.EventID, "the trajectory follows the client's jobs")
	op := access.Writing("write", authz.Trajectory)
	err := s.path.WriteAsSystem(ctx, tx, c, e.ClientID, op, func(ctx context.Context, tx pgx.Tx, facts authz.ClientFacts) (bool, string, error) {
		cur, err := store.Trajectory(ctx, tx, e.ClientID)
		if err != nil {
			return false, "", err
		}
		to, reason, move := domain.PhaseForJobs(cur.Phase, active)
		if !move {
			return false, "", nil
		}
		_, err = updateTrajectory(ctx, tx, e.ClientID, facts.RegionID, cur.Version, c.Sub.UserID, func(t *domain.Trajectory) (string, error) {
			if err := domain.CheckTransition(t.Phase, to, reason); err != nil {
				return "", err
			}
			t.Phase, t.ClosingReason = to, ""
			return reason, nil
		})
		return err == nil, "phase " + string(to) + ": " + reason, err
	})
	if errors.Is(err, access.ErrNoClient) {
		return nil // nothing to follow
	}
	return err
}
