package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/cloudevent"
	"github.com/ipsbridge/ipsbridge/internal/database"
	"github.com/ipsbridge/ipsbridge/internal/egress"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	"github.com/ipsbridge/ipsbridge/internal/webhook"
	eventsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/events/v1"
	"github.com/ipsbridge/ipsbridge/services/events/server"
)

type fixture struct {
	p  *testplatform.Platform
	ev eventsv1.EventsServiceClient
}

// loopback is the egress policy of the tests: plain http to loopback, where
// the test receivers listen.
var loopback = egress.Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}, AllowHTTP: true}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	p := testplatform.Start(t)
	if err := database.Migrate(context.Background(), p.Pool, server.Migrations...); err != nil {
		t.Fatal(err)
	}
	f := &fixture{p: p}
	f.ev = f.serve(t, loopback)
	return f
}

// serve starts another events server on the same database with policy.
func (f *fixture) serve(t *testing.T, policy egress.Policy) eventsv1.EventsServiceClient {
	return f.serveSealed(t, policy, nil)
}

// serveSealed starts another events server that seals signing secrets with
// sealer.
func (f *fixture) serveSealed(t *testing.T, policy egress.Policy, sealer *webhook.Sealer) eventsv1.EventsServiceClient {
	t.Helper()
	az, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	srv, _, err := server.Build(server.Deps{Pool: f.p.Pool, Verifier: f.p.Verifier, Authz: az,
		Egress: policy, Sealer: sealer, Logger: testplatform.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	return eventsv1.NewEventsServiceClient(testplatform.Dial(t, testplatform.Serve(t, srv)))
}

func (f *fixture) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := f.p.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := f.p.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

func code(err error) codes.Code { return status.Code(err) }

// received is one request a receiver got.
type received struct {
	header http.Header
	body   []byte
	event  cloudevent.Event
}

// receiver is a partner's endpoint. answer decides the status and body of
// the reply to a handshake with the given challenge.
type receiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []received
}

func newReceiver(t *testing.T, answer func(challenge string) (int, string)) *receiver {
	t.Helper()
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		e, err := cloudevent.Parse(body)
		r.mu.Lock()
		r.got = append(r.got, received{header: req.Header.Clone(), body: body, event: e})
		r.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var d webhook.VerificationData
		_ = json.Unmarshal(e.Data, &d)
		code, reply := answer(d.Challenge)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, reply)
	}))
	t.Cleanup(r.Close)
	return r
}

// echo answers the handshake as the protocol asks.
func echo(challenge string) (int, string) {
	b, _ := json.Marshal(webhook.VerificationData{Challenge: challenge})
	return http.StatusOK, string(b)
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func (r *receiver) last(t *testing.T) received {
	t.Helper()
	got := r.requests()
	if len(got) == 0 {
		t.Fatal("the receiver got nothing")
	}
	return got[len(got)-1]
}

// verifies reports whether the request's signature checks out with key.
func (rc received) verifies(key webhook.VerificationKey) error {
	v, err := webhook.NewVerifier([]webhook.VerificationKey{key})
	if err != nil {
		return err
	}
	return v.Verify(rc.header, rc.body, rc.event.Time)
}
