// Package consumer lets a service react to other services' domain events:
// it reads the ordered event log (events.log, which the dispatcher's relay
// fills from every service's outbox) after the consumer's cursor, and
// hands each event of the types it wants to a handler inside a
// transaction that also moves the cursor past it. The handler's writes and
// the cursor commit together, so every event is handled at least once and
// its effects are applied exactly once: a crash before the commit leaves
// the event to be handled again, one after it never sees it again.
//
// The log, not the outbox, is read because log positions are gapless and
// become visible in order (one relay numbers them, one transaction at a
// time); outbox ids are taken at insert, not at commit, so a cursor over
// them could skip an event whose transaction commits late.
//
// A failing handler holds the consumer at that event (order matters: a job
// end must not overtake its start); it is retried with backoff, and the
// failure is kept on the cursor row for operators. Several replicas of a
// service may run the same consumer: the cursor row is locked per event,
// so one handles it and the other moves on.
package consumer

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations creates the consumer schema (the cursors). Every service that
// consumes events applies it.
var Migrations = database.Embedded("consumer", migrationFiles)

// Event is one entry of the event log.
type Event struct {
	Position   int64
	EventID    string
	Source     string
	Type       outbox.Type
	ClientID   string
	RegionID   string
	PayerOrgID string
	Subject    string
	// Change is the thin payload, Data the section's data after the change
	// (JSON, as the producing service wrote them).
	Change     json.RawMessage
	Data       json.RawMessage
	OccurredAt time.Time
}

// DecodeChange decodes the event's change into v.
func (e Event) DecodeChange(v any) error {
	if err := json.Unmarshal(e.Change, v); err != nil {
		return fmt.Errorf("decode change of %s %s: %w", e.Type, e.EventID, err)
	}
	return nil
}

// DecodeData decodes the event's data into v.
func (e Event) DecodeData(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("decode data of %s %s: %w", e.Type, e.EventID, err)
	}
	return nil
}

// Handler applies one event in tx, the transaction that moves the cursor.
// It returns nil when the event needs nothing (e.g. the phase already
// follows); an error rolls everything back and the event is retried.
type Handler func(ctx context.Context, tx pgx.Tx, e Event) error

// Config describes one consumer.
type Config struct {
	// Name identifies the cursor, e.g. "clients.phase"; unique per
	// consumer, stable across releases.
	Name string
	// Types are the event types handled; others are passed over.
	Types []outbox.Type
	// Handle applies one event.
	Handle Handler
	// Poll is how often the log is read when no notification came
	// (default 2s); the relay notifies at every commit, so this only
	// bounds the delay when a notification is lost.
	Poll time.Duration
	// Batch is how many events are read at once (default 100).
	Batch int
	// BackoffBase and BackoffCap bound the wait after a failure (defaults
	// 200ms and 30s), doubling in between.
	BackoffBase, BackoffCap time.Duration
}

func (c Config) withDefaults() Config {
	if c.Poll <= 0 {
		c.Poll = 2 * time.Second
	}
	if c.Batch <= 0 {
		c.Batch = 100
	}
	if c.BackoffBase <= 0 {
		c.BackoffBase = 200 * time.Millisecond
	}
	if c.BackoffCap < c.BackoffBase {
		c.BackoffCap = 30 * time.Second
	}
	return c
}

// Consumer reads the log for one handler.
type Consumer struct {
	cfg   Config
	pool  *pgxpool.Pool
	log   *slog.Logger
	types []string
	ready bool
}

// New returns a consumer on pool.
func New(pool *pgxpool.Pool, cfg Config, log *slog.Logger) *Consumer {
	cfg = cfg.withDefaults()
	types := make([]string, len(cfg.Types))
	for i, t := range cfg.Types {
		types[i] = string(t)
	}
	return &Consumer{cfg: cfg, pool: pool, log: log.With("consumer", cfg.Name), types: types}
}

// Name is the consumer's cursor name.
func (c *Consumer) Name() string { return c.cfg.Name }

// Run consumes until ctx ends: it waits for the relay's notification (or
// Poll), handles what is new, and backs off after a failure. It returns
// nil at shutdown; an event being handled then is rolled back and handled
// again at the next start.
func (c *Consumer) Run(ctx context.Context) error {
	failures := 0
	for ctx.Err() == nil {
		err := c.listen(ctx, &failures)
		if ctx.Err() != nil {
			return nil
		}
		failures++
		c.log.WarnContext(ctx, "event consumer interrupted; retrying", "err", err, "failures", failures)
		sleep(ctx, c.backoff(failures))
	}
	return nil
}

// Channel is notified by the relay whenever it appended to the log.
const Channel = outbox.LogChannel

func (c *Consumer) listen(ctx context.Context, failures *int) error {
	conn, err := c.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire listener connection: %w", err)
	}
	// A connection that LISTENed must not go back to the pool.
	pc := conn.Hijack()
	defer pc.Close(context.Background()) //nolint:errcheck
	if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{Channel}.Sanitize()); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	for {
		wait := c.cfg.Poll
		if _, err := c.Drain(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			*failures++
			wait = c.backoff(*failures)
			c.log.ErrorContext(ctx, "handle events; retrying", "err", err, "failures", *failures, "retry_in", wait)
			// A failure waits its backoff: the relay's notifications, which
			// come with every event, must not turn it into a busy loop.
			sleep(ctx, wait)
			continue
		}
		*failures = 0
		wctx, cancel := context.WithTimeout(ctx, wait)
		_, err := pc.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && !errors.Is(err, context.DeadlineExceeded):
			return fmt.Errorf("wait for notification: %w", err)
		}
	}
}

func (c *Consumer) backoff(failures int) time.Duration {
	d := c.cfg.BackoffBase
	for i := 1; i < failures && d < c.cfg.BackoffCap; i++ {
		d *= 2
	}
	return min(d, c.cfg.BackoffCap)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// Drain handles every event the log holds after the cursor and returns
// how many it handled. It stops at the first failure, which it records on
// the cursor and returns; the cursor stays before the failed event.
func (c *Consumer) Drain(ctx context.Context) (int, error) {
	n := 0
	for {
		k, more, err := c.Step(ctx)
		n += k
		if err != nil || !more {
			return n, err
		}
	}
}

// Step handles one batch of events after the cursor. more reports whether
// the batch was full (there may be more to read).
func (c *Consumer) Step(ctx context.Context) (handled int, more bool, err error) {
	if err := c.Register(ctx); err != nil {
		return 0, false, err
	}
	var pos int64
	if err := c.pool.QueryRow(ctx, `SELECT position FROM consumer.cursors WHERE name = $1`, c.cfg.Name).Scan(&pos); err != nil {
		return 0, false, fmt.Errorf("read cursor %s: %w", c.cfg.Name, err)
	}
	events, err := c.read(ctx, pos)
	if err != nil {
		return 0, false, err
	}
	for _, e := range events {
		// One event per transaction: a handler takes the client's locks
		// and writes its audit record last (the chain's lock), so two
		// events in one transaction could hold the chain while waiting for
		// a client a concurrent write holds: a deadlock.
		moved, err := c.handle(ctx, pos, e)
		if err != nil {
			c.fail(ctx, e, err)
			return handled, false, fmt.Errorf("%s: handle %s %s at %d: %w", c.cfg.Name, e.Type, e.EventID, e.Position, err)
		}
		if !moved {
			return handled, true, nil // another replica took it; read again
		}
		pos = e.Position
		handled++
	}
	return handled, len(events) == c.cfg.Batch, nil
}

// Start creates the cursors of consumers unless they exist, at a service's
// start-up before it serves (with the owner's pool, which may read the log
// whatever the runtime grants): at the end of the event log, or at its
// beginning when the log does not exist yet, since then nothing has happened
// that the consumer must not replay. Without it a consumer that could not
// read the log at first (not there yet, not granted yet) would register
// later at the then end and pass over what happened in between.
func Start(ctx context.Context, pool *pgxpool.Pool, names ...string) error {
	var logExists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('events.log') IS NOT NULL`).Scan(&logExists); err != nil {
		return fmt.Errorf("look for the event log: %w", err)
	}
	for _, name := range names {
		q := `INSERT INTO consumer.cursors (name, position) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING`
		if logExists {
			q = atLogEnd
		}
		if _, err := pool.Exec(ctx, q, name); err != nil {
			return fmt.Errorf("start consumer %s: %w", name, err)
		}
	}
	return nil
}

// atLogEnd creates cursor $1 at the event log's end unless it exists.
const atLogEnd = `INSERT INTO consumer.cursors (name, position)
	SELECT $1, coalesce(max(position), 0) FROM events.log
	ON CONFLICT (name) DO NOTHING`

// Register creates the cursor at the log's current end unless it exists: a
// consumer added to a running platform starts with what happens from now
// on, not with a replay of history its service has already acted on. Step
// registers by itself; a caller that must not miss what happens next (a
// test's first write) registers first.
func (c *Consumer) Register(ctx context.Context) error {
	if c.ready {
		return nil
	}
	_, err := c.pool.Exec(ctx, atLogEnd, c.cfg.Name)
	if err != nil {
		return fmt.Errorf("register consumer %s: %w", c.cfg.Name, err)
	}
	c.ready = true
	return nil
}

func (c *Consumer) read(ctx context.Context, after int64) ([]Event, error) {
	rows, err := c.pool.Query(ctx, `SELECT position, event_id::text, source, type, client_id, region_id, payer_org_id,
			subject, change, data, occurred_at
		FROM events.log WHERE position > $1 AND type = ANY ($2) ORDER BY position LIMIT $3`, after, c.types, c.cfg.Batch)
	if err != nil {
		return nil, fmt.Errorf("read event log after %d: %w", after, err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var typ string
		if err := rows.Scan(&e.Position, &e.EventID, &e.Source, &typ, &e.ClientID, &e.RegionID, &e.PayerOrgID,
			&e.Subject, &e.Change, &e.Data, &e.OccurredAt); err != nil {
			return nil, fmt.Errorf("read event log: %w", err)
		}
		e.Type = outbox.Type(typ)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read event log: %w", err)
	}
	return out, nil
}

// handle applies events, in order, in one transaction that locks the
// cursor, checks it is still where this reader left it, records each
// event's id (an event applied before is passed over) and moves the cursor
// to the last. moved is false when another replica got there first
// (nothing was done).
func (c *Consumer) handle(ctx context.Context, from int64, events ...Event) (moved bool, err error) {
	err = database.InTx(ctx, c.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		moved = false
		var pos int64
		if err := tx.QueryRow(ctx, `SELECT position FROM consumer.cursors WHERE name = $1 FOR UPDATE`, c.cfg.Name).Scan(&pos); err != nil {
			return fmt.Errorf("lock cursor: %w", err)
		}
		if pos != from {
			return nil
		}
		for _, e := range events {
			tag, err := tx.Exec(ctx, `INSERT INTO consumer.handled (name, event_id, position) VALUES ($1, $2, $3)
				ON CONFLICT DO NOTHING`, c.cfg.Name, e.EventID, e.Position)
			if err != nil {
				return fmt.Errorf("record event id: %w", err)
			}
			if tag.RowsAffected() == 1 { // not applied before
				if err := c.cfg.Handle(ctx, tx, e); err != nil {
					return err
				}
			}
		}
		last := events[len(events)-1]
		if _, err := tx.Exec(ctx, `UPDATE consumer.cursors SET position = $2, handled = handled + $3, updated_at = now(),
				last_error = '', failing_since = NULL WHERE name = $1`, c.cfg.Name, last.Position, len(events)); err != nil {
			return fmt.Errorf("move cursor: %w", err)
		}
		moved = true
		return nil
	})
	return moved, err
}

// fail notes a handler's failure on the cursor, best effort.
func (c *Consumer) fail(ctx context.Context, e Event, err error) {
	msg := fmt.Sprintf("%s %s at %d: %v", e.Type, e.EventID, e.Position, err)
	if _, uerr := c.pool.Exec(ctx, `UPDATE consumer.cursors SET last_error = $2, failing_since = coalesce(failing_since, now())
		WHERE name = $1`, c.cfg.Name, msg); uerr != nil && ctx.Err() == nil {
		c.log.WarnContext(ctx, "record consumer failure", "err", uerr)
	}
}

// Task adapts consumers to internal/service's Spec.Background: each runs
// until the service shuts down.
func Task(pool *pgxpool.Pool, log *slog.Logger, cfgs ...Config) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		errs := make(chan error, len(cfgs))
		for _, cfg := range cfgs {
			go func() { errs <- New(pool, cfg, log).Run(ctx) }()
		}
		var all []error
		for range cfgs {
			all = append(all, <-errs)
		}
		return errors.Join(all...)
	}
}
