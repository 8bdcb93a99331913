package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/database/dbtest"
	"github.com/ipsbridge/ipsbridge/services/events/store"
)

func newSubscriptionStore(t *testing.T) *store.Store {
	t.Helper()
	pool, _ := dbtest.New(t, store.Migrations)
	return store.New(pool)
}

func insertSubscription(t *testing.T, st *store.Store, org string) store.Subscription {
	t.Helper()
	var out store.Subscription
	err := st.InTx(context.Background(), func(tx pgx.Tx) error {
		var err error
		out, err = store.InsertSubscription(context.Background(), tx, store.Subscription{ID: uuid.NewString(), OrgID: org, OrgKind: "uwv",
			RegionID: "region-1", URL: "https://hooks.example/" + org, CreatedBy: "admin", VerifiedAt: time.Now()},
			store.SigningKey{Secret: "whsec_first"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSubscriptionsStayWithTheirOrganisation(t *testing.T) {
	st := newSubscriptionStore(t)
	ctx := context.Background()
	a := insertSubscription(t, st, "org-a")
	insertSubscription(t, st, "org-b")
	a2 := insertSubscription(t, st, "org-a")
	if a.Version != 1 || len(a.Keys) != 1 || a.Keys[0].KeyID != 1 || len(a.EventTypes) != 0 {
		t.Errorf("inserted: %+v", a)
	}
	for _, id := range []string{a.ID, "not-a-uuid", uuid.NewString()} {
		if _, err := st.Subscription(ctx, "org-b", id); !errors.Is(err, apperr.ErrNotFound) {
			t.Errorf("org-b reads %s: %v", id, err)
		}
	}
	page, err := st.Subscriptions(ctx, "org-a", nil, 1)
	if err != nil || len(page) != 1 || page[0].ID != a.ID {
		t.Fatalf("first page: %v %v", page, err)
	}
	page, err = st.Subscriptions(ctx, "org-a", &store.SubscriptionCursor{CreatedAt: page[0].CreatedAt, ID: page[0].ID}, 5)
	if err != nil || len(page) != 1 || page[0].ID != a2.ID {
		t.Errorf("second page: %v %v", page, err)
	}

	// Updates are checked against the version under the row lock.
	update := func(org string, version int64) error {
		return st.InTx(ctx, func(tx pgx.Tx) error {
			_, err := store.UpdateSubscription(ctx, tx, org, a.ID, version, func(s *store.Subscription) error {
				s.Description = "changed"
				return nil
			})
			return err
		})
	}
	if err := update("org-a", 1); err != nil {
		t.Fatal(err)
	}
	if err := update("org-a", 1); !errors.Is(err, apperr.ErrVersionConflict) {
		t.Errorf("stale version: %v", err)
	}
	if err := update("org-b", 2); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("other organisation: %v", err)
	}
	del := func(org string, version int64) error {
		return st.InTx(ctx, func(tx pgx.Tx) error { return store.DeleteSubscription(ctx, tx, org, a.ID, version) })
	}
	if err := del("org-b", 0); !errors.Is(err, apperr.ErrNotFound) {
		t.Errorf("delete by another organisation: %v", err)
	}
	if err := del("org-a", 1); !errors.Is(err, apperr.ErrVersionConflict) {
		t.Errorf("delete at a stale version: %v", err)
	}
}

func TestRotationRetiresKeys(t *testing.T) {
	st := newSubscriptionStore(t)
	ctx := context.Background()
	s := insertSubscription(t, st, "org-a")
	rotate := func(secret string, overlap time.Duration) store.Subscription {
		var out store.Subscription
		if err := st.InTx(ctx, func(tx pgx.Tx) error {
			var err error
			_, out, err = store.RotateSigningKey(ctx, tx, "org-a", s.ID, store.SigningKey{Secret: secret}, overlap)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := rotate("whsec_second", time.Hour); len(got.Keys) != 2 || got.Keys[0].ExpiresAt == nil || got.Keys[1].ExpiresAt != nil {
		t.Errorf("after a rotation with overlap: %+v", got.Keys)
	}
	// Overlap 0 retires every current key at once, the one still in its
	// overlap too; an earlier expiry is never pushed back.
	got := rotate("whsec_third", 0)
	if len(got.Keys) != 1 || got.Keys[0].KeyID != 3 || got.Keys[0].Secret != "whsec_third" {
		t.Errorf("after a rotation without overlap: %+v", got.Keys)
	}
	k, err := st.SigningKeyByID(ctx, s.ID, 1)
	if err != nil || k.Secret != "whsec_first" || k.ExpiresAt == nil {
		t.Errorf("first key kept, expired: %+v %v", k, err)
	}
}

func TestEventsSchemaMigratesDownAndUp(t *testing.T) {
	pool, _ := dbtest.New(t, store.Migrations)
	ctx := context.Background()
	if err := database.MigrateDown(ctx, pool, store.Migrations); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'events' AND tablename <> 'schema_version'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d tables left (%v)", n, err)
	}
	if err := database.Migrate(ctx, pool, store.Migrations); err != nil {
		t.Fatal(err)
	}
}
