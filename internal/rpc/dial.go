package rpc

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
)

// Reconnect is the connection backoff of every client connection between
// the gateway and the services. gRPC's default grows to two minutes with
// the length of an outage, so a backend that listens again was reached
// only seconds later; capped at a second, the first request after a
// restart finds it connected.
var Reconnect = grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: time.Second},
	MinConnectTimeout: 3 * time.Second,
}

// Dial returns a client connection (connecting lazily) to a service in the
// cluster network: the one place where the gateway and the services dial
// each other. Plain gRPC; the services verify the forwarded bearer token
// themselves.
func Dial(addr string, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	return grpc.NewClient(addr, append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(Reconnect),
	}, opts...)...)
}
