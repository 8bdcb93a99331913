package mtls_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/ipsbridge/ipsbridge/internal/mtls"
)

// Issue 14, finding 11: an internal hop refuses a client without a valid
// certificate (none, plain gRPC, or one of another CA) and serves one with
// a certificate of the platform's CA.
func TestInternalHopsRefuseClientsWithoutACertificate(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	if err := mtls.DevCA(dir, "clients", "gateway"); err != nil {
		t.Fatal(err)
	}
	if err := mtls.DevCA(other, "gateway"); err != nil { // another CA
		t.Fatal(err)
	}
	server := mtls.DevConfig(dir, "clients")
	if err := server.Verify(); err != nil {
		t.Fatal(err)
	}
	lis, err := server.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-done; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("serve: %v", err)
		}
	})
	check := func(opt grpc.DialOption) error {
		conn, err := grpc.NewClient(lis.Addr().String(), opt)
		if err != nil {
			return err
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	good, err := mtls.DevConfig(dir, "gateway").DialOption()
	if err != nil {
		t.Fatal(err)
	}
	if err := check(good); err != nil {
		t.Fatalf("a client with the platform's certificate: %v", err)
	}
	if err := check(grpc.WithTransportCredentials(insecure.NewCredentials())); err == nil {
		t.Errorf("a plain-text client was served")
	}
	foreign, err := mtls.DevConfig(other, "gateway").DialOption()
	if err != nil {
		t.Fatal(err)
	}
	if err := check(foreign); err == nil {
		t.Errorf("a client with another CA's certificate was served")
	}
	// A TLS client without a certificate of its own.
	withoutCert, err := mtls.ServerTrustOnly(mtls.DevConfig(dir, "gateway").CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := check(withoutCert); err == nil {
		t.Errorf("a client without a certificate was served")
	}
}
