package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/ipsbridge/ipsbridge/gateway/openapi/client"
)

// TestGeneratedClient calls the API through the Go client oapi-codegen
// generated from the published OpenAPI document, as a partner's engineer
// would: enrol a client, read it back, list its (no) consents and meet a
// documented error.
func TestGeneratedClient(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	as := func(user string) client.ClientOption {
		return client.WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set("Authorization", "Bearer "+e.p.Token(t, user))
			return nil
		})
	}
	c, err := client.NewClientWithResponses(e.base, as("es-anna"))
	if err != nil {
		t.Fatal(err)
	}

	created, err := c.CreateClientWithResponse(ctx, nil, client.CreateClientRequest{
		RequestId: new("oapi-client-enrol-1"),
		Client: client.Client{
			Identity:   &client.Identity{GivenName: new("Noor"), FamilyName: new("Bakker"), DateOfBirth: new("1994-02-03")},
			Trajectory: &client.Trajectory{TeamId: new("noord-team-a")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if created.JSON200 == nil || created.JSON200.Client == nil || created.JSON200.Client.ClientId == nil {
		t.Fatalf("create: HTTP %d %s", created.StatusCode(), created.Body)
	}
	id := *created.JSON200.Client.ClientId

	got, err := c.GetClientWithResponse(ctx, id, &client.GetClientParams{XPurpose: new("intake interview")})
	if err != nil {
		t.Fatal(err)
	}
	if got.JSON200 == nil || got.JSON200.Client == nil {
		t.Fatalf("get: HTTP %d %s", got.StatusCode(), got.Body)
	}
	cl := got.JSON200.Client
	if *cl.ClientId != id || cl.Identity == nil || *cl.Identity.GivenName != "Noor" ||
		cl.Trajectory == nil || cl.Trajectory.Phase == nil || *cl.Trajectory.Phase != client.PhasePHASEREFERRAL {
		t.Errorf("client read back: %s", got.Body)
	}
	if cl.CreateTime == nil || cl.CreateTime.IsZero() {
		t.Errorf("create_time not decoded as a time: %s", got.Body)
	}

	// An empty list is [], present in the answer.
	consents, err := c.ListConsentsWithResponse(ctx, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if consents.JSON200 == nil || consents.JSON200.Consents == nil || len(*consents.JSON200.Consents) != 0 {
		t.Errorf("consents of a new client: HTTP %d %s", consents.StatusCode(), consents.Body)
	}

	// The idempotency key may come in the documented header instead of
	// request_id: the retry returns the first enrolment.
	enrol := func() string {
		t.Helper()
		r, err := c.CreateClientWithResponse(ctx, &client.CreateClientParams{IdempotencyKey: new("oapi-client-enrol-2")},
			client.CreateClientRequest{Client: client.Client{
				Identity:   &client.Identity{GivenName: new("Sem"), FamilyName: new("de Wit")},
				Trajectory: &client.Trajectory{TeamId: new("noord-team-a")},
			}})
		if err != nil {
			t.Fatal(err)
		}
		if r.JSON200 == nil || r.JSON200.Client == nil || r.JSON200.Client.ClientId == nil {
			t.Fatalf("enrol with Idempotency-Key: HTTP %d %s", r.StatusCode(), r.Body)
		}
		return *r.JSON200.Client.ClientId
	}
	if first, again := enrol(), enrol(); first != again || first == id {
		t.Errorf("retry with the same Idempotency-Key enrolled %s, then %s", first, again)
	}

	// Without either the enrolment is refused, saying so.
	nokey, err := c.CreateClientWithResponse(ctx, nil, client.CreateClientRequest{Client: client.Client{
		Identity:   &client.Identity{GivenName: new("Sem"), FamilyName: new("de Wit")},
		Trajectory: &client.Trajectory{TeamId: new("noord-team-a")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if nokey.JSON400 == nil || !strings.Contains(nokey.JSON400.Message, "Idempotency-Key") {
		t.Errorf("enrol without a key: HTTP %d %s", nokey.StatusCode(), nokey.Body)
	}

	// A documented error decodes into google.rpc.Status: a specialist of
	// another MHA does not find the client.
	other, err := client.NewClientWithResponses(e.base, as("es-olaf"))
	if err != nil {
		t.Fatal(err)
	}
	missing, err := other.GetClientWithResponse(ctx, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	if missing.JSON404 == nil || missing.JSON404.Code != 5 || missing.JSON404.Message == "" {
		t.Errorf("other MHA: HTTP %d %s, want 404 with a google.rpc.Status", missing.StatusCode(), missing.Body)
	}
}
