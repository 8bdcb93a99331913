package server

import (
	"context"
	"net/http"

	"google.golang.org/grpc"

	"github.com/ipsbridge/ipsbridge/gateway/web"
)

// newWeb prepares the pages on the same backend connections as the API:
// they call the services with the signed-in person's token, so the
// services authorize and audit them exactly like API calls.
func (s *Server) newWeb(ctx context.Context) (*web.Handler, error) {
	conn := func(name string) grpc.ClientConnInterface {
		for _, b := range s.backends {
			if b.name == name {
				return b.conn
			}
		}
		return nil
	}
	return web.New(ctx, web.Deps{
		Config: s.cfg.Web, Clients: conn("clients"), Employment: conn("employment"), Benefits: conn("benefits"), Funding: conn("funding"), Fidelity: conn("fidelity"),
		Verifier: s.verifier, Logger: s.log.With("component", "web"),
		OnSubject: func(r *http.Request, subject string) {
			if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
				info.subject = subject
			}
		},
	})
}
