// Package access is the one request path by which every service reads and
// writes client data: given the caller, the client (or a page of clients)
// and what the operation touches, it decides once with the shared policy,
// runs the service's own read or write, and records exactly one audit
// record per client per request, listing every section touched: a write's
// record in the write's own transaction, a read's record (and every
// refusal) through the group-committing audit.Appender before the answer
// leaves.
//
// The facts a decision needs (the client's MHA, region, team, specialist,
// involved organisations and consents) and the caller's organisation come
// from the clients schema's published functions (access_facts,
// lock_access_facts, organization_of), in one statement per request or
// page, so no service asks another one for a decision. Services keep their
// own use cases; the plumbing lives here.
package access

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	"github.com/ipsbridge/ipsbridge/internal/rpc"
)

// Path is one service's request path to client data. Safe for concurrent
// use.
type Path struct {
	service string
	pool    *pgxpool.Pool
	az      *authz.Authorizer
	audit   *audit.Appender
	dir     *Directory
	log     *slog.Logger
	// exclusive: writes lock the clients' trajectories for update (the
	// clients service, which writes them); others share the lock.
	exclusive bool
	// funding: decisions see the clients' funding parties (relation
	// funded), once the funding schema publishes them (probe).
	funding bool
	probe   *FundingProbe
}

// Config says which service a Path serves.
type Config struct {
	// Service signs the audit records, e.g. "employment".
	Service string
	Pool    *pgxpool.Pool
	Authz   *authz.Authorizer
	Logger  *slog.Logger
	// OwnsTrajectories is set by the clients service only: its writes lock
	// the trajectory for update rather than share.
	OwnsTrajectories bool
	// FundingFacts: decisions see each client's funding parties (the
	// funded relation) from the funding schema's published function
	// funding.parties, which must exist in the database.
	FundingFacts bool
}

// New returns the request path of one service.
func New(c Config) *Path {
	return &Path{
		service: c.Service, pool: c.Pool, az: c.Authz, log: c.Logger, exclusive: c.OwnsTrajectories, funding: c.FundingFacts,
		audit: audit.NewAppender(c.Pool, c.Logger), probe: &FundingProbe{log: c.Logger},
		dir: NewDirectory(c.Pool),
	}
}

// Authorizer is the policy the path decides with.
func (p *Path) Authorizer() *authz.Authorizer { return p.az }

// Pool is the service's database.
func (p *Path) Pool() *pgxpool.Pool { return p.pool }

// Directory is the organisation directory the path resolves callers with.
func (p *Path) Directory() *Directory { return p.dir }

// ResolveSubject is the authz.SubjectResolver of every service: the
// caller's organisation's kind and region from the directory, and only the
// token's teams that belong to that organisation.
func (p *Path) ResolveSubject(ctx context.Context, pr authn.Principal) (authz.Subject, error) {
	return p.dir.Subject(ctx, pr)
}

// Caller is who makes the request, as the policy and the audit log see
// them.
type Caller struct {
	Sub  authz.Subject
	P    authn.Principal
	Info rpc.Info
}

// CallerFrom returns the verified caller the interceptors put in ctx.
func CallerFrom(ctx context.Context) (Caller, error) {
	sub, ok := authz.SubjectFromContext(ctx)
	pr, ok2 := authn.FromContext(ctx)
	if !ok || !ok2 {
		return Caller{}, fmt.Errorf("%w: no verified caller", apperr.ErrPermissionDenied)
	}
	return Caller{Sub: sub, P: pr, Info: rpc.InfoFromContext(ctx)}, nil
}

// Key is r as this caller's idempotency key for method: keys are scoped to
// the caller's identity (see internal/idempotency).
func (c Caller) Key(method string, r idempotency.Request) idempotency.Key {
	return idempotency.For(c.P.Subject, method, r)
}

// Event is an audit event of this caller's request.
func (c Caller) Event(service, clientID string, sections []authz.Section, action string, outcome audit.Outcome, reason string) audit.Event {
	names := make([]string, len(sections))
	for i, s := range sections {
		names[i] = string(s)
	}
	return audit.Event{
		Service: service, ActorID: c.P.Subject, OnBehalfOf: c.P.OnBehalfOf, OrgID: c.Sub.OrgID, Role: c.Sub.Role,
		ClientID: clientID, Sections: names, Action: action, Outcome: outcome, Reason: reason,
		RequestID: c.Info.RequestID, Purpose: c.Info.Purpose, RemoteAddr: c.Info.RemoteAddr,
	}
}

// Rule says whether an operation may go ahead for one client: "" allows,
// anything else is the reason it is refused.
type Rule func(a *Access) string

// Op is what a request does with a client.
type Op struct {
	// Action is the audit action: "read", "write", "create", "list", ...
	Action string
	// Sections are what the operation reads or writes: the audit record
	// lists them (or what the operation Touched instead), and the default
	// rule requires each of them.
	Sections []authz.Section
	// Rule replaces the default rule: every section readable for a read
	// or list, writable for anything else.
	Rule Rule
	// Reason is recorded with an allowed access.
	Reason string
}

// Reading is a read of sections.
func Reading(sections ...authz.Section) Op { return Op{Action: "read", Sections: sections} }

// Writing is a write (action "write" or "create") of sections.
func Writing(action string, sections ...authz.Section) Op {
	return Op{Action: action, Sections: sections}
}

func (o Op) reading() bool { return o.Action == "read" || o.Action == "list" }

func (o Op) check(a *Access) string {
	if o.Rule != nil {
		return o.Rule(a)
	}
	for _, s := range o.Sections {
		if o.reading() && !a.Decision.Read[s] {
			return fmt.Sprintf("role %s may not read %s of this client", a.Sub.Role, s)
		}
		if !o.reading() && !a.Decision.Write[s] {
			return fmt.Sprintf("role %s may not %s %s of this client", a.Sub.Role, o.Action, s)
		}
	}
	return ""
}

// Access is one client as one caller may see it in one request.
type Access struct {
	Caller
	ClientID string
	Facts    authz.ClientFacts
	Decision authz.Decision

	az      *authz.Authorizer
	touched []authz.Section
	reason  string
}

// Touch adds sections to the request's audit record of this client: what
// was actually returned or changed, when that is more than (or other
// than) the operation's sections.
func (a *Access) Touch(sections ...authz.Section) {
	for _, s := range sections {
		if !slices.Contains(a.touched, s) {
			a.touched = append(a.touched, s)
		}
	}
}

// Note sets the reason recorded with the access.
func (a *Access) Note(reason string) { a.reason = reason }

// Allowed reports whether the caller may perform action on section of
// this client.
func (a *Access) Allowed(section authz.Section, action authz.Action) (bool, error) {
	return a.az.Allowed(a.Sub, a.Facts, section, action)
}

func (a *Access) record(service string, op Op) audit.Event {
	secs := a.touched
	if len(secs) == 0 {
		secs = op.Sections
	}
	reason := a.reason
	if reason == "" {
		reason = op.Reason
	}
	return a.Event(service, a.ClientID, secs, op.Action, audit.Allowed, reason)
}

// Read decides the caller's access to one client, refuses (audited)
// unless op's rule allows it, runs read and records the access before
// returning. A caller who may see nothing of the client, or asks for one
// that does not exist, gets ErrNotFound, so that existence does not leak.
func (p *Path) Read(ctx context.Context, clientID string, op Op, read func(a *Access) error) error {
	a, err := p.Decide(ctx, clientID, op)
	if err != nil {
		return err
	}
	if err := read(a); err != nil {
		return err
	}
	return p.Done(ctx, a, op)
}

// Decide is the first half of Read, for a use case that must look at the
// decision before it chooses what to do: it decides once and refuses
// (audited) unless op's rule allows. Finish with Done after a read, or
// WriteDecided for a write.
func (p *Path) Decide(ctx context.Context, clientID string, op Op) (*Access, error) {
	c, err := CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	facts, err := p.facts(ctx, p.pool, c.Sub.OrgID, []string{clientID}, false)
	if err != nil {
		return nil, err
	}
	a, err := p.decide(c, clientID, facts)
	if err != nil {
		return nil, err
	}
	if a == nil || !a.Decision.SeesAnything() {
		return nil, p.refuse(ctx, c, clientID, op, false, "no access to this client")
	}
	if reason := op.check(a); reason != "" {
		return nil, p.refuse(ctx, c, clientID, op, true, reason)
	}
	return a, nil
}

// Done records a decided read before its answer leaves: with the sections
// a later call of the same request will read, when asked to cover them,
// and not at all when an earlier call of the request recorded it already
// (see CoverSections).
func (p *Path) Done(ctx context.Context, a *Access, op Op) error {
	addCover(ctx, a)
	return p.recordReads(ctx, a.record(p.service, op))
}

// recordReads records the reads of a request that an earlier call of the
// same request has not recorded already.
func (p *Path) recordReads(ctx context.Context, events ...audit.Event) error {
	events, err := p.uncovered(ctx, events)
	if err != nil {
		return fmt.Errorf("%w: %w", apperr.ErrAuditUnavailable, err)
	}
	return p.Record(ctx, events...)
}

// WriteDecided runs write in a transaction with the audit record of a
// decided access (Decide), for a write whose permission does not depend
// on the client's trajectory changing meanwhile.
func (p *Path) WriteDecided(ctx context.Context, a *Access, op Op, write func(ctx context.Context, tx pgx.Tx) error) error {
	return database.InTx(ctx, p.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		if err := write(ctx, tx); err != nil {
			return err
		}
		return RecordIn(ctx, tx, a.record(p.service, op))
	})
}

// Write decides the caller's access to one client inside a transaction
// (the client's trajectory locked), refuses (audited) unless op's rule
// allows it, runs write in that transaction and records the access in it,
// so that the change and its audit record commit together or not at all.
// The transaction is retried on serialization failures, so write must be
// safe to run again.
func (p *Path) Write(ctx context.Context, clientID string, op Op, write func(ctx context.Context, tx pgx.Tx, a *Access) error) error {
	c, err := CallerFrom(ctx)
	if err != nil {
		return err
	}
	var refused *refusal
	err = database.InTx(ctx, p.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		refused = nil
		facts, err := p.facts(ctx, tx, c.Sub.OrgID, []string{clientID}, true)
		if err != nil {
			return err
		}
		a, err := p.decide(c, clientID, facts)
		if err != nil {
			return err
		}
		if a == nil || !a.Decision.SeesAnything() {
			refused = &refusal{reason: "no access to this client"}
			return errRefused
		}
		if reason := op.check(a); reason != "" {
			refused = &refusal{sees: true, reason: reason}
			return errRefused
		}
		if err := write(ctx, tx, a); err != nil {
			return err
		}
		return RecordIn(ctx, tx, a.record(p.service, op))
	})
	if refused != nil {
		return p.refuse(ctx, c, clientID, op, refused.sees, refused.reason)
	}
	return err
}

// WriteMany is Write for a change that concerns several clients at once
// (a funding claim's lines): it decides every client inside one
// transaction (their trajectories locked, in id order), refuses the whole
// change (each refusal audited) unless op's rule allows every one of them,
// runs write and records one audit record per client in the same
// transaction. Retried on serialization failures, like Write.
func (p *Path) WriteMany(ctx context.Context, clientIDs []string, op Op, write func(ctx context.Context, tx pgx.Tx, allowed map[string]*Access) error) error {
	c, err := CallerFrom(ctx)
	if err != nil {
		return err
	}
	ids := slices.Clone(clientIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	var refused map[string]refusal
	err = database.InTx(ctx, p.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		refused = map[string]refusal{}
		facts, err := p.facts(ctx, tx, c.Sub.OrgID, ids, true)
		if err != nil {
			return err
		}
		allowed := make(map[string]*Access, len(ids))
		for _, id := range ids {
			a, err := p.decide(c, id, facts)
			if err != nil {
				return err
			}
			switch {
			case a == nil || !a.Decision.SeesAnything():
				refused[id] = refusal{reason: "no access to this client"}
			case op.check(a) != "":
				refused[id] = refusal{sees: true, reason: op.check(a)}
			default:
				allowed[id] = a
			}
		}
		if len(refused) > 0 {
			return errRefused
		}
		if err := write(ctx, tx, allowed); err != nil {
			return err
		}
		for _, id := range ids {
			if err := RecordIn(ctx, tx, allowed[id].record(p.service, op)); err != nil {
				return err
			}
		}
		return nil
	})
	if len(refused) > 0 {
		var events []audit.Event
		for _, id := range ids {
			if r, ok := refused[id]; ok {
				events = append(events, c.Event(p.service, id, op.Sections, op.Action, audit.Denied, r.reason))
			}
		}
		if rerr := p.Record(ctx, events...); rerr != nil {
			return rerr
		}
		return fmt.Errorf("%w: %d of %d clients are not yours to %s", apperr.ErrPermissionDenied, len(refused), len(ids), op.Action)
	}
	return err
}

// WriteUnchecked runs write in a transaction with its audit record, for a
// write about no existing client whose permission the service checked
// itself (an enrolment, general job development): the record names
// clientID as write returns it.
func (p *Path) WriteUnchecked(ctx context.Context, op Op, write func(ctx context.Context, tx pgx.Tx, c Caller) (clientID string, err error)) error {
	c, err := CallerFrom(ctx)
	if err != nil {
		return err
	}
	return database.InTx(ctx, p.pool, pgx.TxOptions{}, func(tx pgx.Tx) error {
		id, err := write(ctx, tx, c)
		if err != nil {
			return err
		}
		return RecordIn(ctx, tx, c.Event(p.service, id, op.Sections, op.Action, audit.Allowed, op.Reason))
	})
}

type refusal struct {
	sees   bool
	reason string
}

var errRefused = errors.New("refused")

// ReadMany decides the caller's access to a page of clients at once (one
// statement for the facts), hands read the clients op's rule allows (the
// others are left out, as if they did not exist, and not recorded) and
// records one audit record for each client read touched, all in one
// append, before returning. A client read does not Touch is not recorded:
// it was not shown.
func (p *Path) ReadMany(ctx context.Context, clientIDs []string, op Op, read func(allowed map[string]*Access) error) error {
	c, err := CallerFrom(ctx)
	if err != nil {
		return err
	}
	facts, err := p.facts(ctx, p.pool, c.Sub.OrgID, clientIDs, false)
	if err != nil {
		return err
	}
	allowed := make(map[string]*Access, len(clientIDs))
	for _, id := range clientIDs {
		a, err := p.decide(c, id, facts)
		if err != nil {
			return err
		}
		if a != nil && a.Decision.SeesAnything() && op.check(a) == "" {
			allowed[id] = a
		}
	}
	if err := read(allowed); err != nil {
		return err
	}
	var events []audit.Event
	for _, id := range clientIDs {
		if a := allowed[id]; a != nil && len(a.touched) > 0 {
			addCover(ctx, a)
			events = append(events, a.record(p.service, op))
		}
	}
	return p.recordReads(ctx, events...)
}

// Record appends audit events outside any write transaction (reads,
// refusals, accesses about no client) with group commit, and waits until
// they are durable. Its failure is ErrAuditUnavailable and must fail the
// request.
func (p *Path) Record(ctx context.Context, events ...audit.Event) error {
	if err := p.audit.Append(ctx, events...); err != nil {
		return fmt.Errorf("%w: %w", apperr.ErrAuditUnavailable, err)
	}
	return nil
}

// RecordIn records events in a write's own transaction, so that the change
// and its record commit together or not at all. Its failure is
// ErrAuditUnavailable and must fail the transaction.
func RecordIn(ctx context.Context, q audit.Querier, events ...audit.Event) error {
	if err := audit.RecordAll(ctx, q, events...); err != nil {
		return fmt.Errorf("%w: %w", apperr.ErrAuditUnavailable, err)
	}
	return nil
}

// Refuse records a refusal the service decided itself (a row-level rule)
// and returns err, the error the caller gets.
func (p *Path) Refuse(ctx context.Context, a *Access, op Op, err error) error {
	return p.RefuseCaller(ctx, a.Caller, a.ClientID, op, err)
}

// RefuseCaller records a refusal about no particular client, or about a
// client the caller may not learn of, and returns err.
func (p *Path) RefuseCaller(ctx context.Context, c Caller, clientID string, op Op, err error) error {
	if rerr := p.Record(ctx, c.Event(p.service, clientID, op.Sections, op.Action, audit.Denied, err.Error())); rerr != nil {
		return rerr
	}
	return err
}

// refuse audits a refusal and returns the error the caller gets: NotFound
// when the caller may see nothing of the client.
func (p *Path) refuse(ctx context.Context, c Caller, clientID string, op Op, sees bool, reason string) error {
	err := fmt.Errorf("%w: %s", apperr.ErrPermissionDenied, reason)
	if !sees {
		err = fmt.Errorf("client %s: %w", clientID, apperr.ErrNotFound)
	}
	if rerr := p.Record(ctx, c.Event(p.service, clientID, op.Sections, op.Action, audit.Denied, reason)); rerr != nil {
		return rerr
	}
	return err
}

// decide evaluates the policy for one client; nil when it does not exist.
func (p *Path) decide(c Caller, clientID string, facts map[string]authz.ClientFacts) (*Access, error) {
	f, ok := facts[clientID]
	if !ok {
		return nil, nil
	}
	d, err := p.az.Decide(c.Sub, f)
	if err != nil {
		return nil, err
	}
	return &Access{Caller: c, ClientID: clientID, Facts: f, Decision: d, az: p.az}, nil
}

// Interceptor is the service's method-level authorization (authz's
// interceptor) with this path's subject resolution, its refusals audited.
func (p *Path) Interceptor(rules map[string][]authz.Requirement) grpc.UnaryServerInterceptor {
	return authz.UnaryServerInterceptor(p.az, rules, p.ResolveSubject, p.denyHook)
}

// denyHook audits a call the interceptor refused before any handler ran.
// A method with one requirement is recorded with its section and action;
// one that needs any of several as a call. Best effort: the call is
// refused either way.
func (p *Path) denyHook(ctx context.Context, s authz.Subject, method string, reqs []authz.Requirement, req any, reason string) {
	pr, _ := authn.FromContext(ctx)
	c := Caller{Sub: s, P: pr, Info: rpc.InfoFromContext(ctx)}
	clientID := ""
	if r, ok := req.(interface{ GetClientId() string }); ok {
		clientID = r.GetClientId()
	}
	op := Op{Action: "call"}
	if len(reqs) > 0 {
		op.Action = string(reqs[0].Action)
	}
	if len(reqs) == 1 {
		op.Sections = []authz.Section{reqs[0].Section}
	}
	if err := p.Record(ctx, c.Event(p.service, clientID, op.Sections, op.Action, audit.Denied, reason+" ("+method+")")); err != nil {
		p.log.ErrorContext(ctx, "audit of refused call failed", "err", err)
	}
}

// Aggregate runs read for figures of a region that name no individual,
// when the policy allows the caller the aggregate action on every one of
// sections there (regionID empty: the caller's own region). One audit
// record naming no client notes the access, or its refusal.
func (p *Path) Aggregate(ctx context.Context, regionID string, sections []authz.Section, read func(c Caller, regionID string) error) error {
	c, err := CallerFrom(ctx)
	if err != nil {
		return err
	}
	if regionID == "" {
		regionID = c.Sub.RegionID
	}
	return p.aggregate(ctx, c, regionID, sections, "region figures of "+regionID, read)
}

func (p *Path) aggregate(ctx context.Context, c Caller, regionID string, sections []authz.Section, reason string, read func(c Caller, regionID string) error) error {
	if regionID == "" {
		regionID = c.Sub.RegionID
	}
	op := Op{Action: "aggregate", Sections: sections}
	for _, sec := range sections {
		ok, err := p.az.Allowed(c.Sub, authz.ClientFacts{RegionID: regionID}, sec, authz.Aggregate)
		if err != nil {
			return err
		}
		if !ok {
			return p.RefuseCaller(ctx, c, "", op,
				fmt.Errorf("%w: role %s may not see the figures of region %s", apperr.ErrPermissionDenied, c.Sub.Role, regionID))
		}
	}
	if err := read(c, regionID); err != nil {
		return err
	}
	return p.Record(ctx, c.Event(p.service, "", sections, op.Action, audit.Allowed, reason))
}

// SystemOrg and SystemRole name the platform itself in audit records: a
// service acting on a domain event, on nobody's request.
const (
	SystemOrg  = "ipsbridge"
	SystemRole = "system"
)

// System is the caller a service acts as when it reacts to a domain event
// (internal/consumer): actor "system:<name>" of SystemOrg with SystemRole,
// the event's id as the request id, and why it acts as the purpose. The
// policy gives it nothing; its writes are decided by the service's own
// rules and recorded with WriteAsSystem.
func System(name, eventID, purpose string) Caller {
	id := "system:" + name
	return Caller{
		Sub:  authz.Subject{UserID: id, OrgID: SystemOrg, Role: SystemRole},
		P:    authn.Principal{Subject: id, Name: name, OrgID: SystemOrg, Role: SystemRole},
		Info: rpc.Info{RequestID: eventID, Purpose: purpose},
	}
}

// ErrNoClient: WriteAsSystem was asked about a client that does not exist
// (any more); nothing was written or recorded.
var ErrNoClient = errors.New("no such client")

// WriteAsSystem runs a system write about one client in tx, a transaction
// the caller owns (an event consumer's, which also moves its cursor): it
// locks the client's trajectory as this service's writes do, hands write
// the client's facts and, when write reports that it changed something,
// records c's access in tx, so that the change, its audit record and the
// cursor commit together. write returns the reason to record (op.Reason
// when empty), or changed false when there was nothing to do. A client
// that does not exist is ErrNoClient.
func (p *Path) WriteAsSystem(ctx context.Context, tx pgx.Tx, c Caller, clientID string, op Op,
	write func(ctx context.Context, tx pgx.Tx, facts authz.ClientFacts) (changed bool, reason string, err error)) error {
	facts, err := p.facts(ctx, tx, c.Sub.OrgID, []string{clientID}, true)
	if err != nil {
		return err
	}
	f, ok := facts[clientID]
	if !ok {
		return fmt.Errorf("client %s: %w", clientID, ErrNoClient)
	}
	changed, reason, err := write(ctx, tx, f)
	if err != nil || !changed {
		return err
	}
	if reason == "" {
		reason = op.Reason
	}
	return RecordIn(ctx, tx, c.Event(p.service, clientID, op.Sections, op.Action, audit.Allowed, reason))
}

// FactsFor returns the access facts of one client for an organisation
// (consents as they stand now), or ok false when the client does not
// exist: for a system actor deciding on an organisation's behalf what it
// may be told (a notice's content).
func (p *Path) FactsFor(ctx context.Context, q Querier, orgID, clientID string) (authz.ClientFacts, bool, error) {
	facts, err := p.facts(ctx, q, orgID, []string{clientID}, false)
	if err != nil {
		return authz.ClientFacts{}, false, err
	}
	f, ok := facts[clientID]
	return f, ok, nil
}
