package web

import (
	"net/http"
	"slices"
	"strings"
	"time"

	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
)

type caseloadRow struct {
	ID, Name, Phase string
	// Days since the last contact; HasDays false when unknown.
	Days    int32
	HasDays bool
	// Milestone is the next milestone's key, MilestoneDate its expected
	// date; Late when it was missed.
	Milestone, MilestoneDate string
	Late                     bool
	Specialist               string
}

type loadRow struct {
	Specialist string
	Count      int32
	Over       bool
}

type caseloadData struct {
	Team        string
	Teams       []orgOption
	Rows        []caseloadRow
	Loads       []loadRow
	Limit       int32
	Count       int
	Over        bool
	NotDeployed bool
	// Attention is the supervisor's list of what needs a look.
	Attention *attention
}

// attention is what a supervisor looks at first in a team: clients nobody
// has been in touch with for a month, milestones missed or past their
// expected date, and specialists above the IPS caseload maximum.
type attention struct {
	NoContact []caseloadRow
	Overdue   []caseloadRow
	Over      []loadRow
}

// noContactDays is how long without contact needs the supervisor's look.
const noContactDays = 30

// maxCaseloadPages bounds the pages of 100 a caseload view reads.
const maxCaseloadPages = 20

// caseloadPage is the employment specialist's caseload (or, for a
// supervisor, a team's): phase, days since the last contact, the next
// milestone, and the number of open clients against the IPS maximum of 20.
func (h *Handler) caseloadPage(w http.ResponseWriter, r *http.Request, s *session) error {
	d := caseloadData{Limit: 20}
	if h.employment == nil {
		d.NotDeployed = true
		return h.render(w, http.StatusOK, "caseload", h.newPage(r, s, "caseload.title", d))
	}
	req := &employmentv1.ListCaseloadRequest{PageSize: 100}
	if s.Role == "ips_supervisor" {
		for _, t := range s.Teams {
			d.Teams = append(d.Teams, orgOption{ID: t, Name: teamName(t)})
		}
		d.Team = r.URL.Query().Get("team")
		if !slices.Contains(s.Teams, d.Team) && len(s.Teams) > 0 {
			d.Team = s.Teams[0]
		}
		req.TeamId = d.Team
	}
	lang := language(r)
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	for range maxCaseloadPages {
		resp, err := h.employment.ListCaseload(ctx, req)
		if err != nil {
			return serviceError(err)
		}
		if resp.GetCaseloadLimit() > 0 {
			d.Limit = resp.GetCaseloadLimit()
		}
		if d.Loads == nil {
			for _, l := range resp.GetLoads() {
				d.Loads = append(d.Loads, loadRow{Specialist: personName(lang, l.GetSpecialistId()), Count: l.GetClientCount(), Over: l.GetWarning() != ""})
			}
		}
		for _, e := range resp.GetEntries() {
			row := caseloadRow{ID: e.GetClientId(), Name: e.GetDisplayName(), Phase: e.GetPhase(), Specialist: personName(lang, e.GetEmploymentSpecialistId())}
			if e.DaysSinceLastContact != nil {
				row.Days, row.HasDays = e.GetDaysSinceLastContact(), true
			}
			if m := e.GetNextMilestone(); m != nil {
				row.Milestone = enumKey(m.GetKind().String(), "MILESTONE_KIND_")
				row.MilestoneDate = m.GetExpectedDate()
				row.Late = m.GetState() == employmentv1.MilestoneState_MILESTONE_STATE_MISSED
			}
			d.Rows = append(d.Rows, row)
		}
		if resp.GetNextPageToken() == "" {
			break
		}
		req.PageToken = resp.GetNextPageToken()
	}
	d.Count = len(d.Rows)
	d.Over = d.Count > int(d.Limit) && s.Role == "employment_specialist"
	if s.Role == "ips_supervisor" {
		d.Attention = needsAttention(d, time.Now().In(amsterdam).Format(time.DateOnly))
	}
	return h.render(w, http.StatusOK, "caseload", h.newPage(r, s, "caseload.title", d))
}

// enumKey turns an enum value name into a message key part:
// MILESTONE_KIND_JOB_START → job_start.
func enumKey(name, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}

// needsAttention picks from a team's caseload what a supervisor should look
// at; today is the date milestones are compared with.
func needsAttention(d caseloadData, today string) *attention {
	a := &attention{}
	for _, r := range d.Rows {
		// Referral and intake have no contacts to count yet.
		active := r.Phase == "job_search" || r.Phase == "employed" || r.Phase == "follow_along"
		if active && (!r.HasDays || r.Days >= noContactDays) {
			a.NoContact = append(a.NoContact, r)
		}
		if r.Late || (r.MilestoneDate != "" && r.MilestoneDate < today) {
			a.Overdue = append(a.Overdue, r)
		}
	}
	for _, l := range d.Loads {
		if l.Over {
			a.Over = append(a.Over, l)
		}
	}
	return a
}
