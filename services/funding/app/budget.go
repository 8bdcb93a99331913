package app

import (
	"context"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/services/funding/domain"
	"github.com/ipsbridge/ipsbridge/services/funding/store"
)

// Budget is an agreement's money at a glance, in cents.
type Budget struct {
	AgreementID        string
	BudgetCents        int64
	BudgetTrajectories int
	Trajectories       int
	Committed          int64
	Earned             int64
	Claimed            int64
	Approved           int64
	Paid               int64
	Remaining          int64
	Forecast           int64
}

// GetBudget returns an agreement's budget for the funding officers of the
// parties: committed (the most the approved trajectories can earn, or what
// the determined ones did), earned by now, claimed, approved and paid
// (credits netted), remaining, and the forecast (earned plus what the live
// trajectories can still earn).
func (s *Service) GetBudget(ctx context.Context, agreementID string) (Budget, error) {
	c, err := access.CallerFrom(ctx)
	if err != nil {
		return Budget{}, err
	}
	ag, err := s.agreementFor(ctx, s.st.Pool(), c, agreementID, "read")
	if err != nil {
		return Budget{}, err
	}
	if c.Sub.Role != Officer {
		return Budget{}, s.refuseOrg(ctx, c, "read", denied("an agreement's budget is for the funding officers of its parties"))
	}
	apps, err := store.Applications(ctx, s.st.Pool(), []string{ag.ID})
	if err != nil {
		return Budget{}, err
	}
	live := claimable(apps)
	earned, _, err := s.earnedBy(ctx, ag, live, s.Today())
	if err != nil {
		return Budget{}, err
	}
	b := Budget{AgreementID: ag.ID, BudgetCents: ag.BudgetCents, BudgetTrajectories: ag.BudgetTrajectories}
	for _, a := range apps {
		if !a.State.Funded() {
			continue
		}
		b.Trajectories++
		if a.State == domain.Determined {
			b.Committed += a.DeterminedCent
			b.Earned += a.DeterminedCent
			b.Forecast += a.DeterminedCent
			continue
		}
		sched, _ := ag.ScheduleOn(a.DecisionOn)
		var got int64
		for _, e := range earned[a.ID] {
			got += e.Part.AmountCents
		}
		b.Committed += sched.Total()
		b.Earned += got
		if a.State == domain.Approved || a.State == domain.Running {
			b.Forecast += sched.Total()
		} else {
			b.Forecast += got // stopped or ended: it earns no more
		}
	}
	cls, err := store.Claims(ctx, s.st.Pool(), []string{ag.ID}, nil, false)
	if err != nil {
		return Budget{}, err
	}
	for _, cl := range cls {
		if cl.State == store.ClaimDraft {
			continue
		}
		for _, l := range cl.Lines {
			if l.State != domain.Rejected {
				b.Claimed += l.AmountCents
			}
		}
		_, approved := Totals(cl)
		b.Approved += approved
		if cl.State == store.ClaimPaid {
			b.Paid += approved
		}
	}
	b.Remaining = b.BudgetCents - b.Committed
	return b, s.recordOrg(ctx, c, "read", "budget of funding agreement "+ag.ID)
}
