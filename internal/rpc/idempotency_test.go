package rpc_test

import (
	"bytes"
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ipsbridge/ipsbridge/internal/rpc"
	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
)

// A retry is the same request even with the version read again; other
// terms are another request; the key comes from the field or the header.
func TestIdempotencyFingerprint(t *testing.T) {
	ctx := context.Background()
	req := func(key string, version int64, hours float64) *employmentv1.ChangePlacementTermsRequest {
		return &employmentv1.ChangePlacementTermsRequest{ClientId: "c", PlacementId: "p", RequestId: key, Version: version,
			Terms: &employmentv1.Terms{EffectiveDate: "2026-01-05", HoursPerWeek: hours, HourlyWageCents: 1500}}
	}
	first, err := rpc.Idempotency(ctx, req("k-1", 2, 24), true)
	if err != nil || first.Key != "k-1" {
		t.Fatalf("%+v %v", first, err)
	}
	again, _ := rpc.Idempotency(ctx, req("k-1", 3, 24), true)
	if !bytes.Equal(first.Fingerprint, again.Fingerprint) {
		t.Error("the version read again changed the fingerprint")
	}
	other, _ := rpc.Idempotency(ctx, req("k-1", 2, 32), true)
	if bytes.Equal(first.Fingerprint, other.Fingerprint) {
		t.Error("other terms have the same fingerprint")
	}
	// The caller's message is not changed.
	if r := req("k-1", 2, 24); r.GetVersion() != 2 || r.GetRequestId() != "k-1" {
		t.Error("request changed")
	}
	hdr, err := rpc.Idempotency(rpc.WithInfo(ctx, rpc.Info{IdempotencyKey: "hdr-1"}), req("", 2, 24), true)
	if err != nil || hdr.Key != "hdr-1" || !bytes.Equal(hdr.Fingerprint, first.Fingerprint) {
		t.Errorf("header key: %+v %v", hdr, err)
	}
	if _, err := rpc.Idempotency(ctx, req("", 2, 24), true); status.Code(err) != codes.InvalidArgument {
		t.Errorf("no key where required: %v", err)
	}
	if k, err := rpc.Idempotency(ctx, req("", 2, 24), false); err != nil || k.Key != "" {
		t.Errorf("no key where optional: %+v %v", k, err)
	}
}
