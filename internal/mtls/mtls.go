// Package mtls secures the internal hops (gateway → services, service →
// service) with mutual TLS: every listener asks for a client certificate
// signed by the operator's internal CA and refuses a connection without
// one, and every client presents its own certificate and checks the
// server's. Certificates come from files (cert-manager, or scripts/dev's
// local CA, see DevCA). Without configuration the hops stay plain gRPC
// (tests).
package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Config names the files of one component's identity.
type Config struct {
	// CertFile and KeyFile are this component's certificate (chain) and
	// private key, PEM.
	CertFile string `env:"IPSB_TLS_CERT_FILE"`
	KeyFile  string `env:"IPSB_TLS_KEY_FILE"`
	// CAFile holds the CA certificates that sign the platform's
	// components, PEM: peers are verified against them only.
	CAFile string `env:"IPSB_TLS_CA_FILE"`
}

// Enabled reports whether mutual TLS is configured.
func (c Config) Enabled() bool { return c.CertFile != "" || c.KeyFile != "" || c.CAFile != "" }

// Verify reports an incomplete or unreadable configuration.
func (c Config) Verify() error {
	if !c.Enabled() {
		return nil
	}
	if c.CertFile == "" || c.KeyFile == "" || c.CAFile == "" {
		return errors.New("IPSB_TLS_CERT_FILE, IPSB_TLS_KEY_FILE and IPSB_TLS_CA_FILE go together")
	}
	_, err := c.base()
	return err
}

func (c Config) base() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("mtls: load certificate: %w", err)
	}
	pem, err := os.ReadFile(c.CAFile)
	if err != nil {
		return nil, fmt.Errorf("mtls: read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("mtls: %s holds no PEM certificate", c.CAFile)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, ClientCAs: pool, MinVersion: tls.VersionTLS13}, nil
}

// ServerConfig asks every client for a certificate of the CA and refuses
// the handshake without one.
func (c Config) ServerConfig() (*tls.Config, error) {
	t, err := c.base()
	if err != nil {
		return nil, err
	}
	t.ClientAuth = tls.RequireAndVerifyClientCert
	t.NextProtos = []string{"h2"}
	return t, nil
}

// Listen listens on addr, with mutual TLS when configured.
func (c Config) Listen(addr string) (net.Listener, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	if !c.Enabled() {
		return lis, nil
	}
	t, err := c.ServerConfig()
	if err != nil {
		lis.Close()
		return nil, err
	}
	return tls.NewListener(lis, t), nil
}

// DialOption is the transport of a client of another component: mutual TLS
// when configured (the server's certificate must be the CA's and name the
// host dialled), plain gRPC otherwise.
func (c Config) DialOption() (grpc.DialOption, error) {
	if !c.Enabled() {
		return grpc.WithTransportCredentials(insecure.NewCredentials()), nil
	}
	t, err := c.base()
	if err != nil {
		return nil, err
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(t)), nil
}

// ServerTrustOnly is a client transport that verifies the server with the
// CA in caFile but presents no certificate of its own: what an outsider
// without an identity would use. For tests and diagnostics.
func ServerTrustOnly(caFile string) (grpc.DialOption, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("mtls: read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("mtls: %s holds no PEM certificate", caFile)
	}
	return grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13})), nil
}
