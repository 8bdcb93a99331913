package store

import (
	"context"
	"fmt"
	"time"

	"github.com/ipsbridge/ipsbridge/services/employment/domain"
)

// Region figures need to know which clients belong to a region and when
// their intake was. That is the clients service's data, and no API may hand
// a list of one region's clients to a decision maker; so these two queries
// read the clients schema's tables directly, read-only, and return nothing
// but dates. The employment service's database role needs SELECT on
// clients.clients and clients.phase_changes for them; nothing else of that
// schema is read, and the figures leave the service only through
// smallgroups.

// JobSpan is one placement of a region's client, without anything that
// names the client or the employer.
type JobSpan struct {
	Start domain.Date
	// End is zero while the job is held.
	End domain.Date
}

// RegionJobs returns the start and end dates of every placement of a
// region's clients.
func (s *Store) RegionJobs(ctx context.Context, regionID string) ([]JobSpan, error) {
	rows, err := s.pool.Query(ctx, `SELECT p.start_date, p.end_date
		FROM employment.placements p JOIN clients.clients c ON c.id = p.client_id
		WHERE c.region_id = $1`, regionID)
	if err != nil {
		return nil, fmt.Errorf("region jobs: %w", err)
	}
	defer rows.Close()
	var out []JobSpan
	for rows.Next() {
		var start time.Time
		var end *time.Time
		if err := rows.Scan(&start, &end); err != nil {
			return nil, fmt.Errorf("scan region job: %w", err)
		}
		j := JobSpan{Start: start}
		if end != nil {
			j.End = *end
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// IntakeContact is a region's client's latest intake and the first employer
// contact on or after it (zero when none yet).
type IntakeContact struct {
	Intake       domain.Date
	FirstContact domain.Date
}

// RegionIntakes returns, for every client of the region whose latest move
// to intake was on or after from, the intake date and the first employer
// contact since.
func (s *Store) RegionIntakes(ctx context.Context, regionID string, from domain.Date) ([]IntakeContact, error) {
	rows, err := s.pool.Query(ctx, `WITH intakes AS (
			SELECT pc.client_id, (max(pc.changed_at) AT TIME ZONE 'UTC')::date AS intake
			FROM clients.phase_changes pc JOIN clients.clients c ON c.id = pc.client_id
			WHERE c.region_id = $1 AND pc.to_phase = 'intake'
			GROUP BY pc.client_id)
		SELECT i.intake,
			(SELECT min(e.contact_date) FROM employment.employer_contacts e
			 WHERE e.client_id = i.client_id AND e.contact_date >= i.intake)
		FROM intakes i WHERE i.intake >= $2`, regionID, from)
	if err != nil {
		return nil, fmt.Errorf("region intakes: %w", err)
	}
	defer rows.Close()
	var out []IntakeContact
	for rows.Next() {
		var intake time.Time
		var first *time.Time
		if err := rows.Scan(&intake, &first); err != nil {
			return nil, fmt.Errorf("scan region intake: %w", err)
		}
		ic := IntakeContact{Intake: intake}
		if first != nil {
			ic.FirstContact = *first
		}
		out = append(out, ic)
	}
	return out, rows.Err()
}
