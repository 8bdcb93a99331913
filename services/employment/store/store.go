// Package store keeps the employment service's data in PostgreSQL (schema
// "employment"). Writes lock the row and check the caller's version inside
// one transaction; the application layer adds its audit record to the same
// transaction.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	"github.com/ipsbridge/ipsbridge/services/employment/domain"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the employment schema's migrations.
var Migrations = database.Embedded("employment", migrationFiles)

// Store is the employment schema.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool returns the underlying pool (for audit records outside a write).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// InTx runs fn in a read-committed transaction, retried on serialization
// failures and deadlocks.
func (s *Store) InTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return database.InTx(ctx, s.pool, pgx.TxOptions{}, fn)
}

// Keys are this schema's idempotency keys.
var Keys = idempotency.In("employment")

func nullUUID(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// InsertEmployerContact stores a new contact and returns it.
func InsertEmployerContact(ctx context.Context, tx pgx.Tx, c domain.EmployerContact) (domain.EmployerContact, error) {
	c.ID = uuid.NewString()
	err := tx.QueryRow(ctx, `INSERT INTO employment.employer_contacts
		(id, client_id, specialist_id, employer_name, contact_date, face_to_face, notes)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at`,
		c.ID, nullUUID(c.ClientID), c.SpecialistID, c.EmployerName, c.Date, c.FaceToFace, c.Notes).Scan(&c.CreatedAt)
	if err != nil {
		return c, fmt.Errorf("insert employer contact: %w", err)
	}
	return c, nil
}

const contactCols = `id, COALESCE(client_id::text, ''), specialist_id, employer_name, contact_date, face_to_face, notes, created_at`

func scanContacts(rows pgx.Rows, err error) ([]domain.EmployerContact, error) {
	if err != nil {
		return nil, fmt.Errorf("list employer contacts: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.EmployerContact, error) {
		var c domain.EmployerContact
		err := r.Scan(&c.ID, &c.ClientID, &c.SpecialistID, &c.EmployerName, &c.Date, &c.FaceToFace, &c.Notes, &c.CreatedAt)
		return c, err
	})
}

// EmployerContact returns one contact by id (for idempotent retries).
func (s *Store) EmployerContact(ctx context.Context, id string) (domain.EmployerContact, error) {
	cs, err := scanContacts(s.pool.Query(ctx, `SELECT `+contactCols+` FROM employment.employer_contacts WHERE id = $1`, id))
	if err != nil {
		return domain.EmployerContact{}, err
	}
	if len(cs) == 0 {
		return domain.EmployerContact{}, fmt.Errorf("employer contact %s: %w", id, domain.ErrNotFound)
	}
	return cs[0], nil
}

// EmployerContacts lists a client's contacts, or a specialist's general
// contacts when clientID is empty, by date.
func (s *Store) EmployerContacts(ctx context.Context, clientID, specialistID string) ([]domain.EmployerContact, error) {
	if clientID == "" {
		return scanContacts(s.pool.Query(ctx, `SELECT `+contactCols+` FROM employment.employer_contacts
			WHERE client_id IS NULL AND specialist_id = $1 ORDER BY contact_date, created_at, id`, specialistID))
	}
	return scanContacts(s.pool.Query(ctx, `SELECT `+contactCols+` FROM employment.employer_contacts
		WHERE client_id = $1 ORDER BY contact_date, created_at, id`, clientID))
}

// InsertApplication stores a new application.
func InsertApplication(ctx context.Context, tx pgx.Tx, a domain.Application, by string) (domain.Application, error) {
	a.ID, a.Version = uuid.NewString(), 1
	err := tx.QueryRow(ctx, `INSERT INTO employment.applications
		(id, client_id, employer_name, job_title, application_date, status, created_by, updated_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING updated_at`,
		a.ID, a.ClientID, a.EmployerName, a.JobTitle, a.Date, string(a.Status), by).Scan(&a.UpdatedAt)
	if err != nil {
		return a, fmt.Errorf("insert application: %w", err)
	}
	return a, nil
}

const appCols = `id, client_id::text, employer_name, job_title, application_date, status, version, updated_at`

func scanApps(rows pgx.Rows, err error) ([]domain.Application, error) {
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Application, error) {
		var a domain.Application
		err := r.Scan(&a.ID, &a.ClientID, &a.EmployerName, &a.JobTitle, &a.Date, &a.Status, &a.Version, &a.UpdatedAt)
		return a, err
	})
}

// Applications lists a client's applications by date.
func (s *Store) Applications(ctx context.Context, clientID string) ([]domain.Application, error) {
	return scanApps(s.pool.Query(ctx, `SELECT `+appCols+` FROM employment.applications
		WHERE client_id = $1 ORDER BY application_date, id`, clientID))
}

// Application returns one application.
func (s *Store) Application(ctx context.Context, clientID, id string) (domain.Application, error) {
	as, err := scanApps(s.pool.Query(ctx, `SELECT `+appCols+` FROM employment.applications WHERE client_id = $1 AND id = $2`, clientID, id))
	if err != nil {
		return domain.Application{}, err
	}
	if len(as) == 0 {
		return domain.Application{}, fmt.Errorf("application %s: %w", id, domain.ErrNotFound)
	}
	return as[0], nil
}

// UpdateApplication locks an application, checks the version and applies
// fn.
func UpdateApplication(ctx context.Context, tx pgx.Tx, clientID, id string, version int64, by string, fn func(*domain.Application) error) (domain.Application, error) {
	as, err := scanApps(tx.Query(ctx, `SELECT `+appCols+` FROM employment.applications
		WHERE client_id = $1 AND id = $2 FOR UPDATE`, clientID, id))
	if err != nil {
		return domain.Application{}, err
	}
	if len(as) == 0 {
		return domain.Application{}, fmt.Errorf("application %s: %w", id, domain.ErrNotFound)
	}
	a := as[0]
	if a.Version != version {
		return domain.Application{}, fmt.Errorf("%w: application %s is at version %d, not %d", domain.ErrVersionConflict, id, a.Version, version)
	}
	if err := fn(&a); err != nil {
		return domain.Application{}, err
	}
	a.Version++
	err = tx.QueryRow(ctx, `UPDATE employment.applications SET status = $3, version = $4, updated_at = now(), updated_by = $5
		WHERE client_id = $1 AND id = $2 RETURNING updated_at`, clientID, id, string(a.Status), a.Version, by).Scan(&a.UpdatedAt)
	if err != nil {
		return domain.Application{}, fmt.Errorf("update application: %w", err)
	}
	return a, nil
}

// InsertPlacement stores a new placement with its first terms.
func InsertPlacement(ctx context.Context, tx pgx.Tx, p domain.Placement, by string) (string, error) {
	id := uuid.NewString()
	if _, err := tx.Exec(ctx, `INSERT INTO employment.placements
		(id, client_id, employer_name, job_title, start_date, contract_kind, created_by, updated_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`,
		id, p.ClientID, p.EmployerName, p.JobTitle, p.Start, string(p.ContractKind), by); err != nil {
		return "", fmt.Errorf("insert placement: %w", err)
	}
	for _, t := range p.Terms {
		if err := insertTerms(ctx, tx, id, t, by); err != nil {
			return "", err
		}
	}
	return id, nil
}

func insertTerms(ctx context.Context, tx pgx.Tx, placementID string, t domain.Terms, by string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO employment.placement_terms
		(placement_id, effective_date, hours_per_week, hourly_wage_cents, recorded_by) VALUES ($1, $2, $3, $4, $5)`,
		placementID, t.Effective, t.HoursPerWeek, t.HourlyWageCents, by); err != nil {
		return fmt.Errorf("insert placement terms: %w", err)
	}
	return nil
}

// Querier is satisfied by the pool and by a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Placements returns the placements of the given clients (one client, or a
// caseload page) with their terms, by client and start date. With lock the
// placement rows are locked FOR UPDATE (q must be a transaction).
func Placements(ctx context.Context, q Querier, clientIDs []string, placementID string, lock bool) ([]domain.Placement, error) {
	query := `SELECT id, client_id::text, employer_name, job_title, start_date, contract_kind,
			COALESCE(end_date, '0001-01-01'::date), end_reason, version, updated_at
		FROM employment.placements
		WHERE client_id = ANY($1::uuid[]) AND ($2 = '' OR id::text = $2)
		ORDER BY client_id, start_date, id`
	if lock {
		query += " FOR UPDATE"
	}
	rows, err := q.Query(ctx, query, clientIDs, placementID)
	if err != nil {
		return nil, fmt.Errorf("load placements: %w", err)
	}
	ps, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Placement, error) {
		var p domain.Placement
		var kind string
		err := r.Scan(&p.ID, &p.ClientID, &p.EmployerName, &p.JobTitle, &p.Start, &kind, &p.End, &p.EndReason, &p.Version, &p.UpdatedAt)
		p.ContractKind = domain.ContractKind(kind)
		if p.End.Year() == 1 {
			p.End = time.Time{}
		}
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("load placements: %w", err)
	}
	if len(ps) == 0 {
		return nil, nil
	}
	ids := make([]string, len(ps))
	idx := map[string]int{}
	for i, p := range ps {
		ids[i], idx[p.ID] = p.ID, i
	}
	rows, err = q.Query(ctx, `SELECT placement_id::text, effective_date, hours_per_week, hourly_wage_cents, recorded_by, recorded_at
		FROM employment.placement_terms WHERE placement_id = ANY($1::uuid[]) ORDER BY placement_id, effective_date, seq`, ids)
	if err != nil {
		return nil, fmt.Errorf("load placement terms: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pid string
		var t domain.Terms
		if err := rows.Scan(&pid, &t.Effective, &t.HoursPerWeek, &t.HourlyWageCents, &t.RecordedBy, &t.RecordedAt); err != nil {
			return nil, fmt.Errorf("scan placement terms: %w", err)
		}
		ps[idx[pid]].Terms = append(ps[idx[pid]].Terms, t)
	}
	return ps, rows.Err()
}

// Placement returns one placement of a client.
func (s *Store) Placement(ctx context.Context, clientID, id string) (domain.Placement, error) {
	ps, err := Placements(ctx, s.pool, []string{clientID}, id, false)
	if err != nil {
		return domain.Placement{}, err
	}
	if len(ps) == 0 {
		return domain.Placement{}, fmt.Errorf("placement %s: %w", id, domain.ErrNotFound)
	}
	return ps[0], nil
}

// UpdatePlacement locks a placement, checks the caller's version, lets fn
// change it (fn returns terms to add, if any) and writes it back with the
// next version.
func UpdatePlacement(ctx context.Context, tx pgx.Tx, clientID, id string, version int64, by string, fn func(*domain.Placement) ([]domain.Terms, error)) (domain.Placement, error) {
	ps, err := Placements(ctx, tx, []string{clientID}, id, true)
	if err != nil {
		return domain.Placement{}, err
	}
	if len(ps) == 0 {
		return domain.Placement{}, fmt.Errorf("placement %s: %w", id, domain.ErrNotFound)
	}
	p := ps[0]
	if p.Version != version {
		return domain.Placement{}, fmt.Errorf("%w: placement %s is at version %d, not %d", domain.ErrVersionConflict, id, p.Version, version)
	}
	added, err := fn(&p)
	if err != nil {
		return domain.Placement{}, err
	}
	for _, t := range added {
		if err := insertTerms(ctx, tx, id, t, by); err != nil {
			return domain.Placement{}, err
		}
	}
	var end any
	if !p.End.IsZero() {
		end = p.End
	}
	if _, err := tx.Exec(ctx, `UPDATE employment.placements SET end_date = $3, end_reason = $4, version = version + 1,
		updated_at = now(), updated_by = $5 WHERE client_id = $1 AND id = $2`, clientID, id, end, p.EndReason, by); err != nil {
		if database.Code(err) == database.CheckViolation {
			return domain.Placement{}, fmt.Errorf("%w: end_date is before placement.start_date", domain.ErrInvalid)
		}
		return domain.Placement{}, fmt.Errorf("update placement: %w", err)
	}
	ps, err = Placements(ctx, tx, []string{clientID}, id, false)
	if err != nil {
		return domain.Placement{}, err
	}
	return ps[0], nil
}

// ActivePlacementsTx counts a client's placements that have not ended, in
// the write's transaction (whose client lock keeps the count current).
func ActivePlacementsTx(ctx context.Context, tx pgx.Tx, clientID string) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM employment.placements WHERE client_id = $1 AND end_date IS NULL`, clientID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count active placements: %w", err)
	}
	return n, nil
}

// InsertFollowAlongContact stores a follow-along contact. Its placement,
// when named, must be one of the client's.
func InsertFollowAlongContact(ctx context.Context, tx pgx.Tx, c domain.FollowAlongContact) (domain.FollowAlongContact, error) {
	if c.PlacementID != "" {
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM employment.placements WHERE id = $1 AND client_id = $2)`,
			c.PlacementID, c.ClientID).Scan(&ok); err != nil {
			return c, fmt.Errorf("check placement: %w", err)
		}
		if !ok {
			return c, &domain.FieldError{Field: "follow_along_contact.placement_id", Msg: "is not a placement of this client"}
		}
	}
	c.ID = uuid.NewString()
	err := tx.QueryRow(ctx, `INSERT INTO employment.follow_along_contacts
		(id, client_id, placement_id, contact_date, with_whom, notes, specialist_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at`,
		c.ID, c.ClientID, nullUUID(c.PlacementID), c.Date, string(c.With), c.Notes, c.SpecialistID).Scan(&c.CreatedAt)
	if err != nil {
		return c, fmt.Errorf("insert follow-along contact: %w", err)
	}
	return c, nil
}

const followCols = `id, client_id::text, COALESCE(placement_id::text, ''), contact_date, with_whom, notes, specialist_id, created_at`

// FollowAlongContacts lists a client's follow-along contacts by date; with
// id, only that one.
func (s *Store) FollowAlongContacts(ctx context.Context, clientID, id string) ([]domain.FollowAlongContact, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+followCols+` FROM employment.follow_along_contacts
		WHERE client_id = $1 AND ($2 = '' OR id::text = $2) ORDER BY contact_date, created_at, id`, clientID, id)
	if err != nil {
		return nil, fmt.Errorf("list follow-along contacts: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.FollowAlongContact, error) {
		var c domain.FollowAlongContact
		var with string
		err := r.Scan(&c.ID, &c.ClientID, &c.PlacementID, &c.Date, &with, &c.Notes, &c.SpecialistID, &c.CreatedAt)
		c.With = domain.With(with)
		return c, err
	})
}

// ContactDates returns, per client, the dates of its employer contacts.
func (s *Store) ContactDates(ctx context.Context, clientIDs []string) (map[string][]domain.Date, error) {
	rows, err := s.pool.Query(ctx, `SELECT client_id::text, contact_date FROM employment.employer_contacts
		WHERE client_id = ANY($1::uuid[]) ORDER BY client_id, contact_date`, clientIDs)
	if err != nil {
		return nil, fmt.Errorf("load contact dates: %w", err)
	}
	defer rows.Close()
	out := map[string][]domain.Date{}
	for rows.Next() {
		var id string
		var d domain.Date
		if err := rows.Scan(&id, &d); err != nil {
			return nil, fmt.Errorf("scan contact date: %w", err)
		}
		out[id] = append(out[id], d)
	}
	return out, rows.Err()
}

// LastContacts returns, per client, the date of the last employer contact
// and of the last follow-along contact (zero when none). Both use the
// per-client indexes, so the cost depends on the clients asked about only.
func (s *Store) LastContacts(ctx context.Context, clientIDs []string) (employer, followAlong map[string]domain.Date, err error) {
	employer, followAlong = map[string]domain.Date{}, map[string]domain.Date{}
	rows, err := s.pool.Query(ctx, `SELECT c.id::text,
			(SELECT max(e.contact_date) FROM employment.employer_contacts e WHERE e.client_id = c.id),
			(SELECT max(f.contact_date) FROM employment.follow_along_contacts f WHERE f.client_id = c.id)
		FROM unnest($1::uuid[]) AS c(id)`, clientIDs)
	if err != nil {
		return nil, nil, fmt.Errorf("load last contacts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var e, f *time.Time
		if err := rows.Scan(&id, &e, &f); err != nil {
			return nil, nil, fmt.Errorf("scan last contacts: %w", err)
		}
		if e != nil {
			employer[id] = *e
		}
		if f != nil {
			followAlong[id] = *f
		}
	}
	return employer, followAlong, rows.Err()
}

// ErrNoRows reports whether err is pgx's no-rows error.
func ErrNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

// LockClient records the client's region and holds the client's row until
// the transaction ends: every write that reports events takes it first, so
// one client's events enter the outbox in the order of its changes.
func LockClient(ctx context.Context, tx pgx.Tx, clientID, regionID string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO employment.clients (client_id, region_id) VALUES ($1, $2)
		ON CONFLICT (client_id) DO UPDATE SET region_id = EXCLUDED.region_id, updated_at = now()`, clientID, regionID); err != nil {
		return fmt.Errorf("lock client %s: %w", clientID, err)
	}
	return nil
}

// LockKnownClient takes the client's row as LockClient does and returns the
// region recorded with it; found is false when no write has recorded one.
func LockKnownClient(ctx context.Context, tx pgx.Tx, clientID string) (regionID string, found bool, err error) {
	err = tx.QueryRow(ctx, `SELECT region_id FROM employment.clients WHERE client_id = $1 FOR UPDATE`, clientID).Scan(&regionID)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("lock client %s: %w", clientID, err)
	}
	return regionID, true, nil
}

// Announcement is a milestone announced with a MilestoneReached event.
type Announcement struct {
	ClientID          string
	Kind              domain.MilestoneKind
	ReachedOn         domain.Date
	PlacementIDs      []string
	EmployerContactID string
}

// Announce records an announcement unless the client's milestone of that
// kind was announced before; first says whether this call recorded it.
func Announce(ctx context.Context, tx pgx.Tx, a Announcement) (first bool, err error) {
	ids := a.PlacementIDs
	if ids == nil {
		ids = []string{}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO employment.announced_milestones (client_id, kind, reached_on, placement_ids, employer_contact_id)
		VALUES ($1, $2, $3, $4::uuid[], $5) ON CONFLICT (client_id, kind) DO NOTHING`,
		a.ClientID, string(a.Kind), a.ReachedOn, ids, nullUUID(a.EmployerContactID))
	if err != nil {
		return false, fmt.Errorf("announce milestone %s: %w", a.Kind, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Announced returns, per client, the kinds of milestone already announced.
func Announced(ctx context.Context, q Querier, clientIDs []string) (map[string]map[domain.MilestoneKind]bool, error) {
	rows, err := q.Query(ctx, `SELECT client_id::text, kind FROM employment.announced_milestones WHERE client_id = ANY($1::uuid[])`, clientIDs)
	if err != nil {
		return nil, fmt.Errorf("load announced milestones: %w", err)
	}
	defer rows.Close()
	out := map[string]map[domain.MilestoneKind]bool{}
	for rows.Next() {
		var id, kind string
		if err := rows.Scan(&id, &kind); err != nil {
			return nil, fmt.Errorf("scan announced milestone: %w", err)
		}
		if out[id] == nil {
			out[id] = map[domain.MilestoneKind]bool{}
		}
		out[id][domain.MilestoneKind(kind)] = true
	}
	return out, rows.Err()
}

// ContactDatesTx returns the dates of one client's employer contacts, read
// in tx.
func ContactDatesTx(ctx context.Context, tx pgx.Tx, clientID string) ([]domain.Date, error) {
	rows, err := tx.Query(ctx, `SELECT contact_date FROM employment.employer_contacts WHERE client_id = $1 ORDER BY contact_date`, clientID)
	if err != nil {
		return nil, fmt.Errorf("load contact dates: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[domain.Date])
}

// FirstContactOn returns the id of the client's first recorded employer
// contact on day d, or "".
func FirstContactOn(ctx context.Context, tx pgx.Tx, clientID string, d domain.Date) (string, error) {
	var id string
	err := tx.QueryRow(ctx, `SELECT id::text FROM employment.employer_contacts WHERE client_id = $1 AND contact_date = $2
		ORDER BY created_at, id LIMIT 1`, clientID, d).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find first employer contact: %w", err)
	}
	return id, nil
}

// SweepCandidates lists, in id order after the given client, the clients
// whose placement milestones may have become due by the passing of time:
// with a job started by today and held on or after since, whose six months
// have not been announced yet, and whose region is known. A page of at most
// limit ids.
func (s *Store) SweepCandidates(ctx context.Context, today, since domain.Date, after string, limit int) ([]string, error) {
	if after == "" {
		after = "00000000-0000-0000-0000-000000000000"
	}
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT p.client_id FROM employment.placements p
		JOIN employment.clients c ON c.client_id = p.client_id
		WHERE p.start_date <= $1 AND (p.end_date IS NULL OR p.end_date >= $2) AND p.client_id > $3::uuid
		  AND NOT EXISTS (SELECT 1 FROM employment.announced_milestones m
		                  WHERE m.client_id = p.client_id AND m.kind = 'employed_6_months')
		ORDER BY p.client_id LIMIT $4`, today, since, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list milestone sweep candidates: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
