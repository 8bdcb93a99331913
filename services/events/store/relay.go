package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/services/events/visibility"
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
// wants its type and whose organisation may see the event now (judge, with
// the facts read in the same transaction) — all in one transaction, so an
// event is in the log with its deliveries or still in the outbox.
//
// An organisation that may not see an event gets no delivery record at all:
// a record, even one marked as withheld, would tell its admin that something
// happened to a client it may know nothing about (and its count would move
// with that client's activity). The dispatcher decides again at delivery
// time, for consent revoked in between.
//
// Rows of transactions that have not committed are invisible here and stay
// behind; they are moved by a later step, whatever their id. That is why the
// outbox is drained rather than read past a cursor.
func (s *Store) Relay(ctx context.Context, limit int, judge *visibility.Judge) (Relayed, error) {
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
		rows, err := tx.Query(ctx, `
			WITH moved AS (
				DELETE FROM outbox.events WHERE id IN (SELECT id FROM outbox.events ORDER BY id LIMIT $1)
				RETURNING *
			), numbered AS (
				SELECT m.*, (SELECT coalesce(max(position), 0) FROM events.log) + row_number() OVER (ORDER BY m.id) AS pos
				FROM moved m
			)
			INSERT INTO events.log (position, event_id, source, type, client_id, region_id, section, payer_org_id,
				subject, change, data, occurred_at)
			SELECT pos, event_id, source, type, client_id, region_id, section, payer_org_id, subject, change, data,
				occurred_at
			FROM numbered
			RETURNING `+logColumns, limit)
		if err != nil {
			return fmt.Errorf("move events from the outbox to the log: %w", err)
		}
		logged, err := scanLog(rows)
		if err != nil {
			return fmt.Errorf("move events from the outbox to the log: %w", err)
		}
		r.Moved = len(logged)
		if len(logged) == 0 {
			return nil
		}
		// Wakes the services that consume the log (internal/consumer).
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, outbox.LogChannel); err != nil {
			return fmt.Errorf("notify log consumers: %w", err)
		}
		if r.Deliveries, err = fanOut(ctx, tx, judge, logged); err != nil {
			return err
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

type relaySub struct {
	id, orgID, orgKind, regionID string
	types                        []string
}

// fanOut creates the deliveries of logged events for the active
// subscriptions that want them and whose organisation may see them, judging
// each organisation's events once.
func fanOut(ctx context.Context, tx pgx.Tx, judge *visibility.Judge, logged []visibility.Event) (int, error) {
	var regions []string
	for _, e := range logged {
		if !slices.Contains(regions, e.RegionID) {
			regions = append(regions, e.RegionID)
		}
	}
	rows, err := tx.Query(ctx, `SELECT id::text, org_id, org_kind, region_id, event_types FROM events.subscriptions
		WHERE active AND region_id = ANY ($1) ORDER BY org_id, id`, regions)
	if err != nil {
		return 0, fmt.Errorf("load subscriptions to fan out to: %w", err)
	}
	subs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (relaySub, error) {
		var s relaySub
		err := r.Scan(&s.id, &s.orgID, &s.orgKind, &s.regionID, &s.types)
		return s, err
	})
	if err != nil {
		return 0, fmt.Errorf("load subscriptions to fan out to: %w", err)
	}
	type orgRegion struct{ org, kind, region string }
	byOrg := map[orgRegion][]relaySub{}
	var orgs []orgRegion
	for _, s := range subs {
		k := orgRegion{s.orgID, s.orgKind, s.regionID}
		if _, ok := byOrg[k]; !ok {
			orgs = append(orgs, k)
		}
		byOrg[k] = append(byOrg[k], s)
	}
	var subIDs, clientIDs []string
	var positions []int64
	for _, o := range orgs {
		var events []visibility.Event
		for _, e := range logged {
			if e.RegionID == o.region {
				events = append(events, e)
			}
		}
		if len(events) == 0 {
			continue
		}
		verdicts, err := judge.JudgeIn(ctx, tx, visibility.PartnerSystem(o.org, o.kind, o.region), events)
		if err != nil {
			return 0, fmt.Errorf("decide what %s may be sent: %w", o.org, err)
		}
		for i, e := range events {
			if !verdicts[i].Deliver {
				continue
			}
			for _, s := range byOrg[o] {
				if len(s.types) == 0 || slices.Contains(s.types, e.Type) {
					subIDs, positions, clientIDs = append(subIDs, s.id), append(positions, e.Position), append(clientIDs, e.ClientID)
				}
			}
		}
	}
	if len(subIDs) == 0 {
		return 0, nil
	}
	tag, err := tx.Exec(ctx, `INSERT INTO events.deliveries (subscription_id, position, client_id)
		SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::text[])`, subIDs, positions, clientIDs)
	if err != nil {
		return 0, fmt.Errorf("create deliveries: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
