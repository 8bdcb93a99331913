package access

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/authz"
)

// Querier runs the facts query: the pool, or a write's transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// facts loads what the policy needs of each existing client for a caller
// of orgID, in one statement; lock takes the trajectories' lock for a
// write (its transaction is q). An id that is not a UUID names no client.
func (p *Path) facts(ctx context.Context, q Querier, orgID string, clientIDs []string, lock bool) (map[string]authz.ClientFacts, error) {
	return Facts(ctx, q, orgID, clientIDs, lock, p.exclusive)
}

// Facts loads the access facts of clients for a caller of orgID from the
// clients schema's access_facts function (lock_access_facts with lock,
// exclusive or shared). Clients that do not exist are absent.
func Facts(ctx context.Context, q Querier, orgID string, clientIDs []string, lock, exclusive bool) (map[string]authz.ClientFacts, error) {
	ids := make([]string, 0, len(clientIDs))
	for _, id := range clientIDs {
		if _, err := uuid.Parse(id); err == nil && len(id) == 36 {
			ids = append(ids, id)
		}
	}
	out := make(map[string]authz.ClientFacts, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	const cols = `client_id, mha_org_id, region_id, team_id, specialist_id, involved_org_ids, consented_sections`
	var rows pgx.Rows
	var err error
	if lock {
		rows, err = q.Query(ctx, `SELECT `+cols+` FROM clients.lock_access_facts($1, $2, $3)`, ids, orgID, exclusive)
	} else {
		rows, err = q.Query(ctx, `SELECT `+cols+` FROM clients.access_facts($1, $2)`, ids, orgID)
	}
	if err != nil {
		return nil, fmt.Errorf("load access facts of %d clients: %w", len(ids), err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var f authz.ClientFacts
		var consented []string
		if err := rows.Scan(&id, &f.MHAOrgID, &f.RegionID, &f.TeamID, &f.SpecialistID, &f.InvolvedOrgIDs, &consented); err != nil {
			return nil, fmt.Errorf("read access facts: %w", err)
		}
		for _, c := range consented {
			f.ConsentedSections = append(f.ConsentedSections, authz.Section(c))
		}
		out[id] = f
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read access facts: %w", err)
	}
	return out, nil
}
