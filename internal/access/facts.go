package access

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

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
	funding, err := p.fundingPublished(ctx, q)
	if err != nil {
		return nil, err
	}
	return FactsOf(ctx, q, orgID, clientIDs, FactsOptions{Lock: lock, Exclusive: p.exclusive, Funding: funding})
}

// fundingRecheck is how often a probe looks again for the funding schema
// while it is not there.
const fundingRecheck = 10 * time.Second

// FundingProbe tells whether the funding schema publishes the funding
// parties yet. Until the funding service has migrated the database nobody
// stands in the funded relation: the relation only ever adds access, so its
// absence fails closed, and the probe looks again now and then instead of
// failing every request. The zero value is ready to use; safe for
// concurrent use.
type FundingProbe struct {
	found atomic.Bool
	asked atomic.Int64 // unix nanoseconds of the last look
	log   *slog.Logger
}

// Published reports whether funding.parties exists, asking q at most every
// fundingRecheck until it does.
func (p *FundingProbe) Published(ctx context.Context, q Querier) (bool, error) {
	if p.found.Load() {
		return true, nil
	}
	now := time.Now().UnixNano()
	if last := p.asked.Load(); last != 0 && time.Duration(now-last) < fundingRecheck {
		return false, nil
	}
	p.asked.Store(now)
	rows, err := q.Query(ctx, `SELECT to_regprocedure('funding.parties(text[])') IS NOT NULL`)
	if err != nil {
		return false, fmt.Errorf("look for the funding schema: %w", err)
	}
	found, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[bool])
	if err != nil {
		return false, fmt.Errorf("look for the funding schema: %w", err)
	}
	if found {
		p.found.Store(true)
	} else if p.log != nil {
		p.log.WarnContext(ctx, "funding schema not migrated yet: no caller stands in the funded relation")
	}
	return found, nil
}

// fundingPublished reports whether the path wants funding facts and the
// funding schema publishes them.
func (p *Path) fundingPublished(ctx context.Context, q Querier) (bool, error) {
	if !p.funding {
		return false, nil
	}
	return p.probe.Published(ctx, q)
}

// FactsOptions say how Facts loads.
type FactsOptions struct {
	// Lock takes the trajectories' lock for a write (q is its
	// transaction), exclusively with Exclusive, else shared.
	Lock, Exclusive bool
	// Funding adds the funding parties of each client (FundingOrgIDs) from
	// the funding schema's published function funding.parties, in the same
	// statement; the funding schema must then exist in the database.
	Funding bool
}

// Facts loads the access facts of clients for a caller of orgID from the
// clients schema's access_facts function (lock_access_facts with lock,
// exclusive or shared). Clients that do not exist are absent.
func Facts(ctx context.Context, q Querier, orgID string, clientIDs []string, lock, exclusive bool) (map[string]authz.ClientFacts, error) {
	return FactsOf(ctx, q, orgID, clientIDs, FactsOptions{Lock: lock, Exclusive: exclusive})
}

// FactsOf is Facts with options.
func FactsOf(ctx context.Context, q Querier, orgID string, clientIDs []string, o FactsOptions) (map[string]authz.ClientFacts, error) {
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
	const cols = `f.client_id, f.mha_org_id, f.region_id, f.team_id, f.specialist_id, f.involved_org_ids, f.consented_sections`
	from := `clients.access_facts($1, $2) f`
	args := []any{ids, orgID}
	if o.Lock {
		from = `clients.lock_access_facts($1, $2, $3) f`
		args = append(args, o.Exclusive)
	}
	funding := `'{}'::text[]`
	if o.Funding {
		funding = `COALESCE(p.org_ids, '{}')`
		from += ` LEFT JOIN funding.parties($1) p ON p.client_id = f.client_id`
	}
	rows, err := q.Query(ctx, `SELECT `+cols+`, `+funding+` FROM `+from, args...)
	if err != nil {
		return nil, fmt.Errorf("load access facts of %d clients: %w", len(ids), err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var f authz.ClientFacts
		var consented []string
		if err := rows.Scan(&id, &f.MHAOrgID, &f.RegionID, &f.TeamID, &f.SpecialistID, &f.InvolvedOrgIDs, &consented, &f.FundingOrgIDs); err != nil {
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
