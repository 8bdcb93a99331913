// Package store keeps the clients service's data in PostgreSQL (schema
// "clients"). Writes take the row lock and check the caller's version inside
// one transaction; the application layer adds its audit record to the same
// transaction.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	"github.com/ipsbridge/ipsbridge/internal/seed"
	"github.com/ipsbridge/ipsbridge/services/clients/domain"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the clients schema's migrations.
var Migrations = database.Embedded("clients", migrationFiles)

// Store is the clients schema.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool returns the underlying pool (for audit records outside a write).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Querier is satisfied by the pool and by a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// InTx runs fn in a read-committed transaction, retried on serialization
// failures and deadlocks.
func (s *Store) InTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return database.InTx(ctx, s.pool, pgx.TxOptions{}, fn)
}

// SeedDirectory loads the demo regions, organisations, teams and users;
// safe to run on every start.
func (s *Store) SeedDirectory(ctx context.Context) error {
	return s.InTx(ctx, func(tx pgx.Tx) error {
		for _, r := range seed.Demo.Regions {
			if _, err := tx.Exec(ctx, `INSERT INTO clients.regions (id, name) VALUES ($1, $2)
				ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name`, r.ID, r.Name); err != nil {
				return fmt.Errorf("seed region %s: %w", r.ID, err)
			}
		}
		for _, o := range seed.Demo.Organizations {
			hosts := o.WebhookHosts
			if hosts == nil {
				hosts = seed.DemoWebhookHosts
			}
			if _, err := tx.Exec(ctx, `INSERT INTO clients.organizations (id, name, kind, region_id, webhook_hosts) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, kind = EXCLUDED.kind, region_id = EXCLUDED.region_id,
					webhook_hosts = EXCLUDED.webhook_hosts`,
				o.ID, o.Name, o.Kind, o.RegionID, hosts); err != nil {
				return fmt.Errorf("seed organisation %s: %w", o.ID, err)
			}
		}
		for _, t := range seed.Demo.Teams {
			if _, err := tx.Exec(ctx, `INSERT INTO clients.teams (id, org_id, name) VALUES ($1, $2, $3)
				ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name`, t.ID, t.OrgID, t.Name); err != nil {
				return fmt.Errorf("seed team %s: %w", t.ID, err)
			}
		}
		for _, u := range seed.Demo.Users {
			if _, err := tx.Exec(ctx, `INSERT INTO clients.users (id, org_id, role, name) VALUES ($1, $2, $3, $4)
				ON CONFLICT (id) DO UPDATE SET org_id = EXCLUDED.org_id, role = EXCLUDED.role, name = EXCLUDED.name`,
				u.ID, u.OrgID, u.Role, u.Name); err != nil {
				return fmt.Errorf("seed user %s: %w", u.ID, err)
			}
			for _, t := range u.Teams {
				if _, err := tx.Exec(ctx, `INSERT INTO clients.team_members (team_id, user_id) VALUES ($1, $2)
					ON CONFLICT DO NOTHING`, t, u.ID); err != nil {
					return fmt.Errorf("seed team member %s: %w", u.ID, err)
				}
			}
		}
		return nil
	})
}

// NewClient is what enrolment writes.
type NewClient struct {
	MHAOrgID, RegionID, CreatedBy string
	Identity                      domain.Identity
	TeamID, SpecialistID          string
	InvolvedOrgIDs                []string
}

// Keys are this schema's idempotency keys.
var Keys = idempotency.In("clients")

// CreateClient inserts a client with all its sections in tx.
func CreateClient(ctx context.Context, tx pgx.Tx, n NewClient) (string, error) {
	id := uuid.NewString()
	var dob *string
	if n.Identity.DateOfBirth != "" {
		dob = &n.Identity.DateOfBirth
	}
	var teamOrg string
	err := tx.QueryRow(ctx, `SELECT org_id FROM clients.teams WHERE id = $1`, n.TeamID).Scan(&teamOrg)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && teamOrg != n.MHAOrgID) {
		return "", fmt.Errorf("%w: team %s is not a team of %s", domain.ErrInvalid, n.TeamID, n.MHAOrgID)
	}
	if err != nil {
		return "", fmt.Errorf("look up team: %w", err)
	}
	batch := &pgx.Batch{}
	batch.Queue(`INSERT INTO clients.clients (id, mha_org_id, region_id, created_by) VALUES ($1, $2, $3, $4)`,
		id, n.MHAOrgID, n.RegionID, n.CreatedBy)
	batch.Queue(`INSERT INTO clients.identities (client_id, given_name, family_name, date_of_birth, email, phone, address, bsn, mha_org_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, id, n.Identity.GivenName, n.Identity.FamilyName, dob,
		n.Identity.Email, n.Identity.Phone, n.Identity.Address, n.Identity.BSN, n.MHAOrgID)
	batch.Queue(`INSERT INTO clients.trajectories (client_id, phase, team_id, specialist_id) VALUES ($1, 'referral', $2, $3)`,
		id, n.TeamID, n.SpecialistID)
	batch.Queue(`INSERT INTO clients.phase_changes (client_id, to_phase, changed_by, reason) VALUES ($1, 'referral', $2, 'enrolled')`,
		id, n.CreatedBy)
	batch.Queue(`INSERT INTO clients.work_goals (client_id, updated_by) VALUES ($1, $2)`, id, n.CreatedBy)
	batch.Queue(`INSERT INTO clients.clinical_inputs (client_id, updated_by) VALUES ($1, $2)`, id, n.CreatedBy)
	for _, org := range n.InvolvedOrgIDs {
		batch.Queue(`INSERT INTO clients.trajectory_organizations (client_id, org_id) VALUES ($1, $2)`, id, org)
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return "", classify(err, "create client")
	}
	return id, nil
}

// OrganizationRegions returns the region of each known organisation among
// ids.
func OrganizationRegions(ctx context.Context, tx pgx.Tx, ids []string) (map[string]string, error) {
	rows, err := tx.Query(ctx, `SELECT id, region_id FROM clients.organizations WHERE id = ANY ($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("look up organisations: %w", err)
	}
	out := map[string]string{}
	var id, region string
	if _, err := pgx.ForEachRow(rows, []any{&id, &region}, func() error { out[id] = region; return nil }); err != nil {
		return nil, fmt.Errorf("look up organisations: %w", err)
	}
	return out, nil
}

// ClientsWithBSN returns the other clients of the MHA with this BSN, after
// taking a transaction lock on (MHA, BSN) so that two enrolments of one
// BSN are checked one after the other.
func ClientsWithBSN(ctx context.Context, tx pgx.Tx, mhaOrgID, bsn, except string) ([]string, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('clients.bsn:' || $1 || ':' || $2, 0))`,
		mhaOrgID, bsn); err != nil {
		return nil, fmt.Errorf("lock BSN: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT client_id::text FROM clients.identities
		WHERE mha_org_id = $1 AND bsn = $2 AND client_id::text <> $3 ORDER BY client_id`, mhaOrgID, bsn, except)
	if err != nil {
		return nil, fmt.Errorf("look up BSN: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("look up BSN: %w", err)
	}
	return ids, nil
}

// FlagPossibleDuplicates records that client shares its BSN with others.
func FlagPossibleDuplicates(ctx context.Context, tx pgx.Tx, clientID string, others []string, by string) error {
	if _, err := tx.Exec(ctx, `INSERT INTO clients.possible_duplicates (client_id, other_client_id, found_by)
		SELECT $1::uuid, o::uuid, $3 FROM unnest($2::text[]) o ON CONFLICT DO NOTHING`, clientID, others, by); err != nil {
		return fmt.Errorf("flag possible duplicates: %w", err)
	}
	return nil
}

func classify(err error, what string) error {
	switch database.Code(err) {
	case database.UniqueViolation:
		return fmt.Errorf("%w: %s: %s", domain.ErrAlreadyExists, what, database.Constraint(err))
	case database.ForeignKeyViolation:
		return fmt.Errorf("%w: %s refers to an unknown organisation, team or client (%s)", domain.ErrInvalid, what, database.Constraint(err))
	case database.CheckViolation:
		return fmt.Errorf("%w: %s breaks rule %s", domain.ErrInvalid, what, database.Constraint(err))
	}
	return fmt.Errorf("%s: %w", what, err)
}

const identityColumns = `client_id, given_name, family_name, coalesce(to_char(date_of_birth, 'YYYY-MM-DD'), ''), email, phone, address, bsn, version, updated_at`

func scanIdentity(row pgx.Row) (string, domain.Identity, error) {
	var id string
	var i domain.Identity
	err := row.Scan(&id, &i.GivenName, &i.FamilyName, &i.DateOfBirth, &i.Email, &i.Phone, &i.Address, &i.BSN, &i.Version, &i.UpdatedAt)
	return id, i, err
}

// Identities loads the identity section of several clients.
func (s *Store) Identities(ctx context.Context, ids []string) (map[string]*domain.Identity, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+identityColumns+` FROM clients.identities WHERE client_id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, fmt.Errorf("load identities: %w", err)
	}
	defer rows.Close()
	out := map[string]*domain.Identity{}
	for rows.Next() {
		id, i, err := scanIdentity(rows)
		if err != nil {
			return nil, fmt.Errorf("scan identity: %w", err)
		}
		out[id] = &i
	}
	return out, rows.Err()
}

// UpdateIdentity locks a client's identity, checks the version, lets fn
// change it and writes it back with the next version.
func UpdateIdentity(ctx context.Context, tx pgx.Tx, clientID string, version int64, fn func(*domain.Identity) error) (*domain.Identity, error) {
	_, cur, err := scanIdentity(tx.QueryRow(ctx, `SELECT `+identityColumns+` FROM clients.identities WHERE client_id = $1 FOR UPDATE`, clientID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, domain.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("lock identity: %w", err)
	}
	if cur.Version != version {
		return nil, fmt.Errorf("%w: identity is at version %d, the change was based on %d", domain.ErrVersionConflict, cur.Version, version)
	}
	if err := fn(&cur); err != nil {
		return nil, err
	}
	var dob *string
	if cur.DateOfBirth != "" {
		dob = &cur.DateOfBirth
	}
	err = tx.QueryRow(ctx, `UPDATE clients.identities SET given_name = $2, family_name = $3, date_of_birth = $4, email = $5,
			phone = $6, address = $7, bsn = $8, version = version + 1, updated_at = now()
		WHERE client_id = $1 RETURNING version, updated_at`,
		clientID, cur.GivenName, cur.FamilyName, dob, cur.Email, cur.Phone, cur.Address, cur.BSN).Scan(&cur.Version, &cur.UpdatedAt)
	if err != nil {
		return nil, classify(err, "update identity")
	}
	return &cur, nil
}

const trajectoryColumns = `client_id, phase, team_id, specialist_id, closing_reason, phase_started_at, referred_at, version, updated_at,
	ARRAY(SELECT o.org_id FROM clients.trajectory_organizations o WHERE o.client_id = trajectories.client_id ORDER BY o.org_id),
	(SELECT max(p.changed_at) FROM clients.phase_changes p WHERE p.client_id = trajectories.client_id AND p.to_phase = 'intake')`

// scanTrajectory scans trajectoryColumns and then extra columns, if any.
func scanTrajectory(row pgx.Row, extra ...any) (string, domain.Trajectory, error) {
	var id, phase string
	var t domain.Trajectory
	var intake *time.Time
	dest := append([]any{&id, &phase, &t.TeamID, &t.SpecialistID, &t.ClosingReason, &t.PhaseStartedAt, &t.ReferredAt, &t.Version, &t.UpdatedAt, &t.InvolvedOrgIDs, &intake}, extra...)
	err := row.Scan(dest...)
	t.Phase = domain.Phase(phase)
	if intake != nil {
		t.IntakeAt = *intake
	}
	return id, t, err
}

// Trajectories loads the trajectory section of several clients, with the
// phase history when history is true.
func (s *Store) Trajectories(ctx context.Context, ids []string, history bool) (map[string]*domain.Trajectory, error) {
	// The history comes in the same statement, as JSON: one round trip.
	hist := `'[]'::json`
	if history {
		hist = `COALESCE((SELECT json_agg(json_build_object('from', p.from_phase, 'to', p.to_phase, 'at', p.changed_at,
			'by', p.changed_by, 'reason', p.reason) ORDER BY p.id)
			FROM clients.phase_changes p WHERE p.client_id = trajectories.client_id), '[]'::json)`
	}
	rows, err := s.pool.Query(ctx, `SELECT `+trajectoryColumns+`, `+hist+` FROM clients.trajectories WHERE client_id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, fmt.Errorf("load trajectories: %w", err)
	}
	defer rows.Close()
	out := map[string]*domain.Trajectory{}
	for rows.Next() {
		var changes []struct {
			From, To, By, Reason string
			At                   time.Time
		}
		id, t, err := scanTrajectory(rows, &changes)
		if err != nil {
			return nil, fmt.Errorf("scan trajectory: %w", err)
		}
		for _, c := range changes {
			t.History = append(t.History, domain.PhaseChange{From: domain.Phase(c.From), To: domain.Phase(c.To), At: c.At, By: c.By, Reason: c.Reason})
		}
		out[id] = &t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load trajectories: %w", err)
	}
	return out, nil
}

// Trajectory loads one client's trajectory section (without the phase
// history) with q, e.g. inside the transaction that just wrote it.
func Trajectory(ctx context.Context, q Querier, clientID string) (*domain.Trajectory, error) {
	_, t, err := scanTrajectory(q.QueryRow(ctx, `SELECT `+trajectoryColumns+` FROM clients.trajectories WHERE client_id = $1`, clientID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("trajectory of client %s: %w", clientID, domain.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load trajectory: %w", err)
	}
	return &t, nil
}

// UpdateTrajectory locks a trajectory, checks the version, lets fn change it
// and writes it back, recording a phase change when the phase moved.
func UpdateTrajectory(ctx context.Context, tx pgx.Tx, clientID string, version int64, by string, fn func(*domain.Trajectory) (reason string, err error)) (*domain.Trajectory, error) {
	_, cur, err := scanTrajectory(tx.QueryRow(ctx, `SELECT `+trajectoryColumns+` FROM clients.trajectories WHERE client_id = $1 FOR UPDATE`, clientID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, domain.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("lock trajectory: %w", err)
	}
	if cur.Version != version {
		return nil, fmt.Errorf("%w: trajectory is at version %d, the change was based on %d", domain.ErrVersionConflict, cur.Version, version)
	}
	before := cur
	before.InvolvedOrgIDs = append([]string(nil), cur.InvolvedOrgIDs...)
	reason, err := fn(&cur)
	if err != nil {
		return nil, err
	}
	if cur.Phase != before.Phase {
		cur.PhaseStartedAt = time.Now()
		if _, err := tx.Exec(ctx, `INSERT INTO clients.phase_changes (client_id, from_phase, to_phase, changed_by, reason)
			VALUES ($1, $2, $3, $4, $5)`, clientID, before.Phase, cur.Phase, by, reason); err != nil {
			return nil, fmt.Errorf("record phase change: %w", err)
		}
	}
	err = tx.QueryRow(ctx, `UPDATE clients.trajectories SET phase = $2, team_id = $3, specialist_id = $4, closing_reason = $5,
			phase_started_at = $6, version = version + 1, updated_at = now()
		WHERE client_id = $1 RETURNING version, updated_at`,
		clientID, cur.Phase, cur.TeamID, cur.SpecialistID, cur.ClosingReason, cur.PhaseStartedAt).Scan(&cur.Version, &cur.UpdatedAt)
	if err != nil {
		return nil, classify(err, "update trajectory")
	}
	if !equalStrings(before.InvolvedOrgIDs, cur.InvolvedOrgIDs) {
		if _, err := tx.Exec(ctx, `DELETE FROM clients.trajectory_organizations WHERE client_id = $1`, clientID); err != nil {
			return nil, fmt.Errorf("replace involved organisations: %w", err)
		}
		for _, org := range cur.InvolvedOrgIDs {
			if _, err := tx.Exec(ctx, `INSERT INTO clients.trajectory_organizations (client_id, org_id) VALUES ($1, $2)`, clientID, org); err != nil {
				return nil, classify(err, "add involved organisation "+org)
			}
		}
	}
	return &cur, nil
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

const workGoalsColumns = `client_id, preferences, goals, strengths, support_wishes, preferred_occupations, desired_hours_per_week, version, updated_at, updated_by`

func scanWorkGoals(row pgx.Row) (string, domain.WorkGoals, error) {
	var id string
	var w domain.WorkGoals
	err := row.Scan(&id, &w.Preferences, &w.Goals, &w.Strengths, &w.SupportWishes, &w.PreferredOccupations, &w.DesiredHoursPerWeek, &w.Version, &w.UpdatedAt, &w.UpdatedBy)
	return id, w, err
}

// WorkGoals loads the work goals of several clients.
func (s *Store) WorkGoals(ctx context.Context, ids []string) (map[string]*domain.WorkGoals, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+workGoalsColumns+` FROM clients.work_goals WHERE client_id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, fmt.Errorf("load work goals: %w", err)
	}
	defer rows.Close()
	out := map[string]*domain.WorkGoals{}
	for rows.Next() {
		id, w, err := scanWorkGoals(rows)
		if err != nil {
			return nil, fmt.Errorf("scan work goals: %w", err)
		}
		out[id] = &w
	}
	return out, rows.Err()
}

// UpdateWorkGoals locks, checks the version, applies fn and writes back.
func UpdateWorkGoals(ctx context.Context, tx pgx.Tx, clientID string, version int64, by string, fn func(*domain.WorkGoals) error) (*domain.WorkGoals, error) {
	_, cur, err := scanWorkGoals(tx.QueryRow(ctx, `SELECT `+workGoalsColumns+` FROM clients.work_goals WHERE client_id = $1 FOR UPDATE`, clientID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, domain.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("lock work goals: %w", err)
	}
	if cur.Version != version {
		return nil, fmt.Errorf("%w: work goals are at version %d, the change was based on %d", domain.ErrVersionConflict, cur.Version, version)
	}
	if err := fn(&cur); err != nil {
		return nil, err
	}
	if cur.PreferredOccupations == nil {
		cur.PreferredOccupations = []string{}
	}
	cur.UpdatedBy = by
	err = tx.QueryRow(ctx, `UPDATE clients.work_goals SET preferences = $2, goals = $3, strengths = $4, support_wishes = $5,
			preferred_occupations = $6, desired_hours_per_week = $7, updated_by = $8, version = version + 1, updated_at = now()
		WHERE client_id = $1 RETURNING version, updated_at`, clientID, cur.Preferences, cur.Goals, cur.Strengths,
		cur.SupportWishes, cur.PreferredOccupations, cur.DesiredHoursPerWeek, by).Scan(&cur.Version, &cur.UpdatedAt)
	if err != nil {
		return nil, classify(err, "update work goals")
	}
	return &cur, nil
}

const clinicalColumns = `client_id, notes, work_considerations, version, updated_at, updated_by`

func scanClinical(row pgx.Row) (string, domain.ClinicalInput, error) {
	var id string
	var c domain.ClinicalInput
	err := row.Scan(&id, &c.Notes, &c.WorkConsiderations, &c.Version, &c.UpdatedAt, &c.UpdatedBy)
	return id, c, err
}

// ClinicalInputs loads the clinical input of several clients.
func (s *Store) ClinicalInputs(ctx context.Context, ids []string) (map[string]*domain.ClinicalInput, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+clinicalColumns+` FROM clients.clinical_inputs WHERE client_id = ANY($1::uuid[])`, ids)
	if err != nil {
		return nil, fmt.Errorf("load clinical input: %w", err)
	}
	defer rows.Close()
	out := map[string]*domain.ClinicalInput{}
	for rows.Next() {
		id, c, err := scanClinical(rows)
		if err != nil {
			return nil, fmt.Errorf("scan clinical input: %w", err)
		}
		out[id] = &c
	}
	return out, rows.Err()
}

// UpdateClinicalInput locks, checks the version, applies fn and writes back.
func UpdateClinicalInput(ctx context.Context, tx pgx.Tx, clientID string, version int64, by string, fn func(*domain.ClinicalInput) error) (*domain.ClinicalInput, error) {
	_, cur, err := scanClinical(tx.QueryRow(ctx, `SELECT `+clinicalColumns+` FROM clients.clinical_inputs WHERE client_id = $1 FOR UPDATE`, clientID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, domain.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("lock clinical input: %w", err)
	}
	if cur.Version != version {
		return nil, fmt.Errorf("%w: clinical input is at version %d, the change was based on %d", domain.ErrVersionConflict, cur.Version, version)
	}
	if err := fn(&cur); err != nil {
		return nil, err
	}
	cur.UpdatedBy = by
	err = tx.QueryRow(ctx, `UPDATE clients.clinical_inputs SET notes = $2, work_considerations = $3, updated_by = $4,
			version = version + 1, updated_at = now()
		WHERE client_id = $1 RETURNING version, updated_at`, clientID, cur.Notes, cur.WorkConsiderations, by).Scan(&cur.Version, &cur.UpdatedAt)
	if err != nil {
		return nil, classify(err, "update clinical input")
	}
	return &cur, nil
}

const clinicalEntryColumns = `id, entry_date, notes, work_considerations, author_id, created_at`

func scanClinicalEntry(row pgx.Row) (domain.ClinicalEntry, error) {
	var e domain.ClinicalEntry
	err := row.Scan(&e.ID, &e.Date, &e.Notes, &e.WorkConsiderations, &e.AuthorID, &e.CreatedAt)
	return e, err
}

// ClinicalEntries returns a client's clinical entries, the most recent
// first.
func (s *Store) ClinicalEntries(ctx context.Context, clientID string) ([]domain.ClinicalEntry, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+clinicalEntryColumns+` FROM clients.clinical_entries
		WHERE client_id = $1 ORDER BY entry_date DESC, created_at DESC`, clientID)
	if err != nil {
		return nil, fmt.Errorf("load clinical entries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.ClinicalEntry, error) { return scanClinicalEntry(r) })
	if err != nil {
		return nil, fmt.Errorf("scan clinical entries: %w", err)
	}
	return out, nil
}

// ClinicalEntry returns the entry a request added.
func (s *Store) ClinicalEntry(ctx context.Context, clientID, requestID string) (domain.ClinicalEntry, error) {
	e, err := scanClinicalEntry(s.pool.QueryRow(ctx, `SELECT `+clinicalEntryColumns+` FROM clients.clinical_entries
		WHERE client_id = $1 AND request_id = $2`, clientID, requestID))
	if errors.Is(err, pgx.ErrNoRows) {
		return e, domain.ErrNotFound
	}
	if err != nil {
		return e, fmt.Errorf("read clinical entry: %w", err)
	}
	return e, nil
}

// AddClinicalEntry adds e for the client under the request's key. A retry
// with the same key returns the entry added first; the same key with other
// content is ErrIdempotencyMismatch. The latest entry by date becomes the
// clinical input's summary.
func AddClinicalEntry(ctx context.Context, tx pgx.Tx, clientID, requestID string, e domain.ClinicalEntry) (domain.ClinicalEntry, bool, error) {
	e.ID = uuid.NewString()
	tag, err := tx.Exec(ctx, `INSERT INTO clients.clinical_entries (id, client_id, entry_date, notes, work_considerations, author_id, request_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (client_id, request_id) DO NOTHING`,
		e.ID, clientID, e.Date, e.Notes, e.WorkConsiderations, e.AuthorID, requestID)
	if err != nil {
		return domain.ClinicalEntry{}, false, classify(err, "add clinical entry")
	}
	created := tag.RowsAffected() == 1
	got, err := scanClinicalEntry(tx.QueryRow(ctx, `SELECT `+clinicalEntryColumns+` FROM clients.clinical_entries
		WHERE client_id = $1 AND request_id = $2`, clientID, requestID))
	if err != nil {
		return domain.ClinicalEntry{}, false, fmt.Errorf("read clinical entry: %w", err)
	}
	if !created {
		if !got.Date.Equal(e.Date) || got.Notes != e.Notes || got.WorkConsiderations != e.WorkConsiderations || got.AuthorID != e.AuthorID {
			return domain.ClinicalEntry{}, false, domain.ErrIdempotencyReused
		}
		return got, false, nil
	}
	_, err = tx.Exec(ctx, `UPDATE clients.clinical_inputs ci SET notes = l.notes, work_considerations = l.work_considerations,
			updated_by = l.author_id, updated_at = now(), version = ci.version + 1
		FROM (SELECT notes, work_considerations, author_id FROM clients.clinical_entries
		       WHERE client_id = $1 ORDER BY entry_date DESC, created_at DESC LIMIT 1) l
		WHERE ci.client_id = $1`, clientID)
	if err != nil {
		return domain.ClinicalEntry{}, false, classify(err, "update clinical summary")
	}
	return got, true, nil
}

const consentColumns = `id, client_id, org_id, section, granted_at, granted_by, revoked_at, revoked_by`

func scanConsent(row pgx.Row) (domain.Consent, error) {
	var c domain.Consent
	err := row.Scan(&c.ID, &c.ClientID, &c.OrgID, &c.Section, &c.GrantedAt, &c.GrantedBy, &c.RevokedAt, &c.RevokedBy)
	return c, err
}

// Consents lists a client's consents, newest first.
func (s *Store) Consents(ctx context.Context, clientID string) ([]domain.Consent, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+consentColumns+` FROM clients.consents WHERE client_id = $1 ORDER BY granted_at DESC, id`, clientID)
	if err != nil {
		return nil, fmt.Errorf("list consents: %w", err)
	}
	defer rows.Close()
	var out []domain.Consent
	for rows.Next() {
		c, err := scanConsent(rows)
		if err != nil {
			return nil, fmt.Errorf("scan consent: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// RecordConsents grants consent for each section to org; a section already
// consented keeps its existing record. created says, per returned consent,
// whether this call recorded it (false: it was already there).
func RecordConsents(ctx context.Context, tx pgx.Tx, clientID, orgID string, sections []string, by string) (out []domain.Consent, created []bool, err error) {
	for _, sec := range sections {
		var c domain.Consent
		var isNew bool
		err := tx.QueryRow(ctx, `WITH ins AS (
				INSERT INTO clients.consents (id, client_id, org_id, section, granted_by) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (client_id, org_id, section) WHERE revoked_at IS NULL DO NOTHING
				RETURNING `+consentColumns+`)
			SELECT *, true FROM ins
			UNION ALL
			SELECT `+consentColumns+`, false FROM clients.consents
			WHERE client_id = $2 AND org_id = $3 AND section = $4 AND revoked_at IS NULL AND NOT EXISTS (SELECT 1 FROM ins)`,
			uuid.NewString(), clientID, orgID, sec, by).
			Scan(&c.ID, &c.ClientID, &c.OrgID, &c.Section, &c.GrantedAt, &c.GrantedBy, &c.RevokedAt, &c.RevokedBy, &isNew)
		if err != nil {
			return nil, nil, classify(err, "record consent")
		}
		out, created = append(out, c), append(created, isNew)
	}
	return out, created, nil
}

// RevokeConsent revokes one consent; revoking a revoked consent changes
// nothing and returns it as it is, with revoked false.
func RevokeConsent(ctx context.Context, tx pgx.Tx, clientID, consentID, by string) (c domain.Consent, revoked bool, err error) {
	err = tx.QueryRow(ctx, `WITH prev AS (
			SELECT id, revoked_at IS NULL AS active FROM clients.consents WHERE client_id = $1 AND id = $2 FOR UPDATE)
		UPDATE clients.consents k SET revoked_at = coalesce(k.revoked_at, now()),
			revoked_by = CASE WHEN k.revoked_at IS NULL THEN $3 ELSE k.revoked_by END
		FROM prev WHERE k.id = prev.id
		RETURNING k.id, k.client_id, k.org_id, k.section, k.granted_at, k.granted_by, k.revoked_at, k.revoked_by, prev.active`,
		clientID, consentID, by).
		Scan(&c.ID, &c.ClientID, &c.OrgID, &c.Section, &c.GrantedAt, &c.GrantedBy, &c.RevokedAt, &c.RevokedBy, &revoked)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Consent{}, false, fmt.Errorf("consent %s: %w", consentID, domain.ErrNotFound)
	}
	if err != nil {
		return domain.Consent{}, false, fmt.Errorf("revoke consent: %w", err)
	}
	return c, revoked, nil
}

// ClientRow is a client's header.
type ClientRow struct {
	ID, MHAOrgID, RegionID string
	CreatedAt              time.Time
}

// Client returns a client's header.
func (s *Store) Client(ctx context.Context, id string) (ClientRow, error) {
	var c ClientRow
	err := s.pool.QueryRow(ctx, `SELECT id, mha_org_id, region_id, created_at FROM clients.clients WHERE id = $1`, id).
		Scan(&c.ID, &c.MHAOrgID, &c.RegionID, &c.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return ClientRow{}, domain.ErrNotFound
	}
	if err != nil {
		return ClientRow{}, fmt.Errorf("load client %s: %w", id, err)
	}
	return c, nil
}

// Cursor is a keyset position in a client list.
type Cursor struct {
	CreatedAt time.Time `json:"t"`
	ID        string    `json:"i"`
}

// ListFilter narrows a client list; empty fields do not filter.
type ListFilter struct {
	Phase        string
	SpecialistID string
	TeamID       string
	// OpenOnly leaves out closed trajectories.
	OpenOnly bool
	// Name keeps clients whose given and family name contain it (any
	// case); the caller must also be allowed to read their identity.
	Name string
}

// namePattern is f.Name as an ILIKE pattern ("" for no name filter).
func (f ListFilter) namePattern() string {
	if f.Name == "" {
		return ""
	}
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(f.Name) + "%"
}

// nameMatches is the name filter on a client id column; $N is namePattern.
func nameMatches(idColumn, param string) string {
	return `(` + param + ` = '' OR EXISTS (SELECT 1 FROM clients.identities i WHERE i.client_id = ` + idColumn +
		` AND i.given_name || ' ' || i.family_name ILIKE ` + param + `))`
}

// Load is one specialist's number of clients matching a filter.
type Load struct {
	SpecialistID string
	Clients      int
}

// trajectoryFilter is ListFilter in the MHA candidate query's parameters:
// $4 phase, $8 specialist, $9 team, $10 open only, $11 name pattern.
var trajectoryFilter = `($4 = '' OR phase = $4) AND ($8 = '' OR specialist_id = $8) AND ($9 = '' OR team_id = $9) AND (NOT $10 OR phase <> 'closed') AND ` +
	nameMatches("trajectories.client_id", "$11")

// Loads counts, per specialist, the clients matching f among the caller's
// candidates (an MHA caller's teams and own clients). It is one statement
// whatever the number of clients, and reads no client data. Other
// organisations have no caseloads: none.
func (s *Store) Loads(ctx context.Context, sub authz.Subject, f ListFilter) ([]Load, error) {
	if sub.OrgKind != seed.KindMHA {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT t.specialist_id, count(*)
		FROM clients.trajectories t JOIN clients.clients c ON c.id = t.client_id
		WHERE c.mha_org_id = $1 AND (t.team_id = ANY($2) OR t.specialist_id = $3)
		  AND ($4 = '' OR t.phase = $4) AND ($5 = '' OR t.specialist_id = $5) AND ($6 = '' OR t.team_id = $6)
		  AND (NOT $7 OR t.phase <> 'closed')
		GROUP BY t.specialist_id ORDER BY t.specialist_id`,
		sub.OrgID, sub.Teams, sub.UserID, f.Phase, f.SpecialistID, f.TeamID, f.OpenOnly)
	if err != nil {
		return nil, fmt.Errorf("count caseloads: %w", err)
	}
	loads, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Load, error) {
		var l Load
		err := r.Scan(&l.SpecialistID, &l.Clients)
		return l, err
	})
	if err != nil {
		return nil, fmt.Errorf("count caseloads: %w", err)
	}
	return loads, nil
}

// Candidates lists, in enrolment order after the cursor, the clients a
// caller may be allowed to see that match f: for an MHA caller those of its
// teams and its own, for another organisation those it is involved with
// and has a consent from. The policy decides on each afterwards.
func (s *Store) Candidates(ctx context.Context, sub authz.Subject, after Cursor, f ListFilter, limit int) ([]ClientRow, error) {
	var rows pgx.Rows
	var err error
	if after.ID == "" {
		after.ID = "00000000-0000-0000-0000-000000000000"
	}
	switch sub.OrgKind {
	case seed.KindMHA:
		// Two index ranges, the caller's teams and the caller's own clients,
		// each cut to one page before they are merged.
		rows, err = s.pool.Query(ctx, `SELECT c.id, c.mha_org_id, c.region_id, t.enrolled_at
			FROM (
				(SELECT client_id, enrolled_at FROM clients.trajectories
				 WHERE team_id = ANY($2) AND `+trajectoryFilter+` AND (enrolled_at, client_id) > ($5, $6::uuid)
				 ORDER BY enrolled_at, client_id LIMIT $7)
				UNION
				(SELECT client_id, enrolled_at FROM clients.trajectories
				 WHERE specialist_id = $3 AND `+trajectoryFilter+` AND (enrolled_at, client_id) > ($5, $6::uuid)
				 ORDER BY enrolled_at, client_id LIMIT $7)
			) t JOIN clients.clients c ON c.id = t.client_id
			WHERE c.mha_org_id = $1
			ORDER BY t.enrolled_at, t.client_id LIMIT $7`,
			sub.OrgID, sub.Teams, sub.UserID, f.Phase, after.CreatedAt, after.ID, limit, f.SpecialistID, f.TeamID, f.OpenOnly, f.namePattern())
	default:
		rows, err = s.pool.Query(ctx, `SELECT c.id, c.mha_org_id, c.region_id, c.created_at
			FROM clients.trajectory_organizations o
			JOIN clients.clients c ON c.id = o.client_id
			JOIN clients.trajectories t ON t.client_id = c.id
			WHERE o.org_id = $1
			  AND EXISTS (SELECT 1 FROM clients.consents k WHERE k.client_id = c.id AND k.org_id = $1 AND k.revoked_at IS NULL)
			  AND ($2 = '' OR t.phase = $2) AND (c.created_at, c.id) > ($3, $4::uuid)
			  AND ($6 = '' OR t.specialist_id = $6) AND ($7 = '' OR t.team_id = $7) AND (NOT $8 OR t.phase <> 'closed')
			  AND `+nameMatches("c.id", "$9")+`
			ORDER BY c.created_at, c.id LIMIT $5`,
			sub.OrgID, f.Phase, after.CreatedAt, after.ID, limit, f.SpecialistID, f.TeamID, f.OpenOnly, f.namePattern())
	}
	if err != nil {
		return nil, fmt.Errorf("list clients: %w", err)
	}
	defer rows.Close()
	var out []ClientRow
	for rows.Next() {
		var c ClientRow
		if err := rows.Scan(&c.ID, &c.MHAOrgID, &c.RegionID, &c.CreatedAt); err != nil {
			return nil, fmt.Errorf("scan client: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
