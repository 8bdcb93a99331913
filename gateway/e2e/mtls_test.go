package e2e_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	gwserver "github.com/ipsbridge/ipsbridge/gateway/server"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/mtls"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	clientsserver "github.com/ipsbridge/ipsbridge/services/clients/server"
)

// Issue 14, finding 11: with identities configured, the gateway reaches the
// clients service over mutual TLS, and a client without a certificate of
// the platform's CA (here: plain gRPC straight to the service's port, as an
// attacker inside the network would try) is refused before any request.
func TestGatewayToServiceOverMutualTLS(t *testing.T) {
	p := testplatform.Start(t)
	dir := t.TempDir()
	if err := mtls.DevCA(dir, "clients", "gateway"); err != nil {
		t.Fatal(err)
	}
	az, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	srv, _, err := clientsserver.Build(clientsserver.Deps{Pool: p.RuntimePool(t, clientsserver.Runtime), Verifier: p.Verifier,
		Authz: az, Logger: testplatform.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	addr := testplatform.ServeTLS(t, srv, mtls.DevConfig(dir, "clients"))
	p.ClientsAddr = addr
	e := startGateway(t, p, func(c *gwserver.Config) { c.TLS = mtls.DevConfig(dir, "gateway") })
	e.want(e.do("GET", "/v1/clients", "es-anna", nil), 200, "list clients through the gateway over mutual TLS")

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(p.As(t, "es-anna"), 3*time.Second)
	defer cancel()
	if _, err := clientsv1.NewClientsServiceClient(conn).ListClients(ctx, &clientsv1.ListClientsRequest{}); err == nil {
		t.Fatalf("plain gRPC to the clients service was served")
	}
	noCert, err := mtls.ServerTrustOnly(mtls.DevConfig(dir, "gateway").CAFile)
	if err != nil {
		t.Fatal(err)
	}
	conn2, err := grpc.NewClient(addr, noCert)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.Close()
	if _, err := clientsv1.NewClientsServiceClient(conn2).ListClients(ctx, &clientsv1.ListClientsRequest{}); err == nil {
		t.Fatalf("TLS without a client certificate was served")
	}
}
