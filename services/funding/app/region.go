package app

import (
	"context"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/smallgroups"
	"github.com/ipsbridge/ipsbridge/services/funding/domain"
	"github.com/ipsbridge/ipsbridge/services/funding/store"
)

// AgreementFigures are one agreement's figures that name no client.
type AgreementFigures struct {
	Agreement domain.Agreement
	// Trajectories is the number approved, hidden when 1 to 4.
	Trajectories smallgroups.Cell
	// MoneySuppressed: the money figures are left out because too few
	// trajectories make them up (they would show what one client earned).
	MoneySuppressed           bool
	Committed, Approved, Paid int64
}

// RegionFunding returns the figures of every agreement of the caller's
// region, for decision makers: through the shared path's Aggregate, which
// allows it only with the aggregate action on funding and records it.
func (s *Service) RegionFunding(ctx context.Context) (string, []AgreementFigures, error) {
	var region string
	var out []AgreementFigures
	err := s.path.Aggregate(ctx, "", fundingSection, func(_ access.Caller, regionID string) error {
		region = regionID
		ags, err := store.AgreementsInRegion(ctx, s.st.Pool(), regionID)
		if err != nil {
			return err
		}
		for _, ag := range ags {
			apps, err := store.Applications(ctx, s.st.Pool(), []string{ag.ID})
			if err != nil {
				return err
			}
			f := AgreementFigures{Agreement: ag}
			n := 0
			for _, a := range apps {
				if !a.State.Funded() {
					continue
				}
				n++
				if a.State == domain.Determined {
					f.Committed += a.DeterminedCent
				} else if sched, ok := ag.ScheduleOn(a.DecisionOn); ok {
					f.Committed += sched.Total()
				}
			}
			cls, err := store.Claims(ctx, s.st.Pool(), []string{ag.ID}, nil, false)
			if err != nil {
				return err
			}
			for _, cl := range cls {
				if cl.State == store.ClaimDraft {
					continue
				}
				_, approved := Totals(cl)
				f.Approved += approved
				if cl.State == store.ClaimPaid {
					f.Paid += approved
				}
			}
			f.Trajectories = smallgroups.Of(n)
			if n < smallgroups.Minimum {
				f.MoneySuppressed, f.Committed, f.Approved, f.Paid = true, 0, 0, 0
			}
			out = append(out, f)
		}
		return nil
	})
	return region, out, err
}
