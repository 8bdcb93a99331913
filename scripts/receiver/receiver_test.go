package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ipsbridge/ipsbridge/internal/cloudevent"
	"github.com/ipsbridge/ipsbridge/internal/webhook"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// lockedBuffer is stdout for the tests: written by the server's
// goroutines, read by the test's.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSuffix(b.buf.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

type fixture struct {
	srv    *httptest.Server
	out    *lockedBuffer
	signer *webhook.Signer
	seen   *seenIDs
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	secret, err := webhook.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := webhook.NewSigner(secret)
	if err != nil {
		t.Fatal(err)
	}
	v, err := webhook.NewVerifier([]webhook.VerificationKey{secret})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f := &fixture{out: &lockedBuffer{}, signer: signer, seen: newSeenIDs(time.Hour, 1000, log)}
	f.srv = httptest.NewServer(newReceiver(v, f.seen, 1<<16, f.out, log))
	t.Cleanup(f.srv.Close)
	return f
}

func event(id string) cloudevent.Event {
	return cloudevent.Event{
		SpecVersion: cloudevent.SpecVersion, ID: id, Source: "/ipsbridge/employment",
		Type: "nl.ipsbridge.placement.job_started.v1", Subject: "placements/p-1", Time: time.Now().UTC(),
		DataContentType: cloudevent.DataContentTypeJSON, Data: json.RawMessage(`{"placement_id":"p-1"}`),
		ClientID: "c-1", Sequence: "42",
	}
}

// deliver POSTs body signed for webhookID at ts, as the platform does, and
// returns the status and the response body.
func (f *fixture) deliver(t *testing.T, webhookID string, ts time.Time, body []byte, edit func(http.Header)) (int, string) {
	t.Helper()
	h, err := f.signer.Sign(webhookID, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	h.Set("Content-Type", cloudevent.ContentType)
	if edit != nil {
		edit(h)
	}
	req, err := http.NewRequest(http.MethodPost, f.srv.URL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = h
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func marshal(t *testing.T, e cloudevent.Event) []byte {
	t.Helper()
	b, err := cloudevent.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEventIsPrintedOnceAndReplaysAcknowledged(t *testing.T) {
	f := newFixture(t)
	body := marshal(t, event("e-1"))

	if code, msg := f.deliver(t, "e-1", time.Now(), body, nil); code != http.StatusNoContent {
		t.Fatalf("first delivery: %d %s", code, msg)
	}
	lines := f.out.lines()
	if len(lines) != 1 {
		t.Fatalf("printed %d lines, want 1: %q", len(lines), lines)
	}
	want := `{"id":"e-1","type":"nl.ipsbridge.placement.job_started.v1","clientid":"c-1","sequence":"42",` +
		`"subject":"placements/p-1","data":{"placement_id":"p-1"}}`
	if lines[0] != want {
		t.Errorf("printed\n%s\nwant\n%s", lines[0], want)
	}

	// The same message again, and a retry with a new timestamp and
	// signature: both acknowledged, neither printed.
	if code, msg := f.deliver(t, "e-1", time.Now(), body, nil); code != http.StatusNoContent {
		t.Errorf("replay: %d %s", code, msg)
	}
	if code, msg := f.deliver(t, "e-1", time.Now().Add(time.Minute), body, nil); code != http.StatusNoContent {
		t.Errorf("retry: %d %s", code, msg)
	}
	if n := len(f.out.lines()); n != 1 {
		t.Errorf("printed %d lines after the replays, want 1", n)
	}

	// Another id is another event.
	if code, _ := f.deliver(t, "e-2", time.Now(), marshal(t, event("e-2")), nil); code != http.StatusNoContent || len(f.out.lines()) != 2 {
		t.Errorf("second event: %d, %d lines", code, len(f.out.lines()))
	}
}

func TestRefusedDeliveries(t *testing.T) {
	f := newFixture(t)
	body := marshal(t, event("e-1"))
	for _, tc := range []struct {
		name   string
		ts     time.Time
		body   []byte
		edit   func(http.Header)
		status int
		reason string
	}{
		{"bad signature", time.Now(), body, func(h http.Header) {
			h.Set(webhook.HeaderSignature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
		}, http.StatusUnauthorized, "no matching webhook signature"},
		{"other id", time.Now(), body, func(h http.Header) { h.Set(webhook.HeaderID, "e-9") }, http.StatusUnauthorized, "no matching"},
		{"unsigned", time.Now(), body, func(h http.Header) { h.Del(webhook.HeaderSignature) }, http.StatusUnauthorized, "missing webhook headers"},
		{"expired", time.Now().Add(-time.Hour), body, nil, http.StatusUnauthorized, "too old"},
		{"from the future", time.Now().Add(time.Hour), body, nil, http.StatusUnauthorized, "too new"},
		{"plain JSON", time.Now(), body, func(h http.Header) { h.Set("Content-Type", "application/json") }, http.StatusUnsupportedMediaType, ""},
		{"signed, not an event", time.Now(), []byte(`{"hello":"world"}`), nil, http.StatusBadRequest, "invalid cloud event"},
		{"too large", time.Now(), bytes.Repeat([]byte(" "), 1<<16+1), nil, http.StatusRequestEntityTooLarge, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := f.deliver(t, "e-1", tc.ts, tc.body, tc.edit)
			if code != tc.status || !strings.Contains(msg, tc.reason) {
				t.Errorf("got %d %q, want %d with %q", code, msg, tc.status, tc.reason)
			}
		})
	}
	if lines := f.out.lines(); len(lines) != 0 {
		t.Errorf("printed %q", lines)
	}
	// None of the refused deliveries made the id known: the genuine one
	// is processed.
	if code, _ := f.deliver(t, "e-1", time.Now(), body, nil); code != http.StatusNoContent || len(f.out.lines()) != 1 {
		t.Errorf("genuine delivery after refusals: %d, %d lines", code, len(f.out.lines()))
	}

	resp, err := f.srv.Client().Get(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", resp.StatusCode)
	}
}

func TestVerificationHandshake(t *testing.T) {
	f := newFixture(t)
	challenge := webhook.VerificationChallenge()
	e := webhook.NewVerificationEvent("v-1", "/ipsbridge/subscriptions", "subscriptions/s-1", challenge, time.Now())
	for range 2 { // answered every time, not deduplicated
		code, answer := f.deliver(t, "v-1", time.Now(), marshal(t, e), nil)
		if code != http.StatusOK {
			t.Fatalf("handshake: %d %s", code, answer)
		}
		if err := webhook.CheckVerificationResponse([]byte(answer), challenge); err != nil {
			t.Error(err)
		}
	}
	if lines := f.out.lines(); len(lines) != 0 {
		t.Errorf("the handshake was printed: %q", lines)
	}
	// A new subscription's handshake is signed with a key the receiver
	// gets only afterwards: it is answered without a valid signature, and
	// an ordinary event with that signature is not.
	badSig := func(h http.Header) { h.Set(webhook.HeaderSignature, "v1,AAAA") }
	code, answer := f.deliver(t, "v-2", time.Now(), marshal(t, e), badSig)
	if code != http.StatusOK || webhook.CheckVerificationResponse([]byte(answer), challenge) != nil {
		t.Errorf("handshake before the key is known: %d %s", code, answer)
	}
	if code, _ := f.deliver(t, "e-9", time.Now(), marshal(t, event("e-9")), badSig); code != http.StatusUnauthorized {
		t.Errorf("an event with a bad signature: %d, want 401", code)
	}
	if lines := f.out.lines(); len(lines) != 0 {
		t.Errorf("printed: %q", lines)
	}
}

// Concurrent deliveries of one message (a retry racing a slow first
// attempt) print it once.
func TestConcurrentDuplicates(t *testing.T) {
	f := newFixture(t)
	body := marshal(t, event("e-1"))
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() {
			h, _ := f.signer.Sign("e-1", time.Now(), body)
			h.Set("Content-Type", cloudevent.ContentType)
			req, _ := http.NewRequest(http.MethodPost, f.srv.URL, bytes.NewReader(body))
			req.Header = h
			resp, err := f.srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i, c := range codes {
		if c != http.StatusNoContent {
			t.Errorf("delivery %d: %d", i, c)
		}
	}
	if n := len(f.out.lines()); n != 1 {
		t.Errorf("printed %d lines, want 1", n)
	}
}

func TestSeenIDs(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

	s := newSeenIDs(time.Minute, 3, log)
	if !s.claim("a", t0) || s.claim("a", t0.Add(time.Second)) {
		t.Fatal("a second claim of a succeeded, or the first failed")
	}
	// Forgotten once its window has passed.
	if !s.claim("a", t0.Add(time.Minute+time.Second)) {
		t.Error("a still known after its window")
	}

	// Bounded: the oldest goes first when full.
	s = newSeenIDs(time.Hour, 3, log)
	for _, id := range []string{"a", "b", "c", "d"} {
		s.claim(id, t0)
	}
	if s.len() != 3 || !s.claim("a", t0) || s.claim("d", t0) {
		t.Errorf("after four claims in a set of three: %d ids, or a kept, or d lost", s.len())
	}

	// A released id can be claimed again; its old claim does not evict the
	// new one when the set fills up.
	s = newSeenIDs(time.Hour, 2, log)
	s.claim("a", t0)
	s.release("a")
	if !s.claim("a", t0) {
		t.Fatal("released id not claimable")
	}
	s.claim("b", t0)
	if s.claim("a", t0) {
		t.Error("a forgotten because of its released claim")
	}
	if s.len() != 2 || len(s.order) > 2 {
		t.Errorf("%d ids, %d claims kept; want at most 2", s.len(), len(s.order))
	}
}

func TestParseConfig(t *testing.T) {
	secret, _ := webhook.NewSecret()
	_, pub, _ := webhook.NewKeyPair()
	env := func(vals map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := vals[k]; return v, ok }
	}

	cfg, err := parseConfig(nil, io.Discard, env(map[string]string{secretsEnv: secret.String() + "  " + pub.String()}))
	if err != nil || len(cfg.Keys) != 2 || cfg.Verify() != nil {
		t.Fatalf("two keys from the environment: %v, %d keys, %v", err, len(cfg.Keys), cfg.Verify())
	}
	cfg, err = parseConfig([]string{"-secrets", secret.String(), "-addr", "127.0.0.1:0"}, io.Discard, env(map[string]string{secretsEnv: pub.String() + " " + pub.String()}))
	if err != nil || len(cfg.Keys) != 1 || cfg.Addr != "127.0.0.1:0" {
		t.Errorf("-secrets over the environment: %v, %d keys", err, len(cfg.Keys))
	}

	// A bad key is named by position, never quoted.
	bad := secret.String()[:20]
	_, err = parseConfig(nil, io.Discard, env(map[string]string{secretsEnv: pub.String() + " " + bad}))
	if err == nil || !strings.Contains(err.Error(), "key 2") || strings.Contains(err.Error(), bad) {
		t.Errorf("bad key: %v", err)
	}

	for name, args := range map[string][]string{
		"window shorter than the skew": {"-secrets", secret.String(), "-dedupe-window", "1m"},
		"no memory":                    {"-secrets", secret.String(), "-dedupe-max", "0"},
	} {
		cfg, err := parseConfig(args, io.Discard, env(nil))
		if err == nil {
			err = cfg.Verify()
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// serve answers until its context ends, then finishes and returns nil.
func TestServeShutsDownGracefully(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release // a request still under way when shutdown begins
		w.WriteHeader(http.StatusNoContent)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, h, 5*time.Second, slog.New(slog.NewTextHandler(io.Discard, nil))) }()

	status := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+ln.Addr().String(), cloudevent.ContentType, strings.NewReader("{}"))
		if err != nil {
			t.Error(err)
			status <- 0
			return
		}
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	<-started
	cancel()
	time.Sleep(50 * time.Millisecond) // let Shutdown begin
	close(release)
	if code := <-status; code != http.StatusNoContent {
		t.Errorf("request under way at shutdown: %d", code)
	}
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("still listening after shutdown")
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestRunRefusesABadAddress(t *testing.T) {
	secret, _ := webhook.NewSecret()
	cfg, err := parseConfig([]string{"-addr", "127.0.0.1:-1", "-secrets", secret.String()}, io.Discard, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), cfg, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("run: %v", err)
	}
}
