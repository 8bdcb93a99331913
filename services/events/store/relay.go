package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/outbox"
)

// relayLock is the advisory lock only one relay holds at a time, whatever
// the number of dispatcher replicas: positions are assigned by one writer,
// in commit order.
const relayLock = `pg_try_advisory_xact_lock(1667592803, 1)`

// Relayed is what one relay step did.
type Relayed struct {
	// Moved is the number of events moved from the outbox to the log.
	Moved int
	// Deliveries is the number of delivery records created for them.
	Deliveries int
	// Busy: another relay held the lock; nothing was done.
	Busy bool
}

// Relay moves up to limit committed events from the outbox into the log,
// gives them the next gapless positions in outbox id order, and creates a
// pending delivery for every active subscription of the event's region that
// wants its type — all in one transaction, so an event is in the log with its
// deliveries or still in the outbox.
//
// Rows of transactions that have not committed are invisible here and stay
// behind; they are moved by a later step, whatever their id. That is why the
// outbox is drained rather than read past a cursor.
func (s *Store) Relay(ctx context.Context, limit int) (Relayed, error) {
	var r Relayed
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var got bool
		if err := tx.QueryRow(ctx, `SELECT `+relayLock).Scan(&got); err != nil {
			return fmt.Errorf("take the relay lock: %w", err)
		}
		if !got {
			r.Busy = true
			return nil
		}
		err := tx.QueryRow(ctx, `
			WITH moved AS (
				DELETE FROM outbox.events WHERE id IN (SELECT id FROM outbox.events ORDER BY id LIMIT $1)
				RETURNING *
			), numbered AS (
				SELECT m.*, (SELECT coalesce(max(position), 0) FROM events.log) + row_number() OVER (ORDER BY m.id) AS pos
				FROM moved m
			), logged AS (
				INSERT INTO events.log (position, event_id, source, type, client_id, region_id, section, payer_org_id,
					subject, change, data, occurred_at)
				SELECT pos, event_id, source, type, client_id, region_id, section, payer_org_id, subject, change, data,
					occurred_at
				FROM numbered
				RETURNING position, client_id, region_id, type
			), fanned AS (
				INSERT INTO events.deliveries (subscription_id, position, client_id)
				SELECT s.id, l.position, l.client_id
				FROM logged l JOIN events.subscriptions s
					ON s.region_id = l.region_id AND s.active
					AND (cardinality(s.event_types) = 0 OR l.type = ANY (s.event_types))
				RETURNING 1
			)
			SELECT (SELECT count(*) FROM logged), (SELECT count(*) FROM fanned)`, limit).Scan(&r.Moved, &r.Deliveries)
		if err != nil {
			return fmt.Errorf("move events from the outbox to the log: %w", err)
		}
		if r.Moved > 0 {
			// Wakes the services that consume the log (internal/consumer).
			if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, outbox.LogChannel); err != nil {
				return fmt.Errorf("notify log consumers: %w", err)
			}
		}
		if r.Deliveries > 0 {
			// Wakes every dispatcher replica's delivery loop at commit.
			if _, err := tx.Exec(ctx, `SELECT pg_notify('ipsbridge_deliveries', '')`); err != nil {
				return fmt.Errorf("notify dispatchers: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return Relayed{}, err
	}
	return r, nil
}
