package authn

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestParseBearer(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER   abc ", "abc", true},
		{"Basic abc", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"", "", false},
		{"abc", "", false},
	}
	for _, tt := range tests {
		got, err := ParseBearer(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseBearer(%q) = %q, %v", tt.in, got, err)
		}
	}
}

// whoAmI is a tiny hand-written service: it returns the caller's subject.
var whoAmIDesc = grpc.ServiceDesc{
	ServiceName: "test.WhoAmI",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Get",
		Handler: func(_ any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			h := func(ctx context.Context, _ any) (any, error) {
				p, ok := FromContext(ctx)
				if !ok {
					return nil, status.Error(codes.Internal, "no principal")
				}
				return wrapperspb.String(p.Subject), nil
			}
			return ic(ctx, in, &grpc.UnaryServerInfo{FullMethod: "/test.WhoAmI/Get"}, h)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Watch",
		ServerStreams: true,
		Handler: func(_ any, ss grpc.ServerStream) error {
			if err := ss.RecvMsg(new(wrapperspb.StringValue)); err != nil {
				return err
			}
			p, ok := FromContext(ss.Context())
			if !ok {
				return status.Error(codes.Internal, "no principal")
			}
			return ss.SendMsg(wrapperspb.String(p.Subject))
		},
	}},
}

func TestInterceptors(t *testing.T) {
	s := newES256(t, "k1")
	v := newFileVerifier(t, s.public(t))
	good := s.sign(t, validClaims())
	expired := s.sign(t, with(validClaims(), "exp", time.Now().Add(-time.Hour).Unix()))

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(UnaryServerInterceptor(v)),
		grpc.ChainStreamInterceptor(StreamServerInterceptor(v)),
	)
	srv.RegisterService(&whoAmIDesc, struct{}{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	withAuth := func(val string) context.Context {
		return metadata.AppendToOutgoingContext(ctx, "authorization", val)
	}
	unary := func(ctx context.Context) (string, error) {
		out := new(wrapperspb.StringValue)
		err := conn.Invoke(ctx, "/test.WhoAmI/Get", wrapperspb.String(""), out)
		return out.GetValue(), err
	}
	stream := func(ctx context.Context) (string, error) {
		cs, err := conn.NewStream(ctx, &whoAmIDesc.Streams[0], "/test.WhoAmI/Watch")
		if err != nil {
			return "", err
		}
		if err := cs.SendMsg(wrapperspb.String("")); err != nil {
			return "", err
		}
		if err := cs.CloseSend(); err != nil {
			return "", err
		}
		out := new(wrapperspb.StringValue)
		err = cs.RecvMsg(out)
		return out.GetValue(), err
	}

	for name, call := range map[string]func(context.Context) (string, error){"unary": unary, "stream": stream} {
		t.Run(name, func(t *testing.T) {
			got, err := call(withAuth("Bearer " + good))
			if err != nil || got != "es-anna" {
				t.Fatalf("good token: %q, %v", got, err)
			}
			for _, tc := range []struct{ name, header, msg string }{
				{"missing", "", "missing bearer token"},
				{"not bearer", "Basic dXNlcjpwdw==", "authorization is not a bearer token"},
				{"garbage", "Bearer xyz", "token malformed: not a compact JWS"},
				{"expired", "Bearer " + expired, "token expired"},
			} {
				c := ctx
				if tc.header != "" {
					c = withAuth(tc.header)
				}
				_, err := call(c)
				if st := status.Convert(err); st.Code() != codes.Unauthenticated || st.Message() != tc.msg {
					t.Errorf("%s: %v, want Unauthenticated %q", tc.name, err, tc.msg)
				}
			}
		})
	}

	// Health checks need no token.
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health without token: %v, %v", resp, err)
	}
}

func TestOutgoingContext(t *testing.T) {
	in := metadata.Pairs("x-request-id", "req-1", "x-purpose", "intake", "x-forwarded-for", "10.0.0.1", "cookie", "secret")
	ctx := metadata.NewIncomingContext(context.Background(), in)
	ctx = WithPrincipal(ctx, Principal{Subject: "es-anna", Token: "tok"})

	out, _ := metadata.FromOutgoingContext(OutgoingContext(ctx))
	want := map[string]string{"authorization": "Bearer tok", "x-request-id": "req-1", "x-purpose": "intake", "x-forwarded-for": "10.0.0.1"}
	for k, v := range want {
		if got := out.Get(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s = %v, want [%s]", k, got, v)
		}
	}
	if got := out.Get("cookie"); len(got) != 0 {
		t.Errorf("cookie forwarded: %v", got)
	}

	// Calling it twice does not duplicate anything.
	out, _ = metadata.FromOutgoingContext(OutgoingContext(OutgoingContext(ctx)))
	for k := range want {
		if got := out.Get(k); len(got) != 1 {
			t.Errorf("after two calls %s = %v", k, got)
		}
	}

	if got := OutgoingContext(context.Background()); got != context.Background() {
		t.Error("context without caller changed")
	}
}
