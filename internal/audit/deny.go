package audit

import (
	"context"
	"log/slog"

	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/rpc"
)

// DenyRecorder returns the hook by which a service's authorization
// interceptor audits the calls it refuses before any handler runs. A method
// with one requirement is recorded with its section and action; one that
// needs any readable section as a read of the client as such. Recording is
// best effort: the call is refused either way.
func DenyRecorder(q Querier, service string, log *slog.Logger) authz.DenyHook {
	return func(ctx context.Context, s authz.Subject, method string, reqs []authz.Requirement, req any, reason string) {
		p, _ := authn.FromContext(ctx)
		clientID := ""
		if r, ok := req.(interface{ GetClientId() string }); ok {
			clientID = r.GetClientId()
		}
		action, sections := "call", []string(nil)
		if len(reqs) > 0 {
			action = string(reqs[0].Action)
		}
		if len(reqs) == 1 {
			sections = []string{string(reqs[0].Section)}
		}
		info := rpc.InfoFromContext(ctx)
		if err := Record(ctx, q, Event{
			Service: service, ActorID: p.Subject, OnBehalfOf: p.OnBehalfOf, OrgID: s.OrgID, Role: s.Role,
			ClientID: clientID, Sections: sections, Action: action, Outcome: Denied, Reason: reason + " (" + method + ")",
			RequestID: info.RequestID, Purpose: info.Purpose, RemoteAddr: info.RemoteAddr,
		}); err != nil {
			log.ErrorContext(ctx, "audit of refused call failed", "err", err)
		}
	}
}
