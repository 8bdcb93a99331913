// Package idempotency records idempotency keys (AIP-155) in a service's own
// schema, in the transaction of the write they guard, so that a retry
// returns the first request's resource and never writes twice.
//
// The table, SCHEMA.idempotency_keys, has the columns actor_id, method,
// key, request_hash and resource_id, with (actor_id, method, key) unique.
package idempotency

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
)

// Key is one caller's idempotency key for one method, with the content of
// the request it came with.
type Key struct {
	ActorID, Method, Key string
	Request              []byte
}

// Keys are the idempotency keys of one schema.
type Keys struct {
	table string
}

// In returns the keys kept in schema.
func In(schema string) Keys {
	return Keys{table: pgx.Identifier{schema, "idempotency_keys"}.Sanitize()}
}

// Claim records k in tx. When the key was used before it returns the
// resource id of the first request, and apperr.ErrIdempotencyReused when
// that request differed. A concurrent retry waits on the key's row until
// the first commits.
func (s Keys) Claim(ctx context.Context, tx pgx.Tx, k Key) (existing string, err error) {
	hash := sha256.Sum256(k.Request)
	tag, err := tx.Exec(ctx, `INSERT INTO `+s.table+` (actor_id, method, key, request_hash)
		VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, k.ActorID, k.Method, k.Key, hash[:])
	if err != nil {
		return "", fmt.Errorf("claim idempotency key: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return "", nil
	}
	var prev []byte
	if err := tx.QueryRow(ctx, `SELECT request_hash, resource_id FROM `+s.table+`
		WHERE actor_id = $1 AND method = $2 AND key = $3`, k.ActorID, k.Method, k.Key).Scan(&prev, &existing); err != nil {
		return "", fmt.Errorf("read idempotency key: %w", err)
	}
	if string(prev) != string(hash[:]) {
		return "", apperr.ErrIdempotencyReused
	}
	return existing, nil
}

// Complete stores the resource a claimed key produced.
func (s Keys) Complete(ctx context.Context, tx pgx.Tx, k Key, resourceID string) error {
	_, err := tx.Exec(ctx, `UPDATE `+s.table+` SET resource_id = $4
		WHERE actor_id = $1 AND method = $2 AND key = $3`, k.ActorID, k.Method, k.Key, resourceID)
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	return nil
}
