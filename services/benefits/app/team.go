package app

import (
	"context"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/access"
)

// TeamCounselling returns how many of a team's clients on benefits had
// counselling offered, between from and to (both included), for the
// fidelity items the platform measures, to a caller the shared path allows
// the team's aggregates.
func (s *Service) TeamCounselling(ctx context.Context, teamID string, from, to time.Time) (onBenefits, offered int, err error) {
	err = s.path.AggregateTeam(ctx, teamID, benefitsSection, func(_ access.Caller, regionID string) error {
		var err error
		onBenefits, offered, err = s.st.TeamCounselling(ctx, teamID, regionID, from, to)
		return err
	})
	return onBenefits, offered, err
}
