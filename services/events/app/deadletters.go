package app

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	"github.com/ipsbridge/ipsbridge/internal/pagetoken"
	"github.com/ipsbridge/ipsbridge/services/events/store"
	"github.com/ipsbridge/ipsbridge/services/events/visibility"
)

// ownSubscription returns the caller, allowed action on subscriptions, and
// checks that the subscription is its organisation's.
func (s *Service) ownSubscription(ctx context.Context, action authz.Action, id string) (call, error) {
	sub, p, err := s.orgCaller(ctx, authz.Subscriptions, action)
	if err != nil {
		return call{}, err
	}
	if _, err := s.st.Subscription(ctx, sub.OrgID, id); err != nil {
		return call{}, err
	}
	return call{sub: sub, p: p}, nil
}

// ListDeadLetters lists a subscription's dead letters, newest first; next
// is empty on the last page. The list names clients, so it is audited.
func (s *Service) ListDeadLetters(ctx context.Context, subscriptionID string, size int, token string) (out []store.Delivery, next string, err error) {
	c, err := s.ownSubscription(ctx, authz.Read, subscriptionID)
	if err != nil {
		return nil, "", err
	}
	// The token continues this subscription's dead letters only.
	query := pagetoken.Query{"events.deadletters", c.sub.OrgID, subscriptionID}
	var cur struct {
		Before int64 `json:"b"`
	}
	if err := pagetoken.Decode(query, token, &cur); err != nil || (token != "" && cur.Before <= 0) {
		return nil, "", errPageToken
	}
	before := cur.Before
	size = pageSize(size, defaultDeadLetterPage, maxDeadLetterPage)
	out, err = s.st.DeadLetters(ctx, subscriptionID, before, size+1)
	if err != nil {
		return nil, "", err
	}
	if len(out) > size {
		out = out[:size]
		cur.Before = out[size-1].Position
		if next, err = pagetoken.Encode(query, cur); err != nil {
			return nil, "", err
		}
	}
	// A dead letter of a client the organisation may no longer see (consent
	// revoked since) is left out, as if it never was.
	if out, err = s.visibleDeliveries(ctx, c.sub, out); err != nil {
		return nil, "", err
	}
	if err := s.path.Record(ctx, event(ctx, c.sub, c.p, "", subscriptionsSection, "read",
		fmt.Sprintf("dead letters of subscription %s: %d", subscriptionID, len(out)))); err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// ListDeliveryAttempts returns a delivery of one of the caller's
// organisation's subscriptions with its attempts.
func (s *Service) ListDeliveryAttempts(ctx context.Context, deliveryID int64) (store.Delivery, []store.DeliveryAttempt, error) {
	sub, p, err := s.orgCaller(ctx, authz.Subscriptions, authz.Read)
	if err != nil {
		return store.Delivery{}, nil, err
	}
	d, attempts, err := s.st.DeliveryWithAttempts(ctx, sub.OrgID, deliveryID)
	if err != nil {
		return store.Delivery{}, nil, err
	}
	// A delivery of an event the organisation may not see now answers
	// exactly as an id that does not exist.
	visible, err := s.visibleDeliveries(ctx, sub, []store.Delivery{d})
	if err != nil {
		return store.Delivery{}, nil, err
	}
	if len(visible) == 0 {
		return store.Delivery{}, nil, store.ErrNoDelivery(deliveryID)
	}
	if err := s.path.Record(ctx, event(ctx, sub, p, "", subscriptionsSection, "read",
		fmt.Sprintf("attempts of delivery %d of subscription %s", deliveryID, d.SubscriptionID))); err != nil {
		return store.Delivery{}, nil, err
	}
	return d, attempts, nil
}

// RedeliverDeadLetters queues dead letters of a subscription again: the ids
// given, or all. A retry with the same idempotency key queues nothing and
// answers the first count.
func (s *Service) RedeliverDeadLetters(ctx context.Context, subscriptionID string, ids []int64, all bool, k idempotency.Request) (int, error) {
	c, err := s.ownSubscription(ctx, authz.Write, subscriptionID)
	if err != nil {
		return 0, err
	}
	var r idempotency.Result
	err = s.st.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		r, _, err = store.Keys.Once(ctx, tx, idempotency.For(c.p.Subject, "RedeliverDeadLetters", k), func() (idempotency.Result, error) {
			// Only what the organisation may see now is queued (or counted).
			dead, err := store.DeadLetterEvents(ctx, tx, subscriptionID, ids, all)
			if err != nil {
				return idempotency.Result{}, err
			}
			visible := []int64{}
			if len(dead) > 0 {
				var dids []int64
				var evs []visibility.Event
				for id, e := range dead {
					dids, evs = append(dids, id), append(evs, e)
				}
				verdicts, err := s.judge.JudgeIn(ctx, tx, partnerOf(c.sub), evs)
				if err != nil {
					return idempotency.Result{}, err
				}
				for i, v := range verdicts {
					if v.Deliver {
						visible = append(visible, dids[i])
					}
				}
			}
			n, err := store.RedeliverDeadLetters(ctx, tx, subscriptionID, visible, false)
			if err != nil {
				return idempotency.Result{}, err
			}
			what := fmt.Sprintf("%d of %d named", n, len(ids))
			if all {
				what = fmt.Sprintf("all %d", n)
			}
			return idempotency.Result{ResourceID: subscriptionID, Response: []byte(strconv.Itoa(n))},
				access.RecordIn(ctx, tx, event(ctx, c.sub, c.p, "", subscriptionsSection, "redeliver",
					fmt.Sprintf("dead letters of subscription %s: %s queued again", subscriptionID, what)))
		})
		return err
	})
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(r.Response))
}

// GetDeliveryStats counts a subscription's deliveries per state.
func (s *Service) GetDeliveryStats(ctx context.Context, subscriptionID string) (store.DeliveryStats, error) {
	if _, err := s.ownSubscription(ctx, authz.Read, subscriptionID); err != nil {
		return store.DeliveryStats{}, err
	}
	return s.st.DeliveryStats(ctx, subscriptionID)
}

func encodeID(prefix string, id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(prefix + strconv.FormatInt(id, 10)))
}

func decodeID(prefix, token string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || !strings.HasPrefix(string(b), prefix) {
		return 0, errPageToken
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(string(b), prefix), 10, 64)
	if err != nil || id < 0 {
		return 0, errPageToken
	}
	return id, nil
}

// partnerOf is the subject deliveries to sub's organisation are judged as:
// its partner system.
func partnerOf(sub authz.Subject) authz.Subject {
	return visibility.PartnerSystem(sub.OrgID, sub.OrgKind, sub.RegionID)
}

// visibleDeliveries keeps the deliveries whose events the organisation's
// partner system may see now.
func (s *Service) visibleDeliveries(ctx context.Context, sub authz.Subject, ds []store.Delivery) ([]store.Delivery, error) {
	if len(ds) == 0 {
		return ds, nil
	}
	positions := make([]int64, len(ds))
	for i, d := range ds {
		positions[i] = d.Position
	}
	events, err := s.st.Events(ctx, positions)
	if err != nil {
		return nil, err
	}
	evs := make([]visibility.Event, len(ds))
	for i, d := range ds {
		evs[i] = events[d.Position]
	}
	verdicts, err := s.judge.Judge(ctx, partnerOf(sub), evs)
	if err != nil {
		return nil, err
	}
	out := ds[:0:0]
	for i, d := range ds {
		if verdicts[i].Deliver {
			out = append(out, d)
		}
	}
	return out, nil
}
