package dispatch_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/outbox"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	"github.com/ipsbridge/ipsbridge/services/events/store"
	"github.com/ipsbridge/ipsbridge/services/events/visibility"
)

// A receiver that fails three times gets the event again each time, with
// the same webhook-id and a valid signature; once it acknowledges, never
// again. Every attempt is recorded.
func TestRetriedUntilAcknowledgedThenNeverAgain(t *testing.T) {
	f := newFixture(t)
	client := f.enrol(t)
	_, secret := f.subscribe(t, "uwv-noord", "uwv", "", false)
	rc := newReceiver(t, secret)
	rc.respond = func(_ received, nth int) (int, http.Header) {
		if nth <= 3 {
			return http.StatusInternalServerError, nil
		}
		return http.StatusNoContent, nil
	}
	f.setURL(t, rc.srv.URL)
	f.emit(t, placementEvent(client, outbox.JobStarted, 1))
	f.run(t, testConfig("w1"))

	eventually(t, 10*time.Second, "the fourth attempt", func() bool { return len(rc.all()) >= 4 })
	time.Sleep(400 * time.Millisecond) // several poll and backoff periods: no fifth
	got := rc.all()
	if len(got) != 4 {
		t.Fatalf("received %d times, want 4 (3 failures, 1 acknowledged)", len(got))
	}
	for _, g := range got {
		if g.WebhookID != got[0].WebhookID || g.Event.Type != string(outbox.JobStarted) || g.Event.ClientID != client {
			t.Fatalf("attempt differs: %+v", g)
		}
	}
	rows, err := f.pool.Query(context.Background(), `SELECT a.status_code FROM events.attempts a ORDER BY a.attempt`)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(codes, []int{500, 500, 500, 204}) {
		t.Fatalf("attempts recorded: %v", codes)
	}
	if s := f.one(t, `SELECT state FROM events.deliveries`); s != store.Delivered {
		t.Fatalf("state %s", s)
	}
	// The disclosure is in the audit log.
	if n := f.one(t, `SELECT count(*)::text FROM audit.events WHERE action = 'deliver_event' AND outcome = 'allowed' AND client_id = $1`, client); n != "1" {
		t.Fatalf("%s audit records of the delivery", n)
	}
}

func (f *fixture) setURL(t testing.TB, url string) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), `UPDATE events.subscriptions SET url = $1 WHERE url = $2`, url, unsetURL); err != nil {
		t.Fatal(err)
	}
}

// Retry-After postpones the next attempt; 410 Gone dead-letters the
// delivery and switches the subscription off; a delivery that keeps failing
// past the maximum age is dead-lettered with its reason.
func TestRetryAfterGoneAndDeadLetters(t *testing.T) {
	f := newFixture(t)
	client := f.enrol(t)

	slowID, slowSecret := f.subscribe(t, "uwv-noord", "uwv", "", false)
	slow := newReceiver(t, slowSecret)
	slow.respond = func(_ received, nth int) (int, http.Header) {
		if nth == 1 {
			return http.StatusServiceUnavailable, http.Header{"Retry-After": {"1"}}
		}
		return http.StatusOK, nil
	}
	f.setURL(t, slow.srv.URL)

	goneID, goneSecret := f.subscribe(t, "gem-groningen", "municipality", "", false)
	gone := newReceiver(t, goneSecret)
	gone.respond = func(received, int) (int, http.Header) { return http.StatusGone, nil }
	f.setURL(t, gone.srv.URL)

	f.emit(t, placementEvent(client, outbox.JobStarted, 1))
	cfg := testConfig("w1")
	f.run(t, cfg)

	eventually(t, 10*time.Second, "the retry after Retry-After", func() bool { return len(slow.all()) >= 2 })
	got := slow.all()
	if gap := got[1].At.Sub(got[0].At); gap < 900*time.Millisecond {
		t.Fatalf("retried after %s despite Retry-After: 1", gap)
	}
	eventually(t, 5*time.Second, "the 410 dead letter", func() bool { return f.states(t, goneID)[store.Dead] == 1 })
	if active := f.one(t, `SELECT active::text FROM events.subscriptions WHERE id = $1`, goneID); active != "false" {
		t.Fatalf("subscription still active after 410")
	}
	f.emit(t, placementEvent(client, outbox.HoursChanged, 2))
	eventually(t, 5*time.Second, "the second event", func() bool { return f.states(t, slowID)[store.Delivered] == 2 })
	if n := len(gone.all()); n != 1 {
		t.Fatalf("the switched-off endpoint received %d requests, want 1", n)
	}

	// Dead-lettered after the maximum age (short here).
	failID, failSecret := f.subscribe(t, "uwv-noord", "uwv", "", false)
	fail := newReceiver(t, failSecret)
	fail.respond = func(received, int) (int, http.Header) { return http.StatusBadGateway, nil }
	f.setURL(t, fail.srv.URL)
	short := testConfig("w2")
	short.Backoff.MaxAge = 300 * time.Millisecond
	f.run(t, short)
	f.emit(t, placementEvent(client, outbox.WageChanged, 3))
	eventually(t, 10*time.Second, "the dead letter", func() bool { return f.states(t, failID)[store.Dead] == 1 })
	reason := f.one(t, `SELECT reason FROM events.deliveries WHERE subscription_id = $1`, failID)
	if !strings.Contains(reason, "gave up after") || !strings.Contains(reason, "502") {
		t.Fatalf("dead letter reason %q", reason)
	}
	if n, _ := strconv.Atoi(f.one(t, `SELECT count(*)::text FROM events.attempts a JOIN events.deliveries d ON d.id = a.delivery_id WHERE d.subscription_id = $1`, failID)); n < 2 || n != len(fail.all()) {
		t.Fatalf("%d attempts recorded, %d received", n, len(fail.all()))
	}
}

// Order per client holds with concurrent writers (each taking the client's
// lock, as the services do), a receiver that fails now and then, and two
// dispatchers.
func TestOrderPerClientUnderConcurrentWrites(t *testing.T) {
	f := newFixture(t)
	clients := []string{f.enrol(t), f.enrol(t), f.enrol(t)}
	_, secret := f.subscribe(t, "uwv-noord", "uwv", "", false)
	rc := newReceiver(t, secret)
	var mu sync.Mutex
	failures := 0
	rc.respond = func(r received, nth int) (int, http.Header) {
		mu.Lock()
		defer mu.Unlock()
		if nth == 1 && len(r.WebhookID)%5 == 0 && failures < 30 { // some first attempts fail
			failures++
			return http.StatusInternalServerError, nil
		}
		return http.StatusNoContent, nil
	}
	f.setURL(t, rc.srv.URL)
	f.run(t, testConfig("w1"))
	f.run(t, testConfig("w2"))

	const perClient = 40
	ctx := context.Background()
	if _, err := f.pool.Exec(ctx, `CREATE TABLE test_seq (client_id text PRIMARY KEY, n int NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perClient / 2 {
				client := clients[(w+i)%len(clients)]
				err := pgx.BeginFunc(ctx, f.pool, func(tx pgx.Tx) error {
					// The client's lock, then the next number: the order of
					// the changes to one client.
					if _, err := tx.Exec(ctx, `SELECT 1 FROM clients.trajectories WHERE client_id = $1 FOR UPDATE`, client); err != nil {
						return err
					}
					seq, err := nextSeq(ctx, tx, client)
					if err != nil {
						return err
					}
					return outbox.Add(ctx, tx, "test", placementEvent(client, outbox.HoursChanged, seq))
				})
				if err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	total := 6 * (perClient / 2)
	eventually(t, 30*time.Second, "every event acknowledged", func() bool {
		return f.one(t, `SELECT count(*)::text FROM events.deliveries WHERE state = 'delivered'`) == strconv.Itoa(total)
	})
	// Per client, each request is the last one again (a retry) or the
	// next in the order of the changes: never a later one before an
	// earlier one.
	last := map[string]int{}
	for _, g := range rc.all() {
		n := int(g.Data.Change["n"].(float64))
		if prev := last[g.Event.ClientID]; n != prev && n != prev+1 {
			t.Fatalf("client %s: change %d arrived after %d", g.Event.ClientID, n, prev)
		}
		last[g.Event.ClientID] = n
	}
	for _, c := range clients {
		if last[c] != total/len(clients) {
			t.Fatalf("client %s: last change %d, want %d", c, last[c], total/len(clients))
		}
	}
	if failures == 0 {
		t.Log("no failures were injected; ordering under retries not exercised")
	}
}

// nextSeq numbers a client's changes under its lock (held by the caller's
// transaction), from a table the test owns.
func nextSeq(ctx context.Context, tx pgx.Tx, client string) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `INSERT INTO test_seq (client_id, n) VALUES ($1, 1)
		ON CONFLICT (client_id) DO UPDATE SET n = test_seq.n + 1 RETURNING n`, client).Scan(&n)
	return n, err
}

// An event whose transaction took a lower id and committed later than
// another's is still delivered, and gets the later position.
func TestLateCommitWithLowerIDIsDelivered(t *testing.T) {
	f := newFixture(t)
	clientA, clientB := f.enrol(t), f.enrol(t)
	_, secret := f.subscribe(t, "uwv-noord", "uwv", "", false)
	rc := newReceiver(t, secret)
	f.setURL(t, rc.srv.URL)
	f.run(t, testConfig("w1"))

	ctx := context.Background()
	slow, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Rollback(ctx) //nolint:errcheck
	if err := outbox.Add(ctx, slow, "test", placementEvent(clientA, outbox.JobStarted, 1)); err != nil {
		t.Fatal(err)
	}
	f.emit(t, placementEvent(clientB, outbox.JobStarted, 2)) // higher id, commits first
	eventually(t, 5*time.Second, "the early commit", func() bool { return len(rc.all()) == 1 })
	if err := slow.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the late commit", func() bool { return len(rc.all()) == 2 })
	got := rc.all()
	if got[0].Event.ClientID != clientB || got[1].Event.ClientID != clientA {
		t.Fatalf("order %s, %s", got[0].Event.ClientID, got[1].Event.ClientID)
	}
	if got[0].Event.Sequence != "1" || got[1].Event.Sequence != "2" {
		t.Fatalf("positions %s, %s: want 1, 2 (gapless, in commit order)", got[0].Event.Sequence, got[1].Event.Sequence)
	}
}

// Consent revoked between the relay and the delivery: nothing is sent, the
// delivery is gone without a trace the organisation can see, and the audit
// log has the refusal with its reason.
func TestConsentRevokedBeforeDeliveryWithholds(t *testing.T) {
	f := newFixture(t)
	client := f.enrol(t)
	subID, secret := f.subscribe(t, "uwv-noord", "uwv", "", true)
	rc := newReceiver(t, secret)
	f.setURL(t, rc.srv.URL)

	f.emit(t, placementEvent(client, outbox.JobStarted, 1))
	// Relayed while UWV may see it: a pending delivery.
	if r, err := store.New(f.pool).Relay(context.Background(), 100, visibility.New(f.pool, f.az)); err != nil || r.Deliveries != 1 {
		t.Fatalf("relay: %+v %v", r, err)
	}
	consentID := f.one(t, `SELECT id::text FROM clients.consents WHERE client_id = $1 AND org_id = 'uwv-noord' AND section = 'placements' AND revoked_at IS NULL`, client)
	if _, err := f.clients.RevokeConsent(f.p.As(t, "es-anna"), &clientsv1.RevokeConsentRequest{ClientId: client, ConsentId: consentID}); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if _, err := f.pool.Exec(context.Background(), `DELETE FROM outbox.events WHERE type <> $1`, string(outbox.JobStarted)); err != nil {
		t.Fatal(err)
	}
	// A trajectory event still goes: the dispatcher ran and decided.
	f.emit(t, outbox.Event{Type: outbox.PhaseChanged, ClientID: client, RegionID: region, Subject: "trajectory",
		Change: map[string]any{"from": "job_search", "to": "employed"}})
	f.run(t, testConfig("w1"))
	eventually(t, 5*time.Second, "both deliveries decided", func() bool {
		s := f.states(t, subID)
		return s[store.Delivered] == 1 && s[store.Pending] == 0
	})
	for _, g := range rc.all() {
		if g.Event.Type == string(outbox.JobStarted) {
			t.Fatalf("a placement event was delivered after the placements consent was revoked")
		}
	}
	if n := f.one(t, `SELECT count(*)::text FROM events.deliveries WHERE subscription_id = $1`, subID); n != "1" {
		t.Fatalf("%s deliveries kept, want only the delivered one", n)
	}
	reason := f.one(t, `SELECT reason FROM audit.events WHERE action = 'deliver_event' AND outcome = 'denied' AND client_id = $1`, client)
	if !strings.Contains(reason, "consent") {
		t.Fatalf("the audited refusal %q does not mention consent", reason)
	}
}

// The municipality's subscription never receives UWV's benefit data, and
// a subscriber gets section data only when it asked for it.
func TestPayersReceiveOnlyTheirOwnBenefits(t *testing.T) {
	f := newFixture(t)
	client := f.enrol(t)
	_, uwvSecret := f.subscribe(t, "uwv-noord", "uwv", "", true)
	uwv := newReceiver(t, uwvSecret)
	f.setURL(t, uwv.srv.URL)
	gemID, gemSecret := f.subscribe(t, "gem-groningen", "municipality", "", true)
	gem := newReceiver(t, gemSecret)
	f.setURL(t, gem.srv.URL)
	_, thinSecret := f.subscribe(t, "gem-groningen", "municipality", "", false)
	thin := newReceiver(t, thinSecret)
	f.setURL(t, thin.srv.URL)

	decision := func(payer, benefit string, cents int) outbox.Event {
		return outbox.Event{Type: outbox.BenefitDecisionReceived, ClientID: client, RegionID: region, PayerOrgID: payer,
			Subject: "benefits/" + benefit, Change: map[string]any{"benefit_id": benefit, "decision": "adjusted"},
			Data: map[string]any{"benefit_id": benefit, "monthly_amount_cents": cents}}
	}
	f.emit(t, decision("uwv-noord", "wia-1", 123456))
	f.emit(t, decision("gem-groningen", "pw-1", 65432))
	f.emit(t, outbox.Event{Type: outbox.CounsellingRequested, ClientID: client, RegionID: region, Subject: "counselling-requests/r1",
		Change: map[string]any{"request_id": "r1"}})
	f.run(t, testConfig("w1"))
	eventually(t, 5*time.Second, "all decided", func() bool { // 3 events × 3 subscriptions, less each payer's benefit for the other's subscriptions
		return f.one(t, `SELECT count(*)::text FROM events.deliveries WHERE state <> 'pending'`) == "6"
	})
	ids := func(rs []received) (out []string) {
		for _, r := range rs {
			if b, ok := r.Data.Change["benefit_id"].(string); ok {
				out = append(out, b)
			} else {
				out = append(out, r.Event.Type)
			}
		}
		return out
	}
	if got := ids(uwv.all()); !slices.Equal(got, []string{"wia-1", string(outbox.CounsellingRequested)}) {
		t.Fatalf("UWV received %v", got)
	}
	if got := ids(gem.all()); !slices.Equal(got, []string{"pw-1", string(outbox.CounsellingRequested)}) {
		t.Fatalf("the municipality received %v", got)
	}
	for _, r := range gem.all() {
		if strings.Contains(string(r.Event.Data), "123456") || strings.Contains(string(r.Event.Data), "wia-1") {
			t.Fatalf("UWV benefit data reached the municipality: %s", r.Event.Data)
		}
	}
	if d := gem.all()[0].Data.Data; !strings.Contains(string(d), "65432") {
		t.Fatalf("the municipality asked for data and got %s", d)
	}
	if d := thin.all()[0].Data.Data; len(d) != 0 {
		t.Fatalf("a thin subscription got data %s", d)
	}
	// No trace of UWV's decision in the municipality's deliveries.
	if n := f.one(t, `SELECT count(*)::text FROM events.deliveries d JOIN events.log l USING (position)
		WHERE d.subscription_id = $1 AND l.payer_org_id NOT IN ('', 'gem-groningen')`, gemID); n != "0" {
		t.Fatalf("%s deliveries of another payer's benefit for the municipality", n)
	}
}

// Consent events go only to the organisation they concern.
func TestConsentEventsGoToTheOrganisationConcerned(t *testing.T) {
	f := newFixture(t)
	client := f.enrol(t)
	_, uwvSecret := f.subscribe(t, "uwv-noord", "uwv", "", false, outbox.ConsentGiven)
	uwv := newReceiver(t, uwvSecret)
	f.setURL(t, uwv.srv.URL)
	_, gemSecret := f.subscribe(t, "gem-groningen", "municipality", "", false, outbox.ConsentGiven)
	gem := newReceiver(t, gemSecret)
	f.setURL(t, gem.srv.URL)
	f.emit(t, outbox.Event{Type: outbox.ConsentGiven, ClientID: client, RegionID: region, Subject: "consents/uwv-noord/placements",
		Change: map[string]any{"organization_id": "uwv-noord", "section": "placements"}})
	f.emit(t, placementEvent(client, outbox.JobStarted, 1)) // not subscribed
	f.run(t, testConfig("w1"))
	eventually(t, 5*time.Second, "decided", func() bool {
		return f.one(t, `SELECT count(*)::text FROM events.deliveries WHERE state <> 'pending'`) == "1"
	})
	if n := f.one(t, `SELECT count(*)::text FROM events.deliveries`); n != "1" {
		t.Fatalf("%s deliveries, want only UWV's", n)
	}
	if len(uwv.all()) != 1 || len(gem.all()) != 0 {
		t.Fatalf("UWV got %d, the municipality %d consent events; want 1 and 0", len(uwv.all()), len(gem.all()))
	}
}
