package store

import (
	"context"
	"fmt"
	"time"
)

// TeamCounselling counts, for the fidelity items the platform measures,
// the team's (of region) clients with a benefit running at some time
// between from and to, and how many of them had counselling requested by
// to. Which clients are in a team is the clients schema's: this query
// reads clients.clients and clients.trajectories read-only, as the region
// figures of the employment service do, and returns two counts.
func (s *Store) TeamCounselling(ctx context.Context, teamID, regionID string, from, to time.Time) (onBenefits, offered int, err error) {
	err = s.pool.QueryRow(ctx, `WITH team AS (
			SELECT t.client_id FROM clients.trajectories t JOIN clients.clients c ON c.id = t.client_id
			WHERE t.team_id = $1 AND c.region_id = $2),
		on_benefits AS (
			SELECT DISTINCT b.client_id FROM benefits.benefits b JOIN team USING (client_id)
			WHERE b.start_date <= $4 AND (b.end_date IS NULL OR b.end_date >= $3))
		SELECT count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM benefits.counselling_requests r
			WHERE r.client_id = o.client_id AND (r.created_at AT TIME ZONE 'UTC')::date <= $4))
		FROM on_benefits o`, teamID, regionID, from, to).Scan(&onBenefits, &offered)
	if err != nil {
		return 0, 0, fmt.Errorf("team counselling of %s: %w", teamID, err)
	}
	return onBenefits, offered, nil
}
