// Package api is the events service's gRPC transport: it converts between
// the contract's messages and the application layer, and translates errors
// into canonical status codes, once, here.
package api

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	"github.com/ipsbridge/ipsbridge/internal/rpc"
	eventsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/events/v1"
	"github.com/ipsbridge/ipsbridge/services/events/app"
	"github.com/ipsbridge/ipsbridge/services/events/store"
)

// Server implements eventsv1.EventsServiceServer.
type Server struct {
	eventsv1.UnimplementedEventsServiceServer
	app *app.Service
	log *slog.Logger
}

// New returns the gRPC server of the events service.
func New(a *app.Service, log *slog.Logger) *Server { return &Server{app: a, log: log} }

const svc = "/ipsbridge.events.v1.EventsService/"

var (
	subsRead  = authz.Requirement{Section: authz.Subscriptions, Action: authz.Read}
	subsWrite = authz.Requirement{Section: authz.Subscriptions, Action: authz.Write}
	feedRead  = authz.Requirement{Section: authz.Events, Action: authz.Read}
)

// Rules are the method-level requirements the authorization interceptor
// enforces before a handler runs: the organisation-level pseudo-sections
// subscriptions (org_admin) and events (partner systems of UWV and
// municipalities). Handlers then scope everything to the caller's
// organisation and, in the feed, judge every event.
var Rules = map[string][]authz.Requirement{
	svc + "CreateSubscription":     {subsWrite},
	svc + "GetSubscription":        {subsRead},
	svc + "ListSubscriptions":      {subsRead},
	svc + "UpdateSubscription":     {subsWrite},
	svc + "DeleteSubscription":     {subsWrite},
	svc + "RotateSigningKey":       {subsWrite},
	svc + "ListDeadLetters":        {subsRead},
	svc + "ListDeliveryAttempts":   {subsRead},
	svc + "RedeliverDeadLetters":   {subsWrite},
	svc + "GetDeliveryStats":       {subsRead},
	svc + "ListEvents":             {feedRead},
	"/grpc.health.v1.Health/Check": authz.Public,
	"/grpc.health.v1.Health/Watch": authz.Public,
	"/grpc.health.v1.Health/List":  authz.Public,
}

func (s *Server) toStatus(ctx context.Context, err error) error {
	if errors.Is(err, app.ErrEndpointVerification) {
		return rpc.Error(codes.FailedPrecondition, "ENDPOINT_VERIFICATION_FAILED", err.Error(), nil)
	}
	return rpc.Status(ctx, s.log, err)
}

func ts(t *time.Time) *timestamppb.Timestamp {
	if t == nil || t.IsZero() {
		return nil
	}
	return timestamppb.New(*t)
}

var algorithms = map[app.Algorithm]eventsv1.SigningAlgorithm{
	app.HMACSHA256: eventsv1.SigningAlgorithm_SIGNING_ALGORITHM_HMAC_SHA256,
	app.Ed25519:    eventsv1.SigningAlgorithm_SIGNING_ALGORITHM_ED25519,
}

// keyToProto shows a key; the HMAC secret only when withSecret (the
// responses that create a key), the ed25519 private key never.
func keyToProto(k store.SigningKey, withSecret bool) *eventsv1.SigningKey {
	alg := app.AlgorithmOf(k)
	out := &eventsv1.SigningKey{KeyId: k.KeyID, Algorithm: algorithms[alg], PublicKey: k.PublicKey,
		CreateTime: ts(&k.CreatedAt), ExpireTime: ts(k.ExpiresAt)}
	if withSecret && alg == app.HMACSHA256 {
		out.Secret = k.Secret
	}
	return out
}

func subscriptionToProto(x store.Subscription) *eventsv1.Subscription {
	out := &eventsv1.Subscription{
		SubscriptionId: x.ID, OrganizationId: x.OrgID, Url: x.URL, EventTypes: x.EventTypes, IncludeData: x.IncludeData,
		Active: x.Active, DisabledReason: x.DisabledReason, Description: x.Description,
		SigningAlgorithm: algorithms[app.SubscriptionAlgorithm(x)], Version: x.Version,
		CreateTime: ts(&x.CreatedAt), UpdateTime: ts(&x.UpdatedAt), VerifyTime: ts(&x.VerifiedAt), Creator: x.CreatedBy,
	}
	for _, k := range x.Keys {
		out.SigningKeys = append(out.SigningKeys, keyToProto(k, false))
	}
	return out
}

// CreateSubscription implements EventsService.
func (s *Server) CreateSubscription(ctx context.Context, req *eventsv1.CreateSubscriptionRequest) (*eventsv1.CreateSubscriptionResponse, error) {
	in := req.GetSubscription()
	alg := app.HMACSHA256
	if in.GetSigningAlgorithm() == eventsv1.SigningAlgorithm_SIGNING_ALGORITHM_ED25519 {
		alg = app.Ed25519
	}
	// The fingerprint covers what the request asks for, not the output-only
	// fields a client may echo back.
	body := &eventsv1.CreateSubscriptionRequest{Subscription: &eventsv1.Subscription{
		Url: in.GetUrl(), EventTypes: in.GetEventTypes(), IncludeData: in.GetIncludeData(),
		Description: in.GetDescription(), SigningAlgorithm: algorithms[alg]}}
	c, err := s.app.CreateSubscription(ctx, app.NewSubscription{URL: in.GetUrl(), EventTypes: in.GetEventTypes(),
		IncludeData: in.GetIncludeData(), Description: in.GetDescription(), Algorithm: alg},
		idempotency.Request{Key: rpc.RequestID(ctx, req.GetRequestId()), Fingerprint: rpc.Fingerprint(body)})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &eventsv1.CreateSubscriptionResponse{Subscription: subscriptionToProto(c.Subscription)}
	if c.Key.KeyID != 0 {
		out.SigningKey = keyToProto(c.Key, !c.Replayed)
	}
	if c.Replayed {
		out.Note = "this request_id was answered before: the signing secret was shown in that first answer only " +
			"and is not shown again; if it was lost, rotate the signing key (:rotateSigningKey)"
	}
	return out, nil
}

// GetSubscription implements EventsService.
func (s *Server) GetSubscription(ctx context.Context, req *eventsv1.GetSubscriptionRequest) (*eventsv1.GetSubscriptionResponse, error) {
	x, err := s.app.GetSubscription(ctx, req.GetSubscriptionId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &eventsv1.GetSubscriptionResponse{Subscription: subscriptionToProto(x)}, nil
}

// ListSubscriptions implements EventsService.
func (s *Server) ListSubscriptions(ctx context.Context, req *eventsv1.ListSubscriptionsRequest) (*eventsv1.ListSubscriptionsResponse, error) {
	xs, next, err := s.app.ListSubscriptions(ctx, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &eventsv1.ListSubscriptionsResponse{NextPageToken: next}
	for _, x := range xs {
		out.Subscriptions = append(out.Subscriptions, subscriptionToProto(x))
	}
	return out, nil
}

// UpdateSubscription implements EventsService.
func (s *Server) UpdateSubscription(ctx context.Context, req *eventsv1.UpdateSubscriptionRequest) (*eventsv1.UpdateSubscriptionResponse, error) {
	in := req.GetSubscription()
	k, err := rpc.Idempotency(ctx, req, false)
	if err != nil {
		return nil, err
	}
	x, err := s.app.UpdateSubscription(ctx, req.GetSubscriptionId(), in.GetVersion(), app.Change{
		Paths: req.GetUpdateMask().GetPaths(), URL: in.GetUrl(), EventTypes: in.GetEventTypes(),
		IncludeData: in.GetIncludeData(), Active: in.GetActive(), Description: in.GetDescription(),
	}, k)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &eventsv1.UpdateSubscriptionResponse{Subscription: subscriptionToProto(x)}, nil
}

// DeleteSubscription implements EventsService.
func (s *Server) DeleteSubscription(ctx context.Context, req *eventsv1.DeleteSubscriptionRequest) (*eventsv1.DeleteSubscriptionResponse, error) {
	k, err := rpc.Idempotency(ctx, req, false)
	if err != nil {
		return nil, err
	}
	if err := s.app.DeleteSubscription(ctx, req.GetSubscriptionId(), req.GetVersion(), k); err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &eventsv1.DeleteSubscriptionResponse{}, nil
}

// RotateSigningKey implements EventsService.
func (s *Server) RotateSigningKey(ctx context.Context, req *eventsv1.RotateSigningKeyRequest) (*eventsv1.RotateSigningKeyResponse, error) {
	k, err := rpc.Idempotency(ctx, req, true)
	if err != nil {
		return nil, err
	}
	var overlap *time.Duration
	if req.GetOverlap() != nil {
		d := req.GetOverlap().AsDuration()
		overlap = &d
	}
	r, err := s.app.RotateSigningKey(ctx, req.GetSubscriptionId(), overlap, k)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &eventsv1.RotateSigningKeyResponse{SigningKey: keyToProto(r.Key, true), Subscription: subscriptionToProto(r.Subscription)}, nil
}

var states = map[string]eventsv1.DeliveryState{
	store.Pending: eventsv1.DeliveryState_DELIVERY_STATE_PENDING, store.Delivered: eventsv1.DeliveryState_DELIVERY_STATE_DELIVERED,
	store.Dead: eventsv1.DeliveryState_DELIVERY_STATE_DEAD, store.Withheld: eventsv1.DeliveryState_DELIVERY_STATE_WITHHELD,
}

func deliveryToProto(d store.Delivery) *eventsv1.Delivery {
	out := &eventsv1.Delivery{
		DeliveryId: d.ID, SubscriptionId: d.SubscriptionID, State: states[d.State], EventId: d.EventID, EventType: d.EventType,
		ClientId: d.ClientID, Position: d.Position, EventTime: ts(&d.EventTime), Attempts: d.Attempts, Reason: d.Reason,
		FirstAttemptTime: ts(d.FirstAttemptAt), FinishTime: ts(d.FinishedAt),
	}
	if d.State == store.Pending {
		out.NextAttemptTime = ts(&d.NextAttemptAt)
	}
	return out
}

// ListDeadLetters implements EventsService.
func (s *Server) ListDeadLetters(ctx context.Context, req *eventsv1.ListDeadLettersRequest) (*eventsv1.ListDeadLettersResponse, error) {
	ds, next, err := s.app.ListDeadLetters(ctx, req.GetSubscriptionId(), int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &eventsv1.ListDeadLettersResponse{NextPageToken: next}
	for _, d := range ds {
		out.DeadLetters = append(out.DeadLetters, deliveryToProto(d))
	}
	return out, nil
}

// ListDeliveryAttempts implements EventsService.
func (s *Server) ListDeliveryAttempts(ctx context.Context, req *eventsv1.ListDeliveryAttemptsRequest) (*eventsv1.ListDeliveryAttemptsResponse, error) {
	d, attempts, err := s.app.ListDeliveryAttempts(ctx, req.GetDeliveryId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &eventsv1.ListDeliveryAttemptsResponse{Delivery: deliveryToProto(d)}
	for _, a := range attempts {
		out.Attempts = append(out.Attempts, &eventsv1.DeliveryAttempt{Attempt: a.Attempt, StartTime: ts(&a.StartedAt),
			DurationMs: a.DurationMS, StatusCode: a.StatusCode, Error: a.Error, Response: a.Response})
	}
	return out, nil
}

// RedeliverDeadLetters implements EventsService.
func (s *Server) RedeliverDeadLetters(ctx context.Context, req *eventsv1.RedeliverDeadLettersRequest) (*eventsv1.RedeliverDeadLettersResponse, error) {
	k, err := rpc.Idempotency(ctx, req, false)
	if err != nil {
		return nil, err
	}
	n, err := s.app.RedeliverDeadLetters(ctx, req.GetSubscriptionId(), req.GetDeliveryIds(), req.GetAll(), k)
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &eventsv1.RedeliverDeadLettersResponse{RedeliveredCount: int32(n)}, nil
}

// GetDeliveryStats implements EventsService.
func (s *Server) GetDeliveryStats(ctx context.Context, req *eventsv1.GetDeliveryStatsRequest) (*eventsv1.GetDeliveryStatsResponse, error) {
	st, err := s.app.GetDeliveryStats(ctx, req.GetSubscriptionId())
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	return &eventsv1.GetDeliveryStatsResponse{
		Pending: st.Counts[store.Pending], Delivered: st.Counts[store.Delivered], Dead: st.Counts[store.Dead],
		Withheld: st.Counts[store.Withheld], OldestPendingEventTime: ts(st.OldestPendingEvent), LastDeliveredTime: ts(st.LastDelivered),
	}, nil
}

// ListEvents implements EventsService.
func (s *Server) ListEvents(ctx context.Context, req *eventsv1.ListEventsRequest) (*eventsv1.ListEventsResponse, error) {
	page, err := s.app.ListEvents(ctx, app.FeedQuery{PageToken: req.GetPageToken(), PageSize: int(req.GetPageSize()),
		StartAtEnd: req.GetStartAtEnd(), Types: req.GetEventTypes(), IncludeData: req.GetIncludeData()})
	if err != nil {
		return nil, s.toStatus(ctx, err)
	}
	out := &eventsv1.ListEventsResponse{NextPageToken: page.Next, CaughtUp: page.CaughtUp}
	for _, e := range page.Events {
		pe := &eventsv1.Event{EventId: e.EventID, Type: e.Type, Source: e.Source, Subject: e.Subject,
			Time: ts(&e.OccurredAt), ClientId: e.ClientID, Position: e.Position}
		if pe.Change, err = toStruct(e.Change); err != nil {
			return nil, s.toStatus(ctx, err)
		}
		if pe.Data, err = toStruct(e.Data); err != nil {
			return nil, s.toStatus(ctx, err)
		}
		out.Events = append(out.Events, pe)
	}
	return out, nil
}

// toStruct decodes a JSON object; nil for nothing. A payload that is not an
// object (data may be a list) is wrapped as {"value": ...}.
func toStruct(b []byte) (*structpb.Struct, error) {
	if len(b) == 0 || string(b) == "null" {
		return nil, nil
	}
	st := &structpb.Struct{}
	if err := protojson.Unmarshal(b, st); err == nil {
		return st, nil
	}
	v := &structpb.Value{}
	if err := protojson.Unmarshal(b, v); err != nil {
		return nil, err
	}
	return &structpb.Struct{Fields: map[string]*structpb.Value{"value": v}}, nil
}
