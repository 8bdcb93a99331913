package e2e_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	gwserver "github.com/ipsbridge/ipsbridge/gateway/server"
	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/cloudevent"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/egress"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	"github.com/ipsbridge/ipsbridge/internal/webhook"
	benefitsapp "github.com/ipsbridge/ipsbridge/services/benefits/app"
	benefitsserver "github.com/ipsbridge/ipsbridge/services/benefits/server"
	empserver "github.com/ipsbridge/ipsbridge/services/employment/server"
	"github.com/ipsbridge/ipsbridge/services/events/dispatch"
	eventsserver "github.com/ipsbridge/ipsbridge/services/events/server"
	eventsstore "github.com/ipsbridge/ipsbridge/services/events/store"
)

// startWithEventSources starts the three services that write domain events
// (clients, employment, benefits) on one database, behind the gateway, and
// migrates the events schema the dispatcher works in. No dispatcher runs
// yet: see runDispatcher.
func startWithEventSources(t *testing.T) *env {
	t.Helper()
	p := testplatform.Start(t)
	ctx := context.Background()
	for _, ms := range [][]database.Migrations{
		empserver.Migrations,
		benefitsserver.Migrations,
		{audit.Migrations, outbox.Migrations, eventsstore.Migrations},
	} {
		if err := database.Migrate(ctx, p.Pool, ms...); err != nil {
			t.Fatalf("migrations: %v", err)
		}
	}
	az, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	emp, _, err := empserver.Build(empserver.Deps{Pool: p.RuntimePool(t, empserver.Runtime), Verifier: p.Verifier, Authz: az,
		Clients: testplatform.Dial(t, p.ClientsAddr), Logger: testplatform.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ben, _, err := benefitsserver.Build(benefitsserver.Deps{Pool: p.RuntimePool(t, benefitsserver.Runtime), Verifier: p.Verifier, Authz: az,
		Notifier: benefitsapp.TableNotifier{}, Logger: testplatform.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	ev, _, err := eventsserver.Build(eventsserver.Deps{Pool: p.RuntimePool(t, eventsserver.Runtime), Verifier: p.Verifier, Authz: az,
		Egress: egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, AllowHTTP: true},
		Sealer: e2eSealer, Logger: testplatform.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	empAddr, benAddr, evAddr := testplatform.Serve(t, emp), testplatform.Serve(t, ben), testplatform.Serve(t, ev)
	// The services' event consumers (the trajectory follows the jobs;
	// job changes reach the benefits counsellor and the payers), with a
	// relay of their own until runDispatcher starts the real one.
	p.FollowEvents(t, benefitsserver.Consumers(benefitsserver.Deps{Pool: p.Pool, Authz: az, Logger: testplatform.Logger()})...)
	return startGateway(t, p, func(c *gwserver.Config) { c.EmploymentAddr, c.BenefitsAddr, c.EventsAddr = empAddr, benAddr, evAddr })
}

// e2eSealer seals signing secrets and feed cursors as in production; the
// events service and the dispatcher share it.
var e2eSealer = func() *webhook.Sealer {
	s, err := webhook.NewSealer([]byte("e2e-sealing-key-32-bytes-long!!!"))
	if err != nil {
		panic(err)
	}
	return s
}()

// runDispatcher runs a dispatcher in-process until the test ends, with
// short polls and backoff and an egress policy that lets it reach the
// receivers on loopback over plain http.
func (e *env) runDispatcher() {
	e.t.Helper()
	az, err := authz.New()
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := dispatch.Config{
		Worker: "e2e", Concurrency: 8, Batch: 32, Timeout: 2 * time.Second, Lease: 3 * time.Second, Poll: 50 * time.Millisecond,
		Backoff: dispatch.Backoff{Base: 40 * time.Millisecond, Cap: 200 * time.Millisecond, MaxAge: time.Hour, MaxRetryAfter: time.Second},
		Egress:  egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, AllowHTTP: true},
		Sealer:  e2eSealer,
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := dispatch.New(cfg, e.p.RuntimePool(e.t, dispatch.Runtime), az, testplatform.Logger())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("dispatcher: %v", err)
		}
	})
}

// hook is one CloudEvent a partner's receiver accepted.
type hook struct {
	WebhookID string
	Event     cloudevent.Event
	Raw       string
	Data      struct {
		ClientID string          `json:"client_id"`
		Change   map[string]any  `json:"change"`
		Data     json.RawMessage `json:"data"`
	}
}

// partner is an organisation's subscription with its own receiver: an
// endpoint that verifies every request's signature with the
// subscription's secret (an invalid one fails the test), parses the
// CloudEvent and records it.
type partner struct {
	t      testing.TB
	org    string
	subID  string
	srv    *httptest.Server
	verify *webhook.Verifier
	mu     sync.Mutex
	got    []hook
}

// subscribePartner stores a verified subscription of org (of kind) in
// region-noord for every event type, with data, as the events service
// would after the handshake, and starts its receiver.
func (e *env) subscribePartner(org, kind string) *partner {
	e.t.Helper()
	secret, err := webhook.NewSecret()
	if err != nil {
		e.t.Fatal(err)
	}
	v, err := webhook.NewVerifier([]webhook.VerificationKey{secret})
	if err != nil {
		e.t.Fatal(err)
	}
	pt := &partner{t: e.t, org: org, subID: uuid.NewString(), verify: v}
	pt.srv = httptest.NewServer(http.HandlerFunc(pt.serve))
	e.t.Cleanup(pt.srv.Close)
	ctx := context.Background()
	err = pgx.BeginFunc(ctx, e.p.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO events.subscriptions (id, org_id, org_kind, region_id, url, include_data,
				created_by, verified_at) VALUES ($1, $2, $3, 'region-noord', $4, true, 'e2e', now())`,
			pt.subID, org, kind, pt.srv.URL); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO events.signing_keys (subscription_id, key_id, secret) VALUES ($1, 1, $2)`,
			pt.subID, secret.String())
		return err
	})
	if err != nil {
		e.t.Fatalf("subscribe %s: %v", org, err)
	}
	return pt
}

func (pt *partner) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := pt.verify.Verify(r.Header, body, time.Now()); err != nil {
		pt.t.Errorf("%s's receiver: invalid signature: %v", pt.org, err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != cloudevent.ContentType {
		pt.t.Errorf("%s's receiver: content type %q", pt.org, ct)
	}
	ev, err := cloudevent.Parse(body)
	if err != nil {
		pt.t.Errorf("%s's receiver: not a CloudEvent: %v", pt.org, err)
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	h := hook{WebhookID: r.Header.Get("webhook-id"), Event: ev, Raw: string(body)}
	if err := json.Unmarshal(ev.Data, &h.Data); err != nil {
		pt.t.Errorf("%s's receiver: data of %s: %v", pt.org, ev.Type, err)
	}
	pt.mu.Lock()
	pt.got = append(pt.got, h)
	pt.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// received returns the events received so far, a retried one (same
// webhook-id) once, in the order of first arrival.
func (pt *partner) received() []hook {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	seen := map[string]bool{}
	var out []hook
	for _, h := range pt.got {
		if !seen[h.WebhookID] {
			seen[h.WebhookID] = true
			out = append(out, h)
		}
	}
	return out
}

// pollUntil polls cond every 20 ms until it holds, failing the test when
// within passes first.
func pollUntil(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settled reports whether every event the services wrote has been relayed
// and every delivery decided (delivered, withheld or dead).
func (e *env) settled() bool {
	return e.count(`SELECT count(*) FROM outbox.events`) == 0 &&
		e.count(`SELECT count(*) FROM events.deliveries WHERE state = 'pending'`) == 0
}
