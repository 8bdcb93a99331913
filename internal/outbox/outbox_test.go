package outbox_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/database/dbtest"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
)

func TestAddCommitsWithTheTransaction(t *testing.T) {
	pool, _ := dbtest.New(t, outbox.Migrations)
	ctx := context.Background()
	ev := outbox.Event{Type: outbox.JobStarted, ClientID: "c1", RegionID: "r1", Subject: "placements/p1",
		Change: map[string]any{"placement_id": "p1"}, Data: map[string]any{"hours_per_week": 20}}

	// A rolled-back change leaves no event.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := outbox.Add(ctx, tx, "employment", ev); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, pool.QueryRow(ctx, `SELECT count(*) FROM outbox.events`)); n != 0 {
		t.Fatalf("rolled back: %d events, want 0", n)
	}

	tx, err = pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := outbox.Add(ctx, tx, "employment", ev, ev); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var section, typ string
	var hours int
	if err := pool.QueryRow(ctx, `SELECT section, type, (data->>'hours_per_week')::int FROM outbox.events ORDER BY id LIMIT 1`).
		Scan(&section, &typ, &hours); err != nil {
		t.Fatal(err)
	}
	if section != "placements" || typ != string(outbox.JobStarted) || hours != 20 {
		t.Fatalf("stored %s %s %d", section, typ, hours)
	}
	if n := count(t, pool.QueryRow(ctx, `SELECT count(DISTINCT event_id) FROM outbox.events`)); n != 2 {
		t.Fatalf("committed: %d distinct events, want 2", n)
	}
}

func TestAddRefusesIncompleteEvents(t *testing.T) {
	pool, _ := dbtest.New(t, outbox.Migrations)
	ctx := context.Background()
	for name, ev := range map[string]outbox.Event{
		"unknown type": {Type: "nl.ipsbridge.nothing", ClientID: "c", RegionID: "r"},
		"no client":    {Type: outbox.JobEnded, RegionID: "r"},
		"no region":    {Type: outbox.JobEnded, ClientID: "c"},
	} {
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return outbox.Add(ctx, tx, "x", ev) })
		if !errors.Is(err, outbox.ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestEveryTypeHasASection(t *testing.T) {
	if len(outbox.Types) != len(outbox.Sections) {
		t.Fatalf("%d types, %d with a section", len(outbox.Types), len(outbox.Sections))
	}
	for _, typ := range outbox.Types {
		if _, ok := outbox.Sections[typ]; !ok {
			t.Errorf("%s has no section", typ)
		}
	}
}

func count(t *testing.T, row pgx.Row) int {
	t.Helper()
	var n int
	if err := row.Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
