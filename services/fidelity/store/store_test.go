package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/ipsbridge/ipsbridge/internal/database/dbtest"
	"github.com/ipsbridge/ipsbridge/services/fidelity/domain"
	"github.com/ipsbridge/ipsbridge/services/fidelity/store"
)

// A scale version, once seeded, never changes: a revision is a new version.
func TestSeedScalesRefusesAChangedVersion(t *testing.T) {
	ctx := context.Background()
	pool, _ := dbtest.New(t, store.Migrations)
	files, err := domain.ScaleJSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SeedScales(ctx, pool, files); err != nil {
		t.Fatal(err)
	}
	if err := store.SeedScales(ctx, pool, files); err != nil {
		t.Fatalf("seeding the same versions again: %v", err)
	}
	changed := map[string][]byte{}
	for id, raw := range files {
		// One anchor's wording.
		changed[id] = bytes.Replace(raw, []byte("At most 20 clients"), []byte("At most 22 clients"), 1)
	}
	if err := store.SeedScales(ctx, pool, changed); !errors.Is(err, store.ErrScaleChanged) {
		t.Fatalf("changed version seeded: %v", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM fidelity.scales`).Scan(&n); err != nil || n != len(files) {
		t.Fatalf("%d scale versions (%v), want %d", n, err, len(files))
	}
}
