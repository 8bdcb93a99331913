package store

import (
	"context"
	"fmt"

	"github.com/ipsbridge/ipsbridge/services/employment/domain"
)

// Team figures, for the fidelity items the platform measures, need to know
// which clients and specialists belong to a team: as for the region
// figures (stats.go), these queries read the clients schema's
// clients.clients and clients.trajectories (team_id, specialist_id)
// read-only and return nothing but counts.

// TeamFigures are one team's job search and placement counts over a
// period.
type TeamFigures struct {
	Specialists               int
	FaceToFaceContacts        int
	Intakes, IntakesContacted int
	MeanDaysToContact         float64
	JobStarts                 int
	DistinctTitles            int
	DistinctEmployers         int
	CompetitiveStarts         int
	EmployedMonths            int
	EmployedMonthsWithContact int
}

const teamClients = `team AS (
	SELECT t.client_id, t.specialist_id FROM clients.trajectories t JOIN clients.clients c ON c.id = t.client_id
	WHERE t.team_id = $1 AND c.region_id = $2)`

// TeamFigures counts a team's (of region) figures between from and to,
// both included. A job counts as competitive when its first terms pay at
// least minWageCents an hour.
func (s *Store) TeamFigures(ctx context.Context, teamID, regionID string, from, to domain.Date, minWageCents int64) (TeamFigures, error) {
	var f TeamFigures
	var mean *float64
	err := s.pool.QueryRow(ctx, `WITH `+teamClients+`,
		specialists AS (SELECT DISTINCT specialist_id FROM team WHERE specialist_id <> ''),
		intakes AS (
			SELECT pc.client_id, (max(pc.changed_at) AT TIME ZONE 'UTC')::date AS intake
			FROM clients.phase_changes pc JOIN team USING (client_id)
			WHERE pc.to_phase = 'intake' GROUP BY pc.client_id),
		firsts AS (
			SELECT i.intake, (SELECT min(e.contact_date) FROM employment.employer_contacts e
				WHERE e.client_id = i.client_id AND e.face_to_face AND e.contact_date >= i.intake) AS first
			FROM intakes i WHERE i.intake BETWEEN $3 AND $4),
		starts AS (
			SELECT p.id, lower(btrim(p.job_title)) AS title, lower(btrim(p.employer_name)) AS employer,
				(SELECT t.hourly_wage_cents FROM employment.placement_terms t WHERE t.placement_id = p.id ORDER BY t.seq LIMIT 1) AS wage
			FROM employment.placements p JOIN team USING (client_id)
			WHERE p.start_date BETWEEN $3 AND $4)
		SELECT (SELECT count(*) FROM specialists),
			(SELECT count(*) FROM employment.employer_contacts e
			 WHERE e.face_to_face AND e.contact_date BETWEEN $3 AND $4
			   AND (e.client_id IN (SELECT client_id FROM team)
			        OR (e.client_id IS NULL AND e.specialist_id IN (SELECT specialist_id FROM specialists)))),
			(SELECT count(*) FROM firsts), (SELECT count(first) FROM firsts),
			(SELECT avg(first - intake)::float8 FROM firsts WHERE first IS NOT NULL),
			(SELECT count(*) FROM starts), (SELECT count(DISTINCT title) FROM starts),
			(SELECT count(DISTINCT employer) FROM starts), (SELECT count(*) FROM starts WHERE wage >= $5)`,
		teamID, regionID, from, to, minWageCents).Scan(&f.Specialists, &f.FaceToFaceContacts, &f.Intakes, &f.IntakesContacted, &mean,
		&f.JobStarts, &f.DistinctTitles, &f.DistinctEmployers, &f.CompetitiveStarts)
	if err != nil {
		return f, fmt.Errorf("team figures of %s: %w", teamID, err)
	}
	if mean != nil {
		f.MeanDaysToContact = *mean
	}
	// Follow-along: each of the first twelve months of every job that
	// started and was complete within the period (and before the job
	// ended), and whether a follow-along contact fell in it.
	err = s.pool.QueryRow(ctx, `WITH `+teamClients+`,
		months AS (
			SELECT p.id, p.client_id, p.end_date,
				(p.start_date + make_interval(months => g))::date AS m_start,
				(p.start_date + make_interval(months => g + 1))::date AS m_end
			FROM employment.placements p JOIN team USING (client_id), generate_series(0, 11) g)
		SELECT count(*), count(*) FILTER (WHERE EXISTS (
			SELECT 1 FROM employment.follow_along_contacts f
			WHERE f.client_id = m.client_id AND (f.placement_id IS NULL OR f.placement_id = m.id)
			  AND f.contact_date >= m.m_start AND f.contact_date < m.m_end))
		FROM months m
		WHERE m.m_start >= $3::date AND m.m_end <= $4::date + 1 AND (m.end_date IS NULL OR m.m_start <= m.end_date)`,
		teamID, regionID, from, to).Scan(&f.EmployedMonths, &f.EmployedMonthsWithContact)
	if err != nil {
		return f, fmt.Errorf("team follow-along of %s: %w", teamID, err)
	}
	return f, nil
}

// SampleActivity is one client's job search and placement counts over a
// period.
type SampleActivity struct {
	ClientID            string
	FirstContact        domain.Date // zero: none yet
	EmployerContacts    int
	JobStarts           int
	FollowAlongContacts int
}

// SampleActivities counts the activity of clients between from and to
// (both included); the first face-to-face contact is the first ever.
func (s *Store) SampleActivities(ctx context.Context, clientIDs []string, from, to domain.Date) ([]SampleActivity, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.id::text,
			(SELECT min(e.contact_date) FROM employment.employer_contacts e WHERE e.client_id = c.id AND e.face_to_face),
			(SELECT count(*) FROM employment.employer_contacts e WHERE e.client_id = c.id AND e.contact_date BETWEEN $2 AND $3),
			(SELECT count(*) FROM employment.placements p WHERE p.client_id = c.id AND p.start_date BETWEEN $2 AND $3),
			(SELECT count(*) FROM employment.follow_along_contacts f WHERE f.client_id = c.id AND f.contact_date BETWEEN $2 AND $3)
		FROM unnest($1::uuid[]) AS c(id)`, clientIDs, from, to)
	if err != nil {
		return nil, fmt.Errorf("sample activity: %w", err)
	}
	defer rows.Close()
	var out []SampleActivity
	for rows.Next() {
		var a SampleActivity
		var first *domain.Date
		if err := rows.Scan(&a.ClientID, &first, &a.EmployerContacts, &a.JobStarts, &a.FollowAlongContacts); err != nil {
			return nil, fmt.Errorf("scan sample activity: %w", err)
		}
		if first != nil {
			a.FirstContact = *first
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
