package audit

import (
	"context"
	"fmt"
)

// coverWindow is how many of a client's newest records Covering looks at.
// A record that covers a request was written moments before, by the same
// request; only other people's accesses to the same client in those
// moments come between, so a short window bounds the cost without missing
// it in practice (a miss only writes one record more).
const coverWindow = 32

// Covering returns, per client, the sections already recorded as allowed
// for this request id and actor in the last few minutes: what a request
// that reads a client in several services has recorded once for all of
// them (see access.CoverSections). Clients without such a record are
// absent. One statement whatever the number of clients; each client's
// newest records only.
func Covering(ctx context.Context, q Querier, requestID, actorID string, clientIDs []string) (map[string][]string, error) {
	out := map[string][]string{}
	if requestID == "" || actorID == "" || len(clientIDs) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT id, array_agg(DISTINCT s)
		FROM unnest($1::text[]) AS id,
		LATERAL (SELECT e.request_id, e.actor_id, e.outcome, e.occurred_at, e.sections
		           FROM audit.events e WHERE e.client_id = id
		          ORDER BY e.seq DESC LIMIT $4) r,
		unnest(r.sections) AS s
		WHERE r.request_id = $2 AND r.actor_id = $3 AND r.outcome = 'allowed'
		  AND r.occurred_at > now() - interval '5 minutes'
		GROUP BY id`, clientIDs, requestID, actorID, coverWindow)
	if err != nil {
		return nil, fmt.Errorf("audit: find the records covering request %s: %w", requestID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var secs []string
		if err := rows.Scan(&id, &secs); err != nil {
			return nil, fmt.Errorf("audit: scan covering record: %w", err)
		}
		out[id] = secs
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: find the records covering request %s: %w", requestID, err)
	}
	return out, nil
}
