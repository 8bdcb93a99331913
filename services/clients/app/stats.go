package app

import (
	"context"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/smallgroups"
	"github.com/ipsbridge/ipsbridge/services/clients/domain"
	"github.com/ipsbridge/ipsbridge/services/clients/store"
)

// Phases are the trajectory phases in their IPS order.
var Phases = []domain.Phase{domain.Referral, domain.Intake, domain.JobSearch, domain.Employed, domain.FollowAlong, domain.Closed}

// RegionStatistics are a region's figures that name no client, small groups
// already suppressed.
type RegionStatistics struct {
	RegionID   string
	Phases     []smallgroups.Cell // in the order of Phases
	Total      smallgroups.Cell
	ComputedAt time.Time
}

// RegionStatistics returns the figures of a region (the caller's own when
// regionID is empty) for a caller the policy allows the aggregate action on
// the trajectory section there. One audit record, naming no client, notes
// the access.
func (s *Service) RegionStatistics(ctx context.Context, regionID string) (RegionStatistics, error) {
	var out RegionStatistics
	err := s.path.Aggregate(ctx, regionID, []authz.Section{authz.Trajectory}, func(_ access.Caller, regionID string) error {
		counts, err := s.st.PhaseCounts(ctx, regionID)
		if err != nil {
			return err
		}
		ns := make([]int, len(Phases))
		for i, ph := range Phases {
			ns[i] = counts[ph]
		}
		out = RegionStatistics{RegionID: regionID, ComputedAt: time.Now()}
		out.Phases, out.Total = smallgroups.WithTotal(ns)
		return nil
	})
	return out, err
}

// TeamFigures returns one team's caseload and referral counts between from
// and to (both included), for the fidelity items the platform measures, to
// a caller the shared path allows the team's aggregates.
func (s *Service) TeamFigures(ctx context.Context, teamID string, from, to time.Time) (store.TeamFigures, error) {
	var out store.TeamFigures
	err := s.path.AggregateTeam(ctx, teamID, []authz.Section{authz.Trajectory}, func(_ access.Caller, regionID string) error {
		var err error
		out, err = s.st.TeamFigures(ctx, teamID, regionID, from, to)
		return err
	})
	return out, err
}

// TeamSample returns a sample of a team's trajectories for a fidelity
// chart review: only the clients whose trajectory the caller may read (the
// reviewer of an open review of the team, by the shared policy's "review"
// relation), each read audited; identity is never part of it.
func (s *Service) TeamSample(ctx context.Context, teamID string, from, to time.Time, key string, size int) ([]store.SampledTrajectory, error) {
	drawn, err := s.st.TeamSample(ctx, teamID, from, to, key, size)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(drawn))
	for i, r := range drawn {
		ids[i] = r.ClientID
	}
	var out []store.SampledTrajectory
	op := access.Op{Action: "read", Sections: []authz.Section{authz.Trajectory}, Reason: "fidelity chart review of team " + teamID}
	err = s.path.ReadMany(ctx, ids, op, func(allowed map[string]*access.Access) error {
		for _, r := range drawn {
			if a := allowed[r.ClientID]; a != nil {
				a.Touch(authz.Trajectory)
				out = append(out, r)
			}
		}
		return nil
	})
	return out, err
}
