package dispatch_test

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
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/cloudevent"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/egress"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	"github.com/ipsbridge/ipsbridge/internal/webhook"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	"github.com/ipsbridge/ipsbridge/services/events/dispatch"
	"github.com/ipsbridge/ipsbridge/services/events/store"
)

const region = "region-noord"

const unsetURL = "http://unset.invalid/"

type fixture struct {
	p       *testplatform.Platform
	pool    *pgxpool.Pool
	clients clientsv1.ClientsServiceClient
	az      *authz.Authorizer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	p := testplatform.Start(t)
	if err := database.Migrate(context.Background(), p.Pool, audit.Migrations, outbox.Migrations, store.Migrations); err != nil {
		t.Fatalf("events migrations: %v", err)
	}
	az, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{p: p, pool: p.Pool, clients: clientsv1.NewClientsServiceClient(testplatform.Dial(t, p.ClientsAddr)), az: az}
}

// enrol creates a client of es-anna's team with UWV and the municipality
// involved, and consents for both to see the trajectory, placements and
// benefits.
func (f *fixture) enrol(t testing.TB) string {
	t.Helper()
	anna := f.p.As(t, "es-anna")
	r, err := f.clients.CreateClient(anna, &clientsv1.CreateClientRequest{RequestId: uuid.NewString(), Client: &clientsv1.Client{
		Identity:   &clientsv1.Identity{GivenName: "Sanne", FamilyName: "Kok"},
		Trajectory: &clientsv1.Trajectory{TeamId: "noord-team-a", InvolvedOrganizationIds: []string{"uwv-noord", "gem-groningen"}},
	}})
	if err != nil {
		t.Fatalf("enrol: %v", err)
	}
	id := r.GetClient().GetClientId()
	for _, org := range []string{"uwv-noord", "gem-groningen"} {
		if _, err := f.clients.RecordConsent(anna, &clientsv1.RecordConsentRequest{ClientId: id, OrganizationId: org, RequestId: uuid.NewString(),
			Sections: []clientsv1.Section{clientsv1.Section_SECTION_TRAJECTORY, clientsv1.Section_SECTION_PLACEMENTS, clientsv1.Section_SECTION_BENEFITS}}); err != nil {
			t.Fatalf("consent for %s: %v", org, err)
		}
	}
	// The services' own events of this set-up are not what these tests
	// are about.
	if _, err := f.pool.Exec(context.Background(), `DELETE FROM outbox.events`); err != nil {
		t.Fatal(err)
	}
	return id
}

// subscribe stores a subscription directly (the API and its verification
// are tested with the events service) and returns its signing secret.
func (f *fixture) subscribe(t testing.TB, org, kind, url string, includeData bool, types ...outbox.Type) (string, webhook.Secret) {
	t.Helper()
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if url == "" {
		url = unsetURL // the receiver needs the secret first; setURL fills it in
	}
	id := uuid.NewString()
	ts := make([]string, len(types))
	for i, ty := range types {
		ts[i] = string(ty)
	}
	ctx := context.Background()
	err = pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO events.subscriptions (id, org_id, org_kind, region_id, url, event_types,
				include_data, created_by, verified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'test', now())`,
			id, org, kind, region, url, ts, includeData); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO events.signing_keys (subscription_id, key_id, secret) VALUES ($1, 1, $2)`, id, secret.String())
		return err
	})
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	return id, secret
}

// emit writes events as a service does: in a transaction of its own.
func (f *fixture) emit(t testing.TB, evs ...outbox.Event) {
	t.Helper()
	ctx := context.Background()
	if err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error { return outbox.Add(ctx, tx, "test", evs...) }); err != nil {
		t.Fatalf("emit: %v", err)
	}
}

func placementEvent(clientID string, typ outbox.Type, n int) outbox.Event {
	return outbox.Event{Type: typ, ClientID: clientID, RegionID: region, Subject: "placements/p1",
		Change: map[string]any{"placement_id": "p1", "n": n}, Data: map[string]any{"hours_per_week": 20, "n": n}}
}

func testConfig(worker string) dispatch.Config {
	return dispatch.Config{
		Worker: worker, Concurrency: 8, Batch: 32, Timeout: 2 * time.Second, Lease: 3 * time.Second, Poll: 50 * time.Millisecond,
		Backoff: dispatch.Backoff{Base: 40 * time.Millisecond, Cap: 200 * time.Millisecond, MaxAge: time.Hour, MaxRetryAfter: 5 * time.Second},
		Egress:  egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, AllowHTTP: true},
	}
}

// run starts a dispatcher until the test ends.
func (f *fixture) run(t testing.TB, cfg dispatch.Config) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d := dispatch.New(cfg, f.pool, f.az, testplatform.Logger())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dispatcher %s: %v", cfg.Worker, err)
		}
	})
}

// received is one request a receiver got.
type received struct {
	WebhookID string
	Event     cloudevent.Event
	Data      struct {
		ClientID string          `json:"client_id"`
		Change   map[string]any  `json:"change"`
		Data     json.RawMessage `json:"data"`
	}
	At time.Time
}

// receiver is a partner's endpoint: it verifies every signature (a bad
// one fails the test) and answers what respond says.
type receiver struct {
	t       testing.TB
	srv     *httptest.Server
	mu      sync.Mutex
	got     []received
	respond func(r received, nth int) (status int, header http.Header)
	verify  *webhook.Verifier
	// seen, when set, is called with every verified request.
	seen func(received)
}

func newReceiver(t testing.TB, secret webhook.Secret) *receiver {
	t.Helper()
	v, err := webhook.NewVerifier([]webhook.VerificationKey{secret})
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{t: t, verify: v}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := rc.verify.Verify(r.Header, body, time.Now()); err != nil {
		rc.t.Errorf("receiver: invalid signature: %v", err)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != cloudevent.ContentType {
		rc.t.Errorf("content type %q", ct)
	}
	ev, err := cloudevent.Parse(body)
	if err != nil {
		rc.t.Errorf("receiver: not a CloudEvent: %v", err)
		http.Error(w, "bad event", http.StatusBadRequest)
		return
	}
	got := received{WebhookID: r.Header.Get("webhook-id"), Event: ev, At: time.Now()}
	if err := json.Unmarshal(ev.Data, &got.Data); err != nil {
		rc.t.Errorf("receiver: data: %v", err)
	}
	if got.WebhookID != ev.ID {
		rc.t.Errorf("webhook-id %q is not the event id %q", got.WebhookID, ev.ID)
	}
	rc.mu.Lock()
	rc.got = append(rc.got, got)
	nth := 0
	for _, g := range rc.got {
		if g.WebhookID == got.WebhookID {
			nth++
		}
	}
	respond := rc.respond
	rc.mu.Unlock()
	if rc.seen != nil {
		rc.seen(got)
	}
	status, header := http.StatusNoContent, http.Header(nil)
	if respond != nil {
		status, header = respond(got, nth)
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// states counts a subscription's deliveries by state.
func (f *fixture) states(t testing.TB, subID string) map[string]int {
	t.Helper()
	rows, err := f.pool.Query(context.Background(), `SELECT state, count(*) FROM events.deliveries WHERE subscription_id = $1 GROUP BY state`, subID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = n
	}
	return out
}

func (f *fixture) one(t testing.TB, q string, args ...any) string {
	t.Helper()
	var s string
	if err := f.pool.QueryRow(context.Background(), q, args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return s
}
