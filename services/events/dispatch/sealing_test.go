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
