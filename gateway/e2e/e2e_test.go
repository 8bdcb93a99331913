// Package e2e runs the walking skeleton's scenario end to end: the clients
// service on a real PostgreSQL and the gateway, both on loopback sockets,
// driven through the REST API with real signed tokens.
package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	gwserver "github.com/ipsbridge/ipsbridge/gateway/server"
	"github.com/ipsbridge/ipsbridge/internal/authn/devkeys"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
)

type env struct {
	t    testing.TB
	p    *testplatform.Platform
	base string
}

func start(t *testing.T) *env {
	return startGateway(t, testplatform.Start(t), nil)
}

// startGateway starts the gateway in front of p's clients service; with
// adjusts the configuration to add the other services a test runs.
func startGateway(t testing.TB, p *testplatform.Platform, with func(*gwserver.Config)) *env {
	t.Helper()
	cfg := gwserver.DefaultConfig()
	cfg.ClientsAddr = p.ClientsAddr
	cfg.JWKSFile = devkeys.JWKSPath(p.KeyDir)
	if with != nil {
		with(&cfg)
	}
	gw, err := gwserver.New(cfg, testplatform.Logger())
	if err != nil {
		t.Fatal(err)
	}
	httpL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	grpcL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Serve(ctx, httpL, grpcL) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway: %v", err)
		}
	})
	return &env{t: t, p: p, base: "http://" + httpL.Addr().String()}
}

type reply struct {
	status int
	body   map[string]any
	raw    string
}

// do sends a request as a seeded user ("" = no token) and decodes the JSON
// answer.
func (e *env) do(method, path, user string, body any, headers ...string) reply {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+e.p.Token(e.t, user))
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

func (e *env) want(r reply, status int, what string) reply {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("%s: HTTP %d, want %d: %s", what, r.status, status, r.raw)
	}
	return r
}

func get(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

func TestWalkingSkeletonScenario(t *testing.T) {
	e := start(t)

	// An MHA employment specialist enrols a client.
	r := e.want(e.do("POST", "/v1/clients", "es-anna", map[string]any{
		"request_id": "e2e-enrol-0001",
		"client": map[string]any{
			"identity":   map[string]any{"given_name": "Sanne", "family_name": "Kuipers", "date_of_birth": "1991-04-12", "bsn": "111222333"},
			"trajectory": map[string]any{"team_id": "noord-team-a", "involved_organization_ids": []string{"uwv-noord"}},
		},
	}), 200, "enrol")
	id, _ := get(r.body, "client", "client_id").(string)
	if id == "" {
		t.Fatalf("no client id in %s", r.raw)
	}
	if bsn := get(r.body, "client", "identity", "bsn"); bsn != "******333" {
		t.Errorf("specialist sees BSN %v, want it masked", bsn)
	}

	// She records the client's consent for UWV: identity, trajectory, placements.
	e.want(e.do("POST", "/v1/clients/"+id+"/consents", "es-anna", map[string]any{
		"organization_id": "uwv-noord", "request_id": "e2e-consent-0001",
		"sections": []string{"SECTION_IDENTITY", "SECTION_TRAJECTORY", "SECTION_PLACEMENTS"},
	}), 200, "record consent")

	// And writes the work goals.
	wg := e.want(e.do("GET", "/v1/clients/"+id+"/workGoals", "es-anna", nil), 200, "read work goals")
	version := get(wg.body, "work_goals", "version")
	e.want(e.do("PATCH", "/v1/clients/"+id+"/workGoals?update_mask=goals,desired_hours_per_week", "es-anna", map[string]any{
		"goals": "Werken als kok, eerst 16 uur", "desired_hours_per_week": 16, "version": version,
	}), 200, "write work goals")

	// A clinician of the same team reads them.
	r = e.want(e.do("GET", "/v1/clients/"+id+"/workGoals", "cl-carla", nil), 200, "clinician reads work goals")
	if g := get(r.body, "work_goals", "goals"); g != "Werken als kok, eerst 16 uur" {
		t.Errorf("clinician reads goals %v", g)
	}

	// The UWV benefits officer reads identity with the BSN and the
	// trajectory, but not the work goals.
	r = e.want(e.do("GET", "/v1/clients/"+id, "uwv-gijs", nil), 200, "officer reads client")
	if bsn := get(r.body, "client", "identity", "bsn"); bsn != "111222333" {
		t.Errorf("officer sees BSN %v, want it in full", bsn)
	}
	if get(r.body, "client", "trajectory") == nil {
		t.Errorf("officer does not see the trajectory: %s", r.raw)
	}
	if get(r.body, "client", "work_goals") != nil || get(r.body, "client", "clinical_input") != nil {
		t.Errorf("officer sees work goals or clinical input: %s", r.raw)
	}
	e.want(e.do("GET", "/v1/clients/"+id+"/workGoals", "uwv-gijs", nil), 403, "officer reads work goals")

	// The consent is revoked; the officer's next read is refused.
	cs := e.want(e.do("GET", "/v1/clients/"+id+"/consents", "es-anna", nil), 200, "list consents")
	consents, _ := cs.body["consents"].([]any)
	if len(consents) != 3 {
		t.Fatalf("%d consents, want 3: %s", len(consents), cs.raw)
	}
	for _, c := range consents {
		cid := get(c.(map[string]any), "consent_id").(string)
		e.want(e.do("POST", "/v1/clients/"+id+"/consents/"+cid+":revoke", "es-anna", map[string]any{}), 200, "revoke")
	}
	e.want(e.do("GET", "/v1/clients/"+id, "uwv-gijs", nil), 404, "officer reads after revocation")
	e.want(e.do("GET", "/v1/clients/"+id+"/trajectory", "uwv-gijs", nil), 404, "officer reads trajectory after revocation")

	// A clinician of the other team and a user of another MHA do not find
	// the client.
	e.want(e.do("GET", "/v1/clients/"+id, "cl-daan", nil), 404, "clinician of other team")
	e.want(e.do("GET", "/v1/clients/"+id, "es-olaf", nil), 404, "specialist of other MHA")
	e.want(e.do("GET", "/v1/clients/"+id+"/workGoals", "cl-petra", nil), 404, "clinician of other MHA")

	// The MHA lists the audit trail with each of these accesses, denials
	// included.
	r = e.want(e.do("GET", "/v1/clients/"+id+"/accessEvents?page_size=100", "es-anna", nil), 200, "access events")
	events, _ := r.body["access_events"].([]any)
	type key struct{ actor, action, outcome, section string }
	seen := map[key]bool{}
	for _, ev := range events {
		m := ev.(map[string]any)
		secs, _ := m["sections"].([]any)
		sec := ""
		if len(secs) > 0 {
			sec = fmt.Sprint(secs[0])
		}
		seen[key{fmt.Sprint(m["actor_id"]), fmt.Sprint(m["action"]), fmt.Sprint(m["outcome"]), sec}] = true
		if m["request_id"] == "" || m["remote_address"] == "" {
			t.Errorf("event without request id or address: %v", m)
		}
	}
	for _, k := range []key{
		{"es-anna", "create", "allowed", "identity"},
		{"es-anna", "write", "allowed", "consent"},
		{"es-anna", "write", "allowed", "work_goals"},
		{"cl-carla", "read", "allowed", "work_goals"},
		{"uwv-gijs", "read", "allowed", "identity"},
		{"uwv-gijs", "read", "denied", "work_goals"},
		{"uwv-gijs", "read", "denied", ""},
		{"uwv-gijs", "read", "denied", "trajectory"},
		{"cl-daan", "read", "denied", ""},
		{"es-olaf", "read", "denied", ""},
		{"cl-petra", "read", "denied", "work_goals"},
	} {
		if !seen[k] {
			t.Errorf("audit trail lacks %+v; has %v", k, seen)
		}
	}
	// Outsiders cannot list the trail.
	e.want(e.do("GET", "/v1/clients/"+id+"/accessEvents", "uwv-gijs", nil), 403, "officer lists audit")
}

func TestBadInputOverREST(t *testing.T) {
	e := start(t)
	r := e.want(e.do("POST", "/v1/clients", "es-anna", map[string]any{
		"request_id": "e2e-bad-0001",
		"client": map[string]any{
			"identity":   map[string]any{"given_name": "Piet", "family_name": "Bos"},
			"trajectory": map[string]any{"team_id": "noord-team-a"},
		},
	}), 200, "enrol")
	id := get(r.body, "client", "client_id").(string)
	tv := get(r.body, "client", "trajectory", "version")

	expired, err := devkeys.Sign(e.p.KeyDir, devkeys.Claims{Subject: "es-anna", Org: "mha-noord", Role: "employment_specialist", IssuedAt: time.Now().Add(-2 * time.Hour)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	wrongAud, err := devkeys.Sign(e.p.KeyDir, devkeys.Claims{Subject: "es-anna", Org: "mha-noord", Role: "employment_specialist", Audience: "someone-else"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := devkeys.Sign(t.TempDir(), devkeys.Claims{Subject: "es-anna", Org: "mha-noord", Role: "employment_specialist"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, method, path, user string
		body                     any
		headers                  []string
		status                   int
		says                     string
	}{
		{"malformed JSON", "POST", "/v1/clients", "es-anna", `{"client": {`, nil, 400, ""},
		{"unknown field", "POST", "/v1/clients", "es-anna", `{"client": {"identity": {"nickname": "x"}}, "request_id": "e2e-bad-0002"}`, nil, 400, "nickname"},
		{"invalid BSN", "POST", "/v1/clients", "es-anna", map[string]any{"request_id": "e2e-bad-0003", "client": map[string]any{
			"identity": map[string]any{"given_name": "A", "family_name": "B", "bsn": "123456789"}, "trajectory": map[string]any{"team_id": "noord-team-a"}}}, nil, 400, "eleven-test"},
		{"oversized field", "POST", "/v1/clients", "es-anna", map[string]any{"request_id": "e2e-bad-0004", "client": map[string]any{
			"identity": map[string]any{"given_name": strings.Repeat("x", 300), "family_name": "B"}, "trajectory": map[string]any{"team_id": "noord-team-a"}}}, nil, 400, "given_name"},
		{"missing fields", "POST", "/v1/clients", "es-anna", map[string]any{"request_id": "e2e-bad-0005", "client": map[string]any{}}, nil, 400, "given_name"},
		{"unknown enum value", "POST", "/v1/clients/" + id + "/trajectory:transition", "es-anna", map[string]any{"phase": "PHASE_RETIRED", "version": tv}, nil, 400, ""},
		{"illegal phase transition", "POST", "/v1/clients/" + id + "/trajectory:transition", "es-anna", map[string]any{"phase": "PHASE_EMPLOYED", "version": tv}, nil, 400, "may move to intake"},
		{"stale version", "POST", "/v1/clients/" + id + "/trajectory:transition", "es-anna", map[string]any{"phase": "PHASE_INTAKE", "version": 99}, nil, 409, "version"},
		{"no token", "GET", "/v1/clients/" + id, "", nil, nil, 401, ""},
		{"expired token", "GET", "/v1/clients/" + id, "", nil, []string{"Authorization", "Bearer " + expired}, 401, "expired"},
		{"wrong audience", "GET", "/v1/clients/" + id, "", nil, []string{"Authorization", "Bearer " + wrongAud}, 401, "audience"},
		{"forged token", "GET", "/v1/clients/" + id, "", nil, []string{"Authorization", "Bearer " + forged}, 401, ""},
	}
	for _, tc := range cases {
		r := e.do(tc.method, tc.path, tc.user, tc.body, tc.headers...)
		if r.status != tc.status {
			t.Errorf("%s: HTTP %d, want %d: %s", tc.name, r.status, tc.status, r.raw)
			continue
		}
		msg, _ := r.body["message"].(string)
		if msg == "" && tc.status != 401 {
			t.Errorf("%s: no message in %s", tc.name, r.raw)
		}
		if tc.says != "" && !strings.Contains(r.raw, tc.says) {
			t.Errorf("%s: answer %s does not mention %q", tc.name, r.raw, tc.says)
		}
	}
	// Nothing was written: still one client, trajectory at its first version.
	var n int
	if err := e.p.Pool.QueryRow(context.Background(), `SELECT count(*) FROM clients.clients`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d clients after bad input, want 1", n)
	}
	r = e.want(e.do("GET", "/v1/clients/"+id+"/trajectory", "es-anna", nil), 200, "trajectory")
	if v := get(r.body, "trajectory", "version"); fmt.Sprint(v) != fmt.Sprint(tv) {
		t.Errorf("trajectory version %v after bad input, want %v", v, tv)
	}
}
