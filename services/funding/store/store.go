// Package store keeps the funding service's data in PostgreSQL (schema
// "funding"). Updates take the row FOR UPDATE and check the caller's
// version inside the transaction the application layer records its audit
// record and events in.
package store

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	"github.com/ipsbridge/ipsbridge/services/funding/domain"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the funding schema's migrations.
var Migrations = database.Embedded("funding", migrationFiles)

// Keys are this schema's idempotency keys.
var Keys = idempotency.In("funding")

// Q is the pool or a transaction.
type Q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Store is the funding schema.
type Store struct{ pool *pgxpool.Pool }

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool is the store's pool, for reads.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

func nullDate(d domain.Date) any {
	if d.IsZero() {
		return nil
	}
	return d
}

func dateOf(t *time.Time) domain.Date {
	if t == nil {
		return domain.Date{}
	}
	return domain.Today(*t)
}

func notFound(what, id string) error { return fmt.Errorf("%s %s: %w", what, id, domain.ErrNotFound) }

// classify turns a unique violation into ErrAlreadyExists (by SQLSTATE).
func classify(err error, what string) error {
	if database.Code(err) == "23505" {
		return fmt.Errorf("%w: %s", domain.ErrAlreadyExists, what)
	}
	return err
}

// Replayed returns the resource a completed idempotent request produced,
// "" when the key is new or its request has not completed: for a use case
// that must answer a retry before it re-derives anything (a claim derived
// again after its submission would find nothing left to claim). The key is
// still claimed in the write's transaction, which settles races.
func Replayed(ctx context.Context, q Q, k idempotency.Key) (string, error) {
	var hash []byte
	var id string
	err := q.QueryRow(ctx, `SELECT request_hash, resource_id FROM funding.idempotency_keys
		WHERE actor_id = $1 AND method = $2 AND key = $3`, k.ActorID, k.Method, k.Key).Scan(&hash, &id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read idempotency key: %w", err)
	}
	if want := sha256.Sum256(k.Request); string(hash) != string(want[:]) {
		return "", apperr.ErrIdempotencyReused
	}
	return id, nil
}

// ---- agreements

const agreementCols = `id::text, name, funder_org_id, mha_org_id, region_id, valid_from, valid_until, budget_trajectories,
	budget_cents, target_groups, funded_months, max_extension_months, advance_percent, min_fidelity_band, schedules,
	version, updated_at`

func scanAgreements(rows pgx.Rows, err error) ([]domain.Agreement, error) {
	if err != nil {
		return nil, fmt.Errorf("read agreements: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Agreement, error) {
		var a domain.Agreement
		var groups []string
		var sched []byte
		if err := r.Scan(&a.ID, &a.Name, &a.FunderOrgID, &a.MHAOrgID, &a.RegionID, &a.ValidFrom, &a.ValidUntil, &a.BudgetTrajectories,
			&a.BudgetCents, &groups, &a.FundedMonths, &a.MaxExtensionMonths, &a.AdvancePercent, &a.MinFidelityBand, &sched,
			&a.Version, &a.UpdatedAt); err != nil {
			return a, err
		}
		for _, g := range groups {
			a.TargetGroups = append(a.TargetGroups, domain.TargetGroup(g))
		}
		if err := json.Unmarshal(sched, &a.Schedules); err != nil {
			return a, fmt.Errorf("decode schedules of agreement %s: %w", a.ID, err)
		}
		return a, nil
	})
}

func groupsText(gs []domain.TargetGroup) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = string(g)
	}
	return out
}

// InsertAgreement stores a new agreement.
func InsertAgreement(ctx context.Context, tx pgx.Tx, a domain.Agreement, by string) (string, error) {
	a.ID = uuid.NewString()
	sched, err := json.Marshal(a.Schedules)
	if err != nil {
		return "", fmt.Errorf("encode schedules: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO funding.agreements (id, name, funder_org_id, mha_org_id, region_id, valid_from, valid_until,
			budget_trajectories, budget_cents, target_groups, funded_months, max_extension_months, advance_percent,
			min_fidelity_band, schedules, created_by, updated_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)`,
		a.ID, a.Name, a.FunderOrgID, a.MHAOrgID, a.RegionID, a.ValidFrom, a.ValidUntil, a.BudgetTrajectories, a.BudgetCents,
		groupsText(a.TargetGroups), a.FundedMonths, a.MaxExtensionMonths, a.AdvancePercent, a.MinFidelityBand, sched, by)
	if err != nil {
		return "", fmt.Errorf("insert agreement: %w", err)
	}
	return a.ID, nil
}

// Agreement returns one agreement.
func Agreement(ctx context.Context, q Q, id string) (domain.Agreement, error) {
	as, err := scanAgreements(q.Query(ctx, `SELECT `+agreementCols+` FROM funding.agreements WHERE id = $1`, id))
	if err != nil {
		return domain.Agreement{}, err
	}
	if len(as) == 0 {
		return domain.Agreement{}, notFound("agreement", id)
	}
	return as[0], nil
}

// AgreementsOf lists the agreements org is party to, newest first.
func AgreementsOf(ctx context.Context, q Q, org string) ([]domain.Agreement, error) {
	return scanAgreements(q.Query(ctx, `SELECT `+agreementCols+` FROM funding.agreements
		WHERE funder_org_id = $1 OR mha_org_id = $1 ORDER BY valid_from DESC, id`, org))
}

// UpdateAgreement changes an agreement under its row lock when version is
// current.
func UpdateAgreement(ctx context.Context, tx pgx.Tx, id string, version int64, by string, fn func(*domain.Agreement) error) (domain.Agreement, error) {
	as, err := scanAgreements(tx.Query(ctx, `SELECT `+agreementCols+` FROM funding.agreements WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return domain.Agreement{}, err
	}
	if len(as) == 0 {
		return domain.Agreement{}, notFound("agreement", id)
	}
	a := as[0]
	if a.Version != version {
		return a, fmt.Errorf("agreement %s is at version %d, not %d: %w", id, a.Version, version, domain.ErrVersionConflict)
	}
	if err := fn(&a); err != nil {
		return a, err
	}
	sched, err := json.Marshal(a.Schedules)
	if err != nil {
		return a, fmt.Errorf("encode schedules: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE funding.agreements SET schedules = $2, version = version + 1, updated_by = $3, updated_at = now()
		WHERE id = $1`, id, sched, by); err != nil {
		return a, fmt.Errorf("update agreement: %w", err)
	}
	return Agreement(ctx, tx, id)
}

// ---- applications

const appCols = `id::text, agreement_id::text, client_id::text, state, target_group, created_by, created_at, client_signed_by,
	client_signed_on, mha_signed_by, mha_signed_on, submitted_on, decided_by, decision_on, decision_reason, funded_until,
	running_since, stop_on, stop_reason, end_on, end_report, determined_on, determined_cents, version, updated_at`

func scanApps(rows pgx.Rows, err error) ([]domain.Application, error) {
	if err != nil {
		return nil, fmt.Errorf("read applications: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Application, error) {
		var a domain.Application
		var state, group string
		var cs, ms, sub, dec, fu, rs, st, en, det *time.Time
		err := r.Scan(&a.ID, &a.AgreementID, &a.ClientID, &state, &group, &a.CreatedBy, &a.CreatedAt, &a.ClientSignedBy,
			&cs, &a.MHASignedBy, &ms, &sub, &a.DecidedBy, &dec, &a.DecisionReason, &fu,
			&rs, &st, &a.StopReason, &en, &a.EndReport, &det, &a.DeterminedCent, &a.Version, &a.UpdatedAt)
		a.State, a.TargetGroup = domain.State(state), domain.TargetGroup(group)
		a.ClientSignedOn, a.MHASignedOn, a.SubmittedOn, a.DecisionOn = dateOf(cs), dateOf(ms), dateOf(sub), dateOf(dec)
		a.FundedUntil, a.RunningSince, a.StopOn, a.EndOn, a.DeterminedOn = dateOf(fu), dateOf(rs), dateOf(st), dateOf(en), dateOf(det)
		return a, err
	})
}

// InsertApplication stores a new draft.
func InsertApplication(ctx context.Context, tx pgx.Tx, a domain.Application, by string) (string, error) {
	a.ID = uuid.NewString()
	_, err := tx.Exec(ctx, `INSERT INTO funding.applications (id, agreement_id, client_id, state, target_group, created_by, updated_by)
		VALUES ($1, $2, $3, 'draft', $4, $5, $5)`, a.ID, a.AgreementID, a.ClientID, string(a.TargetGroup), by)
	if err != nil {
		return "", classify(fmt.Errorf("insert application: %w", err), "the client has an open application under this agreement")
	}
	return a.ID, nil
}

// Application returns one application.
func Application(ctx context.Context, q Q, id string) (domain.Application, error) {
	as, err := scanApps(q.Query(ctx, `SELECT `+appCols+` FROM funding.applications WHERE id = $1`, id))
	if err != nil {
		return domain.Application{}, err
	}
	if len(as) == 0 {
		return domain.Application{}, notFound("application", id)
	}
	return as[0], nil
}

// Applications lists the applications of agreements, by creation.
func Applications(ctx context.Context, q Q, agreementIDs []string) ([]domain.Application, error) {
	return scanApps(q.Query(ctx, `SELECT `+appCols+` FROM funding.applications
		WHERE agreement_id = ANY ($1::uuid[]) ORDER BY created_at, id`, agreementIDs))
}

// UpdateApplication changes an application under its row lock when
// version is current.
func UpdateApplication(ctx context.Context, tx pgx.Tx, id string, version int64, by string, fn func(*domain.Application) error) (domain.Application, error) {
	as, err := scanApps(tx.Query(ctx, `SELECT `+appCols+` FROM funding.applications WHERE id = $1 FOR UPDATE`, id))
	if err != nil {
		return domain.Application{}, err
	}
	if len(as) == 0 {
		return domain.Application{}, notFound("application", id)
	}
	a := as[0]
	if a.Version != version {
		return a, fmt.Errorf("application %s is at version %d, not %d: %w", id, a.Version, version, domain.ErrVersionConflict)
	}
	if err := fn(&a); err != nil {
		return a, err
	}
	_, err = tx.Exec(ctx, `UPDATE funding.applications SET state = $2, client_signed_by = $3, client_signed_on = $4,
			mha_signed_by = $5, mha_signed_on = $6, submitted_on = $7, decided_by = $8, decision_on = $9, decision_reason = $10,
			funded_until = $11, running_since = $12, stop_on = $13, stop_reason = $14, end_on = $15, end_report = $16,
			determined_on = $17, determined_cents = $18, version = version + 1, updated_by = $19, updated_at = now()
		WHERE id = $1`, id, string(a.State), a.ClientSignedBy, nullDate(a.ClientSignedOn), a.MHASignedBy, nullDate(a.MHASignedOn),
		nullDate(a.SubmittedOn), a.DecidedBy, nullDate(a.DecisionOn), a.DecisionReason, nullDate(a.FundedUntil),
		nullDate(a.RunningSince), nullDate(a.StopOn), a.StopReason, nullDate(a.EndOn), a.EndReport, nullDate(a.DeterminedOn),
		a.DeterminedCent, by)
	if err != nil {
		return a, fmt.Errorf("update application: %w", err)
	}
	return Application(ctx, tx, id)
}

// ---- claims

// Claim is a claim with its lines.
type Claim struct {
	ID          string
	AgreementID string
	PeriodEnd   domain.Date
	State       string
	SubmittedOn domain.Date
	PaidOn      domain.Date
	Version     int64
	UpdatedAt   time.Time
	Lines       []domain.Line
}

// Claim states.
const (
	ClaimDraft     = "draft"
	ClaimSubmitted = "submitted"
	ClaimDecided   = "decided"
	ClaimPaid      = "paid"
)

// ClientIDs are the distinct clients of the claim's lines.
func (c Claim) ClientIDs() []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range c.Lines {
		if !seen[l.ClientID] {
			seen[l.ClientID] = true
			out = append(out, l.ClientID)
		}
	}
	return out
}

// InsertClaim stores a draft claim with its lines.
func InsertClaim(ctx context.Context, tx pgx.Tx, agreementID string, periodEnd domain.Date, lines []domain.Line, by string) (string, error) {
	id := uuid.NewString()
	if _, err := tx.Exec(ctx, `INSERT INTO funding.claims (id, agreement_id, period_end, state, created_by, updated_by)
		VALUES ($1, $2, $3, 'draft', $4, $4)`, id, agreementID, periodEnd, by); err != nil {
		return "", classify(fmt.Errorf("insert claim: %w", err), "the agreement has a draft claim; submit it first")
	}
	b := &pgx.Batch{}
	for i, l := range lines {
		var credits any
		if l.CreditsLineID != "" {
			credits = l.CreditsLineID
		}
		b.Queue(`INSERT INTO funding.claim_lines (id, claim_id, position, application_id, client_id, part_id, part_name, condition,
				earned_on, amount_cents, credits_line_id, hours_band, placement_id, employer_name, job_title, state, decision_reason)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
			uuid.NewString(), id, i+1, l.ApplicationID, l.ClientID, l.PartID, l.PartName, string(l.Condition), l.EarnedOn,
			l.AmountCents, credits, l.HoursBand, l.PlacementID, l.Employer, l.JobTitle, string(l.State), l.Reason)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return "", classify(fmt.Errorf("insert claim lines: %w", err), "a line was credited already")
	}
	return id, nil
}

const claimCols = `id::text, agreement_id::text, period_end, state, submitted_on, paid_on, version, updated_at`

const lineCols = `l.id::text, l.claim_id::text, l.application_id::text, l.client_id::text, l.part_id, l.part_name, l.condition,
	l.earned_on, l.amount_cents, COALESCE(l.credits_line_id::text, ''), l.hours_band, l.placement_id, l.employer_name,
	l.job_title, l.state, l.decision_reason, l.decided_by,
	COALESCE((SELECT x.state FROM funding.claim_lines x WHERE x.id = l.credits_line_id), '')`

func scanLines(rows pgx.Rows, err error) ([]domain.Line, error) {
	if err != nil {
		return nil, fmt.Errorf("read claim lines: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Line, error) {
		var l domain.Line
		var cond, state, credited string
		err := r.Scan(&l.ID, &l.ClaimID, &l.ApplicationID, &l.ClientID, &l.PartID, &l.PartName, &cond, &l.EarnedOn,
			&l.AmountCents, &l.CreditsLineID, &l.HoursBand, &l.PlacementID, &l.Employer, &l.JobTitle, &state, &l.Reason, &l.DecidedBy,
			&credited)
		l.Condition, l.State, l.CreditsState = domain.Condition(cond), domain.LineState(state), domain.LineState(credited)
		return l, err
	})
}

// Claims returns claims of agreements (or the given ids) with their lines,
// oldest first; lock takes them FOR UPDATE.
func Claims(ctx context.Context, q Q, agreementIDs, ids []string, lock bool) ([]Claim, error) {
	sql := `SELECT ` + claimCols + ` FROM funding.claims WHERE agreement_id = ANY ($1::uuid[]) OR id = ANY ($2::uuid[]) ORDER BY period_end, updated_at, id`
	if lock {
		sql += ` FOR UPDATE`
	}
	rows, err := q.Query(ctx, sql, agreementIDs, ids)
	if err != nil {
		return nil, fmt.Errorf("read claims: %w", err)
	}
	cs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Claim, error) {
		var c Claim
		var pe time.Time
		var sub, paid *time.Time
		err := r.Scan(&c.ID, &c.AgreementID, &pe, &c.State, &sub, &paid, &c.Version, &c.UpdatedAt)
		c.PeriodEnd, c.SubmittedOn, c.PaidOn = domain.Today(pe), dateOf(sub), dateOf(paid)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("read claims: %w", err)
	}
	claimIDs := make([]string, len(cs))
	for i, c := range cs {
		claimIDs[i] = c.ID
	}
	lines, err := scanLines(q.Query(ctx, `SELECT `+lineCols+` FROM funding.claim_lines l WHERE l.claim_id = ANY ($1::uuid[]) ORDER BY l.claim_id, l.position`, claimIDs))
	if err != nil {
		return nil, err
	}
	byClaim := map[string][]domain.Line{}
	for _, l := range lines {
		byClaim[l.ClaimID] = append(byClaim[l.ClaimID], l)
	}
	for i := range cs {
		cs[i].Lines = byClaim[cs[i].ID]
	}
	return cs, nil
}

// OneClaim returns one claim with its lines.
func OneClaim(ctx context.Context, q Q, id string, lock bool) (Claim, error) {
	cs, err := Claims(ctx, q, nil, []string{id}, lock)
	if err != nil {
		return Claim{}, err
	}
	if len(cs) == 0 {
		return Claim{}, notFound("claim", id)
	}
	return cs[0], nil
}

// SubmittedLines returns the lines of applications in claims that are no
// longer drafts: what earlier claims asked for.
func SubmittedLines(ctx context.Context, q Q, applicationIDs []string) ([]domain.Line, error) {
	return scanLines(q.Query(ctx, `SELECT `+lineCols+` FROM funding.claim_lines l
		WHERE l.application_id = ANY ($1::uuid[])
		  AND EXISTS (SELECT 1 FROM funding.claims c WHERE c.id = l.claim_id AND c.state <> 'draft')
		ORDER BY l.claim_id, l.position`, applicationIDs))
}

// SetClaimState moves a claim to state (dates optional) and bumps its
// version.
func SetClaimState(ctx context.Context, tx pgx.Tx, id, state string, submitted, paid domain.Date, by string) error {
	_, err := tx.Exec(ctx, `UPDATE funding.claims SET state = $2, submitted_on = COALESCE($3, submitted_on),
			paid_on = COALESCE($4, paid_on), version = version + 1, updated_by = $5, updated_at = now()
		WHERE id = $1`, id, state, nullDate(submitted), nullDate(paid), by)
	if err != nil {
		return fmt.Errorf("update claim: %w", err)
	}
	return nil
}

// DecideLine records the funder's decision on a pending line.
func DecideLine(ctx context.Context, tx pgx.Tx, lineID string, state domain.LineState, reason, by string) error {
	tag, err := tx.Exec(ctx, `UPDATE funding.claim_lines SET state = $2, decision_reason = $3, decided_by = $4, decided_at = now()
		WHERE id = $1 AND state = 'pending'`, lineID, string(state), reason, by)
	if err != nil {
		return fmt.Errorf("decide claim line: %w", err)
	}
	if tag.RowsAffected() != 1 {
		return errors.New("claim line was not pending")
	}
	return nil
}

// AgreementsInRegion lists the agreements of a region.
func AgreementsInRegion(ctx context.Context, q Q, region string) ([]domain.Agreement, error) {
	return scanAgreements(q.Query(ctx, `SELECT `+agreementCols+` FROM funding.agreements
		WHERE region_id = $1 ORDER BY valid_from DESC, id`, region))
}
