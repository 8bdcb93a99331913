// Package audit records every read and write of client data, allowed or
// denied, in a log that cannot be changed afterwards (NEN 7513).
//
// All services append to one table, audit.events, in the same database as
// their own data, so an audit record commits or rolls back together with the
// access it records. The database chains the rows: a trigger gives each new
// row the next gapless seq and hash = sha256(prev_hash || canonical text of
// the row), so no writer can skip or forge the chain, and UPDATE, DELETE and
// TRUNCATE are refused. Verify recomputes the chain to detect what a
// superuser changed with the triggers disabled.
//
// A service's database role needs USAGE on schema audit and INSERT, SELECT on
// audit.events, and must not own the table.
package audit

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/ipsbridge/ipsbridge/internal/database"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations creates the audit schema's table, chain and guards.
var Migrations = database.Embedded("audit", migrationFiles)

// Querier is what Record, List and Verify need; *pgxpool.Pool,
// *pgxpool.Conn, *pgx.Conn and pgx.Tx satisfy it.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Outcome says whether an access was allowed.
type Outcome string

// Outcomes of an access decision.
const (
	Allowed Outcome = "allowed"
	Denied  Outcome = "denied"
)

// Event is one access to client data.
type Event struct {
	// Seq is the event's position in the chain; filled on read, ignored by
	// Record.
	Seq int64
	// Time of the access; Record uses the database's now() (the start of
	// the transaction) when zero.
	Time time.Time
	// Service is the service that recorded the event, e.g. "clients".
	Service string
	// ActorID is who accessed: a user's or partner system's subject.
	ActorID string
	// OnBehalfOf is the person a partner system acted for, if any.
	OnBehalfOf string
	// OrgID and Role are the actor's organisation and role.
	OrgID string
	Role  string
	// ClientID is the client whose data was accessed; empty for accesses
	// not about one client (a list), and possibly an id that does not exist
	// (a denied probe).
	ClientID string
	// Sections are the sections of the client's data accessed.
	Sections []string
	// Action is what was done: "read", "write", "create", "list", ...
	Action  string
	Outcome Outcome
	// Reason is why access was denied, or what was done.
	Reason    string
	RequestID string
	// Purpose is why the data was accessed.
	Purpose    string
	RemoteAddr string
}

// Errors callers can test for with errors.Is.
var (
	// ErrInvalidEvent: a required field of an Event is missing or wrong.
	ErrInvalidEvent = errors.New("audit: invalid event")
	// ErrStaleSnapshot: in a REPEATABLE READ or SERIALIZABLE transaction,
	// another transaction appended to the log after this one took its
	// snapshot. Retry the transaction; READ COMMITTED never sees this.
	ErrStaleSnapshot = errors.New("audit: log appended to after this transaction's snapshot")
	// ErrInvalidPageToken: List got a page token it did not issue.
	ErrInvalidPageToken = errors.New("audit: invalid page token")
	// ErrInvalidArgument: List got an empty client id or a negative page
	// size.
	ErrInvalidArgument = errors.New("audit: invalid argument")
)

func (e Event) validate() error {
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"service", e.Service},
		{"actor id", e.ActorID},
		{"organisation", e.OrgID},
		{"role", e.Role},
		{"action", e.Action},
	} {
		if strings.TrimSpace(f.value) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %s", ErrInvalidEvent, strings.Join(missing, ", "))
	}
	if e.Outcome != Allowed && e.Outcome != Denied {
		return fmt.Errorf("%w: outcome %q is neither %q nor %q", ErrInvalidEvent, e.Outcome, Allowed, Denied)
	}
	for _, s := range e.Sections {
		if strings.TrimSpace(s) == "" {
			return fmt.Errorf("%w: empty section name", ErrInvalidEvent)
		}
	}
	return nil
}

const insertEvent = `
INSERT INTO audit.events (
    occurred_at, service, actor_id, on_behalf_of, org_id, role, client_id,
    sections, action, outcome, reason, request_id, purpose, remote_addr)
VALUES (COALESCE($1, now()), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`

// insertEvents appends many events in one statement, in the order given;
// $1 is a json array of eventRow.
const insertEvents = `
INSERT INTO audit.events (
    occurred_at, service, actor_id, on_behalf_of, org_id, role, client_id,
    sections, action, outcome, reason, request_id, purpose, remote_addr)
SELECT COALESCE(r.occurred_at, now()), r.service, r.actor_id, r.on_behalf_of, r.org_id, r.role, r.client_id,
       r.sections, r.action, r.outcome, r.reason, r.request_id, r.purpose, r.remote_addr
  FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (
         occurred_at timestamptz, service text, actor_id text, on_behalf_of text, org_id text, role text,
         client_id text, sections text[], action text, outcome text, reason text, request_id text,
         purpose text, remote_addr text)) WITH ORDINALITY AS r
 ORDER BY r.ordinality`

// eventRow is one event as insertEvents reads it.
type eventRow struct {
	OccurredAt *time.Time `json:"occurred_at"`
	Service    string     `json:"service"`
	ActorID    string     `json:"actor_id"`
	OnBehalfOf string     `json:"on_behalf_of"`
	OrgID      string     `json:"org_id"`
	Role       string     `json:"role"`
	ClientID   string     `json:"client_id"`
	Sections   []string   `json:"sections"`
	Action     string     `json:"action"`
	Outcome    string     `json:"outcome"`
	Reason     string     `json:"reason"`
	RequestID  string     `json:"request_id"`
	Purpose    string     `json:"purpose"`
	RemoteAddr string     `json:"remote_addr"`
}

func (e Event) row() eventRow {
	a := e.args()
	at, _ := a[0].(*time.Time)
	return eventRow{OccurredAt: at, Service: e.Service, ActorID: e.ActorID, OnBehalfOf: e.OnBehalfOf, OrgID: e.OrgID,
		Role: e.Role, ClientID: e.ClientID, Sections: a[7].([]string), Action: e.Action, Outcome: string(e.Outcome),
		Reason: e.Reason, RequestID: e.RequestID, Purpose: e.Purpose, RemoteAddr: e.RemoteAddr}
}

// Record appends e to the audit log. Run it in the transaction of the access
// it records, so that both commit or neither does, and treat an error as
// fatal for that transaction: the access must not happen unrecorded. The
// transaction waits for earlier appenders to finish, and later ones wait
// for it, so call Record late, just before commit. Use READ COMMITTED (the
// default): in a REPEATABLE READ or SERIALIZABLE transaction, an append
// committed after the transaction's snapshot makes Record fail, with
// ErrStaleSnapshot or a serialization failure; retry the transaction.
func Record(ctx context.Context, q Querier, e Event) error {
	if err := e.validate(); err != nil {
		return err
	}
	_, err := q.Exec(ctx, insertEvent, e.args()...)
	if err != nil {
		// The trigger read a tip older than the committed one: only possible
		// when the transaction's snapshot predates the lock (REPEATABLE READ,
		// SERIALIZABLE). The primary key stops the chain from forking.
		if database.Code(err) == database.UniqueViolation && database.Constraint(err) == "events_pkey" {
			return fmt.Errorf("audit: record %s of client %q: %w: %w", e.Action, e.ClientID, ErrStaleSnapshot, err)
		}
		return fmt.Errorf("audit: record %s of client %q: %w", e.Action, e.ClientID, err)
	}
	return nil
}

// RecordAll appends events in the order given, as Record does one: in the
// caller's transaction, one statement whatever their number.
func RecordAll(ctx context.Context, q Querier, events ...Event) error {
	switch len(events) {
	case 0:
		return nil
	case 1:
		return Record(ctx, q, events[0])
	}
	rows := make([]eventRow, len(events))
	for i, e := range events {
		if err := e.validate(); err != nil {
			return err
		}
		rows[i] = e.row()
	}
	if _, err := q.Exec(ctx, insertEvents, rows); err != nil {
		if database.Code(err) == database.UniqueViolation && database.Constraint(err) == "events_pkey" {
			return fmt.Errorf("audit: record %d events: %w: %w", len(events), ErrStaleSnapshot, err)
		}
		return fmt.Errorf("audit: record %d events: %w", len(events), err)
	}
	return nil
}

// args are insertEvent's arguments for e.
func (e Event) args() []any {
	var at *time.Time
	if !e.Time.IsZero() {
		at = &e.Time
	}
	sections := e.Sections
	if sections == nil {
		sections = []string{} // nil would be sent as NULL
	}
	return []any{at, e.Service, e.ActorID, e.OnBehalfOf, e.OrgID, e.Role, e.ClientID,
		sections, e.Action, string(e.Outcome),
		e.Reason, e.RequestID, e.Purpose, e.RemoteAddr}
}
