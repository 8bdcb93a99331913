package audit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
)

// Execer runs the statement a batch is appended with; *pgxpool.Pool
// satisfies it.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Appender records the audit events of reads and refusals, which have no
// transaction of their own, with group commit: the events of concurrent
// requests are appended together in one transaction, so that many requests
// share one wait for the chain's lock and one durable commit. Each caller
// of Append is released when its batch has committed, or gets the error
// that failed it: a read's answer still waits for its record (fail-closed).
// The chain is the one Record appends to; the trigger links every row.
//
// Writes record in their own transaction with Record, not here: the record
// must commit or roll back with the change.
//
// There is no timer: the first Append on an idle appender starts a
// goroutine that writes batch after batch until the queue is empty; what
// queues while one batch commits forms the next.
type Appender struct {
	db       Execer
	log      *slog.Logger
	maxBatch int

	mu      sync.Mutex
	queue   []*pending
	running bool
}

type pending struct {
	events []Event
	done   chan error
}

// NewAppender returns an appender writing through db.
func NewAppender(db Execer, log *slog.Logger) *Appender {
	return &Appender{db: db, log: log, maxBatch: 256}
}

// Append records events in one batch with other callers' and returns once
// they are durable. The events are checked first; an invalid one fails the
// call without anything appended. When ctx ends first Append returns its
// error; the events may still be recorded.
func (a *Appender) Append(ctx context.Context, events ...Event) error {
	if len(events) == 0 {
		return nil
	}
	for _, e := range events {
		if err := e.validate(); err != nil {
			return err
		}
	}
	p := &pending{events: events, done: make(chan error, 1)}
	a.mu.Lock()
	a.queue = append(a.queue, p)
	if !a.running {
		a.running = true
		go a.drain()
	}
	a.mu.Unlock()
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("audit: wait for record: %w", ctx.Err())
	}
}

// drain flushes batches until the queue is empty.
func (a *Appender) drain() {
	for {
		a.mu.Lock()
		if len(a.queue) == 0 {
			a.running = false
			a.mu.Unlock()
			return
		}
		// Take whole requests up to maxBatch events (at least one request,
		// however many events it has).
		n, events := 0, 0
		for n < len(a.queue) && (n == 0 || events+len(a.queue[n].events) <= a.maxBatch) {
			events += len(a.queue[n].events)
			n++
		}
		batch := a.queue[:n:n]
		a.queue = a.queue[n:]
		a.mu.Unlock()
		a.flush(batch, events)
	}
}

func (a *Appender) flush(batch []*pending, events int) {
	// A batch is not one caller's: it runs to the end even if a caller
	// gave up, so that the others are recorded.
	err := a.write(context.Background(), batch)
	if err != nil {
		a.log.Error("audit batch failed", "events", events, "err", err)
	}
	for _, p := range batch {
		p.done <- err
	}
}

func (a *Appender) write(ctx context.Context, batch []*pending) error {
	var rows []eventRow
	for _, p := range batch {
		for _, e := range p.events {
			rows = append(rows, e.row())
		}
	}
	// One statement, so one round trip and one commit for the whole batch,
	// and a constant cost per request whatever the number of clients it
	// records; the chain's trigger links each row in order.
	if _, err := a.db.Exec(ctx, insertEvents, rows); err != nil {
		return fmt.Errorf("audit: append batch of %d: %w", len(rows), err)
	}
	return nil
}
