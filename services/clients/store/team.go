package store

import (
	"context"
	"fmt"
	"time"
)

// TeamFigures are one team's caseload and referral counts, for the
// fidelity items the platform measures; they name no client.
type TeamFigures struct {
	ActiveClients, Specialists, WithClinicalInput int
	Referrals, NotTakenOn                         int
	Reasons                                       map[string]int
}

// TeamFigures counts a team's (of region) figures: the caseload at the
// end of the period (clients who moved past referral by then and were not
// closed by then), the specialists they are assigned to and how many have
// clinical input recorded; the referrals in the period and those closed
// without ever reaching intake, by closing reason.
func (s *Store) TeamFigures(ctx context.Context, teamID, regionID string, from, to time.Time) (TeamFigures, error) {
	f := TeamFigures{Reasons: map[string]int{}}
	err := s.pool.QueryRow(ctx, `WITH team AS (
			SELECT t.client_id, t.specialist_id, t.referred_at FROM clients.trajectories t JOIN clients.clients c ON c.id = t.client_id
			WHERE t.team_id = $1 AND c.region_id = $2),
		active AS (
			SELECT team.* FROM team
			WHERE EXISTS (SELECT 1 FROM clients.phase_changes pc WHERE pc.client_id = team.client_id
			                AND pc.to_phase NOT IN ('referral', 'closed') AND (pc.changed_at AT TIME ZONE 'UTC')::date <= $3)
			  AND NOT EXISTS (SELECT 1 FROM clients.phase_changes pc WHERE pc.client_id = team.client_id
			                AND pc.to_phase = 'closed' AND (pc.changed_at AT TIME ZONE 'UTC')::date <= $3))
		SELECT (SELECT count(*) FROM active),
			(SELECT count(DISTINCT specialist_id) FROM active WHERE specialist_id <> ''),
			(SELECT count(*) FROM active a JOIN clients.clinical_inputs ci USING (client_id)
			 WHERE btrim(ci.notes) <> '' OR btrim(ci.work_considerations) <> '')`,
		teamID, regionID, to).Scan(&f.ActiveClients, &f.Specialists, &f.WithClinicalInput)
	if err != nil {
		return f, fmt.Errorf("team caseload of %s: %w", teamID, err)
	}
	rows, err := s.pool.Query(ctx, `SELECT t.client_id IS NOT NULL,
			CASE WHEN t.phase = 'closed' AND NOT EXISTS (SELECT 1 FROM clients.phase_changes pc
				WHERE pc.client_id = t.client_id AND pc.to_phase = 'intake') THEN coalesce(nullif(btrim(t.closing_reason), ''), '(no reason given)') END
		FROM clients.trajectories t JOIN clients.clients c ON c.id = t.client_id
		WHERE t.team_id = $1 AND c.region_id = $2 AND (t.referred_at AT TIME ZONE 'UTC')::date BETWEEN $3 AND $4`,
		teamID, regionID, from, to)
	if err != nil {
		return f, fmt.Errorf("team referrals of %s: %w", teamID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var one bool
		var reason *string
		if err := rows.Scan(&one, &reason); err != nil {
			return f, fmt.Errorf("scan referral: %w", err)
		}
		f.Referrals++
		if reason != nil {
			f.NotTakenOn++
			f.Reasons[*reason]++
		}
	}
	return f, rows.Err()
}

// SampledTrajectory is one sampled client's trajectory, without identity.
type SampledTrajectory struct {
	ClientID      string
	Phase         string
	Referral      time.Time
	Intake        time.Time // zero: never reached intake
	ClinicalInput bool
}

// TeamSample draws up to size of a team's clients who were in the
// caseload during the period (referred by its end, not closed before its
// start), in the order key gives them, so that a key draws the same
// sample every time.
func (s *Store) TeamSample(ctx context.Context, teamID string, from, to time.Time, key string, size int) ([]SampledTrajectory, error) {
	rows, err := s.pool.Query(ctx, `SELECT t.client_id::text, t.phase, (t.referred_at AT TIME ZONE 'UTC')::date,
			(SELECT (min(pc.changed_at) AT TIME ZONE 'UTC')::date FROM clients.phase_changes pc
			 WHERE pc.client_id = t.client_id AND pc.to_phase = 'intake'),
			EXISTS (SELECT 1 FROM clients.clinical_inputs ci WHERE ci.client_id = t.client_id
			        AND (btrim(ci.notes) <> '' OR btrim(ci.work_considerations) <> ''))
		FROM clients.trajectories t
		WHERE t.team_id = $1 AND (t.referred_at AT TIME ZONE 'UTC')::date <= $3
		  AND NOT EXISTS (SELECT 1 FROM clients.phase_changes pc WHERE pc.client_id = t.client_id
		                  AND pc.to_phase = 'closed' AND (pc.changed_at AT TIME ZONE 'UTC')::date < $2)
		ORDER BY md5($4 || t.client_id::text) LIMIT $5`, teamID, from, to, key, size)
	if err != nil {
		return nil, fmt.Errorf("team sample of %s: %w", teamID, err)
	}
	defer rows.Close()
	var out []SampledTrajectory
	for rows.Next() {
		var r SampledTrajectory
		var intake *time.Time
		if err := rows.Scan(&r.ClientID, &r.Phase, &r.Referral, &intake, &r.ClinicalInput); err != nil {
			return nil, fmt.Errorf("scan sample: %w", err)
		}
		if intake != nil {
			r.Intake = *intake
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
