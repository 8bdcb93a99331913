package app

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strconv"
	"strings"

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

type rosterEntry struct {
	key    string // keyset: create time (µs, zero-padded) and client id
	client *clientsv1.Client
}

// ListCaseload lists the open clients of a specialist (default the caller)
// or, with teamID, of a team. The roster comes from the clients service
// with the caller's token, so it holds exactly the clients the caller may
// see, scoped by the clients service to the caller's own teams; it is
// ordered by enrolment (create time, id) and paged by keyset on that order.
// Only the page's clients are looked up in this service's tables.
func (s *Service) ListCaseload(ctx context.Context, specialistID, teamID string, pageSize int, pageToken string) (Caseload, error) {
	cl, err := access.CallerFrom(ctx)
	if err != nil {
		return Caseload{}, err
	}
	sub := cl.Sub
	if pageSize <= 0 {
		pageSize = 25
	}
	after := ""
	if pageToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(pageToken)
		if err != nil || !strings.Contains(string(b), "|") {
			return Caseload{}, &domain.FieldError{Field: "page_token", Msg: "is not a token this service issued"}
		}
		after = string(b)
	}
	if teamID == "" && specialistID == "" {
		specialistID = sub.UserID
	}
	roster, err := s.roster(ctx, specialistID, teamID)
	if err != nil {
		return Caseload{}, err
	}
	var out Caseload
	counts := map[string]int{}
	for _, r := range roster {
		counts[r.client.GetTrajectory().GetEmploymentSpecialistId()]++
	}
	for id, n := range counts {
		l := Load{SpecialistID: id, Clients: n}
		if n > CaseloadLimit {
			l.Warning = fmt.Sprintf("%d open clients is above the IPS caseload maximum of %d", n, CaseloadLimit)
		}
		out.Loads = append(out.Loads, l)
	}
	sort.Slice(out.Loads, func(i, j int) bool { return out.Loads[i].SpecialistID < out.Loads[j].SpecialistID })

	start := sort.Search(len(roster), func(i int) bool { return roster[i].key > after })
	page := roster[start:]
	if len(page) > pageSize {
		page = page[:pageSize]
		out.Next = base64.RawURLEncoding.EncodeToString([]byte(page[len(page)-1].key))
	}

	ids := make([]string, len(page))
	for i, r := range page {
		ids[i] = r.client.GetClientId()
	}
	// One decision for the whole page (one statement), this service's facts
	// of the page in a fixed number of statements, and one audit append
	// with a record per listed client.
	op := access.Op{Action: "list", Reason: "caseload", Rule: func(*access.Access) string { return "" }}
	err = s.path.ReadMany(ctx, ids, op, func(allowed map[string]*access.Access) error {
		intakes := map[string]domain.Date{}
		for _, r := range page {
			id := r.client.GetClientId()
			if a := allowed[id]; a != nil && a.Decision.Read[authz.Milestones] {
				if t := r.client.GetTrajectory().GetIntakeTime(); t != nil {
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
		for _, r := range page {
			c := r.client
			id, tr := c.GetClientId(), c.GetTrajectory()
			e := CaseloadEntry{ClientID: id, SpecialistID: tr.GetEmploymentSpecialistId(), TeamID: tr.GetTeamId(),
				Phase: strings.ToLower(strings.TrimPrefix(tr.GetPhase().String(), "PHASE_"))}
			if idn := c.GetIdentity(); idn != nil {
				e.DisplayName = strings.TrimSpace(idn.GetGivenName() + " " + idn.GetFamilyName())
			}
			out.Entries = append(out.Entries, e)
			a := allowed[id]
			if a == nil {
				continue
			}
			f := facts[id]
			entry := &out.Entries[len(out.Entries)-1]
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
	return out, nil
}

// roster reads every open client of the specialist or team that the caller
// may see from the clients service, in enrolment order.
func (s *Service) roster(ctx context.Context, specialistID, teamID string) ([]rosterEntry, error) {
	out := authn.OutgoingContext(ctx)
	var roster []rosterEntry
	token := ""
	for {
		resp, err := s.clients.ListClients(out, &clientsv1.ListClientsRequest{PageSize: 100, PageToken: token})
		if err != nil {
			return nil, fmt.Errorf("%w: list clients: %v", domain.ErrClientsUnavailable, err)
		}
		for _, c := range resp.GetClients() {
			tr := c.GetTrajectory()
			if tr == nil || tr.GetPhase() == clientsv1.Phase_PHASE_CLOSED {
				continue
			}
			if (teamID != "" && tr.GetTeamId() != teamID) || (teamID == "" && tr.GetEmploymentSpecialistId() != specialistID) {
				continue
			}
			key := fmt.Sprintf("%020s|%s", strconv.FormatInt(c.GetCreateTime().AsTime().UnixMicro(), 10), c.GetClientId())
			roster = append(roster, rosterEntry{key: key, client: c})
		}
		token = resp.GetNextPageToken()
		if token == "" {
			break
		}
	}
	sort.Slice(roster, func(i, j int) bool { return roster[i].key < roster[j].key })
	return roster, nil
}
