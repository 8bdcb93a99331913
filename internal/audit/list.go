package audit

import (
	"context"
	"fmt"
	"math"

	"github.com/ipsbridge/ipsbridge/internal/pagetoken"
)

// Page sizes of List (AIP-158: a larger size is reduced, not refused).
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

const listEvents = `
SELECT seq, occurred_at, service, actor_id, on_behalf_of, org_id, role,
       client_id, sections, action, outcome, reason, request_id, purpose,
       remote_addr
  FROM audit.events
 WHERE client_id = $1 AND seq < $2
   AND ($4 = '' OR outcome = $4) AND ($5 = '' OR org_id <> $5)
 ORDER BY seq DESC
 LIMIT $3`

// Filter narrows a client's log; empty fields do not filter.
type Filter struct {
	// Outcome keeps only allowed or only denied accesses.
	Outcome Outcome
	// ExcludeOrg leaves out the accesses of this organisation (the
	// client's own MHA, to show what others did).
	ExcludeOrg string
}

// List returns a client's audit events, newest first, pageSize at a time
// (0 means DefaultPageSize; more than MaxPageSize means MaxPageSize). Pass
// the returned token to get the next page; it is "" after the last page.
func List(ctx context.Context, q Querier, clientID string, pageSize int, pageToken string) ([]Event, string, error) {
	return ListFiltered(ctx, q, clientID, Filter{}, pageSize, pageToken)
}

// ListFiltered is List of the events that pass f. A page token continues
// only the same client and filter.
func ListFiltered(ctx context.Context, q Querier, clientID string, f Filter, pageSize int, pageToken string) ([]Event, string, error) {
	if f.Outcome != "" && f.Outcome != Allowed && f.Outcome != Denied {
		return nil, "", fmt.Errorf("%w: outcome %q", ErrInvalidArgument, f.Outcome)
	}
	query := pageQuery(clientID, f)
	if clientID == "" {
		return nil, "", fmt.Errorf("%w: client id is required", ErrInvalidArgument)
	}
	switch {
	case pageSize < 0:
		return nil, "", fmt.Errorf("%w: negative page size %d", ErrInvalidArgument, pageSize)
	case pageSize == 0:
		pageSize = DefaultPageSize
	case pageSize > MaxPageSize:
		pageSize = MaxPageSize
	}
	before := int64(math.MaxInt64)
	if pageToken != "" {
		seq, err := decodePageToken(query, pageToken)
		if err != nil {
			return nil, "", err
		}
		before = seq
	}

	// One row more than asked tells whether there is a next page.
	rows, err := q.Query(ctx, listEvents, clientID, before, pageSize+1, string(f.Outcome), f.ExcludeOrg)
	if err != nil {
		return nil, "", fmt.Errorf("audit: list events of client %q: %w", clientID, err)
	}
	defer rows.Close()
	events := make([]Event, 0, pageSize)
	for rows.Next() {
		var e Event
		var outcome string
		if err := rows.Scan(&e.Seq, &e.Time, &e.Service, &e.ActorID, &e.OnBehalfOf,
			&e.OrgID, &e.Role, &e.ClientID, &e.Sections, &e.Action, &outcome,
			&e.Reason, &e.RequestID, &e.Purpose, &e.RemoteAddr); err != nil {
			return nil, "", fmt.Errorf("audit: scan event of client %q: %w", clientID, err)
		}
		e.Outcome = Outcome(outcome)
		e.Time = e.Time.UTC()
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("audit: list events of client %q: %w", clientID, err)
	}

	var next string
	if len(events) > pageSize {
		events = events[:pageSize]
		if next, err = encodePageToken(query, events[pageSize-1].Seq); err != nil {
			return nil, "", err
		}
	}
	return events, next, nil
}

// A page token holds the seq of the last event returned, bound to the
// client whose log it pages (a token of one client's log is refused for
// another's).
type cursor struct {
	Seq int64 `json:"s"`
}

func pageQuery(clientID string, f Filter) pagetoken.Query {
	return pagetoken.Query{"audit.list", clientID, string(f.Outcome), f.ExcludeOrg}
}

func encodePageToken(q pagetoken.Query, seq int64) (string, error) {
	return pagetoken.Encode(q, cursor{Seq: seq})
}

func decodePageToken(q pagetoken.Query, token string) (int64, error) {
	var c cursor
	if err := pagetoken.Decode(q, token, &c); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidPageToken, err)
	}
	if c.Seq < 1 {
		return 0, fmt.Errorf("%w: position %d", ErrInvalidPageToken, c.Seq)
	}
	return c.Seq, nil
}
