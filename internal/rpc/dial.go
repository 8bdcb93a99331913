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
// only seconds later (5.5-6.8 s after a 10 s outage); capped at half a
// second, it is reached within about that of listening again. A refused
// connection costs next to nothing, so trying twice a second is cheap.
var Reconnect = grpc.ConnectParams{
	Backoff:           backoff.Config{BaseDelay: 50 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 500 * time.Millisecond},
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
