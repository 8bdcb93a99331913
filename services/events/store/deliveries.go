package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/services/events/visibility"
)

// Target is where a delivery goes, with the keys that sign it.
type Target struct {
	SubscriptionID string
	OrgID          string
	OrgKind        string
	RegionID       string
	URL            string
	IncludeData    bool
	// CreatedBy is the person who made the subscription: deliveries are
	// audited on their behalf.
	CreatedBy string
	// Hosts are the organisation's registered webhook hosts: data goes
	// only to an endpoint on one of them.
	Hosts []string
	// Secrets are the unexpired signing secrets (whsec_… or whsk_…),
	// newest first.
	Secrets []string
}

// Claimed is a delivery leased to one worker.
type Claimed struct {
	DeliveryID     int64
	Attempt        int
	FirstAttemptAt time.Time
	Event          visibility.Event
	Target         Target
}

// Claim leases up to limit due deliveries to worker for lease. Only the
// oldest pending delivery of each (subscription, client) line is due, so a
// client's events go out one at a time and in order, and a delivery being
// retried holds back the client's later ones. SKIP LOCKED and the lease keep
// two dispatchers from taking the same delivery; a lease that runs out (a
// dispatcher died) makes the delivery due again.
func (s *Store) Claim(ctx context.Context, worker string, lease time.Duration, limit int) ([]Claimed, error) {
	rows, err := s.pool.Query(ctx, `
		WITH heads AS (
			SELECT d.id FROM events.deliveries d
			JOIN events.subscriptions s ON s.id = d.subscription_id AND s.active
			WHERE d.state = 'pending' AND d.next_attempt_at <= now()
				AND (d.lease_until IS NULL OR d.lease_until < now())
				AND NOT EXISTS (SELECT 1 FROM events.deliveries e
					WHERE e.subscription_id = d.subscription_id AND e.client_id = d.client_id
						AND e.state = 'pending' AND e.position < d.position)
			ORDER BY d.next_attempt_at, d.position
			LIMIT $3
			FOR UPDATE OF d SKIP LOCKED
		)
		UPDATE events.deliveries d
		SET lease_owner = $1, lease_until = now() + $2::interval, attempts = d.attempts + 1,
			first_attempt_at = coalesce(d.first_attempt_at, now())
		FROM heads WHERE d.id = heads.id
		RETURNING d.id, d.attempts, d.first_attempt_at, d.position, d.subscription_id::text`,
		worker, lease, limit)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	var out []Claimed
	var positions []int64
	subs := map[string]bool{}
	for rows.Next() {
		var c Claimed
		if err := rows.Scan(&c.DeliveryID, &c.Attempt, &c.FirstAttemptAt, &c.Event.Position, &c.Target.SubscriptionID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read claimed delivery: %w", err)
		}
		out = append(out, c)
		positions = append(positions, c.Event.Position)
		subs[c.Target.SubscriptionID] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	events, err := s.Events(ctx, positions)
	if err != nil {
		return nil, err
	}
	targets, err := s.targets(ctx, subs)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Event = events[out[i].Event.Position]
		out[i].Target = targets[out[i].Target.SubscriptionID]
	}
	return out, nil
}

func (s *Store) targets(ctx context.Context, ids map[string]bool) (map[string]Target, error) {
	var list []string
	for id := range ids {
		list = append(list, id)
	}
	rows, err := s.pool.Query(ctx, `SELECT s.id::text, s.org_id, s.org_kind, s.region_id, s.url, s.include_data,
			s.created_by, clients.webhook_hosts_of(s.org_id),
			ARRAY(SELECT k.secret FROM events.signing_keys k
				WHERE k.subscription_id = s.id AND (k.expires_at IS NULL OR k.expires_at > now())
				ORDER BY k.key_id DESC)
		FROM events.subscriptions s WHERE s.id = ANY ($1::uuid[])`, list)
	if err != nil {
		return nil, fmt.Errorf("load subscriptions: %w", err)
	}
	defer rows.Close()
	out := map[string]Target{}
	for rows.Next() {
		var t Target
		if err := rows.Scan(&t.SubscriptionID, &t.OrgID, &t.OrgKind, &t.RegionID, &t.URL, &t.IncludeData,
			&t.CreatedBy, &t.Hosts, &t.Secrets); err != nil {
			return nil, fmt.Errorf("read subscription: %w", err)
		}
		out[t.SubscriptionID] = t
	}
	return out, rows.Err()
}

// Delivery states.
const (
	Pending   = "pending"
	Delivered = "delivered"
	Dead      = "dead"
	// Withheld is a result only: a withheld delivery is deleted, never
	// kept in this state.
	Withheld = "withheld"
)

// Attempt is one try at sending, as recorded.
type Attempt struct {
	Worker     string
	StartedAt  time.Time
	Duration   time.Duration
	StatusCode int
	Error      string
	Response   string
}

// Result is what became of a claimed delivery.
type Result struct {
	DeliveryID int64
	Attempt    int
	Worker     string
	// Sent is the attempt, when a request was made (not for withheld).
	Sent *Attempt
	// State is the delivery's new state; Pending means retry at NextAttempt.
	State       string
	NextAttempt time.Time
	Reason      string
	// DisableSubscription, when set, switches the subscription off with
	// this reason (the endpoint answered 410 Gone).
	DisableSubscription string
	// Audit, when set, is recorded in the same transaction: a delivery
	// disclosed client data to an organisation, or was refused.
	Audit *audit.Event
}

// ErrLeaseLost: another worker took the delivery over after this worker's
// lease ran out; its result stands and this one is dropped (the attempt is
// still recorded).
var ErrLeaseLost = errors.New("delivery lease lost")

// Finish records the attempt and the delivery's new state, if the worker
// still holds the delivery.
func (s *Store) Finish(ctx context.Context, r Result) error {
	lost := false
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if a := r.Sent; a != nil {
			if _, err := tx.Exec(ctx, `INSERT INTO events.attempts (delivery_id, attempt, worker, started_at, duration_ms,
					status_code, error, response) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT (delivery_id, attempt) DO NOTHING`,
				r.DeliveryID, r.Attempt, r.Worker, a.StartedAt, a.Duration.Milliseconds(), a.StatusCode,
				truncate(a.Error, 1000), truncate(a.Response, 1000)); err != nil {
				return fmt.Errorf("record attempt %d of delivery %d: %w", r.Attempt, r.DeliveryID, err)
			}
		}
		if r.State == Withheld {
			// The organisation may no longer see the event (a consent was
			// revoked since it was relayed): the delivery and its attempts go,
			// so nothing of it is listed, counted or looked up any more. The
			// refusal stays in the audit log, which the organisation cannot
			// read.
			tag, err := tx.Exec(ctx, `DELETE FROM events.deliveries
				WHERE id = $1 AND lease_owner = $2 AND attempts = $3 AND state = 'pending'`,
				r.DeliveryID, r.Worker, r.Attempt)
			if err != nil {
				return fmt.Errorf("drop withheld delivery %d: %w", r.DeliveryID, err)
			}
			lost = tag.RowsAffected() == 0
			if r.Audit != nil && !lost {
				return access.RecordIn(ctx, tx, *r.Audit)
			}
			return nil
		}
		var finished *time.Time
		next := r.NextAttempt
		if r.State != Pending {
			now := time.Now()
			finished, next = &now, now
		}
		tag, err := tx.Exec(ctx, `UPDATE events.deliveries
			SET state = $3, next_attempt_at = $4, reason = $5, finished_at = $6, lease_owner = '', lease_until = NULL
			WHERE id = $1 AND lease_owner = $2 AND attempts = $7 AND state = 'pending'`,
			r.DeliveryID, r.Worker, r.State, next, truncate(r.Reason, 1000), finished, r.Attempt)
		if err != nil {
			return fmt.Errorf("update delivery %d: %w", r.DeliveryID, err)
		}
		lost = tag.RowsAffected() == 0
		if r.Audit != nil {
			if err := access.RecordIn(ctx, tx, *r.Audit); err != nil {
				return err
			}
		}
		if lost {
			return nil
		}
		if r.DisableSubscription != "" {
			if _, err := tx.Exec(ctx, `UPDATE events.subscriptions
				SET active = false, disabled_reason = $2, version = version + 1, updated_at = now()
				FROM events.deliveries d WHERE d.id = $1 AND events.subscriptions.id = d.subscription_id`,
				r.DeliveryID, r.DisableSubscription); err != nil {
				return fmt.Errorf("disable subscription of delivery %d: %w", r.DeliveryID, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if lost {
		return ErrLeaseLost
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	// A response body may be anything; the database takes valid UTF-8 only.
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}
