package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/ipsbridge/ipsbridge/gateway/server"
	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authn/devkeys"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const clientID = "7f9c2a4e-1b3d-4c5e-8f60-123456789abc"

// fakeClients echoes what reached it: the verified caller and the metadata
// the gateway forwarded.
type fakeClients struct {
	clientsv1.UnimplementedClientsServiceServer
}

func (fakeClients) GetClient(ctx context.Context, req *clientsv1.GetClientRequest) (*clientsv1.GetClientResponse, error) {
	p, ok := authn.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "no principal")
	}
	md, _ := metadata.FromIncomingContext(ctx)
	first := func(k string) string {
		if v := md.Get(k); len(v) > 0 {
			return strings.Join(v, ",")
		}
		return ""
	}
	return &clientsv1.GetClientResponse{Client: &clientsv1.Client{
		ClientId:          req.GetClientId(),
		RegionId:          p.Subject,
		MhaOrganizationId: p.OrgID,
		WorkGoals: &clientsv1.WorkGoals{
			Preferences:   first("x-request-id"),
			Goals:         first("x-purpose"),
			Strengths:     first("x-forwarded-for"),
			SupportWishes: first("idempotency-key"),
		},
	}}, nil
}

// echoDesc is a bidirectional streaming method in the clients package, so
// the proxy routes it to the clients backend: it answers every message with
// "<subject>:<message>", and a message "fail" with NOT_FOUND.
var echoDesc = grpc.ServiceDesc{
	ServiceName: "ipsbridge.clients.v1.TestEcho",
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{{
		StreamName:    "Chat",
		ServerStreams: true,
		ClientStreams: true,
		Handler: func(_ any, ss grpc.ServerStream) error {
			p, _ := authn.FromContext(ss.Context())
			if err := ss.SendHeader(metadata.Pairs("x-echo", "hello")); err != nil {
				return err
			}
			for {
				in := new(wrapperspb.StringValue)
				if err := ss.RecvMsg(in); err != nil {
					if errors.Is(err, io.EOF) {
						ss.SetTrailer(metadata.Pairs("x-echo-done", "yes"))
						return nil
					}
					return err
				}
				if in.GetValue() == "fail" {
					return status.Error(codes.NotFound, "no such thing")
				}
				if err := ss.SendMsg(wrapperspb.String(p.Subject + ":" + in.GetValue())); err != nil {
					return err
				}
			}
		},
	}},
}

type env struct {
	keyDir      string
	backendAddr string
	httpURL     string
	grpcAddr    string
	health      *health.Server // the backend's
	http        *http.Client
	logs        *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startBackend runs the fake clients service, verifying tokens as a real
// service does.
func startBackend(t *testing.T, jwksFile string) (string, *health.Server) {
	t.Helper()
	v, err := authn.NewVerifier(context.Background(), authn.Config{
		Issuer: devkeys.DevIssuer, Audience: devkeys.DevAudience, JWKSFile: jwksFile,
	})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(authn.UnaryServerInterceptor(v)),
		grpc.ChainStreamInterceptor(authn.StreamServerInterceptor(v)),
	)
	clientsv1.RegisterClientsServiceServer(srv, fakeClients{})
	srv.RegisterService(&echoDesc, struct{}{})
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
		v.Close()
	})
	return lis.Addr().String(), hs
}

// startGateway runs a gateway in front of clientsAddr on loopback listeners.
func startGateway(t *testing.T, keyDir, clientsAddr string, edits ...func(*server.Config)) *env {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.ClientsAddr = clientsAddr
	cfg.JWKSFile = devkeys.JWKSPath(keyDir)
	cfg.ShutdownTimeout = 5 * time.Second
	for _, edit := range edits {
		edit(&cfg)
	}
	logs := &syncBuffer{}
	s, err := server.New(cfg, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
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
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, httpL, grpcL) }()

	tr := &http.Transport{}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		cancel()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("gateway did not shut down")
		}
	})
	return &env{
		keyDir:   keyDir,
		httpURL:  "http://" + httpL.Addr().String(),
		grpcAddr: grpcL.Addr().String(),
		http:     &http.Client{Transport: tr, Timeout: 10 * time.Second},
		logs:     logs,
	}
}

func setup(t *testing.T, edits ...func(*server.Config)) *env {
	t.Helper()
	keyDir := filepath.Join(t.TempDir(), "devkeys")
	if err := devkeys.Ensure(keyDir); err != nil {
		t.Fatal(err)
	}
	addr, hs := startBackend(t, devkeys.JWKSPath(keyDir))
	e := startGateway(t, keyDir, addr, edits...)
	e.backendAddr = addr
	e.health = hs
	return e
}

func (e *env) token(t *testing.T, c devkeys.Claims) string {
	t.Helper()
	tok, err := devkeys.Sign(e.keyDir, c, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (e *env) anna(t *testing.T) string {
	return e.token(t, devkeys.Claims{Subject: "es-anna", Name: "Anna de Vries", Org: "mha-noord", Role: "employment_specialist", Teams: []string{"noord-team-a"}})
}

// expired signs a token that ran out an hour ago with the dev key.
func (e *env) expired(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(e.keyDir, devkeys.PrivateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	key, err := jwk.ParseKey(data)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	payload, _ := json.Marshal(map[string]any{
		"iss": devkeys.DevIssuer, "aud": devkeys.DevAudience, "sub": "es-anna", "org": "mha-noord",
		"role": "employment_specialist", "iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix(),
	})
	out, err := jws.Sign(payload, jws.WithKey(jwa.ES256(), key))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func (e *env) do(t *testing.T, method, path, token string, body io.Reader, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.httpURL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

type rpcStatus struct {
	Code    int               `json:"code"`
	Message string            `json:"message"`
	Details []json.RawMessage `json:"details"`
}

func decodeStatus(t *testing.T, data []byte) rpcStatus {
	t.Helper()
	var st rpcStatus
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("error body %q: %v", data, err)
	}
	if !bytes.Contains(data, []byte(`"details"`)) {
		t.Errorf("error body %s lacks details", data)
	}
	return st
}

func TestRESTAuthentication(t *testing.T) {
	e := setup(t)
	wrongAud := e.token(t, devkeys.Claims{Subject: "es-anna", Org: "mha-noord", Role: "employment_specialist", Audience: "someone-else"})

	tests := []struct {
		name      string
		header    string
		message   string
		challenge string
	}{
		{"no header", "", "missing bearer token", `Bearer realm="ipsbridge"`},
		{"not bearer", "Basic dXNlcjpwYXNz", "authorization is not a bearer token",
			`Bearer realm="ipsbridge", error="invalid_token", error_description="authorization is not a bearer token"`},
		{"garbage", "Bearer garbage", "token malformed: not a compact JWS",
			`Bearer realm="ipsbridge", error="invalid_token", error_description="token malformed: not a compact JWS"`},
		{"expired", "Bearer " + e.expired(t), "token expired",
			`Bearer realm="ipsbridge", error="invalid_token", error_description="token expired"`},
		{"wrong audience", "Bearer " + wrongAud, `token audience "someone-else" is not "ipsbridge"`,
			`Bearer realm="ipsbridge", error="invalid_token", error_description="token audience 'someone-else' is not 'ipsbridge'"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.header != "" {
				hdr["Authorization"] = tt.header
			}
			resp, body := e.do(t, "GET", "/v1/clients/"+clientID, "", nil, hdr)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status = %d, body %s", resp.StatusCode, body)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate = %q, want %q", got, tt.challenge)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			st := decodeStatus(t, body)
			if st.Code != int(codes.Unauthenticated) || st.Message != tt.message {
				t.Errorf("body = %+v, want code 16 %q", st, tt.message)
			}
		})
	}
}

func TestRESTGetClient(t *testing.T) {
	e := setup(t)
	resp, body := e.do(t, "GET", "/v1/clients/"+clientID, e.anna(t), nil, map[string]string{
		"X-Purpose":       "intake interview",
		"Idempotency-Key": "idem-42",
	})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, body %s", resp.StatusCode, body)
	}
	reqID := resp.Header.Get("X-Request-Id")
	if _, err := uuid.Parse(reqID); err != nil {
		t.Errorf("generated request id %q is not a UUID", reqID)
	}
	var got struct {
		Client struct {
			ClientID          string `json:"client_id"`
			RegionID          string `json:"region_id"`
			MhaOrganizationID string `json:"mha_organization_id"`
			WorkGoals         struct {
				Preferences   string `json:"preferences"`
				Goals         string `json:"goals"`
				Strengths     string `json:"strengths"`
				SupportWishes string `json:"support_wishes"`
			} `json:"work_goals"`
		} `json:"client"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	c := got.Client
	if c.ClientID != clientID || c.RegionID != "es-anna" || c.MhaOrganizationID != "mha-noord" {
		t.Errorf("client = %+v (body %s)", c, body)
	}
	if c.WorkGoals.Preferences != reqID {
		t.Errorf("backend saw request id %q, response says %q", c.WorkGoals.Preferences, reqID)
	}
	if c.WorkGoals.Goals != "intake interview" {
		t.Errorf("backend saw purpose %q", c.WorkGoals.Goals)
	}
	if !strings.Contains(c.WorkGoals.Strengths, "127.0.0.1") {
		t.Errorf("backend saw x-forwarded-for %q", c.WorkGoals.Strengths)
	}
	if c.WorkGoals.SupportWishes != "idem-42" {
		t.Errorf("backend saw idempotency key %q", c.WorkGoals.SupportWishes)
	}
	// Unset messages are left out, names are the proto names; empty lists
	// and zero scalars are present, so clients need no nil checks.
	if bytes.Contains(body, []byte(`"identity"`)) || bytes.Contains(body, []byte(`clientId`)) {
		t.Errorf("body %s has unpopulated or camelCase fields", body)
	}
	for _, want := range []string{`"readable_sections":[]`, `"preferred_occupations":[]`, `"desired_hours_per_week":0`} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("body %s lacks %s", body, want)
		}
	}

	// The access log names the request and the caller.
	var found bool
	for line := range strings.SplitSeq(e.logs.String(), "\n") {
		if strings.Contains(line, `"msg":"http request"`) && strings.Contains(line, reqID) {
			found = strings.Contains(line, `"subject":"es-anna"`) && strings.Contains(line, `"status":200`) &&
				strings.Contains(line, `"path":"/v1/clients/`+clientID+`"`)
		}
	}
	if !found {
		t.Errorf("no access log line for %s in\n%s", reqID, e.logs.String())
	}
}

func TestRESTRequestID(t *testing.T) {
	e := setup(t)
	tok := e.anna(t)
	for _, tt := range []struct{ in, want string }{
		{"abc-123_x.y", "abc-123_x.y"},
		{strings.Repeat("a", 128), strings.Repeat("a", 128)},
		{"has space", ""},
		{strings.Repeat("a", 129), ""},
		{"", ""},
	} {
		hdr := map[string]string{}
		if tt.in != "" {
			hdr["X-Request-Id"] = tt.in
		}
		resp, body := e.do(t, "GET", "/v1/clients/"+clientID, tok, nil, hdr)
		got := resp.Header.Get("X-Request-Id")
		if tt.want != "" && got != tt.want {
			t.Errorf("X-Request-Id %q: echoed %q", tt.in, got)
		}
		if tt.want == "" {
			if _, err := uuid.Parse(got); err != nil {
				t.Errorf("X-Request-Id %q: replacement %q is not a UUID", tt.in, got)
			}
		}
		var echoed struct {
			Client struct {
				WorkGoals struct {
					Preferences string `json:"preferences"`
				} `json:"work_goals"`
			} `json:"client"`
		}
		if err := json.Unmarshal(body, &echoed); err != nil || echoed.Client.WorkGoals.Preferences != got {
			t.Errorf("X-Request-Id %q: backend did not see %q: %s", tt.in, got, body)
		}
	}
	// Unauthenticated answers carry a request id too.
	resp, _ := e.do(t, "GET", "/v1/clients/"+clientID, "", nil, nil)
	if resp.Header.Get("X-Request-Id") == "" {
		t.Error("401 without X-Request-Id")
	}
}

func TestRESTBadRequests(t *testing.T) {
	e := setup(t)
	tok := e.anna(t)
	post := func(body io.Reader, hdr map[string]string) (*http.Response, rpcStatus) {
		resp, data := e.do(t, "POST", "/v1/clients", tok, body, hdr)
		return resp, decodeStatus(t, data)
	}

	resp, st := post(strings.NewReader(`{"client":{"identity":{"given_name":"Ada"}},"bogus_field":1}`), nil)
	if resp.StatusCode != http.StatusBadRequest || st.Code != int(codes.InvalidArgument) || !strings.Contains(st.Message, "bogus_field") {
		t.Errorf("unknown field: %d %+v", resp.StatusCode, st)
	}
	resp, st = post(strings.NewReader(`{"client":`), nil)
	if resp.StatusCode != http.StatusBadRequest || st.Code != int(codes.InvalidArgument) || st.Message == "" {
		t.Errorf("malformed JSON: %d %+v", resp.StatusCode, st)
	}

	big := `{"client":{"identity":{"given_name":"` + strings.Repeat("x", server.MaxBodyBytes) + `"}}}`
	resp, st = post(strings.NewReader(big), nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || st.Code != int(codes.InvalidArgument) {
		t.Errorf("large body with Content-Length: %d %+v", resp.StatusCode, st)
	}
	// Without Content-Length (chunked) the limit bites while decoding.
	resp, st = post(io.MultiReader(strings.NewReader(big)), nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || st.Code != int(codes.InvalidArgument) {
		t.Errorf("large chunked body: %d %+v", resp.StatusCode, st)
	}

	// A well-formed request reaches the backend, whose status maps to HTTP.
	resp, st = post(strings.NewReader(`{"client":{"identity":{"given_name":"Ada"}}}`), nil)
	if resp.StatusCode != http.StatusNotImplemented || st.Code != int(codes.Unimplemented) {
		t.Errorf("unimplemented backend method: %d %+v", resp.StatusCode, st)
	}

	resp, st = post(strings.NewReader(`{}`), map[string]string{"X-Purpose": "gesprek met cliënt"})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(st.Message, "X-Purpose") {
		t.Errorf("bad purpose: %d %+v", resp.StatusCode, st)
	}
	resp, st = post(strings.NewReader(`{}`), map[string]string{"Idempotency-Key": "no spaces please"})
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(st.Message, "Idempotency-Key") {
		t.Errorf("bad idempotency key: %d %+v", resp.StatusCode, st)
	}

	resp, data := e.do(t, "GET", "/nowhere", "", nil, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path: %d %s", resp.StatusCode, data)
	}
	resp, data = e.do(t, "GET", "/v1/nowhere", tok, nil, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown API path: %d %s", resp.StatusCode, data)
	}
}

// TestRESTDecodingErrors: a body or query parameter the gateway cannot
// decode is answered with INVALID_ARGUMENT naming the field (as a path from
// the body) and what it must be, without decoder internals.
func TestRESTDecodingErrors(t *testing.T) {
	e := setup(t)
	tok := e.anna(t)
	for _, tt := range []struct {
		method, path, body string
		want               string
	}{
		{"POST", "/v1/clients", `{"client":{"identity":{"given_name":"Ada","foo":1}}}`,
			"invalid request body: client.identity.foo is not a field of Identity"},
		{"POST", "/v1/clients", `{"request_id":"r-12345678","client":{"identity":{"given_name":5}}}`,
			"invalid request body: client.identity.given_name must be a string, not 5"},
		{"POST", "/v1/clients", `{"client":{"trajectory":{"involved_organization_ids":["uwv",3]}}}`,
			"invalid request body: client.trajectory.involved_organization_ids[1] must be a string"},
		{"POST", "/v1/clients", `{"client":{"trajectory":{"involved_organization_ids":"uwv"}}}`,
			"invalid request body: client.trajectory.involved_organization_ids must be a list"},
		{"POST", "/v1/clients", `{"client":{"create_time":"yesterday"}}`,
			"invalid request body: client.create_time must be an RFC 3339 time in a string"},
		{"POST", "/v1/clients", `{"client":{"readable_sections":["SECTION_NONE"]}}`,
			"invalid request body: client.readable_sections[0] must be one of SECTION_IDENTITY, SECTION_TRAJECTORY,"},
		{"POST", "/v1/clients", `{"client":{"identity":{"version":"v2"}}}`,
			"invalid request body: client.identity.version must be a whole number"},
		{"POST", "/v1/clients", `{"client":"Ada"}`,
			"invalid request body: client must be a JSON object"},
		{"POST", "/v1/clients", `[1]`,
			"invalid request body: the body must be a JSON object"},
		{"POST", "/v1/clients", "{\n  \"client\": {,}\n}",
			"invalid request body: not valid JSON at line 2, column 14"},
		{"POST", "/v1/clients", `{"client":{}} {}`,
			"invalid request body: not valid JSON at line 1, column 15"},
		{"POST", "/v1/clients", `{"client":{}, "client":{}}`,
			`invalid request body: duplicate field "client"`},
		// A body that is one field of the request: paths start inside it.
		{"PATCH", "/v1/clients/" + clientID + "/identity", `{"given_name":true}`,
			"invalid request body: given_name must be a string"},
		{"GET", "/v1/clients?page_size=ten", "",
			"invalid query parameter page_size: it must be a whole number from -2147483648 to 2147483647"},
		{"GET", "/v1/clients?phase=PHASE_DONE", "",
			"invalid query parameter phase: it must be one of PHASE_REFERRAL, PHASE_INTAKE,"},
		{"GET", "/v1/clients?open_only=perhaps&page_size=2", "",
			"invalid query parameter open_only: it must be true or false"},
	} {
		var body io.Reader
		if tt.body != "" {
			body = strings.NewReader(tt.body)
		}
		resp, data := e.do(t, tt.method, tt.path, tok, body, nil)
		st := decodeStatus(t, data)
		if resp.StatusCode != http.StatusBadRequest || st.Code != int(codes.InvalidArgument) ||
			!strings.HasPrefix(st.Message, tt.want) {
			t.Errorf("%s %s %s: %d %q, want 400 %q", tt.method, tt.path, tt.body, resp.StatusCode, st.Message, tt.want)
		}
		for _, internal := range []string{"proto:", "(line", "strconv", "parsing field"} {
			if strings.Contains(st.Message, internal) {
				t.Errorf("%s %s: message %q shows decoder internals", tt.method, tt.path, st.Message)
			}
		}
	}

	// A body that decodes goes on to the backend (which lacks the method).
	resp, data := e.do(t, "POST", "/v1/clients", tok, strings.NewReader(`{"client":{"identity":{"given_name":"Ada"}}}`), nil)
	if resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("valid body: %d %s", resp.StatusCode, data)
	}
}

func TestOpenAPIAndHealth(t *testing.T) {
	e := setup(t)
	resp, body := e.do(t, "GET", "/openapi.json", "", nil, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("openapi: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("openapi.json does not parse: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || doc.Paths["/v1/clients/{client_id}"] == nil {
		t.Errorf("openapi document: openapi %q, %d paths", doc.OpenAPI, len(doc.Paths))
	}
	resp, _ = e.do(t, "GET", "/openapi.json", "", nil, map[string]string{"If-None-Match": resp.Header.Get("ETag")})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d", resp.StatusCode)
	}

	resp, body = e.do(t, "GET", "/healthz", "", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz: %d %s", resp.StatusCode, body)
	}
	resp, body = e.do(t, "GET", "/readyz", "", nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"clients":"SERVING"`)) {
		t.Errorf("readyz with serving backend: %d %s", resp.StatusCode, body)
	}
	e.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	resp, body = e.do(t, "GET", "/readyz", "", nil, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !bytes.Contains(body, []byte(`"clients":"NOT_SERVING"`)) {
		t.Errorf("readyz with backend not serving: %d %s", resp.StatusCode, body)
	}
}

func TestReadyzBackendDown(t *testing.T) {
	keyDir := filepath.Join(t.TempDir(), "devkeys")
	if err := devkeys.Ensure(keyDir); err != nil {
		t.Fatal(err)
	}
	// A port nobody listens on.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	e := startGateway(t, keyDir, addr)
	resp, body := e.do(t, "GET", "/readyz", "", nil, nil)
	if resp.StatusCode != http.StatusServiceUnavailable || !bytes.Contains(body, []byte(`"clients":"UNREACHABLE"`)) {
		t.Errorf("readyz with backend down: %d %s", resp.StatusCode, body)
	}
	resp, _ = e.do(t, "GET", "/healthz", "", nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthz with backend down: %d", resp.StatusCode)
	}
	resp, body = e.do(t, "GET", "/v1/clients/"+clientID, e.anna(t), nil, nil)
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("API call with backend down: %d %s", resp.StatusCode, body)
	}
	// The caller is not told where the backend lives.
	if st := decodeStatus(t, body); st.Code != int(codes.Unavailable) || strings.Contains(st.Message, addr) {
		t.Errorf("API call with backend down: %+v", st)
	}
	conn := dialGateway(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+e.anna(t))
	_, err = clientsv1.NewClientsServiceClient(conn).GetClient(ctx, &clientsv1.GetClientRequest{ClientId: clientID})
	if st := status.Convert(err); st.Code() != codes.Unavailable || strings.Contains(st.Message(), addr) {
		t.Errorf("gRPC call with backend down: %v", err)
	}
}

func dialGateway(t *testing.T, e *env) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(e.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestGRPCProxyUnary(t *testing.T) {
	e := setup(t)
	conn := dialGateway(t, e)
	client := clientsv1.NewClientsServiceClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	authed := metadata.AppendToOutgoingContext(ctx,
		"authorization", "Bearer "+e.anna(t), "x-request-id", "grpc-req-1", "x-purpose", "review")
	var header metadata.MD
	resp, err := client.GetClient(authed, &clientsv1.GetClientRequest{ClientId: clientID}, grpc.Header(&header))
	if err != nil {
		t.Fatalf("GetClient through proxy: %v", err)
	}
	c := resp.GetClient()
	if c.GetClientId() != clientID || c.GetRegionId() != "es-anna" || c.GetWorkGoals().GetPreferences() != "grpc-req-1" ||
		c.GetWorkGoals().GetGoals() != "review" || !strings.Contains(c.GetWorkGoals().GetStrengths(), "127.0.0.1") {
		t.Errorf("backend saw %+v", c)
	}
	if got := header.Get("x-request-id"); len(got) != 1 || got[0] != "grpc-req-1" {
		t.Errorf("response x-request-id = %v", got)
	}

	_, err = client.GetClient(ctx, &clientsv1.GetClientRequest{ClientId: clientID})
	if st := status.Convert(err); st.Code() != codes.Unauthenticated || st.Message() != "missing bearer token" {
		t.Errorf("without token: %v", err)
	}
	expired := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+e.expired(t))
	_, err = client.GetClient(expired, &clientsv1.GetClientRequest{ClientId: clientID})
	if st := status.Convert(err); st.Code() != codes.Unauthenticated || st.Message() != "token expired" {
		t.Errorf("expired token: %v", err)
	}
	// Backend statuses come back as they are.
	_, err = client.GetTrajectory(authed, &clientsv1.GetTrajectoryRequest{ClientId: clientID})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("unimplemented backend method: %v", err)
	}
	// Services without a backend are unknown.
	err = conn.Invoke(authed, "/ipsbridge.unknown.v1.Nope/Do", wrapperspb.String("x"), new(wrapperspb.StringValue))
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("unknown service: %v", err)
	}
	// The gateway's own health service needs no token.
	hr, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || hr.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gateway health: %v %v", hr, err)
	}
}

func TestGRPCProxyStream(t *testing.T) {
	e := setup(t)
	conn := dialGateway(t, e)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+e.anna(t))

	cs, err := conn.NewStream(ctx, &echoDesc.Streams[0], "/ipsbridge.clients.v1.TestEcho/Chat")
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"one", "two", "three"} {
		if err := cs.SendMsg(wrapperspb.String(msg)); err != nil {
			t.Fatal(err)
		}
		out := new(wrapperspb.StringValue)
		if err := cs.RecvMsg(out); err != nil {
			t.Fatal(err)
		}
		if out.GetValue() != "es-anna:"+msg {
			t.Errorf("echo of %q = %q", msg, out.GetValue())
		}
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if err := cs.RecvMsg(new(wrapperspb.StringValue)); !errors.Is(err, io.EOF) {
		t.Errorf("end of stream: %v", err)
	}
	if h, _ := cs.Header(); len(h.Get("x-echo")) != 1 {
		t.Errorf("backend header lost: %v", h)
	}
	if got := cs.Trailer().Get("x-echo-done"); len(got) != 1 {
		t.Errorf("backend trailer lost: %v", cs.Trailer())
	}

	// A backend error in mid-stream reaches the caller with its code.
	cs, err = conn.NewStream(ctx, &echoDesc.Streams[0], "/ipsbridge.clients.v1.TestEcho/Chat")
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.SendMsg(wrapperspb.String("fail")); err != nil {
		t.Fatal(err)
	}
	err = cs.RecvMsg(new(wrapperspb.StringValue))
	if st := status.Convert(err); st.Code() != codes.NotFound || st.Message() != "no such thing" {
		t.Errorf("backend error: %v", err)
	}

	// A caller that gives up cancels the backend call.
	cctx, ccancel := context.WithCancel(ctx)
	cs, err = conn.NewStream(cctx, &echoDesc.Streams[0], "/ipsbridge.clients.v1.TestEcho/Chat")
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.SendMsg(wrapperspb.String("hi")); err != nil {
		t.Fatal(err)
	}
	if err := cs.RecvMsg(new(wrapperspb.StringValue)); err != nil {
		t.Fatal(err)
	}
	ccancel()
	if err := cs.RecvMsg(new(wrapperspb.StringValue)); status.Code(err) != codes.Canceled {
		t.Errorf("after cancel: %v", err)
	}
}

// Services without an address have no routes; with one, their REST routes
// lead to that backend (here the fake, which does not implement them).
func TestOptionalServices(t *testing.T) {
	e := setup(t)
	resp, body := e.do(t, "GET", "/v1/clients/"+clientID+"/employerContacts", e.anna(t), nil, nil)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("employment not deployed: %d %s", resp.StatusCode, body)
	}

	e2 := startGateway(t, e.keyDir, e.backendAddr, func(c *server.Config) { c.EmploymentAddr = e.backendAddr })
	resp, body = e2.do(t, "GET", "/v1/clients/"+clientID+"/employerContacts", e2.anna(t), nil, nil)
	if st := decodeStatus(t, body); resp.StatusCode != http.StatusNotImplemented || !strings.Contains(st.Message, "EmploymentService") {
		t.Errorf("employment deployed: %d %s", resp.StatusCode, body)
	}
	resp, body = e2.do(t, "GET", "/readyz", "", nil, nil)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"employment":"SERVING"`)) {
		t.Errorf("readyz: %d %s", resp.StatusCode, body)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cfg := server.DefaultConfig() // no JWKS file or URL
	if _, err := server.New(cfg, nil); err == nil || !strings.Contains(err.Error(), "IPSB_OIDC_JWKS_FILE") {
		t.Errorf("New without keys: %v", err)
	}
	cfg.JWKSFile = filepath.Join(t.TempDir(), "missing.json")
	if _, err := server.New(cfg, nil); err == nil || !strings.Contains(err.Error(), "JWKS") {
		t.Errorf("New with missing key file: %v", err)
	}
}

// FuzzExplainBody: whatever the body, decoding either succeeds or fails with
// a message in the API's terms, never protojson's.
func FuzzExplainBody(f *testing.F) {
	for _, s := range []string{
		`{"client":{"identity":{"given_name":"Ada","foo":1}}}`,
		`{"client":{"trajectory":{"involved_organization_ids":["uwv",3]}}}`,
		`{"client":{"create_time":"yesterday","readable_sections":["SECTION_X"]}}`,
		`{"client":{}, "client":{}}`, `[1]`, `{"client":`, `null`, `{"consents":[{"sections":[1.5]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := server.DecodeForTest(data, &clientsv1.CreateClientRequest{})
		if err == nil || errors.Is(err, io.EOF) {
			return
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "invalid request body") || strings.Contains(msg, "proto:") || strings.Contains(msg, "(line") {
			t.Errorf("%q: %q", data, msg)
		}
	})
}
