package app

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	"github.com/ipsbridge/ipsbridge/services/employment/domain"
)

// CaseloadLimit is the IPS maximum of clients per specialist. Above it the
// caseload carries a warning; nobody is ever refused or capped.
const CaseloadLimit = 20

// CaseloadEntry is one open client of a caseload.
type CaseloadEntry struct {
	ClientID, DisplayName, SpecialistID, TeamID, Phase string
	// DaysSinceLastContact is nil when unknown or not readable.
	DaysSinceLastContact *int32
	// NextMilestone is nil when none is pending or milestones are not
	// readable.
	NextMilestone *domain.Milestone
}

// Load is one specialist's number of open clients.
type Load struct {
	SpecialistID string
	Clients      int
	Warning      string
}

// Caseload is one page of a caseload.
type Caseload struct {
	Entries []CaseloadEntry
	Next    string
	Loads   []Load
}

// ListCaseload lists the open clients of a specialist (default the caller)
// or, with teamID, of a team. The page comes from the clients service with
// the caller's token in one call, filtered and paged there: it holds
// exactly the clients the caller may see, in enrolment order, with each
// specialist's number of open clients beside it. Only the page's clients
// are looked up in this service's tables, so a page costs the same number
// of calls and statements whatever the size of the team or the region.
// The page token is the clients service's, bound to the caller and filter.
func (s *Service) ListCaseload(ctx context.Context, specialistID, teamID string, pageSize int, pageToken string) (Caseload, error) {
	cl, err := access.CallerFrom(ctx)
	if err != nil {
		return Caseload{}, err
	}
	if pageSize <= 0 {
		pageSize = 25
	}
	if teamID == "" && specialistID == "" {
		specialistID = cl.Sub.UserID
	}
	// The clients service's audit record of this page also covers the
	// sections read here (access.CoverSections), so each listed client gets
	// one record for the whole caseload request.
	out := access.CoverSections(authn.OutgoingContext(ctx), authz.JobSearch, authz.Placements, authz.Milestones)
	resp, err := s.clients.ListClients(out, &clientsv1.ListClientsRequest{
		PageSize: int32(min(pageSize, 100)), PageToken: pageToken,
		EmploymentSpecialistId: specialistID, TeamId: teamID, OpenOnly: true,
	})
	if status.Code(err) == codes.InvalidArgument {
		return Caseload{}, &domain.FieldError{Field: "page_token", Msg: "is not a token issued for this caseload and caller; start again without it"}
	}
	if err != nil {
		return Caseload{}, fmt.Errorf("%w: list clients: %v", domain.ErrClientsUnavailable, err)
	}
	var caseload Caseload
	caseload.Next = resp.GetNextPageToken()
	for _, l := range resp.GetLoads() {
		load := Load{SpecialistID: l.GetEmploymentSpecialistId(), Clients: int(l.GetClients())}
		if load.Clients > CaseloadLimit {
			load.Warning = fmt.Sprintf("%d open clients is above the IPS caseload maximum of %d", load.Clients, CaseloadLimit)
		}
		caseload.Loads = append(caseload.Loads, load)
	}
	page := resp.GetClients()
	ids := make([]string, len(page))
	for i, c := range page {
		ids[i] = c.GetClientId()
	}
	// One decision for the whole page (one statement), this service's facts
	// of the page in a fixed number of statements, and one audit append
	// with a record per listed client.
	op := access.Op{Action: "list", Reason: "caseload", Rule: func(*access.Access) string { return "" }}
	err = s.path.ReadMany(access.ExpectCover(ctx), ids, op, func(allowed map[string]*access.Access) error {
		intakes := map[string]domain.Date{}
		for _, c := range page {
			id := c.GetClientId()
			if a := allowed[id]; a != nil && a.Decision.Read[authz.Milestones] {
				if t := c.GetTrajectory().GetIntakeTime(); t != nil {
					intakes[id] = domain.Today(t.AsTime())
					continue
				}
			}
			intakes[id] = domain.Date{}
		}
		facts, err := s.CaseloadFacts(ctx, intakes)
		if err != nil {
			return err
		}
		today := s.Today()
		for _, c := range page {
			id, tr := c.GetClientId(), c.GetTrajectory()
			e := CaseloadEntry{ClientID: id, SpecialistID: tr.GetEmploymentSpecialistId(), TeamID: tr.GetTeamId(),
				Phase: strings.ToLower(strings.TrimPrefix(tr.GetPhase().String(), "PHASE_"))}
			if idn := c.GetIdentity(); idn != nil {
				e.DisplayName = strings.TrimSpace(idn.GetGivenName() + " " + idn.GetFamilyName())
			}
			caseload.Entries = append(caseload.Entries, e)
			a := allowed[id]
			if a == nil {
				continue
			}
			f := facts[id]
			entry := &caseload.Entries[len(caseload.Entries)-1]
			var last domain.Date
			if a.Decision.Read[authz.JobSearch] {
				a.Touch(authz.JobSearch)
				last = f.LastEmployerContact
			}
			if a.Decision.Read[authz.Placements] {
				a.Touch(authz.Placements)
				if f.LastFollowAlongContact.After(last) {
					last = f.LastFollowAlongContact
				}
			}
			if !last.IsZero() {
				days := int32(today.Sub(last).Hours() / 24)
				entry.DaysSinceLastContact = &days
			}
			if a.Decision.Read[authz.Milestones] {
				a.Touch(authz.Milestones)
				if m, ok := domain.Next(f.Milestones); ok {
					entry.NextMilestone = &m
				}
			}
		}
		return nil
	})
	if err != nil {
		return Caseload{}, err
	}
	return caseload, nil
}
