package app

import (
	"context"
	"slices"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/services/employment/domain"
	"github.com/ipsbridge/ipsbridge/services/employment/store"
)

// WorkHistory is one client's placements as the evidence funding claims
// are derived from: dates and hours (section milestones, the figures the
// milestones are derived from), and the job's details only for a caller
// who may read the client's placements.
type WorkHistory struct {
	ClientID   string
	Placements []domain.Placement
	JobDetails bool
}

// ListWorkHistories returns the work histories of the clients whose
// milestones the caller may read, in the order asked, in one read of the
// placements; the others are left out as if they did not exist. Wages are
// cleared; employer and job title too unless the caller may read
// placements.
func (s *Service) ListWorkHistories(ctx context.Context, clientIDs []string) ([]WorkHistory, error) {
	var out []WorkHistory
	err := s.path.ReadMany(ctx, clientIDs, access.Reading(authz.Milestones), func(allowed map[string]*access.Access) error {
		ids := make([]string, 0, len(allowed))
		for id := range allowed {
			ids = append(ids, id)
		}
		if len(ids) == 0 {
			return nil
		}
		ps, err := store.Placements(ctx, s.st.Pool(), ids, "", false)
		if err != nil {
			return err
		}
		byClient := map[string][]domain.Placement{}
		for _, p := range ps {
			byClient[p.ClientID] = append(byClient[p.ClientID], p)
		}
		for _, id := range clientIDs {
			a := allowed[id]
			if a == nil || slices.ContainsFunc(out, func(h WorkHistory) bool { return h.ClientID == id }) {
				continue
			}
			h := WorkHistory{ClientID: id, JobDetails: a.Decision.Read[authz.Placements]}
			a.Touch(authz.Milestones)
			if h.JobDetails {
				a.Touch(authz.Placements)
			}
			for _, p := range byClient[id] {
				if !h.JobDetails {
					p.EmployerName, p.JobTitle = "", ""
				}
				for i := range p.Terms {
					p.Terms[i].HourlyWageCents = 0
				}
				h.Placements = append(h.Placements, p)
			}
			out = append(out, h)
		}
		return nil
	})
	return out, err
}
