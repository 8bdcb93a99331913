package app

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/services/benefits/domain"
	"github.com/ipsbridge/ipsbridge/services/benefits/store"
)

// CreateBenefit records a benefit situation paid by the caller's own
// organisation. A retry with the same request id returns the first benefit.
func (s *Service) CreateBenefit(ctx context.Context, b domain.Benefit, k idempotency.Request) (domain.Benefit, error) {
	c, err := s.allow(ctx, b.ClientID, "write", mayWrite)
	if err != nil {
		return domain.Benefit{}, err
	}
	if !isPayerKind(c.Sub) {
		return domain.Benefit{}, s.refuse(ctx, c, fmt.Errorf("%w: a benefit situation is reported by the organisation that pays it; %s pays no benefits", domain.ErrPermissionDenied, c.Sub.OrgID))
	}
	b.PayerOrgID = c.Sub.OrgID
	if err := domain.CheckPayer(b.Kind, c.Sub.OrgKind); err != nil {
		return domain.Benefit{}, err
	}
	if err := b.Check(); err != nil {
		return domain.Benefit{}, err
	}
	var out domain.Benefit
	err = s.write(ctx, c, "benefit recorded", func(tx pgx.Tx) error {
		var err error
		var replayed bool
		out, replayed, err = once(ctx, tx, c, "CreateBenefit", k, func() (domain.Benefit, error) {
			return store.InsertBenefit(ctx, tx, b, c.Sub.UserID)
		})
		if err != nil || replayed {
			return err
		}
		return emit(ctx, tx, benefitEvent(outbox.BenefitRecorded, c.Facts.RegionID, out, nil))
	})
	return out, err
}

// ListBenefits returns the client's benefits the caller may see.
func (s *Service) ListBenefits(ctx context.Context, clientID string) ([]domain.Benefit, error) {
	c, err := s.allow(ctx, clientID, "read", mayRead)
	if err != nil {
		return nil, err
	}
	all, err := store.Benefits(ctx, s.st.Pool(), clientID)
	if err != nil {
		return nil, err
	}
	var out []domain.Benefit
	for _, b := range all {
		if sees(c, b) {
			out = append(out, b)
		}
	}
	return out, s.readDone(ctx, c, fmt.Sprintf("%d benefits", len(out)))
}

// UpdateBenefit changes a benefit the caller's organisation pays, if it is
// still at version, and reports it (BenefitChanged) in the same
// transaction; fields names what changed. A retry with the same
// idempotency key (even with the version read again) changes nothing,
// reports nothing and gets the first answer.
func (s *Service) UpdateBenefit(ctx context.Context, clientID, benefitID string, version int64, fields []string, apply func(*domain.Benefit) error, k idempotency.Request) (domain.Benefit, error) {
	c, err := s.allow(ctx, clientID, "write", mayWrite)
	if err != nil {
		return domain.Benefit{}, err
	}
	var out domain.Benefit
	err = s.write(ctx, c, "benefit "+benefitID+" updated", func(tx pgx.Tx) error {
		var err error
		var replayed bool
		out, replayed, err = once(ctx, tx, c, "UpdateBenefit", k, func() (domain.Benefit, error) {
			return store.UpdateBenefit(ctx, tx, clientID, benefitID, c.Sub.UserID, func(b *domain.Benefit) error {
				if b.PayerOrgID != c.Sub.OrgID {
					return fmt.Errorf("benefit %s is not paid by %s: %w", benefitID, c.Sub.OrgID, domain.ErrNotFound)
				}
				if b.Version != version {
					return fmt.Errorf("%w: benefit is at version %d, the change was based on %d", domain.ErrVersionConflict, b.Version, version)
				}
				if err := apply(b); err != nil {
					return err
				}
				return b.Check()
			})
		})
		if err != nil || replayed {
			return err
		}
		return emit(ctx, tx, benefitEvent(outbox.BenefitChanged, c.Facts.RegionID, out, fields))
	})
	return out, err
}

// Summary is what the client's employment specialist may see.
type Summary struct {
	Benefits        []domain.Benefit // amounts zeroed
	CounsellingOpen bool
}

// GetSummary returns kinds, payers and statuses (no amounts) and whether
// counselling is open. Payer organisations see only their own benefits
// here too.
func (s *Service) GetSummary(ctx context.Context, clientID string) (Summary, error) {
	c, err := s.allow(ctx, clientID, "read_summary", func(c call) string {
		if c.Decision.Summary || mayRead(c) == "" {
			return ""
		}
		return fmt.Sprintf("role %s may not read the benefits summary of this client", c.Sub.Role)
	})
	if err != nil {
		return Summary{}, err
	}
	all, err := store.Benefits(ctx, s.st.Pool(), clientID)
	if err != nil {
		return Summary{}, err
	}
	var out Summary
	for _, b := range all {
		if c.Decision.Summary || sees(c, b) {
			b.MonthlyAmountCents, b.Amounts = 0, nil
			out.Benefits = append(out.Benefits, b)
		}
	}
	if out.CounsellingOpen, err = s.st.CounsellingOpen(ctx, clientID); err != nil {
		return Summary{}, err
	}
	return out, s.readDone(ctx, c, "summary")
}

// Calculation is an income-effect question.
type Calculation struct {
	ClientID string
	Query    domain.Query
}

// IncomeEffect is a calculation's result with the names of the paying
// organisations it mentions.
type IncomeEffect struct {
	domain.Result
	Names map[string]string
}

// Name returns an organisation's name (its id when unknown).
func (e IncomeEffect) Name(id string) string {
	if n, ok := e.Names[id]; ok {
		return n
	}
	return id
}

// CalculateIncomeEffect computes the effect of a job on the client's
// income for each month of the period, from the benefits the caller may
// see.
func (s *Service) CalculateIncomeEffect(ctx context.Context, q Calculation) (IncomeEffect, error) {
	c, err := s.allow(ctx, q.ClientID, "calculate", mayRead)
	if err != nil {
		return IncomeEffect{}, err
	}
	all, err := store.Benefits(ctx, s.st.Pool(), q.ClientID)
	if err != nil {
		return IncomeEffect{}, err
	}
	var visible []domain.Benefit
	names := map[string]string{}
	for _, b := range all {
		if sees(c, b) {
			visible = append(visible, b)
			if _, ok := names[b.PayerOrgID]; !ok {
				names[b.PayerOrgID] = s.path.Directory().Name(ctx, b.PayerOrgID)
			}
		}
	}
	r, err := domain.Rules.Calculate(visible, q.Query)
	if err != nil {
		return IncomeEffect{}, err
	}
	// A payer sees only what it pays; the note says so always, not only
	// when the client has other benefits, which a payer must not learn
	// (issue 14).
	if c.Sub.Role != Counsellor {
		r.Assumptions = append(r.Assumptions, domain.Note{Code: "visible_only", Warning: true})
	}
	return IncomeEffect{Result: r, Names: names}, s.readDone(ctx, c, "income-effect calculation")
}

// DecisionResult is the answer to a reported decision, stored with its
// idempotency key.
type DecisionResult struct {
	Decision domain.Decision
	Benefit  domain.Benefit
}

// ReportDecision applies a paying organisation's decision to a benefit it
// pays and reports it (BenefitDecisionReceived) in the same transaction. A
// retry with the same key returns the first answer and writes nothing, no
// event either; the same key with another request is refused.
func (s *Service) ReportDecision(ctx context.Context, d domain.Decision, k idempotency.Request) (DecisionResult, error) {
	if k.Key == "" {
		return DecisionResult{}, fmt.Errorf("%w: request_id (or an Idempotency-Key header) is required, so that a retry never applies a decision twice", domain.ErrInvalid)
	}
	c, err := s.allow(ctx, d.ClientID, "decision", mayWrite)
	if err != nil {
		return DecisionResult{}, err
	}
	var out DecisionResult
	replayed := false
	err = s.write(ctx, c, "decision on benefit "+d.BenefitID, func(tx pgx.Tx) error {
		var err error
		out, replayed, err = once(ctx, tx, c, "ReportBenefitDecision", k, func() (DecisionResult, error) {
			d.ReportedBy = c.Sub.UserID
			b, err := store.UpdateBenefit(ctx, tx, d.ClientID, d.BenefitID, c.Sub.UserID, func(b *domain.Benefit) error {
				if b.PayerOrgID != c.Sub.OrgID {
					return fmt.Errorf("benefit %s is not a benefit %s pays for this client: %w", d.BenefitID, c.Sub.OrgID, domain.ErrNotFound)
				}
				return d.Apply(b)
			})
			if err != nil {
				return DecisionResult{}, err
			}
			dec, err := store.InsertDecision(ctx, tx, d, c.Sub.OrgID)
			if err != nil {
				return DecisionResult{}, err
			}
			return DecisionResult{Decision: dec, Benefit: b}, emit(ctx, tx, decisionEvent(c.Facts.RegionID, b, dec))
		})
		return err
	})
	if err == nil && replayed {
		s.log.InfoContext(ctx, "decision replayed", "key", k.Key)
	}
	return out, err
}
