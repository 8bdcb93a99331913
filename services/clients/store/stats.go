package store

import (
	"context"
	"fmt"

	"github.com/ipsbridge/ipsbridge/services/clients/domain"
)

// PhaseCounts returns the number of trajectories per phase of a region's
// clients. Phases without clients are absent. The figures leave the service
// only through smallgroups.
func (s *Store) PhaseCounts(ctx context.Context, regionID string) (map[domain.Phase]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT t.phase, count(*)
		FROM clients.trajectories t JOIN clients.clients c ON c.id = t.client_id
		WHERE c.region_id = $1
		GROUP BY t.phase`, regionID)
	if err != nil {
		return nil, fmt.Errorf("count phases: %w", err)
	}
	defer rows.Close()
	out := map[domain.Phase]int{}
	for rows.Next() {
		var phase string
		var n int
		if err := rows.Scan(&phase, &n); err != nil {
			return nil, fmt.Errorf("scan phase count: %w", err)
		}
		out[domain.Phase(phase)] = n
	}
	return out, rows.Err()
}
