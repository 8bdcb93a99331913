package server

import (
	"context"
	"fmt"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	"github.com/ipsbridge/ipsbridge/internal/mtls"
	"github.com/ipsbridge/ipsbridge/internal/rpc"
	benefitsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/benefits/v1"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
	eventsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/events/v1"
	fidelityv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/fidelity/v1"
	fundingv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/funding/v1"
)

// service is one gRPC backend behind the gateway.
type service struct {
	// name is used in logs and /readyz.
	name string
	// prefix selects the calls the gRPC proxy sends to this backend, by full
	// method name ("/ipsbridge.clients.v1.ClientsService/GetClient").
	prefix string
	// addr is the backend's host:port; empty means not deployed.
	addr string
	// register adds the generated REST handlers (the *.pb.gw.go
	// Register<Service>Handler); nil while a service has gRPC only.
	register func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error
}

// services is the table of backends: a new service is one line here.
func (c Config) services() []service {
	return []service{
		{"clients", "/ipsbridge.clients.v1.", c.ClientsAddr, clientsv1.RegisterClientsServiceHandler},
		{"employment", "/ipsbridge.employment.v1.", c.EmploymentAddr, employmentv1.RegisterEmploymentServiceHandler},
		{"benefits", "/ipsbridge.benefits.v1.", c.BenefitsAddr, benefitsv1.RegisterBenefitsServiceHandler},
		{"events", "/ipsbridge.events.v1.", c.EventsAddr, eventsv1.RegisterEventsServiceHandler},
		{"funding", "/ipsbridge.funding.v1.", c.FundingAddr, fundingv1.RegisterFundingServiceHandler},
		{"fidelity", "/ipsbridge.fidelity.v1.", c.FidelityAddr, fidelityv1.RegisterFidelityServiceHandler},
	}
}

// backend is a deployed service with its connection, shared by the REST
// handlers, the gRPC proxy and the readiness check.
type backend struct {
	service
	conn *grpc.ClientConn
}

// dialBackends connects (lazily: grpc.NewClient does not block) to every
// deployed service.
func dialBackends(services []service, identity mtls.Config) ([]*backend, error) {
	// Mutual TLS when configured (the services refuse anyone without a
	// certificate of the platform's CA); the services verify the forwarded
	// bearer token themselves either way.
	transport, err := identity.DialOption()
	if err != nil {
		return nil, err
	}
	var out []*backend
	for _, s := range services {
		if s.addr == "" {
			continue
		}
		// rpc.Dial's prompt reconnects; transport replaces its plain-text
		// default when mutual TLS is configured.
		conn, err := rpc.Dial(s.addr, transport, grpc.WithUserAgent("ipsbridge-gateway"))
		if err != nil {
			closeBackends(out)
			return nil, fmt.Errorf("backend %s at %s: %w", s.name, s.addr, err)
		}
		out = append(out, &backend{service: s, conn: conn})
	}
	return out, nil
}

func closeBackends(bs []*backend) {
	for _, b := range bs {
		_ = b.conn.Close()
	}
}

// route returns the backend serving fullMethod, or nil.
func route(bs []*backend, fullMethod string) *backend {
	for _, b := range bs {
		if strings.HasPrefix(fullMethod, b.prefix) {
			return b
		}
	}
	return nil
}
