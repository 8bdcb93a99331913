// Package store keeps the benefits service's data in PostgreSQL (schema
// "benefits"). Writes lock the rows they change and run in one transaction
// with the application layer's audit record.
package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	"github.com/ipsbridge/ipsbridge/services/benefits/domain"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the benefits schema's migrations.
var Migrations = database.Embedded("benefits", migrationFiles)

// Querier is satisfied by the pool and by a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Store is the benefits schema.
type Store struct{ pool *pgxpool.Pool }

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool returns the pool, for reads and audit records outside a write.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// InTx runs fn in a read-committed transaction, retried on serialization
// failures and deadlocks.
func (s *Store) InTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return database.InTx(ctx, s.pool, pgx.TxOptions{}, fn)
}

func classify(err error, what string) error {
	switch database.Code(err) {
	case database.ForeignKeyViolation:
		return fmt.Errorf("%w: %s refers to an unknown record (%s)", domain.ErrInvalid, what, database.Constraint(err))
	case database.CheckViolation:
		return fmt.Errorf("%w: %s breaks rule %s", domain.ErrInvalid, what, database.Constraint(err))
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Keys are the benefits schema's idempotency keys (internal/idempotency).
var Keys = idempotency.In("benefits")

const benefitColumns = `id, client_id, kind, payer_org_id, monthly_amount_cents, start_date, end_date, status, version, updated_at,
	previous_wage_cents, residual_capacity_cents, disability_percent, wage_related_end`

func scanBenefit(row pgx.Row) (domain.Benefit, error) {
	var b domain.Benefit
	var kind, status string
	err := row.Scan(&b.ID, &b.ClientID, &kind, &b.PayerOrgID, &b.MonthlyAmountCents, &b.Start, &b.End, &status, &b.Version, &b.UpdatedAt,
		&b.Basis.PreviousWageCents, &b.Basis.ResidualCapacityCents, &b.Basis.DisabilityPercent, &b.Basis.WageRelatedEnd)
	b.Kind, b.Status = domain.Kind(kind), domain.Status(status)
	return b, err
}

// loadAmounts reads the amount histories of bs in one query.
func loadAmounts(ctx context.Context, q Querier, bs []domain.Benefit) error {
	if len(bs) == 0 {
		return nil
	}
	ids := make([]string, len(bs))
	idx := map[string]int{}
	for i, b := range bs {
		ids[i], idx[b.ID] = b.ID, i
		bs[i].Amounts = nil
	}
	rows, err := q.Query(ctx, `SELECT benefit_id, effective_date, amount_cents, earnings_offset_cents, suspended, source
		FROM benefits.benefit_amounts WHERE benefit_id = ANY($1::uuid[]) ORDER BY benefit_id, effective_date`, ids)
	if err != nil {
		return fmt.Errorf("load benefit amounts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, source string
		var a domain.Amount
		if err := rows.Scan(&id, &a.From, &a.Cents, &a.EarningsOffsetCents, &a.Suspended, &source); err != nil {
			return fmt.Errorf("scan benefit amount: %w", err)
		}
		a.Source = domain.AmountSource(source)
		bs[idx[id]].Amounts = append(bs[idx[id]].Amounts, a)
	}
	return rows.Err()
}

// writeAmounts replaces the amount history of b with b.Amounts; the
// benefit's row is locked (or new) in tx.
func writeAmounts(ctx context.Context, tx pgx.Tx, b domain.Benefit) error {
	if _, err := tx.Exec(ctx, `DELETE FROM benefits.benefit_amounts WHERE benefit_id = $1`, b.ID); err != nil {
		return fmt.Errorf("replace benefit amounts: %w", err)
	}
	batch := &pgx.Batch{}
	for _, a := range b.Amounts {
		batch.Queue(`INSERT INTO benefits.benefit_amounts (benefit_id, effective_date, amount_cents, earnings_offset_cents, suspended, source)
			VALUES ($1, $2, $3, $4, $5, $6)`, b.ID, a.From, a.Cents, a.EarningsOffsetCents, a.Suspended, string(a.Source))
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return classify(err, "write benefit amounts")
	}
	return nil
}

// InsertBenefit writes a new benefit with its amount history and returns
// it.
func InsertBenefit(ctx context.Context, tx pgx.Tx, b domain.Benefit, by string) (domain.Benefit, error) {
	b.ID = uuid.NewString()
	if len(b.Amounts) == 0 {
		b.SetInitialAmount()
	}
	x := b.Basis
	out, err := scanBenefit(tx.QueryRow(ctx, `INSERT INTO benefits.benefits
		(id, client_id, kind, payer_org_id, monthly_amount_cents, start_date, end_date, created_by, updated_by,
		 previous_wage_cents, residual_capacity_cents, disability_percent, wage_related_end)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, $11, $12) RETURNING `+benefitColumns,
		b.ID, b.ClientID, string(b.Kind), b.PayerOrgID, b.MonthlyAmountCents, b.Start, b.End, by,
		x.PreviousWageCents, x.ResidualCapacityCents, x.DisabilityPercent, x.WageRelatedEnd))
	if err != nil {
		return domain.Benefit{}, classify(err, "create benefit")
	}
	out.Amounts = b.Amounts
	return out, writeAmounts(ctx, tx, out)
}

// Benefits returns a client's benefits with their amount histories, oldest
// first.
func Benefits(ctx context.Context, q Querier, clientID string) ([]domain.Benefit, error) {
	rows, err := q.Query(ctx, `SELECT `+benefitColumns+` FROM benefits.benefits WHERE client_id = $1 ORDER BY created_at, id`, clientID)
	if err != nil {
		return nil, fmt.Errorf("load benefits: %w", err)
	}
	var out []domain.Benefit
	for rows.Next() {
		b, err := scanBenefit(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan benefit: %w", err)
		}
		out = append(out, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load benefits: %w", err)
	}
	return out, loadAmounts(ctx, q, out)
}

// UpdateBenefit locks a benefit of the client, lets fn change it and writes
// it back with the next version.
func UpdateBenefit(ctx context.Context, tx pgx.Tx, clientID, benefitID, by string, fn func(*domain.Benefit) error) (domain.Benefit, error) {
	b, err := scanBenefit(tx.QueryRow(ctx, `SELECT `+benefitColumns+` FROM benefits.benefits
		WHERE id = $1 AND client_id = $2 FOR UPDATE`, benefitID, clientID))
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Benefit{}, fmt.Errorf("benefit %s: %w", benefitID, domain.ErrNotFound)
	}
	if err != nil {
		return domain.Benefit{}, fmt.Errorf("lock benefit: %w", err)
	}
	one := []domain.Benefit{b}
	if err := loadAmounts(ctx, tx, one); err != nil {
		return domain.Benefit{}, err
	}
	b = one[0]
	if err := fn(&b); err != nil {
		return domain.Benefit{}, err
	}
	x := b.Basis
	out, err := scanBenefit(tx.QueryRow(ctx, `UPDATE benefits.benefits SET monthly_amount_cents = $2, end_date = $3, status = $4,
			version = version + 1, updated_at = now(), updated_by = $5,
			previous_wage_cents = $6, residual_capacity_cents = $7, disability_percent = $8, wage_related_end = $9
		WHERE id = $1 RETURNING `+benefitColumns, benefitID, b.MonthlyAmountCents, b.End, string(b.Status), by,
		x.PreviousWageCents, x.ResidualCapacityCents, x.DisabilityPercent, x.WageRelatedEnd))
	if err != nil {
		return domain.Benefit{}, classify(err, "update benefit")
	}
	out.Amounts = b.Amounts
	return out, writeAmounts(ctx, tx, out)
}

// InsertDecision records a reported decision.
func InsertDecision(ctx context.Context, tx pgx.Tx, d domain.Decision, orgID string) (domain.Decision, error) {
	d.ID = uuid.NewString()
	err := tx.QueryRow(ctx, `INSERT INTO benefits.decisions
		(id, benefit_id, client_id, org_id, kind, effective_date, monthly_amount_cents, reason, reported_by, earnings_offset_cents)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING received_at`,
		d.ID, d.BenefitID, d.ClientID, orgID, string(d.Kind), d.Effective, d.MonthlyAmountCents, d.Reason, d.ReportedBy, d.EarningsOffsetCents).Scan(&d.ReceivedAt)
	if err != nil {
		return domain.Decision{}, classify(err, "record decision")
	}
	return d, nil
}

// CounsellingRequest is a request with its sessions.
type CounsellingRequest struct {
	ID, ClientID, Reason, CounsellorID, Status, RequestedBy string
	CreatedAt                                               time.Time
	Sessions                                                []Session
}

// Session is a counselling session.
type Session struct {
	ID, CounsellorID, Notes, Outcome string
	Date                             time.Time
}

const requestColumns = `id, client_id, reason, counsellor_id, status, requested_by, created_at`

func scanRequest(row pgx.Row) (CounsellingRequest, error) {
	var r CounsellingRequest
	err := row.Scan(&r.ID, &r.ClientID, &r.Reason, &r.CounsellorID, &r.Status, &r.RequestedBy, &r.CreatedAt)
	return r, err
}

// InsertCounsellingRequest opens a request.
func InsertCounsellingRequest(ctx context.Context, tx pgx.Tx, clientID, reason, counsellorID, by string) (CounsellingRequest, error) {
	r, err := scanRequest(tx.QueryRow(ctx, `INSERT INTO benefits.counselling_requests (id, client_id, reason, counsellor_id, requested_by)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+requestColumns, uuid.NewString(), clientID, reason, counsellorID, by))
	if err != nil {
		return CounsellingRequest{}, classify(err, "create counselling request")
	}
	return r, nil
}

func (s *Store) loadSessions(ctx context.Context, q Querier, reqs []CounsellingRequest) error {
	if len(reqs) == 0 {
		return nil
	}
	ids := make([]string, len(reqs))
	idx := map[string]int{}
	for i, r := range reqs {
		ids[i], idx[r.ID] = r.ID, i
	}
	rows, err := q.Query(ctx, `SELECT request_id, id, counsellor_id, session_date, notes, outcome
		FROM benefits.counselling_sessions WHERE request_id = ANY($1::uuid[]) ORDER BY created_at, id`, ids)
	if err != nil {
		return fmt.Errorf("load sessions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rid string
		var x Session
		if err := rows.Scan(&rid, &x.ID, &x.CounsellorID, &x.Date, &x.Notes, &x.Outcome); err != nil {
			return fmt.Errorf("scan session: %w", err)
		}
		reqs[idx[rid]].Sessions = append(reqs[idx[rid]].Sessions, x)
	}
	return rows.Err()
}

func (s *Store) requests(ctx context.Context, q Querier, where string, args ...any) ([]CounsellingRequest, error) {
	rows, err := q.Query(ctx, `SELECT `+requestColumns+` FROM benefits.counselling_requests WHERE `+where+` ORDER BY created_at, id LIMIT 500`, args...)
	if err != nil {
		return nil, fmt.Errorf("load counselling requests: %w", err)
	}
	var out []CounsellingRequest
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("scan counselling request: %w", err)
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, s.loadSessions(ctx, q, out)
}

// CounsellingRequests returns a client's requests with their sessions.
func (s *Store) CounsellingRequests(ctx context.Context, clientID string) ([]CounsellingRequest, error) {
	return s.requests(ctx, s.pool, `client_id = $1`, clientID)
}

// OpenRequests returns the open requests assigned to counsellorID, and the
// unassigned ones when asked, of clients in regionID that orgID is the MHA
// of or involved with (the clients schema's access_facts): the candidates a
// caller of orgID could be shown, not every open request of the platform,
// so the access path decides (and records) only those.
func (s *Store) OpenRequests(ctx context.Context, counsellorID string, unassigned bool, orgID, regionID string) ([]CounsellingRequest, error) {
	mine := `counsellor_id = $1`
	if unassigned {
		mine = `counsellor_id IN ($1, '')`
	}
	return s.requests(ctx, s.pool, `status = 'open' AND `+mine+` AND client_id::text IN (
		SELECT f.client_id FROM clients.access_facts(ARRAY(
			SELECT DISTINCT o.client_id::text FROM benefits.counselling_requests o WHERE o.status = 'open' AND o.`+mine+`), $2) f
		WHERE f.region_id = $3 AND (f.mha_org_id = $2 OR $2 = ANY (f.involved_org_ids)))`, counsellorID, orgID, regionID)
}

// CounsellingOpen reports whether the client has an open request.
func (s *Store) CounsellingOpen(ctx context.Context, clientID string) (bool, error) {
	var open bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM benefits.counselling_requests WHERE client_id = $1 AND status = 'open')`, clientID).Scan(&open)
	return open, err
}

// UpdateCounsellingRequest locks a request of the client and lets fn change
// counsellor and status; sessions fn returns are added.
func (s *Store) UpdateCounsellingRequest(ctx context.Context, tx pgx.Tx, clientID, id string, fn func(*CounsellingRequest) (*Session, error)) (CounsellingRequest, error) {
	r, err := scanRequest(tx.QueryRow(ctx, `SELECT `+requestColumns+` FROM benefits.counselling_requests
		WHERE id = $1 AND client_id = $2 FOR UPDATE`, id, clientID))
	if errors.Is(err, pgx.ErrNoRows) {
		return CounsellingRequest{}, fmt.Errorf("counselling request %s: %w", id, domain.ErrNotFound)
	}
	if err != nil {
		return CounsellingRequest{}, fmt.Errorf("lock counselling request: %w", err)
	}
	sess, err := fn(&r)
	if err != nil {
		return CounsellingRequest{}, err
	}
	if _, err := tx.Exec(ctx, `UPDATE benefits.counselling_requests SET counsellor_id = $2, status = $3,
		closed_at = CASE WHEN $3 = 'closed' THEN coalesce(closed_at, now()) END WHERE id = $1`, id, r.CounsellorID, r.Status); err != nil {
		return CounsellingRequest{}, classify(err, "update counselling request")
	}
	if sess != nil {
		if _, err := tx.Exec(ctx, `INSERT INTO benefits.counselling_sessions (id, request_id, client_id, counsellor_id, session_date, notes, outcome)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, uuid.NewString(), id, clientID, sess.CounsellorID, sess.Date, sess.Notes, sess.Outcome); err != nil {
			return CounsellingRequest{}, classify(err, "record session")
		}
	}
	if r.CounsellorID != "" {
		// Tasks raised while the client had no counsellor go to the first one assigned.
		if _, err := tx.Exec(ctx, `UPDATE benefits.counsellor_tasks SET counsellor_id = $2 WHERE client_id = $1 AND counsellor_id = ''`,
			clientID, r.CounsellorID); err != nil {
			return CounsellingRequest{}, fmt.Errorf("hand over tasks: %w", err)
		}
	}
	out := []CounsellingRequest{r}
	if err := s.loadSessions(ctx, tx, out); err != nil {
		return CounsellingRequest{}, err
	}
	return out[0], nil
}

// ClientCounsellor returns the counsellor of the client's most recently
// assigned request, or "".
func ClientCounsellor(ctx context.Context, q Querier, clientID string) (string, error) {
	var id string
	err := q.QueryRow(ctx, `SELECT counsellor_id FROM benefits.counselling_requests
		WHERE client_id = $1 AND counsellor_id <> '' ORDER BY (status = 'open') DESC, created_at DESC LIMIT 1`, clientID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// JobChange is a change of a client's work: from an employment event, or
// reported by hand.
type JobChange struct {
	ID, ClientID, Kind string
	Effective          time.Time
	HoursPerWeek       float64
	HourlyWageCents    int64
	ReportedBy         string
	// EventID is the employment event the change came from; "" for a
	// manual report.
	EventID     string
	PlacementID string
}

// InsertJobChange records a job change and returns its id. A change from
// an event already recorded is not recorded again: fresh is false and id
// empty.
func InsertJobChange(ctx context.Context, tx pgx.Tx, c JobChange) (id string, fresh bool, err error) {
	id = uuid.NewString()
	var eventID *string
	if c.EventID != "" {
		eventID = &c.EventID
	}
	tag, err := tx.Exec(ctx, `INSERT INTO benefits.job_changes (id, client_id, kind, effective_date, hours_per_week, hourly_wage_cents,
			reported_by, event_id, placement_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (event_id) DO NOTHING`,
		id, c.ClientID, c.Kind, c.Effective, c.HoursPerWeek, c.HourlyWageCents, c.ReportedBy, eventID, c.PlacementID)
	if err != nil {
		return "", false, classify(err, "record job change")
	}
	if tag.RowsAffected() == 0 {
		return "", false, nil
	}
	return id, true, nil
}

// Task is a counsellor task, with the job change it is about. Description
// is made for its reader (app), never stored.
type Task struct {
	ID, ClientID, CounsellorID, JobChangeID string
	// Contact is whom to ask about the change: the client's MHA.
	Contact     string
	Change      JobChange
	Description string
	CreatedAt   time.Time
}

// Notice is a notice for a paying organisation, with the job change it is
// about. Description is made for its reader (app), never stored.
type Notice struct {
	ID, ClientID, OrgID, BenefitID, JobChangeID string
	BenefitKind                                 domain.Kind
	// WithDetails: the organisation could read the client's placements
	// when the notice was made; without it the notice never shows the
	// change.
	WithDetails bool
	Contact     string
	Change      JobChange
	Description string
	CreatedAt   time.Time
}

// InsertTask writes a task.
func InsertTask(ctx context.Context, tx pgx.Tx, t Task) (Task, error) {
	t.ID = uuid.NewString()
	err := tx.QueryRow(ctx, `INSERT INTO benefits.counsellor_tasks (id, client_id, counsellor_id, job_change_id, contact)
		VALUES ($1, $2, $3, $4, $5) RETURNING created_at`, t.ID, t.ClientID, t.CounsellorID, t.JobChangeID, t.Contact).Scan(&t.CreatedAt)
	if err != nil {
		return Task{}, classify(err, "create task")
	}
	return t, nil
}

// InsertNotice writes a notice.
func InsertNotice(ctx context.Context, tx pgx.Tx, n Notice) (Notice, error) {
	n.ID = uuid.NewString()
	err := tx.QueryRow(ctx, `INSERT INTO benefits.payer_notices (id, client_id, org_id, benefit_id, job_change_id, with_details, contact)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING created_at`, n.ID, n.ClientID, n.OrgID, n.BenefitID, n.JobChangeID,
		n.WithDetails, n.Contact).Scan(&n.CreatedAt)
	if err != nil {
		return Notice{}, classify(err, "create notice")
	}
	return n, nil
}

const changeColumns = `j.id, j.client_id, j.kind, j.effective_date, j.hours_per_week::float8, j.hourly_wage_cents, j.reported_by,
	coalesce(j.event_id::text, ''), j.placement_id`

func changeDest(c *JobChange) []any {
	return []any{&c.ID, &c.ClientID, &c.Kind, &c.Effective, &c.HoursPerWeek, &c.HourlyWageCents, &c.ReportedBy, &c.EventID, &c.PlacementID}
}

// Tasks returns a counsellor's tasks, newest first.
func (s *Store) Tasks(ctx context.Context, counsellorID string) ([]Task, error) {
	rows, err := s.pool.Query(ctx, `SELECT t.id, t.client_id, t.counsellor_id, t.job_change_id, t.contact, t.created_at, `+changeColumns+`
		FROM benefits.counsellor_tasks t JOIN benefits.job_changes j ON j.id = t.job_change_id
		WHERE t.counsellor_id = $1 ORDER BY t.created_at DESC, t.id LIMIT 500`, counsellorID)
	if err != nil {
		return nil, fmt.Errorf("load tasks: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Task, error) {
		var t Task
		err := r.Scan(append([]any{&t.ID, &t.ClientID, &t.CounsellorID, &t.JobChangeID, &t.Contact, &t.CreatedAt}, changeDest(&t.Change)...)...)
		return t, err
	})
}

// Notices returns an organisation's notices, newest first.
func (s *Store) Notices(ctx context.Context, orgID string) ([]Notice, error) {
	rows, err := s.pool.Query(ctx, `SELECT n.id, n.client_id, n.org_id, n.benefit_id, b.kind, n.job_change_id, n.with_details, n.contact,
			n.created_at, `+changeColumns+`
		FROM benefits.payer_notices n JOIN benefits.job_changes j ON j.id = n.job_change_id
			JOIN benefits.benefits b ON b.id = n.benefit_id
		WHERE n.org_id = $1 ORDER BY n.created_at DESC, n.id LIMIT 500`, orgID)
	if err != nil {
		return nil, fmt.Errorf("load notices: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notice, error) {
		var n Notice
		err := r.Scan(append([]any{&n.ID, &n.ClientID, &n.OrgID, &n.BenefitID, &n.BenefitKind, &n.JobChangeID, &n.WithDetails, &n.Contact,
			&n.CreatedAt}, changeDest(&n.Change)...)...)
		return n, err
	})
}
