// Package idempotency is the one idempotency store of every service
// (AIP-155): each write RPC takes a key (its request_id field, or the
// Idempotency-Key header the gateway forwards), recorded in the service's
// own schema in the transaction of the write it guards, so that a crash
// never leaves a write without its key or a key without its write.
//
// The same key with the same request replays the first answer and writes
// nothing; the same key with a different request is refused
// (apperr.ErrIdempotencyReused, FAILED_PRECONDITION).
//
// Scope: a key belongs to one caller identity (the token's subject) and one
// method. Keys are made by callers independently of each other, so a key is
// only unique per caller: scoped to an organisation, two colleagues' keys
// could collide, and one would be answered with the other's result (which
// it may not be allowed to see). Scoped per method, a caller may use one
// key for the calls of one logical step (create, then change) without the
// second being taken for a replay of the first.
//
// The table, SCHEMA.idempotency_keys, has the columns actor_id, method,
// key, request_hash, resource_id and response, with (actor_id, method, key)
// unique.
package idempotency

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
)

// Request is the idempotency key a write request came with, and the
// fingerprint of its content (without the key itself, and without a
// version precondition: a retry that read the resource again is still the
// same request).
type Request struct {
	Key         string
	Fingerprint []byte
}

// Key is one caller's idempotency key for one method, with the content of
// the request it came with.
type Key struct {
	ActorID, Method, Key string
	Request              []byte
}

// For is r's key as actorID's for method.
func For(actorID, method string, r Request) Key {
	return Key{ActorID: actorID, Method: method, Key: r.Key, Request: r.Fingerprint}
}

// Result is what a guarded write produced: the id of the resource it
// created or changed (a replay reads it back), and for a write whose answer
// cannot be read back later, the answer itself.
type Result struct {
	ResourceID string
	Response   []byte
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
// first request's result (replay true), and apperr.ErrIdempotencyReused
// when that request differed. A concurrent retry waits on the key's row
// until the first commits (or rolls back, and then claims it itself).
func (s Keys) Claim(ctx context.Context, tx pgx.Tx, k Key) (prev Result, replay bool, err error) {
	if k.Key == "" || k.ActorID == "" || k.Method == "" {
		return Result{}, false, fmt.Errorf("claim idempotency key: key, actor and method are required")
	}
	hash := sha256.Sum256(k.Request)
	tag, err := tx.Exec(ctx, `INSERT INTO `+s.table+` (actor_id, method, key, request_hash)
		VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, k.ActorID, k.Method, k.Key, hash[:])
	if err != nil {
		return Result{}, false, fmt.Errorf("claim idempotency key: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return Result{}, false, nil
	}
	var h []byte
	if err := tx.QueryRow(ctx, `SELECT request_hash, resource_id, response FROM `+s.table+`
		WHERE actor_id = $1 AND method = $2 AND key = $3`, k.ActorID, k.Method, k.Key).Scan(&h, &prev.ResourceID, &prev.Response); err != nil {
		return Result{}, false, fmt.Errorf("read idempotency key: %w", err)
	}
	if string(h) != string(hash[:]) {
		return Result{}, false, reused(k)
	}
	return prev, true, nil
}

// Querier reads a key: the pool, or a transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Lookup reads a used key without claiming it: the first request's result
// (found true), nothing for a new key, and apperr.ErrIdempotencyReused when
// the first request differed. A write with a slow part outside its
// transaction (a network handshake) checks it first; the Claim in its
// transaction still decides between concurrent retries.
func (s Keys) Lookup(ctx context.Context, q Querier, k Key) (prev Result, found bool, err error) {
	var h []byte
	err = q.QueryRow(ctx, `SELECT request_hash, resource_id, response FROM `+s.table+`
		WHERE actor_id = $1 AND method = $2 AND key = $3`, k.ActorID, k.Method, k.Key).Scan(&h, &prev.ResourceID, &prev.Response)
	if errors.Is(err, pgx.ErrNoRows) {
		return Result{}, false, nil
	}
	if err != nil {
		return Result{}, false, fmt.Errorf("read idempotency key: %w", err)
	}
	if hash := sha256.Sum256(k.Request); string(h) != string(hash[:]) {
		return Result{}, false, reused(k)
	}
	return prev, true, nil
}

func reused(k Key) error {
	return fmt.Errorf("%w: key %q of %s was used for a different request", apperr.ErrIdempotencyReused, k.Key, k.Method)
}

// Complete stores the result of the write a claimed key guarded.
func (s Keys) Complete(ctx context.Context, tx pgx.Tx, k Key, r Result) error {
	_, err := tx.Exec(ctx, `UPDATE `+s.table+` SET resource_id = $4, response = $5
		WHERE actor_id = $1 AND method = $2 AND key = $3`, k.ActorID, k.Method, k.Key, r.ResourceID, r.Response)
	if err != nil {
		return fmt.Errorf("complete idempotency key: %w", err)
	}
	return nil
}

// Once runs write in tx under k: the first time it runs write and stores
// its result with the key; a retry (same key, same request) runs nothing
// and returns the first result with replay true. A request without a key
// (k.Key empty, for a write whose version precondition already refuses a
// blind retry) just runs write.
func (s Keys) Once(ctx context.Context, tx pgx.Tx, k Key, write func() (Result, error)) (r Result, replay bool, err error) {
	if k.Key == "" {
		r, err = write()
		return r, false, err
	}
	if r, replay, err = s.Claim(ctx, tx, k); err != nil || replay {
		return r, replay, err
	}
	if r, err = write(); err != nil {
		return Result{}, false, err
	}
	return r, false, s.Complete(ctx, tx, k, r)
}
