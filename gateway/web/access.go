package web

import (
	"net/http"

	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
)

type accessData struct {
	ID     string
	Name   string
	Events []*clientsv1.AccessEvent
	Next   string
}

// accessPage is a client's access history from the audit log, newest
// first, for the client's own MHA to show (and print for) the client.
func (h *Handler) accessPage(w http.ResponseWriter, r *http.Request, s *session) error {
	id := r.PathValue("id")
	ctx, cancel := h.callContext(r, s)
	defer cancel()
	resp, err := h.clients.ListAccessEvents(ctx, &clientsv1.ListAccessEventsRequest{ClientId: id, PageSize: 500, PageToken: r.URL.Query().Get("page")})
	if err != nil {
		return serviceError(err)
	}
	d := accessData{ID: id, Events: resp.GetAccessEvents(), Next: resp.GetNextPageToken()}
	// The name heads the printout; reading it is itself recorded.
	if c, err := h.clients.GetClient(ctx, &clientsv1.GetClientRequest{ClientId: id}); err == nil {
		d.Name = displayName(c.GetClient())
	}
	return h.render(w, http.StatusOK, "access", h.newPage(r, s, "access.title", d))
}
