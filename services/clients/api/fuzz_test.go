package api

import (
	"errors"
	"testing"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/encoding/protojson"

	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	"github.com/ipsbridge/ipsbridge/services/clients/domain"
)

// FuzzDecodeAndValidate feeds arbitrary JSON through what a REST request
// meets before the application layer: protojson decoding as the gateway does
// it, the contract's protovalidate rules, and the domain's identity check.
// None may panic, and whatever passes all three must be a sound enrolment.
func FuzzDecodeAndValidate(f *testing.F) {
	v, err := protovalidate.New()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(`{"request_id":"abcdefgh","client":{"identity":{"given_name":"A","family_name":"B","bsn":"111222333"},"trajectory":{"team_id":"t"}}}`)
	f.Add(`{"request_id":"abcdefgh","client":{"identity":{"given_name":"A","family_name":"B","date_of_birth":"2999-01-01"},"trajectory":{"team_id":"t"}}}`)
	f.Add(`{"client":{"identity":{"email":"not-an-email"}}}`)
	f.Add(`{"client":{"trajectory":{"phase":"PHASE_RETIRED"}}}`)
	f.Add(`{"client":{"trajectory":{"involved_organization_ids":["a","a"]}}}`)
	f.Add(`[]`)
	f.Add(`{"request_id": 12}`)
	f.Fuzz(func(t *testing.T, body string) {
		var req clientsv1.CreateClientRequest
		if err := protojson.Unmarshal([]byte(body), &req); err != nil {
			return
		}
		if err := v.Validate(&req); err != nil {
			var verr *protovalidate.ValidationError
			if !errors.As(err, &verr) || len(verr.Violations) == 0 {
				t.Fatalf("validation failed without violations: %v", err)
			}
			return
		}
		id := req.GetClient().GetIdentity()
		if id.GetGivenName() == "" || id.GetFamilyName() == "" || req.GetClient().GetTrajectory().GetTeamId() == "" {
			t.Fatalf("validation passed without required fields: %s", body)
		}
		if rid := req.GetRequestId(); rid != "" && len(rid) < 8 {
			t.Fatalf("validation passed a short request id: %s", body)
		}
		err := domain.Identity{
			GivenName: id.GetGivenName(), FamilyName: id.GetFamilyName(), DateOfBirth: id.GetDateOfBirth(), BSN: id.GetBsn(),
		}.Check()
		if err == nil && id.GetBsn() != "" && !domain.ValidBSN(id.GetBsn()) {
			t.Fatalf("accepted BSN %q", id.GetBsn())
		}
		if err != nil && !errors.Is(err, domain.ErrInvalid) {
			t.Fatalf("domain check error %v is not ErrInvalid", err)
		}
	})
}
