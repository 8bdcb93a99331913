package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/consumer"
	"github.com/ipsbridge/ipsbridge/internal/database/dbtest"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	eventsstore "github.com/ipsbridge/ipsbridge/services/events/store"
	"github.com/ipsbridge/ipsbridge/services/events/visibility"
)

type fixture struct {
	pool  *pgxpool.Pool
	st    *eventsstore.Store
	judge *visibility.Judge
}

// judge is the relay's: with no subscriptions here it judges nothing.
func judge(tb testing.TB, pool *pgxpool.Pool) *visibility.Judge {
	az, err := authz.New()
	if err != nil {
		tb.Fatal(err)
	}
	return visibility.New(pool, az)
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool, _ := dbtest.New(t, outbox.Migrations, eventsstore.Migrations, consumer.Migrations)
	// What the test handler writes: one row per handling.
	if _, err := pool.Exec(context.Background(), `CREATE TABLE public.handled (event_id text NOT NULL, position bigint NOT NULL, client_id text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return &fixture{pool: pool, st: eventsstore.New(pool), judge: judge(t, pool)}
}

// add commits one JobStarted event for client in its own transaction.
func (f *fixture) add(t *testing.T, client string) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		return outbox.Add(ctx, tx, "employment", outbox.Event{Type: outbox.JobStarted, ClientID: client, RegionID: "noord"})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) relay(t *testing.T) {
	t.Helper()
	if _, err := f.st.Relay(context.Background(), 1000, f.judge); err != nil {
		t.Fatal(err)
	}
}

func record(ctx context.Context, tx pgx.Tx, e consumer.Event) error {
	_, err := tx.Exec(ctx, `INSERT INTO public.handled (event_id, position, client_id) VALUES ($1, $2, $3)`, e.EventID, e.Position, e.ClientID)
	return err
}

func (f *fixture) handled(t *testing.T) (rows, distinct int) {
	t.Helper()
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*), count(DISTINCT event_id) FROM public.handled`).Scan(&rows, &distinct); err != nil {
		t.Fatal(err)
	}
	return rows, distinct
}

func (f *fixture) clientsHandled(t *testing.T) []string {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT client_id FROM public.handled ORDER BY position`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func cfg(name string, h consumer.Handler) consumer.Config {
	return consumer.Config{Name: name, Types: []outbox.Type{outbox.JobStarted}, Handle: h,
		Poll: 50 * time.Millisecond, BackoffBase: 10 * time.Millisecond, BackoffCap: 50 * time.Millisecond}
}

// A consumer starts at the log's end when it is first registered: what
// its service did before is not replayed.
func TestStartsAtTheLogsEndThenHandlesInOrder(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.add(t, "before")
	f.relay(t)
	c := consumer.New(f.pool, cfg("test.order", record), testplatform.Logger())
	if n, err := c.Drain(ctx); err != nil || n != 0 {
		t.Fatalf("first drain: %d, %v; want nothing (registered at the end)", n, err)
	}
	for i := range 5 {
		f.add(t, fmt.Sprintf("c%d", i))
	}
	// An event of another type between them is passed over.
	err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		return outbox.Add(ctx, tx, "clients", outbox.Event{Type: outbox.PhaseChanged, ClientID: "other", RegionID: "noord"})
	})
	if err != nil {
		t.Fatal(err)
	}
	f.add(t, "c5")
	f.relay(t)
	if n, err := c.Drain(ctx); err != nil || n != 6 {
		t.Fatalf("drain: %d, %v; want 6", n, err)
	}
	if got := fmt.Sprint(f.clientsHandled(t)); got != "[c0 c1 c2 c3 c4 c5]" {
		t.Fatalf("handled %s", got)
	}
	// Nothing new: nothing handled again.
	if n, err := c.Drain(ctx); err != nil || n != 0 {
		t.Fatalf("second drain: %d, %v", n, err)
	}
}

// An event whose transaction commits after a later one's is handled when
// it commits, not skipped: the consumer follows the log's positions, which
// the relay gives in commit-visible order.
func TestLateCommitIsNotSkipped(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := consumer.New(f.pool, cfg("test.late", record), testplatform.Logger())
	if _, err := c.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	slow, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Rollback(ctx) //nolint:errcheck
	if err := outbox.Add(ctx, slow, "employment", outbox.Event{Type: outbox.JobStarted, ClientID: "slow", RegionID: "noord"}); err != nil {
		t.Fatal(err)
	}
	f.add(t, "fast") // a later outbox id, committed first
	f.relay(t)
	if n, err := c.Drain(ctx); err != nil || n != 1 {
		t.Fatalf("drain: %d, %v", n, err)
	}
	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	f.relay(t)
	if n, err := c.Drain(ctx); err != nil || n != 1 {
		t.Fatalf("drain after the late commit: %d, %v", n, err)
	}
	if got := fmt.Sprint(f.clientsHandled(t)); got != "[fast slow]" {
		t.Fatalf("handled %s", got)
	}
}

// A failing handler rolls back its writes and holds the cursor; the
// failure is on the cursor row; once it succeeds the event is applied
// once.
func TestFailureHoldsTheCursorAndRollsBack(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var fail atomic.Bool
	fail.Store(true)
	h := func(ctx context.Context, tx pgx.Tx, e consumer.Event) error {
		if err := record(ctx, tx, e); err != nil {
			return err
		}
		if fail.Load() && e.ClientID == "c1" {
			return errors.New("boom")
		}
		return nil
	}
	c := consumer.New(f.pool, cfg("test.fail", h), testplatform.Logger())
	if _, err := c.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	f.add(t, "c0")
	f.add(t, "c1")
	f.add(t, "c2")
	f.relay(t)
	n, err := c.Drain(ctx)
	if err == nil || n != 1 {
		t.Fatalf("drain: %d, %v; want 1 and the failure", n, err)
	}
	if _, err := c.Drain(ctx); err == nil {
		t.Fatal("retry while the handler still fails succeeded")
	}
	var lastErr string
	if err := f.pool.QueryRow(ctx, `SELECT last_error FROM consumer.cursors WHERE name = 'test.fail'`).Scan(&lastErr); err != nil {
		t.Fatal(err)
	}
	if lastErr == "" {
		t.Error("the failure is not on the cursor")
	}
	fail.Store(false)
	if n, err := c.Drain(ctx); err != nil || n != 2 {
		t.Fatalf("drain after repair: %d, %v", n, err)
	}
	if rows, distinct := f.handled(t); rows != 3 || distinct != 3 {
		t.Fatalf("%d rows for %d events, want 3 and 3", rows, distinct)
	}
	if got := fmt.Sprint(f.clientsHandled(t)); got != "[c0 c1 c2]" {
		t.Fatalf("handled %s", got)
	}
}

// Replicas of a service running the same consumer share the work: every
// event is applied exactly once.
func TestReplicasApplyEachEventOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := consumer.New(f.pool, cfg("test.replicas", record), testplatform.Logger()).Drain(ctx); err != nil {
		t.Fatal(err)
	}
	const events = 200
	for i := range events {
		f.add(t, fmt.Sprintf("c%03d", i))
	}
	f.relay(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := consumer.New(f.pool, cfg("test.replicas", record), testplatform.Logger())
			if _, err := c.Drain(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if rows, distinct := f.handled(t); rows != events || distinct != events {
		t.Fatalf("%d rows for %d events, want %d each", rows, distinct, events)
	}
}

// Run wakes on the relay's notification and stops at shutdown.
func TestRunFollowsTheLogUntilShutdown(t *testing.T) {
	f := newFixture(t)
	c := consumer.New(f.pool, consumer.Config{Name: "test.run", Types: []outbox.Type{outbox.JobStarted}, Handle: record,
		Poll: time.Minute}, testplatform.Logger())
	if _, err := c.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	f.add(t, "c0")
	f.relay(t)
	// The poll is a minute: only the notification can wake the consumer
	// before the deadline.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if rows, _ := f.handled(t); rows == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the event was not handled after the relay's notification")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
}

// A cursor set back (an operator replaying the log) passes over the
// events already applied: each is recognised by its id.
func TestReplayAppliesNothingTwice(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := consumer.New(f.pool, cfg("test.replay", record), testplatform.Logger())
	if _, err := c.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		f.add(t, fmt.Sprintf("c%d", i))
	}
	f.relay(t)
	if n, err := c.Drain(ctx); err != nil || n != 3 {
		t.Fatalf("drain: %d, %v", n, err)
	}
	if _, err := f.pool.Exec(ctx, `UPDATE consumer.cursors SET position = 0 WHERE name = 'test.replay'`); err != nil {
		t.Fatal(err)
	}
	f.add(t, "c3")
	f.relay(t)
	if _, err := c.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(f.clientsHandled(t)); got != "[c0 c1 c2 c3]" {
		t.Fatalf("handled %s", got)
	}
}

// BenchmarkDrain measures how many events a consumer applies per second,
// one transaction per event (cursor lock, event id, handler's write,
// cursor update).
func BenchmarkDrain(b *testing.B) {
	pool, _ := dbtest.New(b, outbox.Migrations, eventsstore.Migrations, consumer.Migrations)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `CREATE TABLE public.handled (event_id text NOT NULL, position bigint NOT NULL, client_id text NOT NULL)`); err != nil {
		b.Fatal(err)
	}
	c := consumer.New(pool, cfg("bench", record), testplatform.Logger())
	if _, err := c.Drain(ctx); err != nil {
		b.Fatal(err)
	}
	st := eventsstore.New(pool)
	j := judge(b, pool)
	const per = 500
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			evs := make([]outbox.Event, per)
			for i := range evs {
				evs[i] = outbox.Event{Type: outbox.JobStarted, ClientID: fmt.Sprintf("c%d", i), RegionID: "noord"}
			}
			return outbox.Add(ctx, tx, "employment", evs...)
		})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.Relay(ctx, per, j); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if n, err := c.Drain(ctx); err != nil || n != per {
			b.Fatalf("drained %d, %v", n, err)
		}
	}
	b.ReportMetric(float64(b.N*per)/b.Elapsed().Seconds(), "events/s")
}
