package server_test

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/authz/authztest"
	"github.com/ipsbridge/ipsbridge/internal/egress"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/internal/seed"
	"github.com/ipsbridge/ipsbridge/internal/webhook"
	eventsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/events/v1"
)

func mask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }

func (f *fixture) create(t *testing.T, as, url string, mod func(*eventsv1.CreateSubscriptionRequest)) *eventsv1.CreateSubscriptionResponse {
	t.Helper()
	req := &eventsv1.CreateSubscriptionRequest{Subscription: &eventsv1.Subscription{Url: url}}
	if mod != nil {
		mod(req)
	}
	r, err := f.ev.CreateSubscription(f.p.As(t, as), req)
	if err != nil {
		t.Fatalf("create subscription as %s: %v", as, err)
	}
	return r
}

func TestSubscriptionLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := f.p.As(t, "admin-uwv")
	good := newReceiver(t, echo)

	// Create: the endpoint gets a signed handshake and answers it.
	r := f.create(t, "admin-uwv", good.URL+"/hooks?token=1", func(req *eventsv1.CreateSubscriptionRequest) {
		req.Subscription.EventTypes = []string{string(outbox.JobStarted), string(outbox.JobEnded)}
		req.Subscription.Description = " UWV Noord placements "
	})
	sub, key := r.GetSubscription(), r.GetSigningKey()
	if sub.GetOrganizationId() != "uwv-noord" || !sub.GetActive() || sub.GetVersion() != 1 || sub.GetVerifyTime() == nil ||
		sub.GetSigningAlgorithm() != eventsv1.SigningAlgorithm_SIGNING_ALGORITHM_HMAC_SHA256 || sub.GetDescription() != "UWV Noord placements" ||
		sub.GetIncludeData() || len(sub.GetEventTypes()) != 2 || sub.GetCreator() != "admin-uwv" {
		t.Errorf("created: %v", sub)
	}
	if !strings.HasPrefix(key.GetSecret(), webhook.SecretPrefix) || key.GetKeyId() != 1 || key.GetExpireTime() != nil {
		t.Fatalf("key: %v", key)
	}
	secret, err := webhook.ParseSecret(key.GetSecret())
	if err != nil {
		t.Fatal(err)
	}
	hs := good.last(t)
	if hs.event.Type != webhook.VerificationEventType || hs.event.Subject != "subscriptions/"+sub.GetSubscriptionId() ||
		hs.header.Get("Content-Type") != "application/cloudevents+json" {
		t.Errorf("handshake: %+v %v", hs.event, hs.header)
	}
	if err := hs.verifies(secret); err != nil {
		t.Errorf("handshake signature with the returned secret: %v", err)
	}
	if n := f.count(t, `SELECT count(*) FROM events.subscriptions WHERE verified_at IS NOT NULL AND org_kind = 'uwv' AND region_id = 'region-noord'`); n != 1 {
		t.Errorf("%d stored subscriptions", n)
	}

	// Get and List show no secret.
	got, err := f.ev.GetSubscription(ctx, &eventsv1.GetSubscriptionRequest{SubscriptionId: sub.GetSubscriptionId()})
	if err != nil || len(got.GetSubscription().GetSigningKeys()) != 1 || got.GetSubscription().GetSigningKeys()[0].GetSecret() != "" {
		t.Errorf("get: %v %v", got, err)
	}
	second := f.create(t, "admin-uwv", good.URL, nil).GetSubscription()
	page1, err := f.ev.ListSubscriptions(ctx, &eventsv1.ListSubscriptionsRequest{PageSize: 1})
	if err != nil || len(page1.GetSubscriptions()) != 1 || page1.GetNextPageToken() == "" {
		t.Fatalf("page 1: %v %v", page1, err)
	}
	page2, err := f.ev.ListSubscriptions(ctx, &eventsv1.ListSubscriptionsRequest{PageSize: 1, PageToken: page1.GetNextPageToken()})
	if err != nil || len(page2.GetSubscriptions()) != 1 || page2.GetNextPageToken() != "" ||
		page2.GetSubscriptions()[0].GetSubscriptionId() != second.GetSubscriptionId() {
		t.Errorf("page 2: %v %v", page2, err)
	}
	if _, err := f.ev.ListSubscriptions(ctx, &eventsv1.ListSubscriptionsRequest{PageToken: "bogus"}); code(err) != codes.InvalidArgument {
		t.Errorf("bogus page token: %v", err)
	}
	// UWV's token does not continue another organisation's list.
	if _, err := f.ev.ListSubscriptions(f.p.As(t, "admin-gem"), &eventsv1.ListSubscriptionsRequest{PageToken: page1.GetNextPageToken()}); code(err) != codes.InvalidArgument {
		t.Errorf("UWV's page token used by the municipality: %v", err)
	}

	// Update: a stale version is refused; the right one moves it on.
	id := sub.GetSubscriptionId()
	_, err = f.ev.UpdateSubscription(ctx, &eventsv1.UpdateSubscriptionRequest{SubscriptionId: id,
		Subscription: &eventsv1.Subscription{Description: "x", Version: 7}, UpdateMask: mask("description")})
	if code(err) != codes.Aborted {
		t.Errorf("stale version: %v", err)
	}
	up, err := f.ev.UpdateSubscription(ctx, &eventsv1.UpdateSubscriptionRequest{SubscriptionId: id,
		Subscription: &eventsv1.Subscription{IncludeData: true, EventTypes: []string{}, Version: 1}, UpdateMask: mask("include_data", "event_types")})
	if err != nil || up.GetSubscription().GetVersion() != 2 || !up.GetSubscription().GetIncludeData() || len(up.GetSubscription().GetEventTypes()) != 0 {
		t.Fatalf("update: %v %v", up, err)
	}
	for name, req := range map[string]*eventsv1.UpdateSubscriptionRequest{
		"unknown type":      {Subscription: &eventsv1.Subscription{EventTypes: []string{"nl.ipsbridge.nope.v1"}, Version: 2}, UpdateMask: mask("event_types")},
		"output-only field": {Subscription: &eventsv1.Subscription{Version: 2}, UpdateMask: mask("organization_id")},
		"no version":        {Subscription: &eventsv1.Subscription{Description: "x"}, UpdateMask: mask("description")},
	} {
		req.SubscriptionId = id
		if _, err := f.ev.UpdateSubscription(ctx, req); code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v", name, err)
		}
	}

	// A new url must pass the handshake, signed with the current key.
	broken := newReceiver(t, func(string) (int, string) { return http.StatusNotFound, "no such hook" })
	_, err = f.ev.UpdateSubscription(ctx, &eventsv1.UpdateSubscriptionRequest{SubscriptionId: id,
		Subscription: &eventsv1.Subscription{Url: broken.URL, Version: 2}, UpdateMask: mask("url")})
	if code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), "404") {
		t.Errorf("url to a broken endpoint: %v", err)
	}
	if err := broken.last(t).verifies(secret); err != nil {
		t.Errorf("handshake of the url change: %v", err)
	}
	moved := newReceiver(t, echo)
	up, err = f.ev.UpdateSubscription(ctx, &eventsv1.UpdateSubscriptionRequest{SubscriptionId: id,
		Subscription: &eventsv1.Subscription{Url: moved.URL, Version: 2}, UpdateMask: mask("url")})
	if err != nil || up.GetSubscription().GetUrl() != moved.URL || up.GetSubscription().GetVersion() != 3 ||
		!up.GetSubscription().GetVerifyTime().AsTime().After(sub.GetVerifyTime().AsTime()) {
		t.Fatalf("url change: %v %v", up, err)
	}

	// Rotate: a new key, returned once; the old one signs for the overlap.
	rot, err := f.ev.RotateSigningKey(ctx, &eventsv1.RotateSigningKeyRequest{RequestId: uuid.NewString(), SubscriptionId: id, Overlap: durationpb.New(time.Hour)})
	if err != nil || rot.GetSigningKey().GetKeyId() != 2 || !strings.HasPrefix(rot.GetSigningKey().GetSecret(), webhook.SecretPrefix) ||
		rot.GetSigningKey().GetSecret() == key.GetSecret() || len(rot.GetSubscription().GetSigningKeys()) != 2 {
		t.Fatalf("rotate: %v %v", rot, err)
	}
	if n := f.count(t, `SELECT count(*) FROM events.signing_keys WHERE subscription_id = $1
			AND (key_id = 1 AND expires_at BETWEEN now() + interval '50 minutes' AND now() + interval '70 minutes'
				OR key_id = 2 AND expires_at IS NULL)`, id); n != 2 {
		t.Errorf("stored keys after rotation: %d as expected", n)
	}
	if _, err := f.ev.RotateSigningKey(ctx, &eventsv1.RotateSigningKeyRequest{RequestId: uuid.NewString(), SubscriptionId: id, Overlap: durationpb.New(8 * 24 * time.Hour)}); code(err) != codes.InvalidArgument {
		t.Errorf("overlap of 8 days: %v", err)
	}

	// Delete: version checked when given.
	if _, err := f.ev.DeleteSubscription(ctx, &eventsv1.DeleteSubscriptionRequest{SubscriptionId: id, Version: 1}); code(err) != codes.Aborted {
		t.Errorf("delete with a stale version: %v", err)
	}
	if _, err := f.ev.DeleteSubscription(ctx, &eventsv1.DeleteSubscriptionRequest{SubscriptionId: id, Version: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ev.GetSubscription(ctx, &eventsv1.GetSubscriptionRequest{SubscriptionId: id}); code(err) != codes.NotFound {
		t.Errorf("get after delete: %v", err)
	}
	if n := f.count(t, `SELECT count(*) FROM events.signing_keys WHERE subscription_id = $1`, id); n != 0 {
		t.Errorf("%d keys left after delete", n)
	}
	// Every change is in the audit log.
	if n := f.count(t, `SELECT count(*) FROM audit.events WHERE service = 'events' AND org_id = 'uwv-noord' AND outcome = 'allowed'
			AND action IN ('create', 'update', 'rotate_signing_key', 'delete') AND sections = '{subscriptions}'`); n != 6 {
		t.Errorf("%d audit records of changes, want 6", n)
	}
}

func TestCreateIsIdempotentAndEd25519(t *testing.T) {
	f := newFixture(t)
	ctx := f.p.As(t, "admin-gem")
	good := newReceiver(t, echo)
	req := &eventsv1.CreateSubscriptionRequest{RequestId: "gem-sub-1", Subscription: &eventsv1.Subscription{Url: good.URL,
		SigningAlgorithm: eventsv1.SigningAlgorithm_SIGNING_ALGORITHM_ED25519}}
	first, err := f.ev.CreateSubscription(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	k := first.GetSigningKey()
	if k.GetSecret() != "" || !strings.HasPrefix(k.GetPublicKey(), webhook.PublicKeyPrefix) ||
		first.GetSubscription().GetSigningAlgorithm() != eventsv1.SigningAlgorithm_SIGNING_ALGORITHM_ED25519 {
		t.Fatalf("ed25519 key: %v", k)
	}
	pub, err := webhook.ParsePublicKey(k.GetPublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if err := good.last(t).verifies(pub); err != nil {
		t.Errorf("handshake signature with the public key: %v", err)
	}
	// A retry: the same subscription and public key, no second handshake,
	// no second row.
	again, err := f.ev.CreateSubscription(ctx, req)
	if err != nil || again.GetSubscription().GetSubscriptionId() != first.GetSubscription().GetSubscriptionId() ||
		again.GetSigningKey().GetPublicKey() != k.GetPublicKey() || again.GetNote() == "" {
		t.Fatalf("retry: %v %v", again, err)
	}
	if n := len(good.requests()); n != 1 {
		t.Errorf("%d handshakes", n)
	}
	// The same key with another request.
	req.Subscription.Description = "other"
	_, err = f.ev.CreateSubscription(ctx, req)
	if st, _ := status.FromError(err); code(err) != codes.FailedPrecondition || !strings.Contains(st.Message(), "request_id") {
		t.Errorf("key reused: %v", err)
	}
	// Rotation keeps the scheme.
	rot, err := f.ev.RotateSigningKey(ctx, &eventsv1.RotateSigningKeyRequest{RequestId: uuid.NewString(), SubscriptionId: first.GetSubscription().GetSubscriptionId()})
	if err != nil || rot.GetSigningKey().GetSecret() != "" || !strings.HasPrefix(rot.GetSigningKey().GetPublicKey(), webhook.PublicKeyPrefix) {
		t.Errorf("rotate ed25519: %v %v", rot, err)
	}
	if n := f.count(t, `SELECT count(*) FROM events.subscriptions`); n != 1 {
		t.Errorf("%d subscriptions", n)
	}
}

// TestEndpointChecks: nothing is stored for an endpoint that fails the
// handshake or that the egress policy refuses.
func TestEndpointChecks(t *testing.T) {
	f := newFixture(t)
	ctx := f.p.As(t, "admin-noord")
	wrong := newReceiver(t, func(string) (int, string) { return http.StatusOK, `{"challenge":"something else"}` })
	missing := newReceiver(t, func(string) (int, string) { return http.StatusNotFound, "not here" })
	moved := newReceiver(t, func(string) (int, string) { return http.StatusFound, "" })
	closed := newReceiver(t, echo)
	closed.Close()
	for name, tc := range map[string]struct {
		url     string
		want    codes.Code
		message string
	}{
		"wrong challenge":    {wrong.URL, codes.FailedPrecondition, "not with the challenge"},
		"404":                {missing.URL, codes.FailedPrecondition, `404 Not Found to the verification event with the body "not here"`},
		"redirect":           {moved.URL, codes.FailedPrecondition, "redirects are not followed"},
		"nobody listening":   {closed.URL, codes.FailedPrecondition, "could not be reached"},
		"user info":          {strings.Replace(wrong.URL, "http://", "http://me:pw@", 1), codes.InvalidArgument, "user name"},
		"fragment":           {wrong.URL + "#x", codes.InvalidArgument, "fragment"},
		"not http":           {"ftp://example.org/x", codes.InvalidArgument, "http"},
		"relative":           {"/hooks", codes.InvalidArgument, "url"},
		"metadata endpoint":  {"http://169.254.169.254/latest", codes.InvalidArgument, "internal address"},
		"private network":    {"http://10.1.2.3/hooks", codes.InvalidArgument, "internal address"},
		"empty":              {"", codes.InvalidArgument, "required"},
		"unknown event type": {wrong.URL + "?types", codes.InvalidArgument, "not an event type"},
	} {
		req := &eventsv1.CreateSubscriptionRequest{Subscription: &eventsv1.Subscription{Url: tc.url}}
		if name == "unknown event type" {
			req.Subscription.EventTypes = []string{"nl.ipsbridge.client.deleted.v1"}
		}
		_, err := f.ev.CreateSubscription(ctx, req)
		if code(err) != tc.want || !strings.Contains(status.Convert(err).Message(), tc.message) {
			t.Errorf("%s: %v, want %v with %q", name, err, tc.want, tc.message)
		}
	}
	// The default policy: https only, nothing internal.
	strict := f.serve(t, egress.Policy{})
	good := newReceiver(t, echo)
	_, err := strict.CreateSubscription(ctx, &eventsv1.CreateSubscriptionRequest{Subscription: &eventsv1.Subscription{Url: good.URL}})
	if code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "https") {
		t.Errorf("http under the default policy: %v", err)
	}
	// http allowed, loopback not.
	noLoopback := f.serve(t, egress.Policy{AllowHTTP: true})
	_, err = noLoopback.CreateSubscription(ctx, &eventsv1.CreateSubscriptionRequest{Subscription: &eventsv1.Subscription{Url: good.URL}})
	if code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "internal address") {
		t.Errorf("loopback not allowed: %v", err)
	}
	if len(good.requests()) != 0 {
		t.Errorf("a refused endpoint was contacted")
	}
	if n := f.count(t, `SELECT count(*) FROM events.subscriptions`) + f.count(t, `SELECT count(*) FROM events.signing_keys`); n != 0 {
		t.Errorf("%d rows stored for failed creates", n)
	}
}

// TestOnlyOrgAdminsAndOwnOrganisation: every seeded user × the three kinds
// of method, against the organisation table; another organisation's
// subscription does not exist.
func TestOnlyOrgAdminsAndOwnOrganisation(t *testing.T) {
	f := newFixture(t)
	good := newReceiver(t, echo)
	uwvSub := f.create(t, "admin-uwv", good.URL, nil).GetSubscription().GetSubscriptionId()
	for _, u := range seed.Demo.Users {
		org, _ := seed.FindOrganization(u.OrgID)
		ctx := f.p.As(t, u.ID)
		check := func(what string, allowed bool, err error) {
			t.Helper()
			if allowed && err != nil || !allowed && code(err) != codes.PermissionDenied {
				t.Errorf("%s (%s@%s) %s: %v, allowed %v", u.ID, u.Role, u.OrgID, what, err, allowed)
			}
		}
		_, err := f.ev.CreateSubscription(ctx, &eventsv1.CreateSubscriptionRequest{Subscription: &eventsv1.Subscription{Url: good.URL}})
		check("create", authztest.ExpectedOrg(org.Kind, u.Role, authz.Subscriptions, authz.Write), err)
		_, err = f.ev.ListSubscriptions(ctx, &eventsv1.ListSubscriptionsRequest{})
		check("list", authztest.ExpectedOrg(org.Kind, u.Role, authz.Subscriptions, authz.Read), err)
		_, err = f.ev.ListEvents(ctx, &eventsv1.ListEventsRequest{})
		check("feed", authztest.ExpectedOrg(org.Kind, u.Role, authz.Events, authz.Read), err)
	}
	// Refusals are audited by the interceptor.
	if n := f.count(t, `SELECT count(*) FROM audit.events WHERE service = 'events' AND outcome = 'denied'`); n < 30 {
		t.Errorf("%d refusals audited", n)
	}

	// The municipality's admin sees only its own.
	gem := f.p.As(t, "admin-gem")
	ls, err := f.ev.ListSubscriptions(gem, &eventsv1.ListSubscriptionsRequest{})
	if err != nil || len(ls.GetSubscriptions()) != 1 || ls.GetSubscriptions()[0].GetOrganizationId() != "gem-groningen" {
		t.Errorf("gem's list: %v %v", ls, err)
	}
	calls := map[string]func() error{
		"get": func() error {
			_, err := f.ev.GetSubscription(gem, &eventsv1.GetSubscriptionRequest{SubscriptionId: uwvSub})
			return err
		},
		"update": func() error {
			_, err := f.ev.UpdateSubscription(gem, &eventsv1.UpdateSubscriptionRequest{SubscriptionId: uwvSub,
				Subscription: &eventsv1.Subscription{Active: false, Version: 1}, UpdateMask: mask("active")})
			return err
		},
		"delete": func() error {
			_, err := f.ev.DeleteSubscription(gem, &eventsv1.DeleteSubscriptionRequest{SubscriptionId: uwvSub})
			return err
		},
		"rotate": func() error {
			_, err := f.ev.RotateSigningKey(gem, &eventsv1.RotateSigningKeyRequest{RequestId: uuid.NewString(), SubscriptionId: uwvSub})
			return err
		},
		"dead letters": func() error {
			_, err := f.ev.ListDeadLetters(gem, &eventsv1.ListDeadLettersRequest{SubscriptionId: uwvSub})
			return err
		},
		"redeliver": func() error {
			_, err := f.ev.RedeliverDeadLetters(gem, &eventsv1.RedeliverDeadLettersRequest{SubscriptionId: uwvSub, All: true})
			return err
		},
		"stats": func() error {
			_, err := f.ev.GetDeliveryStats(gem, &eventsv1.GetDeliveryStatsRequest{SubscriptionId: uwvSub})
			return err
		},
	}
	for name, call := range calls {
		if err := call(); code(err) != codes.NotFound {
			t.Errorf("%s of another organisation's subscription: %v", name, err)
		}
	}
	if n := f.count(t, `SELECT version FROM events.subscriptions WHERE id = $1 AND active`, uwvSub); n != 1 {
		t.Errorf("uwv's subscription changed: version %d", n)
	}
}

// Issue 14, finding 8: a signing secret is stored sealed with the operator
// key and shown once: a replayed create (before or after a rotation)
// answers without it and says why.
func TestSigningSecretsSealedAndShownOnce(t *testing.T) {
	f := newFixture(t)
	key, err := webhook.NewSealingKey()
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := webhook.ParseSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	ev := f.serveSealed(t, loopback, sealer)
	ctx := f.p.As(t, "admin-uwv")
	good := newReceiver(t, echo)
	req := &eventsv1.CreateSubscriptionRequest{RequestId: "uwv-sealed-1", Subscription: &eventsv1.Subscription{Url: good.URL}}
	first, err := ev.CreateSubscription(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	secret := first.GetSigningKey().GetSecret()
	if !strings.HasPrefix(secret, "whsec_") || first.GetNote() != "" {
		t.Fatalf("first answer: %v", first)
	}
	id := first.GetSubscription().GetSubscriptionId()
	var stored string
	if err := f.p.Pool.QueryRow(context.Background(), `SELECT secret FROM events.signing_keys WHERE subscription_id = $1`, id).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "sealed:v1:") || strings.Contains(stored, strings.TrimPrefix(secret, "whsec_")) {
		t.Fatalf("stored in plain text: %q", stored)
	}
	replay := func(what string) {
		t.Helper()
		again, err := ev.CreateSubscription(ctx, req)
		if err != nil || again.GetSubscription().GetSubscriptionId() != id || again.GetSigningKey().GetSecret() != "" ||
			!strings.Contains(again.GetNote(), "not shown again") || strings.Contains(fmt.Sprint(again), strings.TrimPrefix(secret, "whsec_")) {
			t.Fatalf("%s: %v %v", what, again, err)
		}
	}
	replay("replayed create")
	rot, err := ev.RotateSigningKey(ctx, &eventsv1.RotateSigningKeyRequest{SubscriptionId: id, RequestId: "sealed-rotate-1"})
	if err != nil || !strings.HasPrefix(rot.GetSigningKey().GetSecret(), "whsec_") || rot.GetSigningKey().GetSecret() == secret {
		t.Fatalf("rotate: %v %v", rot, err)
	}
	replay("replayed create after a rotation")
	// The sealed keys still sign: a new url's handshake verifies with the
	// first secret (still in its overlap).
	other := newReceiver(t, echo)
	sub, err := ev.GetSubscription(ctx, &eventsv1.GetSubscriptionRequest{SubscriptionId: id})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ev.UpdateSubscription(ctx, &eventsv1.UpdateSubscriptionRequest{SubscriptionId: id, UpdateMask: mask("url"),
		Subscription: &eventsv1.Subscription{SubscriptionId: id, Url: other.URL + "/new", Version: sub.GetSubscription().GetVersion()}}); err != nil {
		t.Fatalf("update url: %v", err)
	}
	s, err := webhook.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.last(t).verifies(s); err != nil {
		t.Errorf("handshake with the sealed keys: %v", err)
	}
}

// Issue 14, finding 9: a subscription that carries data may only point at
// one of the organisation's registered webhook hosts; a thin one anywhere
// the egress policy allows.
func TestDataCarryingEndpointsOnRegisteredHostsOnly(t *testing.T) {
	f := newFixture(t)
	ctx := f.p.As(t, "admin-uwv")
	f.exec(t, `UPDATE clients.organizations SET webhook_hosts = '{hooks.uwv.example}' WHERE id = 'uwv-noord'`)
	good := newReceiver(t, echo)
	_, err := f.ev.CreateSubscription(ctx, &eventsv1.CreateSubscriptionRequest{Subscription: &eventsv1.Subscription{Url: good.URL, IncludeData: true}})
	if code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "registered webhook host") {
		t.Fatalf("data to an unregistered host: %v", err)
	}
	if len(good.requests()) != 0 {
		t.Errorf("the unregistered endpoint was contacted")
	}
	thin, err := f.ev.CreateSubscription(ctx, &eventsv1.CreateSubscriptionRequest{Subscription: &eventsv1.Subscription{Url: good.URL}})
	if err != nil {
		t.Fatalf("thin subscription: %v", err)
	}
	s := thin.GetSubscription()
	_, err = f.ev.UpdateSubscription(ctx, &eventsv1.UpdateSubscriptionRequest{SubscriptionId: s.GetSubscriptionId(), UpdateMask: mask("include_data"),
		Subscription: &eventsv1.Subscription{IncludeData: true, Version: s.GetVersion()}})
	if code(err) != codes.FailedPrecondition {
		t.Fatalf("switching data on for an unregistered host: %v", err)
	}
	f.exec(t, `UPDATE clients.organizations SET webhook_hosts = '{hooks.uwv.example, 127.0.0.1}' WHERE id = 'uwv-noord'`)
	if _, err := f.ev.UpdateSubscription(ctx, &eventsv1.UpdateSubscriptionRequest{SubscriptionId: s.GetSubscriptionId(), UpdateMask: mask("include_data"),
		Subscription: &eventsv1.Subscription{IncludeData: true, Version: s.GetVersion()}}); err != nil {
		t.Fatalf("data to a registered host: %v", err)
	}
}
