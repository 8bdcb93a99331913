package dispatch_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/internal/webhook"
	"github.com/ipsbridge/ipsbridge/services/events/store"
)

// Issue 14, finding 8: signing secrets stored before sealing are sealed
// with the operator key (as the events service's migration does), nothing
// in the database opens without it, and the dispatcher signs with the
// opened secret.
func TestSealedSecretsStillSign(t *testing.T) {
	f := newFixture(t)
	client := f.enrol(t)
	subID, secret := f.subscribe(t, "uwv-noord", "uwv", "", false)
	rc := newReceiver(t, secret)
	f.setURL(t, rc.srv.URL)
	key, err := webhook.NewSealingKey()
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := webhook.ParseSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.SealSigningKeys(context.Background(), f.pool, sealer); err != nil {
		t.Fatal(err)
	}
	stored := f.one(t, `SELECT secret FROM events.signing_keys WHERE subscription_id = $1`, subID)
	if !strings.HasPrefix(stored, "sealed:v1:") || strings.Contains(stored, strings.TrimPrefix(secret.String(), "whsec_")) {
		t.Fatalf("stored secret %q is not sealed", stored)
	}
	// Sealed to its subscription: another subscription's row does not open.
	if _, err := sealer.Open(stored, "another-subscription"); err == nil {
		t.Fatalf("a sealed secret opened for another subscription")
	}
	f.emit(t, placementEvent(client, outbox.JobStarted, 1))
	cfg := testConfig("w1")
	cfg.Sealer = sealer
	f.run(t, cfg)
	// The receiver checks every signature against the secret: a delivery
	// signed with anything else would fail the test.
	eventually(t, 5*time.Second, "the delivery", func() bool {
		return f.one(t, `SELECT count(*)::text FROM events.deliveries WHERE subscription_id = $1 AND state = 'delivered'`, subID) == "1"
	})
	if len(rc.all()) != 1 {
		t.Fatalf("received %d", len(rc.all()))
	}
}

// Issue 14, finding 9: a delivery is audited on behalf of the person who
// made the subscription, and an endpoint that is no longer on a registered
// host gets the event without its data.
func TestDeliveriesAuditedForTheSubscriberAndDataOnlyToRegisteredHosts(t *testing.T) {
	f := newFixture(t)
	client := f.enrol(t)
	subID, secret := f.subscribe(t, "uwv-noord", "uwv", "", true)
	rc := newReceiver(t, secret)
	f.setURL(t, rc.srv.URL)
	if _, err := f.pool.Exec(context.Background(), `UPDATE events.subscriptions SET created_by = 'admin-uwv' WHERE id = $1`, subID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pool.Exec(context.Background(), `UPDATE clients.organizations SET webhook_hosts = '{hooks.uwv.example}' WHERE id = 'uwv-noord'`); err != nil {
		t.Fatal(err)
	}
	f.emit(t, placementEvent(client, outbox.JobStarted, 1))
	f.run(t, testConfig("w1"))
	eventually(t, 5*time.Second, "the delivery", func() bool { return len(rc.all()) == 1 })
	if d := rc.all()[0].Data.Data; len(d) != 0 {
		t.Errorf("data went to an unregistered host: %s", d)
	}
	eventually(t, 5*time.Second, "the audit record", func() bool {
		return f.one(t, `SELECT count(*)::text FROM audit.events WHERE action = 'deliver_event' AND client_id = $1
			AND actor_id = $2 AND on_behalf_of = 'admin-uwv' AND reason LIKE 'data withheld%'`, client, "subscription:"+subID) == "1"
	})
}
