package app

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/webhook"
	"github.com/ipsbridge/ipsbridge/services/events/dispatch"
	"github.com/ipsbridge/ipsbridge/services/events/visibility"
)

// Bounds of a feed page.
const (
	DefaultFeedPage = 100
	MaxFeedPage     = 500
	// MaxFeedScan bounds the log entries one page reads, however many of
	// them the caller may not see; the cursor moves past what was read.
	MaxFeedScan = 2000
	// feedBatch is the least one read of the log asks for.
	feedBatch = 100
)

// FeedQuery is a request for a page of the pull feed.
type FeedQuery struct {
	PageToken   string
	PageSize    int
	StartAtEnd  bool
	Types       []string
	IncludeData bool
}

// FeedEvent is an event as the feed shows it: the log entry, its CloudEvents
// source, and the parts of the payload a webhook would carry.
type FeedEvent struct {
	visibility.Event
	Source string
	Change json.RawMessage
	// Data is nil unless asked for and present.
	Data json.RawMessage
}

// FeedPage is one page of the feed.
type FeedPage struct {
	Events []FeedEvent
	// Next is the cursor after the last entry read, always set.
	Next string
	// CaughtUp: the page read to the end of the log.
	CaughtUp bool
}

const cursorPrefix = "p:"

// ListEvents reads the caller's region's log after the cursor, keeps what
// the judge lets the caller see now, records the disclosure and returns the
// page.
func (s *Service) ListEvents(ctx context.Context, q FeedQuery) (FeedPage, error) {
	sub, p, err := s.orgCaller(ctx, authz.Events, authz.Read)
	if err != nil {
		return FeedPage{}, err
	}
	if err := checkTypes("event_types", q.Types); err != nil {
		return FeedPage{}, err
	}
	var cursor int64
	switch {
	case q.PageToken != "":
		if cursor, err = s.openCursor(sub.OrgID, q.PageToken); err != nil {
			return FeedPage{}, err
		}
	case q.StartAtEnd:
		last, err := s.st.LastPosition(ctx)
		if err != nil {
			return FeedPage{}, err
		}
		next, err := s.sealCursor(sub.OrgID, last)
		return FeedPage{Next: next, CaughtUp: true}, err
	}
	if q.Types == nil {
		q.Types = []string{} // LogAfter reads nil as NULL, which matches nothing
	}
	size := pageSize(q.PageSize, DefaultFeedPage, MaxFeedPage)
	var page FeedPage
	for scanned := 0; len(page.Events) < size && scanned < MaxFeedScan; {
		want := min(max(size-len(page.Events), feedBatch), MaxFeedScan-scanned)
		batch, err := s.st.LogAfter(ctx, sub.RegionID, cursor, q.Types, want)
		if err != nil {
			return FeedPage{}, err
		}
		verdicts, err := s.judge.Judge(ctx, sub, batch)
		if err != nil {
			return FeedPage{}, err
		}
		read := 0
		for i, e := range batch {
			cursor, read = e.Position, i+1
			if verdicts[i].Deliver {
				fe, err := feedEvent(e, q.IncludeData)
				if err != nil {
					return FeedPage{}, err
				}
				page.Events = append(page.Events, fe)
				if len(page.Events) == size {
					break
				}
			}
		}
		scanned += read
		if len(batch) < want && read == len(batch) {
			page.CaughtUp = true
			break
		}
	}
	if page.Next, err = s.sealCursor(sub.OrgID, cursor); err != nil {
		return FeedPage{}, err
	}
	if err := s.recordFeed(ctx, call{sub: sub, p: p}, page.Events); err != nil {
		return FeedPage{}, err
	}
	return page, nil
}

// recordFeed writes one read per client the page discloses, with the
// sections of its events, before the page leaves.
func (s *Service) recordFeed(ctx context.Context, c call, events []FeedEvent) error {
	if len(events) == 0 {
		return nil
	}
	type disclosed struct {
		sections          []string
		n                 int
		firstPos, lastPos int64
	}
	var order []string
	byClient := map[string]*disclosed{}
	for _, e := range events {
		d, ok := byClient[e.ClientID]
		if !ok {
			d = &disclosed{firstPos: e.Position}
			byClient[e.ClientID] = d
			order = append(order, e.ClientID)
		}
		d.n++
		d.lastPos = e.Position
		if !slices.Contains(d.sections, e.Section) {
			d.sections = append(d.sections, e.Section)
		}
	}
	return s.st.InTx(ctx, func(tx pgx.Tx) error {
		for _, id := range order {
			d := byClient[id]
			if err := access.RecordIn(ctx, tx, event(ctx, c.sub, c.p, id, d.sections, "read",
				fmt.Sprintf("event feed: %d events, positions %d to %d", d.n, d.firstPos, d.lastPos))); err != nil {
				return err
			}
		}
		return nil
	})
}

// feedEvent renders an allowed log entry as the webhook would carry it.
func feedEvent(e visibility.Event, includeData bool) (FeedEvent, error) {
	payload, err := json.Marshal(visibility.Payload(e, includeData))
	if err != nil {
		return FeedEvent{}, fmt.Errorf("encode event %d: %w", e.Position, err)
	}
	var parts struct {
		Change json.RawMessage `json:"change"`
		Data   json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(payload, &parts); err != nil {
		return FeedEvent{}, fmt.Errorf("decode event %d: %w", e.Position, err)
	}
	return FeedEvent{Event: e, Source: dispatch.ToCloudEvent(e, payload).Source, Change: parts.Change, Data: parts.Data}, nil
}

// The cursor is the position after the last log entry read, events the
// caller may not see included: in the clear it would move when an invisible
// client's event is read past, telling the organisation that something
// happened (issue 14). So it is sealed with the operator key, with a fresh
// nonce every time and bound to the organisation: opaque, different on
// every page, and useless to another organisation.
func (s *Service) sealCursor(orgID string, pos int64) (string, error) {
	if s.sealer == nil {
		return encodeID(cursorPrefix, pos), nil // tests without a key
	}
	sealed, err := s.sealer.Seal(cursorPrefix+strconv.FormatInt(pos, 10), "feed-cursor:"+orgID)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString([]byte(sealed)), nil
}

func (s *Service) openCursor(orgID, token string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || !webhook.Sealed(string(b)) {
		if s.sealer != nil {
			return 0, errPageToken
		}
		return decodeID(cursorPrefix, token)
	}
	plain, err := s.sealer.Open(string(b), "feed-cursor:"+orgID)
	if err != nil {
		return 0, errPageToken
	}
	return decodeID(cursorPrefix, base64.RawURLEncoding.EncodeToString([]byte(plain)))
}
