package web

import (
	"net/http"
	"strings"

	"github.com/ipsbridge/ipsbridge/internal/seed"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
)

type clientRow struct {
	ID, Name, BSN, Phase, Team, DateOfBirth string
}

type clientsData struct {
	Rows     []clientRow
	Next     string
	ShowBSN  bool
	ShowTeam bool
	// Query is the name searched for.
	Query    string
	MayEnrol bool
}

// clientsPage lists the clients the signed-in person may see, as
// ListClients returns them: an MHA's own teams' clients, or, for UWV and
// municipality officers and benefits counsellors, the clients whose
// trajectory involves their organisation and who consented.
func (h *Handler) clientsPage(w http.ResponseWriter, r *http.Request, s *session) error {
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	resp, err := h.clients.ListClients(ctx, &clientsv1.ListClientsRequest{PageSize: 50, PageToken: r.URL.Query().Get("page"), NameContains: q})
	if err != nil {
		return serviceError(err)
	}
	d := clientsData{Next: resp.GetNextPageToken(), ShowTeam: s.OrgKind == "mha", Query: q, MayEnrol: h.mayEnrol(s)}
	for _, c := range resp.GetClients() {
		row := clientRow{ID: c.GetClientId(), Name: displayName(c), Phase: phaseKey(c.GetTrajectory().GetPhase()),
			Team: teamName(c.GetTrajectory().GetTeamId()), DateOfBirth: c.GetIdentity().GetDateOfBirth()}
		if id := c.GetIdentity(); id != nil && id.GetBsn() != "" {
			row.BSN = id.GetBsn()
			d.ShowBSN = true
		}
		d.Rows = append(d.Rows, row)
	}
	return h.render(w, http.StatusOK, "clients", h.newPage(r, s, "clients.title", d))
}

func displayName(c *clientsv1.Client) string {
	id := c.GetIdentity()
	return strings.TrimSpace(id.GetGivenName() + " " + id.GetFamilyName())
}

func phaseKey(p clientsv1.Phase) string {
	if p == clientsv1.Phase_PHASE_UNSPECIFIED {
		return ""
	}
	return enumKey(p.String(), "PHASE_")
}

// teamName is a team's name from the directory the pages know.
func teamName(id string) string {
	for _, t := range seed.Demo.Teams {
		if t.ID == id {
			return t.Name
		}
	}
	return id
}
