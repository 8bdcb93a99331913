package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	protoenc "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/ipsbridge/ipsbridge/internal/authn"
)

// frame is one gRPC message passed through undecoded: the gateway needs no
// generated code to proxy a service.
type frame struct{ data []byte }

// passThrough is the gRPC codec of the proxy. Frames travel as the bytes
// they arrived as; any other message (the gateway's own health service) is
// protobuf, as usual. Its name stays "proto" so that the content-subtype on
// the wire does not change.
type passThrough struct{ proto encoding.CodecV2 }

func newPassThrough() passThrough {
	return passThrough{proto: encoding.GetCodecV2(protoenc.Name)}
}

func (c passThrough) Marshal(v any) (mem.BufferSlice, error) {
	if f, ok := v.(*frame); ok {
		if len(f.data) == 0 {
			return nil, nil
		}
		return mem.BufferSlice{mem.SliceBuffer(f.data)}, nil
	}
	return c.proto.Marshal(v)
}

func (c passThrough) Unmarshal(data mem.BufferSlice, v any) error {
	if f, ok := v.(*frame); ok {
		// data is freed when we return, so the frame keeps its own copy.
		f.data = data.Materialize()
		return nil
	}
	return c.proto.Unmarshal(data, v)
}

func (passThrough) Name() string { return protoenc.Name }

// proxyDesc lets one stream carry unary and streaming calls alike.
var proxyDesc = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

// proxy forwards every call for a service the gateway does not implement
// itself to the backend named by the method's package.
type proxy struct {
	backends []*backend
	verifier *authn.Verifier
	codec    passThrough
	log      *slog.Logger
}

// handle is the grpc.UnknownServiceHandler.
func (p *proxy) handle(_ any, ss grpc.ServerStream) error {
	method, ok := grpc.MethodFromServerStream(ss)
	if !ok {
		return status.Error(codes.Internal, "no method in stream")
	}
	b := route(p.backends, method)
	if b == nil {
		return status.Errorf(codes.Unimplemented, "unknown method %s", method)
	}
	ctx, err := p.verifier.Authenticate(ss.Context())
	if err != nil {
		return err
	}
	info := callInfoFrom(ctx)
	if pr, ok := authn.FromContext(ctx); ok {
		info.subject = pr.Subject
	}
	info.backend = b.name

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	out := outgoingMetadata(ctx, info.requestID)
	// The caller learns the request id to quote, as over REST.
	_ = ss.SetHeader(metadata.Pairs(authn.MDRequestID, info.requestID))

	cs, err := grpc.NewClientStream(metadata.NewOutgoingContext(ctx, out), proxyDesc, b.conn, method,
		grpc.ForceCodecV2(p.codec))
	if err != nil {
		return hideUnavailable(err, p.log, method)
	}

	requests := make(chan error, 1)
	go func() { requests <- forwardRequests(ss, cs) }()
	responses := make(chan error, 1)
	go func() { responses <- forwardResponses(cs, ss) }()

	for {
		select {
		case err := <-requests:
			if err == nil {
				// The caller half-closed; the backend still answers.
				requests = nil
				continue
			}
			// The caller went away mid-call: abandon the backend call too.
			cancel()
			<-responses
			return err
		case err := <-responses:
			// The backend's status (nil, or its error with details) and
			// trailers become ours. A forwardRequests still blocked on the
			// caller ends when this handler returns and the stream closes.
			ss.SetTrailer(cs.Trailer())
			return hideUnavailable(err, p.log, method)
		}
	}
}

// forwardRequests copies the caller's messages to the backend until the
// caller half-closes (nil) or fails.
func forwardRequests(ss grpc.ServerStream, cs grpc.ClientStream) error {
	for {
		f := new(frame)
		if err := ss.RecvMsg(f); err != nil {
			if errors.Is(err, io.EOF) {
				return cs.CloseSend()
			}
			return err
		}
		if err := cs.SendMsg(f); err != nil {
			// io.EOF: the backend ended the call; its status arrives on the
			// response side.
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// forwardResponses copies the backend's headers and messages to the caller
// and returns the backend's final status (nil for OK).
func forwardResponses(cs grpc.ClientStream, ss grpc.ServerStream) error {
	for first := true; ; first = false {
		f := new(frame)
		err := cs.RecvMsg(f)
		if first {
			// Headers are known once the first message or the status is in.
			if md, herr := cs.Header(); herr == nil {
				_ = ss.SetHeader(stripReserved(md))
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ss.SendMsg(f); err != nil {
			return err
		}
	}
}

// outgoingMetadata is the incoming metadata less what belongs to the
// transport, with the request id settled and the caller's address added to
// x-forwarded-for (the audit log records where a request came from).
func outgoingMetadata(ctx context.Context, requestID string) metadata.MD {
	in, _ := metadata.FromIncomingContext(ctx)
	out := stripReserved(in)
	out.Set(authn.MDRequestID, requestID)
	host := ""
	if pr, ok := peer.FromContext(ctx); ok && pr.Addr != nil {
		var err error
		if host, _, err = net.SplitHostPort(pr.Addr.String()); err != nil {
			host = pr.Addr.String()
		}
	}
	authn.SetForwarded(out, host, strings.Join(in.Get(authn.MDForwardedFor), ", "))
	return out
}

// stripReserved copies md without pseudo-headers, grpc-* and the headers the
// transport sets itself; the deadline travels in the context.
func stripReserved(md metadata.MD) metadata.MD {
	out := make(metadata.MD, len(md))
	for k, vs := range md {
		switch {
		case strings.HasPrefix(k, ":"), strings.HasPrefix(k, "grpc-"):
			continue
		case k == "content-type", k == "user-agent", k == "te", k == "connection", k == "host":
			continue
		}
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// unavailableMessage replaces the message of UNAVAILABLE errors, which for
// an unreachable backend names its internal address.
const unavailableMessage = "service unavailable; try again later"

// hideUnavailable logs an UNAVAILABLE error and returns it with a generic
// message (details, such as RetryInfo, are kept); other errors pass as they
// are.
func hideUnavailable(err error, log *slog.Logger, what string) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Unavailable {
		return err
	}
	log.Warn("backend unavailable", "call", what, "err", err)
	p := st.Proto()
	p.Message = unavailableMessage
	return status.ErrorProto(p)
}

// grpcRequestID keeps a well-formed incoming x-request-id, else makes one.
func grpcRequestID(ctx context.Context) string {
	md, _ := metadata.FromIncomingContext(ctx)
	if vals := md.Get(authn.MDRequestID); len(vals) > 0 && validRequestID(vals[0]) {
		return vals[0]
	}
	return uuid.NewString()
}
