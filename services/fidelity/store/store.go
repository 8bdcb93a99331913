// Package store keeps the fidelity service's data in PostgreSQL (schema
// fidelity): the scale versions, reviews with their scores, comments and
// action plans, and idempotency keys. Reads take a Querier (the pool or a
// write's transaction); Lock reads a review FOR UPDATE inside a write.
package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	"github.com/ipsbridge/ipsbridge/services/fidelity/domain"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the fidelity schema's migrations.
var Migrations = database.Embedded("fidelity", migrationFiles)

// Keys are the schema's idempotency keys.
var Keys = idempotency.In("fidelity")

// Store is the fidelity schema.
type Store struct{ pool *pgxpool.Pool }

// New returns the store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool is the store's pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// ErrScaleChanged: a shipped scale version differs from the one seeded
// before; a revision must be a new version.
var ErrScaleChanged = errors.New("scale version changed after it was seeded")

// SeedScales records every shipped scale version that is not there yet, and
// refuses to start when a version already seeded has changed.
func SeedScales(ctx context.Context, pool *pgxpool.Pool, files map[string][]byte) error {
	for id, raw := range files {
		sum := sha256.Sum256(raw)
		if _, err := pool.Exec(ctx, `INSERT INTO fidelity.scales (id, content, sha256) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO NOTHING`, id, raw, sum[:]); err != nil {
			return fmt.Errorf("seed scale %s: %w", id, err)
		}
		var have []byte
		if err := pool.QueryRow(ctx, `SELECT sha256 FROM fidelity.scales WHERE id = $1`, id).Scan(&have); err != nil {
			return fmt.Errorf("read scale %s: %w", id, err)
		}
		if !bytes.Equal(have, sum[:]) {
			return fmt.Errorf("%w: %s; ship the revision under a new id", ErrScaleChanged, id)
		}
	}
	return nil
}

// CreateReview inserts a requested review.
func (s *Store) CreateReview(ctx context.Context, tx pgx.Tx, r *domain.Review) error {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("pseudonym key: %w", err)
	}
	_, err := tx.Exec(ctx, `INSERT INTO fidelity.reviews (id, team_id, org_id, region_id, scale_id, period_from, period_to,
			status, requested_by, pseudonym_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 'requested', $8, $9)`,
		r.ID, r.TeamID, r.OrgID, r.RegionID, r.ScaleID, r.PeriodFrom, r.PeriodTo, r.RequestedBy, key)
	if err != nil {
		return fmt.Errorf("insert review: %w", err)
	}
	return nil
}

const reviewCols = `id::text, team_id, org_id, region_id, scale_id, period_from, period_to, status, requested_by, requested_at,
	reviewer_id, reviewer_org_id, scheduled_on, strengths, recommendations, finalised_at, version`

func scanReview(row pgx.Row) (*domain.Review, error) {
	var r domain.Review
	var status string
	var sched *time.Time
	var fin *time.Time
	if err := row.Scan(&r.ID, &r.TeamID, &r.OrgID, &r.RegionID, &r.ScaleID, &r.PeriodFrom, &r.PeriodTo, &status, &r.RequestedBy,
		&r.RequestedAt, &r.ReviewerID, &r.ReviewerOrg, &sched, &r.Strengths, &r.Recommend, &fin, &r.Version); err != nil {
		return nil, err
	}
	r.Status = domain.Status(status)
	if sched != nil {
		r.ScheduledOn = *sched
	}
	if fin != nil {
		r.FinalisedAt = *fin
	}
	return &r, nil
}

// Get returns a review with its scores, comments and action plan; lock
// takes its row FOR UPDATE (q must then be a transaction).
func (s *Store) Get(ctx context.Context, q pgx.Tx, id string, lock bool) (*domain.Review, error) {
	return get(ctx, q, id, lock)
}

// Read returns a review outside any transaction.
func (s *Store) Read(ctx context.Context, id string) (*domain.Review, error) {
	var r *domain.Review
	err := database.InTx(ctx, s.pool, pgx.TxOptions{AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		r, err = get(ctx, tx, id, false)
		return err
	})
	return r, err
}

func get(ctx context.Context, q pgx.Tx, id string, lock bool) (*domain.Review, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, fmt.Errorf("review %s: %w", id, domain.ErrNotFound)
	}
	sql := `SELECT ` + reviewCols + ` FROM fidelity.reviews WHERE id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	r, err := scanReview(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("review %s: %w", id, domain.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read review %s: %w", id, err)
	}
	if err := loadChildren(ctx, q, r); err != nil {
		return nil, err
	}
	return r, nil
}

func loadChildren(ctx context.Context, q pgx.Tx, r *domain.Review) error {
	rows, err := q.Query(ctx, `SELECT kind, item_code, score, evidence, scored_by, scored_at FROM fidelity.scores
		WHERE review_id = $1 ORDER BY kind, item_code`, r.ID)
	if err != nil {
		return fmt.Errorf("read scores: %w", err)
	}
	for rows.Next() {
		var kind string
		var sc domain.Score
		if err := rows.Scan(&kind, &sc.ItemCode, &sc.Score, &sc.Evidence, &sc.By, &sc.At); err != nil {
			rows.Close()
			return fmt.Errorf("scan score: %w", err)
		}
		if kind == "self" {
			r.Self = append(r.Self, sc)
		} else {
			r.Scores = append(r.Scores, sc)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read scores: %w", err)
	}
	rows, err = q.Query(ctx, `SELECT id::text, item_code, text, author_id, created_at FROM fidelity.comments
		WHERE review_id = $1 ORDER BY created_at, id`, r.ID)
	if err != nil {
		return fmt.Errorf("read comments: %w", err)
	}
	for rows.Next() {
		var c domain.Comment
		if err := rows.Scan(&c.ID, &c.ItemCode, &c.Text, &c.By, &c.At); err != nil {
			rows.Close()
			return fmt.Errorf("scan comment: %w", err)
		}
		r.Comments = append(r.Comments, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read comments: %w", err)
	}
	rows, err = q.Query(ctx, `SELECT id::text, text, owner, due_date, done_on FROM fidelity.action_items
		WHERE review_id = $1 ORDER BY seq`, r.ID)
	if err != nil {
		return fmt.Errorf("read action items: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a domain.ActionItem
		var done *time.Time
		if err := rows.Scan(&a.ID, &a.Text, &a.Owner, &a.Due, &done); err != nil {
			return fmt.Errorf("scan action item: %w", err)
		}
		if done != nil {
			a.DoneAt = *done
		}
		r.Actions = append(r.Actions, a)
	}
	return rows.Err()
}

// SaveHeader writes a review's own fields and bumps its version.
func (s *Store) SaveHeader(ctx context.Context, tx pgx.Tx, r *domain.Review) error {
	var sched, fin *time.Time
	if !r.ScheduledOn.IsZero() {
		sched = &r.ScheduledOn
	}
	if !r.FinalisedAt.IsZero() {
		fin = &r.FinalisedAt
	}
	err := tx.QueryRow(ctx, `UPDATE fidelity.reviews SET status = $2, reviewer_id = $3, reviewer_org_id = $4, scheduled_on = $5,
			strengths = $6, recommendations = $7, finalised_at = $8, version = version + 1, updated_at = now()
		WHERE id = $1 RETURNING version`,
		r.ID, string(r.Status), r.ReviewerID, r.ReviewerOrg, sched, r.Strengths, r.Recommend, fin).Scan(&r.Version)
	if err != nil {
		return fmt.Errorf("update review %s: %w", r.ID, err)
	}
	return nil
}

// PutScore records or replaces one score (kind "review" or "self").
func (s *Store) PutScore(ctx context.Context, tx pgx.Tx, reviewID, kind string, sc domain.Score) error {
	_, err := tx.Exec(ctx, `INSERT INTO fidelity.scores (review_id, kind, item_code, score, evidence, scored_by)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (review_id, kind, item_code) DO UPDATE
		SET score = excluded.score, evidence = excluded.evidence, scored_by = excluded.scored_by, scored_at = now()`,
		reviewID, kind, sc.ItemCode, sc.Score, sc.Evidence, sc.By)
	if err != nil {
		return fmt.Errorf("record score of %s: %w", sc.ItemCode, err)
	}
	return nil
}

// AddComment records a comment.
func (s *Store) AddComment(ctx context.Context, tx pgx.Tx, reviewID string, c domain.Comment) error {
	_, err := tx.Exec(ctx, `INSERT INTO fidelity.comments (id, review_id, item_code, text, author_id) VALUES ($1, $2, $3, $4, $5)`,
		c.ID, reviewID, c.ItemCode, c.Text, c.By)
	if err != nil {
		return fmt.Errorf("record comment: %w", err)
	}
	return nil
}

// AddActionItems records the action plan of a review.
func (s *Store) AddActionItems(ctx context.Context, tx pgx.Tx, reviewID string, items []domain.ActionItem) error {
	for i, a := range items {
		if _, err := tx.Exec(ctx, `INSERT INTO fidelity.action_items (id, review_id, seq, text, owner, due_date)
			VALUES ($1, $2, $3, $4, $5, $6)`, a.ID, reviewID, i+1, a.Text, a.Owner, a.Due); err != nil {
			return fmt.Errorf("record action item %d: %w", i+1, err)
		}
	}
	return nil
}

// CompleteAction marks an action item done on day by who; done items stay
// as they were.
func (s *Store) CompleteAction(ctx context.Context, tx pgx.Tx, reviewID, itemID string, day time.Time, by string) error {
	tag, err := tx.Exec(ctx, `UPDATE fidelity.action_items SET done_on = coalesce(done_on, $3), done_by = CASE WHEN done_on IS NULL THEN $4 ELSE done_by END
		WHERE review_id = $1 AND id = $2`, reviewID, itemID, day, by)
	if err != nil {
		return fmt.Errorf("complete action item: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("action item %s: %w", itemID, domain.ErrNotFound)
	}
	_, err = tx.Exec(ctx, `UPDATE fidelity.reviews SET version = version + 1, updated_at = now() WHERE id = $1`, reviewID)
	return err
}

// Filter selects reviews; empty fields select all.
type Filter struct {
	TeamIDs    []string
	ReviewerID string
	RegionID   string
	FinalOnly  bool
}

// List returns reviews (without children) in request order.
func (s *Store) List(ctx context.Context, f Filter) ([]*domain.Review, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+reviewCols+` FROM fidelity.reviews
		WHERE ($1::text[] IS NULL OR team_id = ANY ($1)) AND ($2 = '' OR reviewer_id = $2)
			AND ($3 = '' OR region_id = $3) AND (NOT $4 OR status = 'final')
		ORDER BY requested_at, id LIMIT 500`, f.TeamIDs, f.ReviewerID, f.RegionID, f.FinalOnly)
	if err != nil {
		return nil, fmt.Errorf("list reviews: %w", err)
	}
	defer rows.Close()
	var out []*domain.Review
	for rows.Next() {
		r, err := scanReview(rows)
		if err != nil {
			return nil, fmt.Errorf("scan review: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ReviewScores returns the reviewer's scores of reviews, by review id.
func (s *Store) ReviewScores(ctx context.Context, ids []string) (map[string][]domain.Score, error) {
	out := map[string][]domain.Score{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT review_id::text, item_code, score FROM fidelity.scores
		WHERE review_id = ANY ($1::uuid[]) AND kind = 'review'`, ids)
	if err != nil {
		return nil, fmt.Errorf("read scores: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var sc domain.Score
		if err := rows.Scan(&id, &sc.ItemCode, &sc.Score); err != nil {
			return nil, fmt.Errorf("scan score: %w", err)
		}
		out[id] = append(out[id], sc)
	}
	return out, rows.Err()
}

// PseudonymKey returns the key of a review's pseudonyms.
func (s *Store) PseudonymKey(ctx context.Context, reviewID string) ([]byte, error) {
	var key []byte
	if err := s.pool.QueryRow(ctx, `SELECT pseudonym_key FROM fidelity.reviews WHERE id = $1`, reviewID).Scan(&key); err != nil {
		return nil, fmt.Errorf("pseudonym key of review %s: %w", reviewID, err)
	}
	return key, nil
}
