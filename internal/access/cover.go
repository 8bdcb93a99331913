package access

import (
	"context"
	"slices"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authz"
)

// One request that reads a client in several services (a client's page,
// a caseload) records one audit record per client, not one per call: the
// first call is asked to cover the sections the later calls will read
// (its record lists them, where the caller may read them), and the later
// calls, marked as covered, record only what that record does not already
// show for the same request id and actor. Every service still decides on
// its own; only the duplicate record is left out.
const (
	// mdCover lists, comma-separated, the sections later calls of the same
	// request will read.
	mdCover = "x-ipsb-audit-cover"
	// mdCovered marks a call whose reads an earlier call of the same
	// request has recorded.
	mdCovered = authn.MDAuditCovered
)

// CoverSections asks the service called with ctx to record, with each
// client it lets the caller read, the sections a later call of the same
// request will read (those of them the caller may read).
func CoverSections(ctx context.Context, sections ...authz.Section) context.Context {
	names := make([]string, len(sections))
	for i, s := range sections {
		names[i] = string(s)
	}
	return metadata.AppendToOutgoingContext(ctx, mdCover, strings.Join(names, ","))
}

// CoveredCall marks the calls made with ctx as later calls of a request
// whose first call recorded what they read (CoverSections).
func CoveredCall(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, mdCovered, "1")
}

type coveredKey struct{}

// ExpectCover marks this service's own reads in ctx as covered by a call
// it made itself with CoverSections earlier in the same request.
func ExpectCover(ctx context.Context) context.Context {
	return context.WithValue(ctx, coveredKey{}, true)
}

func coverRequested(ctx context.Context) []authz.Section {
	md, _ := metadata.FromIncomingContext(ctx)
	var out []authz.Section
	for _, v := range md.Get(mdCover) {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, authz.Section(s)) {
				out = append(out, authz.Section(s))
			}
		}
	}
	return out
}

func coverExpected(ctx context.Context) bool {
	if v, _ := ctx.Value(coveredKey{}).(bool); v {
		return true
	}
	md, _ := metadata.FromIncomingContext(ctx)
	return len(md.Get(mdCovered)) > 0
}

// addCover touches, for an allowed read, the requested sections the
// caller may read: they are recorded now for the later calls.
func addCover(ctx context.Context, a *Access) {
	for _, s := range coverRequested(ctx) {
		if a.Decision.Read[s] || (s == authz.Benefits && a.Decision.Summary) {
			a.Touch(s)
		}
	}
}

// uncovered drops the events an earlier call of the same request has
// recorded already (same request id, actor and client, every section).
func (p *Path) uncovered(ctx context.Context, events []audit.Event) ([]audit.Event, error) {
	if len(events) == 0 || !coverExpected(ctx) {
		return events, nil
	}
	ids := make([]string, 0, len(events))
	for _, e := range events {
		if e.ClientID != "" {
			ids = append(ids, e.ClientID)
		}
	}
	first := events[0]
	have, err := audit.Covering(ctx, p.pool, first.RequestID, first.ActorID, ids)
	if err != nil {
		return nil, err
	}
	out := events[:0:0]
	for _, e := range events {
		recorded, ok := have[e.ClientID]
		if ok && e.Outcome == audit.Allowed && e.RequestID == first.RequestID && e.ActorID == first.ActorID &&
			!slices.ContainsFunc(e.Sections, func(s string) bool { return !slices.Contains(recorded, s) }) {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}
