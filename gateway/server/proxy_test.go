package server

import (
	"bytes"
	"context"
	"net"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestPassThroughCodec(t *testing.T) {
	c := newPassThrough()
	if c.Name() != "proto" {
		t.Errorf("Name() = %q", c.Name())
	}

	// Frames keep their bytes exactly, across buffers.
	in := mem.BufferSlice{mem.SliceBuffer([]byte{1, 2}), mem.SliceBuffer([]byte{3})}
	f := new(frame)
	if err := c.Unmarshal(in, f); err != nil {
		t.Fatal(err)
	}
	in.Free()
	if !bytes.Equal(f.data, []byte{1, 2, 3}) {
		t.Fatalf("frame = %v", f.data)
	}
	out, err := c.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Materialize(); !bytes.Equal(got, []byte{1, 2, 3}) {
		t.Errorf("marshalled frame = %v", got)
	}
	out.Free()

	// An empty message is an empty frame.
	empty := new(frame)
	if err := c.Unmarshal(nil, empty); err != nil {
		t.Fatal(err)
	}
	if out, err := c.Marshal(empty); err != nil || out.Len() != 0 {
		t.Errorf("empty frame: %v, %v", out, err)
	}

	// Anything else is protobuf: a proto message survives the round trip,
	// and its bytes as a frame are its wire format.
	msg := wrapperspb.String("hello")
	out, err = c.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	wire, _ := proto.Marshal(msg)
	if !bytes.Equal(out.Materialize(), wire) {
		t.Error("proto fallback changed the wire format")
	}
	back := new(wrapperspb.StringValue)
	if err := c.Unmarshal(out, back); err != nil || back.GetValue() != "hello" {
		t.Errorf("proto round trip: %v, %v", back, err)
	}
	asFrame := new(frame)
	if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(wire)}, asFrame); err != nil || !bytes.Equal(asFrame.data, wire) {
		t.Errorf("proto bytes as frame: %v, %v", asFrame.data, err)
	}
}

func TestOutgoingMetadata(t *testing.T) {
	in := metadata.MD{
		":authority":      {"gateway"},
		"content-type":    {"application/grpc"},
		"user-agent":      {"grpc-go"},
		"grpc-timeout":    {"1S"},
		"te":              {"trailers"},
		"authorization":   {"Bearer t"},
		"x-purpose":       {"intake"},
		"x-request-id":    {"old"},
		"x-forwarded-for": {"10.1.1.1"},
		"custom-bin":      {"\x00\x01"},
	}
	ctx := metadata.NewIncomingContext(context.Background(), in)
	ctx = peer.NewContext(ctx, &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 5555}})
	out := outgoingMetadata(ctx, "req-9")

	for _, k := range []string{":authority", "content-type", "user-agent", "grpc-timeout", "te"} {
		if v := out.Get(k); len(v) != 0 {
			t.Errorf("%s forwarded: %v", k, v)
		}
	}
	want := map[string][]string{
		"authorization": {"Bearer t"},
		"x-purpose":     {"intake"},
		"x-request-id":  {"req-9"},
		// The address the gateway saw, never the client's own claim, which
		// travels beside it.
		"x-forwarded-for":         {"192.0.2.7"},
		"x-forwarded-for-claimed": {"10.1.1.1"},
		"custom-bin":              {"\x00\x01"},
	}
	for k, v := range want {
		if got := out.Get(k); len(got) != len(v) || (len(v) > 0 && got[0] != v[0]) || (len(v) > 1 && got[1] != v[1]) {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	// The incoming metadata is left alone.
	if got := in.Get("x-request-id"); got[0] != "old" {
		t.Errorf("incoming metadata changed: %v", got)
	}
}
