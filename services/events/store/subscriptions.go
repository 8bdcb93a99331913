package store

// What the events API reads and writes: subscriptions with their signing
// keys, and an organisation's view of its deliveries (dead letters,
// attempts, counts). Every query is scoped to the owning organisation, so
// another organisation's subscription reads as not found.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	"github.com/ipsbridge/ipsbridge/internal/webhook"
	"github.com/ipsbridge/ipsbridge/services/events/visibility"
)

// Keys are the events schema's idempotency keys.
var Keys = idempotency.In("events")

// Querier is satisfied by the pool and by a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// InTx runs fn in a read-committed transaction, retried on serialization
// failures and deadlocks.
func (s *Store) InTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return database.InTx(ctx, s.pool, pgx.TxOptions{}, fn)
}

// Subscription is a row of events.subscriptions with its unexpired keys.
type Subscription struct {
	ID, OrgID, OrgKind, RegionID string
	URL                          string
	EventTypes                   []string
	IncludeData, Active          bool
	DisabledReason, Description  string
	Version                      int64
	CreatedBy                    string
	CreatedAt, UpdatedAt         time.Time
	VerifiedAt                   time.Time
	// Keys are the keys that sign now, oldest first.
	Keys []SigningKey
}

// SigningKey is a row of events.signing_keys.
type SigningKey struct {
	KeyID int32
	// Secret is whsec_… (HMAC) or whsk_… (ed25519 private key).
	Secret string
	// PublicKey is whpk_… for ed25519, else empty.
	PublicKey string
	CreatedAt time.Time
	ExpiresAt *time.Time
}

// ErrSubscriptionNotFound: no subscription with that id belongs to the
// organisation.
var ErrSubscriptionNotFound = fmt.Errorf("%w: no such subscription", apperr.ErrNotFound)

const subscriptionColumns = `s.id::text, s.org_id, s.org_kind, s.region_id, s.url, s.event_types, s.include_data, s.active,
	s.disabled_reason, s.description, s.version, s.created_by, s.created_at, s.updated_at, s.verified_at`

func scanSubscription(row pgx.Row) (Subscription, error) {
	var s Subscription
	var version int32
	err := row.Scan(&s.ID, &s.OrgID, &s.OrgKind, &s.RegionID, &s.URL, &s.EventTypes, &s.IncludeData, &s.Active,
		&s.DisabledReason, &s.Description, &version, &s.CreatedBy, &s.CreatedAt, &s.UpdatedAt, &s.VerifiedAt)
	s.Version = int64(version)
	return s, err
}

// validID: an id the uuid column can compare with; anything else is simply
// not found (the API validates ids, this keeps the store safe on its own).
func validID(id string) bool {
	if len(id) != 36 {
		return false
	}
	for i, c := range id {
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case !strings.ContainsRune("0123456789abcdefABCDEF", c):
			return false
		}
	}
	return true
}

// InsertSubscription stores a verified subscription with its first key.
func InsertSubscription(ctx context.Context, tx pgx.Tx, s Subscription, key SigningKey) (Subscription, error) {
	if s.EventTypes == nil {
		s.EventTypes = []string{}
	}
	out, err := scanSubscription(tx.QueryRow(ctx, `INSERT INTO events.subscriptions AS s
			(id, org_id, org_kind, region_id, url, event_types, include_data, description, created_by, verified_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING `+subscriptionColumns,
		s.ID, s.OrgID, s.OrgKind, s.RegionID, s.URL, s.EventTypes, s.IncludeData, s.Description, s.CreatedBy, s.VerifiedAt))
	if err != nil {
		return Subscription{}, classify(err, "create subscription")
	}
	if _, err := tx.Exec(ctx, `INSERT INTO events.signing_keys (subscription_id, key_id, secret, public_key)
		VALUES ($1, 1, $2, $3)`, out.ID, key.Secret, key.PublicKey); err != nil {
		return Subscription{}, classify(err, "store signing key")
	}
	out.Keys, err = signingKeys(ctx, tx, out.ID, false)
	return out, err
}

func classify(err error, what string) error {
	switch database.Code(err) {
	case database.CheckViolation:
		return fmt.Errorf("%w: %s breaks rule %s", apperr.ErrInvalid, what, database.Constraint(err))
	case database.UniqueViolation:
		return fmt.Errorf("%w: %s (%s)", apperr.ErrAlreadyExists, what, database.Constraint(err))
	}
	return fmt.Errorf("%s: %w", what, err)
}

// signingKeys returns a subscription's keys, oldest first: the unexpired
// ones, or all of them.
func signingKeys(ctx context.Context, q Querier, subscriptionID string, all bool) ([]SigningKey, error) {
	rows, err := q.Query(ctx, `SELECT key_id, secret, public_key, created_at, expires_at FROM events.signing_keys
		WHERE subscription_id = $1 AND ($2 OR expires_at IS NULL OR expires_at > now()) ORDER BY key_id`, subscriptionID, all)
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SigningKey, error) {
		var k SigningKey
		err := r.Scan(&k.KeyID, &k.Secret, &k.PublicKey, &k.CreatedAt, &k.ExpiresAt)
		return k, err
	})
}

// WebhookHosts returns the hosts an organisation registered for its
// data-carrying webhook endpoints (the clients schema's webhook_hosts_of).
func (s *Store) WebhookHosts(ctx context.Context, orgID string) ([]string, error) {
	var hosts []string
	if err := s.pool.QueryRow(ctx, `SELECT clients.webhook_hosts_of($1)`, orgID).Scan(&hosts); err != nil {
		return nil, fmt.Errorf("look up the registered webhook hosts of %s: %w", orgID, err)
	}
	return hosts, nil
}

// SealSigningKeys seals every stored signing secret that is not sealed with
// sealer's current key: secrets from before sealing, and after the operator
// rotated the key, those sealed with an older one (which sealer must still
// hold).
func SealSigningKeys(ctx context.Context, pool *pgxpool.Pool, sealer *webhook.Sealer) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT subscription_id::text, key_id, secret FROM events.signing_keys FOR UPDATE`)
		if err != nil {
			return fmt.Errorf("load signing keys to seal: %w", err)
		}
		type key struct {
			sub    string
			id     int32
			secret string
		}
		keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (key, error) {
			var k key
			err := r.Scan(&k.sub, &k.id, &k.secret)
			return k, err
		})
		if err != nil {
			return fmt.Errorf("load signing keys to seal: %w", err)
		}
		for _, k := range keys {
			if sealer.Current(k.secret) {
				continue
			}
			plain, err := sealer.Open(k.secret, k.sub)
			if err != nil {
				return fmt.Errorf("signing key %d of subscription %s: %w", k.id, k.sub, err)
			}
			sealed, err := sealer.Seal(plain, k.sub)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE events.signing_keys SET secret = $3 WHERE subscription_id = $1 AND key_id = $2`,
				k.sub, k.id, sealed); err != nil {
				return fmt.Errorf("seal signing key %d of subscription %s: %w", k.id, k.sub, err)
			}
		}
		return nil
	})
}

// SigningKeyByID returns one key of a subscription, expired or not.
func (s *Store) SigningKeyByID(ctx context.Context, subscriptionID string, keyID int32) (SigningKey, error) {
	keys, err := signingKeys(ctx, s.pool, subscriptionID, true)
	if err != nil {
		return SigningKey{}, err
	}
	for _, k := range keys {
		if k.KeyID == keyID {
			return k, nil
		}
	}
	return SigningKey{}, fmt.Errorf("%w: signing key %d of subscription %s", apperr.ErrNotFound, keyID, subscriptionID)
}

// Subscription returns an organisation's subscription with its keys.
func (s *Store) Subscription(ctx context.Context, orgID, id string) (Subscription, error) {
	return subscription(ctx, s.pool, orgID, id, false)
}

func subscription(ctx context.Context, q Querier, orgID, id string, lock bool) (Subscription, error) {
	if !validID(id) {
		return Subscription{}, ErrSubscriptionNotFound
	}
	sql := `SELECT ` + subscriptionColumns + ` FROM events.subscriptions s WHERE s.id = $1 AND s.org_id = $2`
	if lock {
		sql += ` FOR UPDATE`
	}
	out, err := scanSubscription(q.QueryRow(ctx, sql, id, orgID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Subscription{}, ErrSubscriptionNotFound
	}
	if err != nil {
		return Subscription{}, fmt.Errorf("load subscription: %w", err)
	}
	out.Keys, err = signingKeys(ctx, q, out.ID, false)
	return out, err
}

// SubscriptionCursor is where a page of subscriptions continues.
type SubscriptionCursor struct {
	CreatedAt time.Time
	ID        string
}

// Subscriptions returns up to limit of an organisation's subscriptions,
// oldest first, after the cursor when it is not nil.
func (s *Store) Subscriptions(ctx context.Context, orgID string, after *SubscriptionCursor, limit int) ([]Subscription, error) {
	args := []any{orgID, limit}
	where := ``
	if after != nil {
		if !validID(after.ID) {
			return nil, fmt.Errorf("%w: page_token", apperr.ErrInvalid)
		}
		where = ` AND (s.created_at, s.id) > ($3, $4::uuid)`
		args = append(args, after.CreatedAt, after.ID)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+subscriptionColumns+` FROM events.subscriptions s
		WHERE s.org_id = $1`+where+` ORDER BY s.created_at, s.id LIMIT $2`, args...)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Subscription, error) { return scanSubscription(r) })
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	for i := range out {
		if out[i].Keys, err = signingKeys(ctx, s.pool, out[i].ID, false); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// UpdateSubscription locks an organisation's subscription, checks that it
// is still at version, lets change edit it and writes url, event_types,
// include_data, active, disabled_reason, description and verified_at back
// with the next version.
func UpdateSubscription(ctx context.Context, tx pgx.Tx, orgID, id string, version int64, change func(*Subscription) error) (Subscription, error) {
	cur, err := subscription(ctx, tx, orgID, id, true)
	if err != nil {
		return Subscription{}, err
	}
	if cur.Version != version {
		return Subscription{}, fmt.Errorf("%w: subscription %s is at version %d, not %d", apperr.ErrVersionConflict, id, cur.Version, version)
	}
	next := cur
	if err := change(&next); err != nil {
		return Subscription{}, err
	}
	if next.EventTypes == nil {
		next.EventTypes = []string{}
	}
	out, err := scanSubscription(tx.QueryRow(ctx, `UPDATE events.subscriptions AS s
		SET url = $3, event_types = $4, include_data = $5, active = $6, disabled_reason = $7, description = $8,
			verified_at = $9, version = version + 1, updated_at = now()
		WHERE s.id = $1 AND s.org_id = $2 RETURNING `+subscriptionColumns,
		id, orgID, next.URL, next.EventTypes, next.IncludeData, next.Active, next.DisabledReason, next.Description, next.VerifiedAt))
	if err != nil {
		return Subscription{}, classify(err, "update subscription")
	}
	out.Keys = cur.Keys
	return out, nil
}

// DeleteSubscription removes an organisation's subscription; its keys,
// deliveries and attempts go with it. version 0 deletes whatever the
// version.
func DeleteSubscription(ctx context.Context, tx pgx.Tx, orgID, id string, version int64) error {
	cur, err := subscription(ctx, tx, orgID, id, true)
	if err != nil {
		return err
	}
	if version != 0 && cur.Version != version {
		return fmt.Errorf("%w: subscription %s is at version %d, not %d", apperr.ErrVersionConflict, id, cur.Version, version)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM events.subscriptions WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete subscription: %w", err)
	}
	return nil
}

// keyRetention is how long an expired key is kept after it stopped signing
// (for an idempotent retry of the create that made it).
const keyRetention = 7 * 24 * time.Hour

// RotateSigningKey adds key as the subscription's newest key and lets every
// unexpired key expire after overlap (at once when 0). Keys long expired
// are removed. It returns the stored key and the subscription.
func RotateSigningKey(ctx context.Context, tx pgx.Tx, orgID, id string, key SigningKey, overlap time.Duration) (SigningKey, Subscription, error) {
	cur, err := subscription(ctx, tx, orgID, id, true)
	if err != nil {
		return SigningKey{}, Subscription{}, err
	}
	if _, err := tx.Exec(ctx, `UPDATE events.signing_keys SET expires_at = now() + $2::interval
		WHERE subscription_id = $1 AND (expires_at IS NULL OR expires_at > now() + $2::interval)`, id, overlap); err != nil {
		return SigningKey{}, Subscription{}, fmt.Errorf("expire signing keys: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM events.signing_keys WHERE subscription_id = $1 AND expires_at < now() - $2::interval`,
		id, keyRetention); err != nil {
		return SigningKey{}, Subscription{}, fmt.Errorf("remove old signing keys: %w", err)
	}
	err = tx.QueryRow(ctx, `INSERT INTO events.signing_keys (subscription_id, key_id, secret, public_key)
		SELECT $1, coalesce(max(key_id), 0) + 1, $2, $3 FROM events.signing_keys WHERE subscription_id = $1
		RETURNING key_id, created_at`, id, key.Secret, key.PublicKey).Scan(&key.KeyID, &key.CreatedAt)
	if err != nil {
		return SigningKey{}, Subscription{}, classify(err, "store signing key")
	}
	if cur.Keys, err = signingKeys(ctx, tx, id, false); err != nil {
		return SigningKey{}, Subscription{}, err
	}
	return key, cur, nil
}

// Delivery is one event for one subscription, as its organisation sees it.
type Delivery struct {
	ID             int64
	SubscriptionID string
	State          string
	Position       int64
	EventID        string
	EventType      string
	ClientID       string
	EventTime      time.Time
	Attempts       int32
	Reason         string
	FirstAttemptAt *time.Time
	FinishedAt     *time.Time
	NextAttemptAt  time.Time
}

const deliveryColumns = `d.id, d.subscription_id::text, d.state, d.position, l.event_id::text, l.type, d.client_id,
	l.occurred_at, d.attempts, d.reason, d.first_attempt_at, d.finished_at, d.next_attempt_at`

func scanDelivery(r pgx.Row) (Delivery, error) {
	var d Delivery
	err := r.Scan(&d.ID, &d.SubscriptionID, &d.State, &d.Position, &d.EventID, &d.EventType, &d.ClientID,
		&d.EventTime, &d.Attempts, &d.Reason, &d.FirstAttemptAt, &d.FinishedAt, &d.NextAttemptAt)
	return d, err
}

// DeadLetters returns up to limit dead deliveries of a subscription, newest
// event first, with positions below before when it is positive. The caller
// has checked that the subscription is the organisation's.
func (s *Store) DeadLetters(ctx context.Context, subscriptionID string, before int64, limit int) ([]Delivery, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM events.deliveries d
		JOIN events.log l ON l.position = d.position
		WHERE d.subscription_id = $1 AND d.state = 'dead' AND ($2 <= 0 OR d.position < $2)
		ORDER BY d.position DESC LIMIT $3`, subscriptionID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) { return scanDelivery(r) })
	if err != nil {
		return nil, fmt.Errorf("list dead letters: %w", err)
	}
	return out, nil
}

// DeliveryAttempt is a row of events.attempts.
type DeliveryAttempt struct {
	Attempt    int32
	StartedAt  time.Time
	DurationMS int32
	StatusCode int32
	Error      string
	Response   string
}

// ErrNoDelivery is the one answer for a delivery id the caller may not
// look up, whatever the reason: absent, another organisation's, or of an
// event the organisation may not see.
func ErrNoDelivery(id int64) error {
	return fmt.Errorf("%w: no delivery %d of this organisation", apperr.ErrNotFound, id)
}

// DeliveryWithAttempts returns a delivery of one of the organisation's
// subscriptions, with its attempts in order; not found for any other.
func (s *Store) DeliveryWithAttempts(ctx context.Context, orgID string, deliveryID int64) (Delivery, []DeliveryAttempt, error) {
	d, err := scanDelivery(s.pool.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM events.deliveries d
		JOIN events.subscriptions s ON s.id = d.subscription_id
		JOIN events.log l ON l.position = d.position
		WHERE d.id = $1 AND s.org_id = $2`, deliveryID, orgID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Delivery{}, nil, ErrNoDelivery(deliveryID)
	}
	if err != nil {
		return Delivery{}, nil, fmt.Errorf("load delivery: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT attempt, started_at, duration_ms, status_code, error, response
		FROM events.attempts WHERE delivery_id = $1 ORDER BY attempt`, deliveryID)
	if err != nil {
		return Delivery{}, nil, fmt.Errorf("load attempts: %w", err)
	}
	attempts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeliveryAttempt, error) {
		var a DeliveryAttempt
		err := r.Scan(&a.Attempt, &a.StartedAt, &a.DurationMS, &a.StatusCode, &a.Error, &a.Response)
		return a, err
	})
	if err != nil {
		return Delivery{}, nil, fmt.Errorf("load attempts: %w", err)
	}
	return d, attempts, nil
}

// RedeliverDeadLetters queues dead deliveries of a subscription again, the
// given ones or all: pending, due now, with a fresh retry period and the
// reason cleared. The attempts so far stay recorded; numbering goes on. It returns how many it queued. The caller has checked
// that the subscription is the organisation's.
func RedeliverDeadLetters(ctx context.Context, tx pgx.Tx, subscriptionID string, ids []int64, all bool) (int, error) {
	if ids == nil {
		ids = []int64{}
	}
	if len(ids) == 0 && !all {
		return 0, nil
	}
	rows, err := tx.Query(ctx, `UPDATE events.deliveries
		SET state = 'pending', next_attempt_at = now(), first_attempt_at = NULL, reason = '',
			finished_at = NULL, lease_owner = '', lease_until = NULL
		WHERE subscription_id = $1 AND state = 'dead' AND ($3 OR id = ANY ($2))
		RETURNING id`, subscriptionID, ids, all)
	if err != nil {
		return 0, fmt.Errorf("redeliver dead letters: %w", err)
	}
	queued, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("redeliver dead letters: %w", err)
	}
	return len(queued), nil
}

// DeadLetterEvents returns the dead deliveries of a subscription (the ids
// given, or all) with their events, locked for a redelivery. The caller has
// checked that the subscription is the organisation's.
func DeadLetterEvents(ctx context.Context, tx pgx.Tx, subscriptionID string, ids []int64, all bool) (map[int64]visibility.Event, error) {
	if ids == nil {
		ids = []int64{}
	}
	rows, err := tx.Query(ctx, `SELECT d.id, `+logColumnsOf("l")+` FROM events.deliveries d
		JOIN events.log l ON l.position = d.position
		WHERE d.subscription_id = $1 AND d.state = 'dead' AND ($3 OR d.id = ANY ($2))
		FOR UPDATE OF d`, subscriptionID, ids, all)
	if err != nil {
		return nil, fmt.Errorf("load dead letters: %w", err)
	}
	defer rows.Close()
	out := map[int64]visibility.Event{}
	for rows.Next() {
		var id int64
		var e visibility.Event
		if err := rows.Scan(&id, &e.Position, &e.EventID, &e.Source, &e.Type, &e.ClientID, &e.RegionID, &e.Section,
			&e.PayerOrgID, &e.Subject, &e.Change, &e.Data, &e.OccurredAt); err != nil {
			return nil, fmt.Errorf("read dead letter: %w", err)
		}
		out[id] = e
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load dead letters: %w", err)
	}
	return out, nil
}

// DeliveryStats are a subscription's deliveries counted per state.
type DeliveryStats struct {
	Counts map[string]int64
	// OldestPendingEvent is the event time of the first pending delivery.
	OldestPendingEvent *time.Time
	LastDelivered      *time.Time
}

// DeliveryStats counts a subscription's deliveries. The caller has checked
// that the subscription is the organisation's.
func (s *Store) DeliveryStats(ctx context.Context, subscriptionID string) (DeliveryStats, error) {
	out := DeliveryStats{Counts: map[string]int64{}}
	rows, err := s.pool.Query(ctx, `SELECT state, count(*) FROM events.deliveries WHERE subscription_id = $1 GROUP BY state`, subscriptionID)
	if err != nil {
		return out, fmt.Errorf("count deliveries: %w", err)
	}
	var state string
	var n int64
	if _, err := pgx.ForEachRow(rows, []any{&state, &n}, func() error { out.Counts[state] = n; return nil }); err != nil {
		return out, fmt.Errorf("count deliveries: %w", err)
	}
	err = s.pool.QueryRow(ctx, `SELECT
			(SELECT l.occurred_at FROM events.deliveries d JOIN events.log l ON l.position = d.position
				WHERE d.subscription_id = $1 AND d.state = 'pending' ORDER BY d.position LIMIT 1),
			(SELECT max(finished_at) FROM events.deliveries WHERE subscription_id = $1 AND state = 'delivered')`,
		subscriptionID).Scan(&out.OldestPendingEvent, &out.LastDelivered)
	if err != nil {
		return out, fmt.Errorf("delivery times: %w", err)
	}
	return out, nil
}
