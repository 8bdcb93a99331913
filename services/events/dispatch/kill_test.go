package dispatch_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	"github.com/ipsbridge/ipsbridge/services/events/dispatch"
)

// TestMain doubles as a dispatcher process for TestKilledDispatcher, which
// needs one it can SIGKILL: the test binary re-executes itself with
// IPSB_DISPATCH_CHILD_DB set.
func TestMain(m *testing.M) {
	if url := os.Getenv("IPSB_DISPATCH_CHILD_DB"); url != "" {
		os.Exit(runChild(url, os.Getenv("IPSB_DISPATCH_CHILD_WORKER")))
	}
	os.Exit(m.Run())
}

func runChild(url, worker string) int {
	ctx := context.Background()
	pool, err := database.Connect(ctx, url, 8)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	az, err := authz.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cfg := killConfig(worker)
	if err := dispatch.New(cfg, pool, az, testplatform.Logger()).Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func killConfig(worker string) dispatch.Config {
	cfg := testConfig(worker)
	cfg.Concurrency, cfg.Batch, cfg.Lease, cfg.Timeout = 4, 16, 2*time.Second, time.Second
	return cfg
}

// Two dispatchers, one killed with SIGKILL in the middle of a batch: every
// event is still delivered at least once, none is lost.
func TestKilledDispatcher(t *testing.T) {
	f := newFixture(t)
	var clients []string
	for range 4 {
		clients = append(clients, f.enrol(t))
	}
	subID, secret := f.subscribe(t, "uwv-noord", "uwv", "", false)
	rc := newReceiver(t, secret)
	rc.respond = func(received, int) (int, http.Header) {
		time.Sleep(150 * time.Millisecond) // slow enough that a batch is in flight when the kill comes
		return http.StatusNoContent, nil
	}
	f.setURL(t, rc.srv.URL)
	const n = 48
	for i := range n {
		f.emit(t, placementEvent(clients[i%len(clients)], outbox.HoursChanged, i/len(clients)+1))
	}

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "IPSB_DISPATCH_CHILD_DB="+f.p.DatabaseURL, "IPSB_DISPATCH_CHILD_WORKER=doomed")
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	eventually(t, 20*time.Second, "the doomed dispatcher to be sending", func() bool { return len(rc.all()) >= 6 })
	if err := child.Process.Signal(os.Kill); err != nil { // SIGKILL: no cleanup, leases left behind
		t.Fatal(err)
	}
	_ = child.Wait()
	leased := f.one(t, `SELECT count(*)::text FROM events.deliveries WHERE lease_owner = 'doomed' AND state = 'pending'`)
	if leased == "0" {
		t.Fatalf("the kill did not interrupt a batch (nothing leased by the killed dispatcher)")
	}
	t.Logf("killed with %s deliveries leased and %d requests received", leased, len(rc.all()))

	f.run(t, killConfig("survivor"))
	eventually(t, 60*time.Second, "every delivery acknowledged", func() bool {
		return f.states(t, subID)["delivered"] == n
	})
	seen := map[string]int{}
	for _, r := range rc.all() {
		seen[r.WebhookID]++
	}
	if len(seen) != n {
		t.Fatalf("the receiver saw %d distinct events, want %d", len(seen), n)
	}
	dups := 0
	for _, c := range seen {
		dups += c - 1
	}
	// At least once: a request the killed dispatcher had sent may come
	// again; the lease (not the kill) decides when.
	t.Logf("%d events, %d received twice", n, dups)
	took, _ := strconv.Atoi(f.one(t, `SELECT count(DISTINCT d.id)::text FROM events.deliveries d JOIN events.attempts a ON a.delivery_id = d.id AND a.worker = 'survivor'`))
	if took == 0 {
		t.Fatalf("the survivor delivered nothing")
	}
}
