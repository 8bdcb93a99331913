package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/services/employment/domain"
	"github.com/ipsbridge/ipsbridge/services/employment/store"
)

// sweepPage is how many candidate clients the sweep reads at once.
const sweepPage = 500

// SweepLookbackMonths is how far back the sweep looks for jobs: a
// milestone reached by the passing of time is reached while a job is held
// (or on the day after its last day), so a sweep that runs at least once in
// this period misses none. Milestones a write reaches are announced by the
// write itself.
const SweepLookbackMonths = 7

// AnnounceDueMilestones announces, with one MilestoneReached event each,
// the placement milestones (job start, 3 and 6 months of continuous
// employment) that the passing of time has made reached by now and that no
// write or earlier sweep announced. It is idempotent and safe to run on
// several replicas at once: each client is handled in its own transaction
// holding the client's row, and an announcement is recorded with its event
// (unique per client and kind). It returns how many it announced.
//
// Clients no write has recorded a region for (placements from before the
// outbox) are skipped until their next write.
func (s *Service) AnnounceDueMilestones(ctx context.Context, now time.Time) (int, error) {
	today := domain.Today(now)
	since := today.AddDate(0, -SweepLookbackMonths, 0)
	total := 0
	var errs []error
	after := ""
	for {
		ids, err := s.st.SweepCandidates(ctx, today, since, after, sweepPage)
		if err != nil {
			return total, err
		}
		if len(ids) == 0 {
			break
		}
		after = ids[len(ids)-1]
		due, err := s.dueClients(ctx, ids, now)
		if err != nil {
			return total, err
		}
		for _, id := range due {
			n, err := s.announceDue(ctx, id, now)
			total += n
			if ctx.Err() != nil {
				return total, ctx.Err()
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("client %s: %w", id, err))
			}
		}
		if len(ids) < sweepPage {
			break
		}
	}
	return total, errors.Join(errs...)
}

// dueClients narrows candidates to those with a placement milestone reached
// and not announced, from one read of their placements without locks; the
// transaction of announceDue decides again under the client's lock.
func (s *Service) dueClients(ctx context.Context, ids []string, now time.Time) ([]string, error) {
	ps, err := store.Placements(ctx, s.st.Pool(), ids, "", false)
	if err != nil {
		return nil, err
	}
	byClient := map[string][]domain.Placement{}
	for _, p := range ps {
		byClient[p.ClientID] = append(byClient[p.ClientID], p)
	}
	done, err := store.Announced(ctx, s.st.Pool(), ids)
	if err != nil {
		return nil, err
	}
	var due []string
	for _, id := range ids {
		for _, m := range domain.Milestones(domain.Date{}, nil, byClient[id], now) {
			if m.State == domain.Reached && slices.Contains(placementMilestones, m.Kind) && !done[id][m.Kind] {
				due = append(due, id)
				break
			}
		}
	}
	return due, nil
}

// announceDue announces one client's reached placement milestones in a
// transaction holding the client's row.
func (s *Service) announceDue(ctx context.Context, clientID string, now time.Time) (int, error) {
	var n int
	err := s.st.InTx(ctx, func(tx pgx.Tx) error {
		n = 0
		region, found, err := store.LockKnownClient(ctx, tx, clientID)
		if err != nil || !found {
			return err
		}
		n, err = announcePlacementMilestones(ctx, tx, clientID, region, now)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
