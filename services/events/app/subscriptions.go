package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/apperr"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/egress"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/internal/pagetoken"
	"github.com/ipsbridge/ipsbridge/internal/webhook"
	"github.com/ipsbridge/ipsbridge/services/events/store"
)

// Algorithm is how a subscription's deliveries are signed.
type Algorithm string

// The Standard Webhooks signature schemes.
const (
	HMACSHA256 Algorithm = "hmac-sha256"
	Ed25519    Algorithm = "ed25519"
)

// AlgorithmOf tells a key's scheme: an ed25519 key has a public key (its
// secret is sealed in storage and tells nothing).
func AlgorithmOf(k store.SigningKey) Algorithm {
	if k.PublicKey != "" || strings.HasPrefix(k.Secret, webhook.PrivateKeyPrefix) {
		return Ed25519
	}
	return HMACSHA256
}

// SubscriptionAlgorithm is the scheme of the subscription's newest key.
func SubscriptionAlgorithm(s store.Subscription) Algorithm {
	if len(s.Keys) == 0 {
		return HMACSHA256
	}
	return AlgorithmOf(s.Keys[len(s.Keys)-1])
}

// newKey makes a key of the scheme: the row to store and the signer's key.
func newKey(alg Algorithm) (store.SigningKey, webhook.SigningKey, error) {
	if alg == Ed25519 {
		priv, pub, err := webhook.NewKeyPair()
		if err != nil {
			return store.SigningKey{}, nil, err
		}
		return store.SigningKey{Secret: priv.String(), PublicKey: pub.String()}, priv, nil
	}
	sec, err := webhook.NewSecret()
	if err != nil {
		return store.SigningKey{}, nil, err
	}
	return store.SigningKey{Secret: sec.String()}, sec, nil
}

// signingKeys opens a subscription's stored keys for signing.
func (s *Service) signingKeys(subscriptionID string, keys []store.SigningKey) ([]webhook.SigningKey, error) {
	out := make([]webhook.SigningKey, 0, len(keys))
	for _, k := range keys {
		secret, err := s.sealer.Open(k.Secret, subscriptionID)
		if err != nil {
			return nil, fmt.Errorf("signing key %d: %w", k.KeyID, err)
		}
		sk, err := webhook.ParseSigningKey(secret)
		if err != nil {
			return nil, fmt.Errorf("signing key %d: %w", k.KeyID, err)
		}
		out = append(out, sk)
	}
	return out, nil
}

// checkTypes refuses event types the platform does not send.
func checkTypes(field string, types []string) error {
	for _, t := range types {
		if !slices.Contains(outbox.Types, outbox.Type(t)) {
			known := make([]string, len(outbox.Types))
			for i, k := range outbox.Types {
				known[i] = string(k)
			}
			return &apperr.FieldError{Field: field, Msg: fmt.Sprintf("%q is not an event type; the types are %s", t, strings.Join(known, ", "))}
		}
	}
	return nil
}

// NewSubscription is what an org_admin asks for.
type NewSubscription struct {
	URL         string
	EventTypes  []string
	IncludeData bool
	Description string
	Algorithm   Algorithm
}

// Created is a new subscription with its first key, secret included.
type Created struct {
	Subscription store.Subscription
	Key          store.SigningKey
	// Replayed: the answer to a retried request. The key's secret was
	// shown in the first answer and is not shown again.
	Replayed bool
}

const createMethod = "CreateSubscription"

// CreateSubscription verifies the endpoint and stores the subscription for
// the caller's organisation. With a request id, a retry returns the first
// request's subscription and key without a new handshake.
func (s *Service) CreateSubscription(ctx context.Context, n NewSubscription, k idempotency.Request) (Created, error) {
	sub, p, err := s.orgCaller(ctx, authz.Subscriptions, authz.Write)
	if err != nil {
		return Created{}, err
	}
	if err := checkTypes("subscription.event_types", n.EventTypes); err != nil {
		return Created{}, err
	}
	key := idempotency.For(p.Subject, createMethod, k)
	if k.Key != "" {
		prev, found, err := store.Keys.Lookup(ctx, s.st.Pool(), key)
		if err != nil {
			return Created{}, err
		}
		if found {
			return s.replayCreate(ctx, sub.OrgID, prev.ResourceID)
		}
	}
	endpoint, err := s.verify.check(ctx, n.URL)
	if err != nil {
		return Created{}, err
	}
	if err := s.checkDataHost(ctx, sub.OrgID, endpoint, n.IncludeData); err != nil {
		return Created{}, err
	}
	if n.Algorithm == "" {
		n.Algorithm = HMACSHA256
	}
	row, signer, err := newKey(n.Algorithm)
	if err != nil {
		return Created{}, err
	}
	id := uuid.NewString()
	if err := s.verify.handshake(ctx, id, endpoint, []webhook.SigningKey{signer}); err != nil {
		return Created{}, err
	}
	stored := row
	if stored.Secret, err = s.sealer.Seal(row.Secret, id); err != nil {
		return Created{}, err
	}
	var out store.Subscription
	var replay string
	err = s.st.InTx(ctx, func(tx pgx.Tx) error {
		if k.Key != "" {
			prev, found, err := store.Keys.Claim(ctx, tx, key)
			if err != nil || found {
				replay = prev.ResourceID
				return err
			}
		}
		var err error
		out, err = store.InsertSubscription(ctx, tx, store.Subscription{ID: id, OrgID: sub.OrgID, OrgKind: sub.OrgKind,
			RegionID: sub.RegionID, URL: endpoint, EventTypes: n.EventTypes, IncludeData: n.IncludeData,
			Description: strings.TrimSpace(n.Description), CreatedBy: p.Subject, VerifiedAt: time.Now()}, stored)
		if err != nil {
			return err
		}
		if k.Key != "" {
			if err := store.Keys.Complete(ctx, tx, key, idempotency.Result{ResourceID: out.ID}); err != nil {
				return err
			}
		}
		return access.RecordIn(ctx, tx, event(ctx, sub, p, "", subscriptionsSection, "create",
			fmt.Sprintf("subscription %s to %s, verified", out.ID, hostOf(endpoint))))
	})
	if err != nil {
		return Created{}, err
	}
	if replay != "" {
		return s.replayCreate(ctx, sub.OrgID, replay)
	}
	row.KeyID, row.CreatedAt = out.Keys[0].KeyID, out.Keys[0].CreatedAt
	return Created{Subscription: out, Key: row}, nil
}

// replayCreate answers a retried create with the subscription and its first
// key's metadata (and public key), never its secret: a secret is shown once,
// in the first answer, and a replayed request (by whoever got hold of the
// request id) does not show it again (issue 14).
func (s *Service) replayCreate(ctx context.Context, orgID, id string) (Created, error) {
	out, err := s.st.Subscription(ctx, orgID, id)
	if errors.Is(err, apperr.ErrNotFound) {
		return Created{}, fmt.Errorf("%w: the subscription this request_id created (%s) has been deleted", apperr.ErrNotFound, id)
	}
	if err != nil {
		return Created{}, err
	}
	key, err := s.st.SigningKeyByID(ctx, id, 1)
	if err != nil && !errors.Is(err, apperr.ErrNotFound) {
		return Created{}, err
	}
	key.Secret = ""
	return Created{Subscription: out, Key: key, Replayed: true}, nil
}

func hostOf(endpoint string) string {
	if u, err := url.Parse(endpoint); err == nil {
		return u.Host
	}
	return endpoint
}

// GetSubscription returns one of the caller's organisation's subscriptions.
func (s *Service) GetSubscription(ctx context.Context, id string) (store.Subscription, error) {
	sub, _, err := s.orgCaller(ctx, authz.Subscriptions, authz.Read)
	if err != nil {
		return store.Subscription{}, err
	}
	return s.st.Subscription(ctx, sub.OrgID, id)
}

// Page sizes of the subscription and dead-letter lists.
const (
	defaultSubscriptionPage = 25
	maxSubscriptionPage     = 100
	defaultDeadLetterPage   = 100
	maxDeadLetterPage       = 500
)

func pageSize(n, def, max int) int {
	if n <= 0 {
		return def
	}
	return min(n, max)
}

var errPageToken = &apperr.FieldError{Field: "page_token", Msg: "is not a token this service issued"}

type subscriptionToken struct {
	CreatedAt time.Time `json:"t"`
	ID        string    `json:"i"`
}

// ListSubscriptions lists the caller's organisation's subscriptions, oldest
// first; next is empty on the last page.
func (s *Service) ListSubscriptions(ctx context.Context, size int, token string) (subs []store.Subscription, next string, err error) {
	sub, _, err := s.orgCaller(ctx, authz.Subscriptions, authz.Read)
	if err != nil {
		return nil, "", err
	}
	// The token continues this organisation's list only.
	query := pagetoken.Query{"events.subscriptions", sub.OrgID}
	var after *store.SubscriptionCursor
	if token != "" {
		var t subscriptionToken
		if err := pagetoken.Decode(query, token, &t); err != nil || t.ID == "" {
			return nil, "", errPageToken
		}
		after = &store.SubscriptionCursor{CreatedAt: t.CreatedAt, ID: t.ID}
	}
	size = pageSize(size, defaultSubscriptionPage, maxSubscriptionPage)
	subs, err = s.st.Subscriptions(ctx, sub.OrgID, after, size+1)
	if errors.Is(err, apperr.ErrInvalid) {
		return nil, "", errPageToken
	}
	if err != nil {
		return nil, "", err
	}
	if len(subs) > size {
		subs = subs[:size]
		last := subs[size-1]
		if next, err = pagetoken.Encode(query, subscriptionToken{CreatedAt: last.CreatedAt, ID: last.ID}); err != nil {
			return nil, "", err
		}
	}
	return subs, next, nil
}

// Change is an update of the fields in Paths.
type Change struct {
	Paths       []string
	URL         string
	EventTypes  []string
	IncludeData bool
	Active      bool
	Description string
}

// UpdatablePaths are the fields an update may name.
var UpdatablePaths = []string{"url", "event_types", "include_data", "active", "description"}

// UpdateSubscription changes the fields of c.Paths of a subscription at
// version. A changed url passes the handshake, signed with the current
// keys, before anything is written.
//
// A retry with the same idempotency key (even with the version read again)
// changes nothing and returns the subscription.
func (s *Service) UpdateSubscription(ctx context.Context, id string, version int64, c Change, k idempotency.Request) (store.Subscription, error) {
	sub, p, err := s.orgCaller(ctx, authz.Subscriptions, authz.Write)
	if err != nil {
		return store.Subscription{}, err
	}
	if len(c.Paths) == 0 {
		return store.Subscription{}, &apperr.FieldError{Field: "update_mask", Msg: "must name at least one field"}
	}
	for _, path := range c.Paths {
		if !slices.Contains(UpdatablePaths, path) {
			return store.Subscription{}, &apperr.FieldError{Field: "update_mask",
				Msg: fmt.Sprintf("subscription.%s cannot be updated; updatable fields are %s", path, strings.Join(UpdatablePaths, ", "))}
		}
	}
	if version <= 0 {
		return store.Subscription{}, &apperr.FieldError{Field: "subscription.version", Msg: "is required: send the version you read"}
	}
	if slices.Contains(c.Paths, "event_types") {
		if err := checkTypes("subscription.event_types", c.EventTypes); err != nil {
			return store.Subscription{}, err
		}
	}
	key := idempotency.For(p.Subject, "UpdateSubscription", k)
	if k.Key != "" {
		if _, found, err := store.Keys.Lookup(ctx, s.st.Pool(), key); err != nil || found {
			if err != nil {
				return store.Subscription{}, err
			}
			return s.st.Subscription(ctx, sub.OrgID, id)
		}
	}
	cur, err := s.st.Subscription(ctx, sub.OrgID, id)
	if err != nil {
		return store.Subscription{}, err
	}
	if cur.Version != version {
		return store.Subscription{}, fmt.Errorf("%w: subscription %s is at version %d, not %d", apperr.ErrVersionConflict, id, cur.Version, version)
	}
	verifiedAt := cur.VerifiedAt
	newURL := cur.URL
	includeData := cur.IncludeData
	if slices.Contains(c.Paths, "include_data") {
		includeData = c.IncludeData
	}
	if slices.Contains(c.Paths, "url") {
		if newURL, err = s.verify.check(ctx, c.URL); err != nil {
			return store.Subscription{}, err
		}
		if newURL != cur.URL {
			keys, err := s.signingKeys(id, cur.Keys)
			if err != nil {
				return store.Subscription{}, err
			}
			if err := s.verify.handshake(ctx, id, newURL, keys); err != nil {
				return store.Subscription{}, err
			}
			verifiedAt = time.Now()
		}
	}
	if err := s.checkDataHost(ctx, sub.OrgID, newURL, includeData); err != nil {
		return store.Subscription{}, err
	}
	var out store.Subscription
	var replay bool
	err = s.st.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		_, replay, err = store.Keys.Once(ctx, tx, key, func() (idempotency.Result, error) {
			return idempotency.Result{ResourceID: id}, s.updateSubscription(ctx, tx, call{sub, p}, id, version, c, newURL, verifiedAt, &out)
		})
		return err
	})
	if err == nil && replay {
		return s.st.Subscription(ctx, sub.OrgID, id)
	}
	return out, err
}

// updateSubscription writes an update and its audit record in tx.
func (s *Service) updateSubscription(ctx context.Context, tx pgx.Tx, cl call, id string, version int64, c Change, newURL string, verifiedAt time.Time, out *store.Subscription) error {
	sub, p := cl.sub, cl.p
	var err error
	*out, err = store.UpdateSubscription(ctx, tx, sub.OrgID, id, version, func(x *store.Subscription) error {
		for _, path := range c.Paths {
			switch path {
			case "url":
				x.URL = newURL
			case "event_types":
				x.EventTypes = c.EventTypes
			case "include_data":
				x.IncludeData = c.IncludeData
			case "active":
				x.Active = c.Active
				if c.Active {
					x.DisabledReason = ""
				}
			case "description":
				x.Description = strings.TrimSpace(c.Description)
			}
		}
		x.VerifiedAt = verifiedAt
		return nil
	})
	if err != nil {
		return err
	}
	return access.RecordIn(ctx, tx, event(ctx, sub, p, "", subscriptionsSection, "update",
		fmt.Sprintf("subscription %s: %s", id, strings.Join(c.Paths, ", "))))
}

// DeleteSubscription removes a subscription of the caller's organisation;
// version 0 skips the version check. A retry with the same idempotency key
// succeeds again and deletes nothing.
func (s *Service) DeleteSubscription(ctx context.Context, id string, version int64, k idempotency.Request) error {
	sub, p, err := s.orgCaller(ctx, authz.Subscriptions, authz.Write)
	if err != nil {
		return err
	}
	return s.st.InTx(ctx, func(tx pgx.Tx) error {
		_, _, err := store.Keys.Once(ctx, tx, idempotency.For(p.Subject, "DeleteSubscription", k), func() (idempotency.Result, error) {
			if err := store.DeleteSubscription(ctx, tx, sub.OrgID, id, version); err != nil {
				return idempotency.Result{}, err
			}
			return idempotency.Result{ResourceID: id}, access.RecordIn(ctx, tx, event(ctx, sub, p, "", subscriptionsSection, "delete", "subscription "+id))
		})
		return err
	})
}

// Overlap bounds of a key rotation.
const (
	DefaultOverlap = 24 * time.Hour
	MaxOverlap     = 7 * 24 * time.Hour
)

// Rotated is a subscription's new key, secret included, and the
// subscription with every key that signs now.
type Rotated struct {
	Key          store.SigningKey
	Subscription store.Subscription
}

// RotateSigningKey adds a key of the subscription's scheme; the current keys
// expire after overlap (nil: DefaultOverlap). A retry with the same
// idempotency key adds no key and returns the one the first request added.
func (s *Service) RotateSigningKey(ctx context.Context, id string, overlap *time.Duration, k idempotency.Request) (Rotated, error) {
	sub, p, err := s.orgCaller(ctx, authz.Subscriptions, authz.Write)
	if err != nil {
		return Rotated{}, err
	}
	d := DefaultOverlap
	if overlap != nil {
		d = *overlap
	}
	if d < 0 || d > MaxOverlap {
		return Rotated{}, &apperr.FieldError{Field: "overlap", Msg: fmt.Sprintf("must be between 0 and %s", MaxOverlap)}
	}
	key := idempotency.For(p.Subject, "RotateSigningKey", k)
	if prev, found, err := store.Keys.Lookup(ctx, s.st.Pool(), key); err != nil || found {
		if err != nil {
			return Rotated{}, err
		}
		return s.replayRotation(ctx, sub.OrgID, id, prev)
	}
	cur, err := s.st.Subscription(ctx, sub.OrgID, id)
	if err != nil {
		return Rotated{}, err
	}
	row, _, err := newKey(SubscriptionAlgorithm(cur))
	if err != nil {
		return Rotated{}, err
	}
	stored := row
	if stored.Secret, err = s.sealer.Seal(row.Secret, id); err != nil {
		return Rotated{}, err
	}
	var out Rotated
	var prev idempotency.Result
	var replay bool
	err = s.st.InTx(ctx, func(tx pgx.Tx) error {
		var err error
		prev, replay, err = store.Keys.Once(ctx, tx, key, func() (idempotency.Result, error) {
			var err error
			if out.Key, out.Subscription, err = store.RotateSigningKey(ctx, tx, sub.OrgID, id, stored, d); err != nil {
				return idempotency.Result{}, err
			}
			out.Key.Secret = row.Secret // the answer shows it, once; the store keeps it sealed
			return idempotency.Result{ResourceID: strconv.Itoa(int(out.Key.KeyID))}, access.RecordIn(ctx, tx, event(ctx, sub, p, "", subscriptionsSection, "rotate_signing_key",
				fmt.Sprintf("subscription %s: key %d added; older keys expire in %s", id, out.Key.KeyID, d)))
		})
		return err
	})
	if err == nil && replay {
		return s.replayRotation(ctx, sub.OrgID, id, prev)
	}
	return out, err
}

// replayRotation answers a retried rotation with the key it added.
func (s *Service) replayRotation(ctx context.Context, orgID, id string, prev idempotency.Result) (Rotated, error) {
	keyID, err := strconv.Atoi(prev.ResourceID)
	if err != nil {
		return Rotated{}, fmt.Errorf("rotation result %q: %w", prev.ResourceID, err)
	}
	var out Rotated
	if out.Subscription, err = s.st.Subscription(ctx, orgID, id); err != nil {
		return Rotated{}, err
	}
	out.Key, err = s.st.SigningKeyByID(ctx, id, int32(keyID))
	// A secret is shown once, to the request that made it (issue 14).
	out.Key.Secret = ""
	return out, err
}

// checkDataHost refuses a data-carrying subscription (include_data) whose
// endpoint is not on one of the organisation's registered webhook hosts:
// the data is what the organisation's partner system may read, and an
// org_admin must not be able to send it anywhere (issue 14). Thin
// subscriptions (ids and the change only) may point anywhere the egress
// policy allows.
func (s *Service) checkDataHost(ctx context.Context, orgID, endpoint string, includeData bool) error {
	if !includeData {
		return nil
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return &apperr.FieldError{Field: "subscription.url", Msg: "is not a URL"}
	}
	hosts, err := s.st.WebhookHosts(ctx, orgID)
	if err != nil {
		return err
	}
	if !egress.HostRegistered(u.Hostname(), hosts) {
		return fmt.Errorf("%w: subscription.include_data: %s is not a registered webhook host of %s (registered: %s); "+
			"a subscription that carries data may only point at one of them, a thin one anywhere",
			apperr.ErrFailedPrecondition, u.Hostname(), orgID, strings.Join(hosts, ", "))
	}
	return nil
}
