package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	eventsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/events/v1"
	"github.com/ipsbridge/ipsbridge/services/events/server"
)

// TestRESTMappings drives the REST mappings of http.yaml through the
// generated handlers, as the gateway serves them.
func TestRESTMappings(t *testing.T) {
	f := newFixture(t)
	az, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	srv, _, err := server.Build(server.Deps{Pool: f.p.Pool, Verifier: f.p.Verifier, Authz: az,
		Egress: loopback, Logger: testplatform.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	// As the gateway marshals: proto field names.
	mux := runtime.NewServeMux(runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
		MarshalOptions: protojson.MarshalOptions{UseProtoNames: true}}))
	if err := eventsv1.RegisterEventsServiceHandler(context.Background(), mux, testplatform.Dial(t, testplatform.Serve(t, srv))); err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(mux)
	t.Cleanup(gw.Close)
	token := f.p.Token(t, "admin-uwv")
	do := func(method, path, body string, want int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, gw.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
		}
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		return out
	}
	good := newReceiver(t, echo)
	created := do("POST", "/v1/subscriptions", `{"subscription":{"url":"`+good.URL+`","event_types":["nl.ipsbridge.placement.job_started.v1"]}}`, 200)
	sub := created["subscription"].(map[string]any)
	id := sub["subscription_id"].(string)
	if !strings.HasPrefix(created["signing_key"].(map[string]any)["secret"].(string), "whsec_") {
		t.Errorf("create: %v", created)
	}
	do("GET", "/v1/subscriptions/"+id, "", 200)
	do("GET", "/v1/subscriptions?page_size=10", "", 200)
	up := do("PATCH", "/v1/subscriptions/"+id+"?update_mask=description", `{"description":"over REST","version":"1"}`, 200)
	if up["subscription"].(map[string]any)["description"] != "over REST" {
		t.Errorf("patch: %v", up)
	}
	do("PATCH", "/v1/subscriptions/"+id+"?update_mask=description", `{"description":"stale","version":"1"}`, 409)
	do("POST", "/v1/subscriptions/"+id+":rotateSigningKey", `{"overlap":"3600s","request_id":"rotate-1"}`, 200)
	do("GET", "/v1/subscriptions/"+id+"/deadLetters?page_size=5", "", 200)
	do("POST", "/v1/subscriptions/"+id+"/deadLetters:redeliver", `{"all":true}`, 200)
	do("GET", "/v1/subscriptions/"+id+"/deliveryStats", "", 200)
	do("GET", "/v1/deliveries/42/attempts", "", 404)
	do("POST", "/v1/subscriptions", `{"subscription":{"url":"http://10.0.0.1/x"}}`, 400)
	do("GET", "/v1/events?page_size=10", "", 403)
	do("DELETE", "/v1/subscriptions/"+id+"?version=2", "", 200)
	do("GET", "/v1/subscriptions/"+id, "", 404)

	token = f.p.Token(t, "uwv-system")
	feed := do("GET", "/v1/events?page_size=10&start_at_end=true&event_types=nl.ipsbridge.placement.job_started.v1", "", 200)
	if feed["next_page_token"] == "" || feed["caught_up"] != true {
		t.Errorf("feed: %v", feed)
	}
}
