package idempotency_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/database/dbtest"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
)

func setup(t *testing.T) (*pgxpool.Pool, idempotency.Keys) {
	t.Helper()
	pool, _ := dbtest.New(t)
	if _, err := pool.Exec(context.Background(), `CREATE SCHEMA svc;
		CREATE TABLE svc.idempotency_keys (actor_id text NOT NULL, method text NOT NULL, key text NOT NULL,
			request_hash bytea NOT NULL, resource_id text NOT NULL DEFAULT '', response bytea,
			created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (actor_id, method, key));
		CREATE TABLE svc.writes (n int)`); err != nil {
		t.Fatal(err)
	}
	return pool, idempotency.In("svc")
}

// once runs one guarded write (a row in svc.writes) in its own transaction.
func once(t *testing.T, pool *pgxpool.Pool, keys idempotency.Keys, k idempotency.Key, fail error) (idempotency.Result, bool, error) {
	t.Helper()
	var r idempotency.Result
	var replay bool
	err := database.InTx(context.Background(), pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		var err error
		r, replay, err = keys.Once(context.Background(), tx, k, func() (idempotency.Result, error) {
			if _, err := tx.Exec(context.Background(), `INSERT INTO svc.writes VALUES (1)`); err != nil {
				return idempotency.Result{}, err
			}
			return idempotency.Result{ResourceID: "r-1", Response: []byte("first answer")}, fail
		})
		return err
	})
	return r, replay, err
}

func writes(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM svc.writes`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOnce(t *testing.T) {
	pool, keys := setup(t)
	req := idempotency.Request{Key: "k-1", Fingerprint: []byte("hours 24")}
	anna := idempotency.For("es-anna", "ChangeTerms", req)

	// A write that fails leaves no key: the retry runs it.
	if _, _, err := once(t, pool, keys, anna, errors.New("boom")); err == nil {
		t.Fatal("failed write reported success")
	}
	if n := writes(t, pool); n != 0 {
		t.Fatalf("failed write left %d rows", n)
	}
	r, replay, err := once(t, pool, keys, anna, nil)
	if err != nil || replay || r.ResourceID != "r-1" {
		t.Fatalf("first: %v %v %v", r, replay, err)
	}
	r, replay, err = once(t, pool, keys, anna, nil)
	if err != nil || !replay || r.ResourceID != "r-1" || string(r.Response) != "first answer" {
		t.Errorf("retry: %+v replay %v err %v, want the first result replayed", r, replay, err)
	}
	if n := writes(t, pool); n != 1 {
		t.Errorf("%d writes after a retry, want 1", n)
	}
	other := idempotency.For("es-anna", "ChangeTerms", idempotency.Request{Key: "k-1", Fingerprint: []byte("hours 32")})
	if _, _, err := once(t, pool, keys, other, nil); !errors.Is(err, apperr.ErrIdempotencyReused) {
		t.Errorf("same key, other request: %v, want ErrIdempotencyReused", err)
	}
	// The key is the caller's and the method's own.
	for _, k := range []idempotency.Key{idempotency.For("es-bram", "ChangeTerms", req), idempotency.For("es-anna", "EndPlacement", req)} {
		if _, replay, err := once(t, pool, keys, k, nil); err != nil || replay {
			t.Errorf("%s/%s: replay %v err %v, want a write of its own", k.ActorID, k.Method, replay, err)
		}
	}
	// Without a key every request writes.
	for range 2 {
		if _, replay, err := once(t, pool, keys, idempotency.For("es-anna", "ChangeTerms", idempotency.Request{}), nil); err != nil || replay {
			t.Errorf("keyless: replay %v err %v", replay, err)
		}
	}
	if n := writes(t, pool); n != 5 {
		t.Errorf("%d writes, want 5", n)
	}
	if _, found, err := keys.Lookup(context.Background(), pool, anna); err != nil || !found {
		t.Errorf("lookup of a used key: found %v err %v", found, err)
	}
	if _, _, err := keys.Lookup(context.Background(), pool, other); !errors.Is(err, apperr.ErrIdempotencyReused) {
		t.Errorf("lookup with another request: %v", err)
	}
}

// A retry that arrives while the first request's transaction is still open
// waits for it and then replays its result: never two writes.
func TestConcurrentRetryWaitsForTheFirst(t *testing.T) {
	pool, keys := setup(t)
	ctx := context.Background()
	k := idempotency.For("es-anna", "StartPlacement", idempotency.Request{Key: "k-2", Fingerprint: []byte("job")})
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, replay, err := keys.Once(ctx, tx, k, func() (idempotency.Result, error) {
		_, err := tx.Exec(ctx, `INSERT INTO svc.writes VALUES (1)`)
		return idempotency.Result{ResourceID: "p-1"}, err
	}); err != nil || replay {
		t.Fatalf("first: replay %v err %v", replay, err)
	}
	type res struct {
		r      idempotency.Result
		replay bool
		err    error
	}
	done := make(chan res, 1)
	go func() {
		r, replay, err := once(t, pool, keys, k, nil)
		done <- res{r, replay, err}
	}()
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	got := <-done
	if got.err != nil || !got.replay || got.r.ResourceID != "p-1" {
		t.Errorf("concurrent retry: %+v, want a replay of p-1", got)
	}
	if n := writes(t, pool); n != 1 {
		t.Errorf("%d writes, want 1", n)
	}
}
