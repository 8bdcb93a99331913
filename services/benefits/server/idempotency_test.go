package server_test

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	benefitsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/benefits/v1"
)

// A counselling request needs a reason and a key; retried with the same key
// it opens one request and answers the first one again; the key with
// another reason is refused, naming the reuse.
func TestCounsellingRequestsAreValidatedAndIdempotent(t *testing.T) {
	f := newFixture(t)
	id := f.enrol(t, "counsel-key-1", true)
	anna := f.p.As(t, "es-anna")
	ask := func(key, reason string) (*benefitsv1.CounsellingRequest, error) {
		r, err := f.ben.CreateCounsellingRequest(anna, &benefitsv1.CreateCounsellingRequestRequest{ClientId: id, RequestId: key,
			CounsellingRequest: &benefitsv1.CounsellingRequest{Reason: reason}})
		return r.GetCounsellingRequest(), err
	}
	for name, reason := range map[string]string{"empty": "", "blank": "   "} {
		if _, err := ask("counsel-"+name, reason); status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "reason") {
			t.Errorf("%s reason: got %v, want InvalidArgument naming the reason", name, err)
		}
	}
	if _, err := ask("", "job offer"); status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), "request_id") {
		t.Errorf("no key: got %v, want InvalidArgument naming request_id", err)
	}
	first, err := ask("counsel-1", "job offer: 12 h a week")
	if err != nil {
		t.Fatal(err)
	}
	again, err := ask("counsel-1", "job offer: 12 h a week")
	if err != nil || again.GetCounsellingRequestId() != first.GetCounsellingRequestId() {
		t.Errorf("retry: %v %v, want the first request %s", again, err, first.GetCounsellingRequestId())
	}
	if _, err := ask("counsel-1", "another question"); status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), "different request") {
		t.Errorf("same key, other reason: got %v, want FailedPrecondition saying the key was used for a different request", err)
	}
	if n := f.count(t, `SELECT count(*) FROM benefits.counselling_requests WHERE client_id = $1`, id); n != 1 {
		t.Errorf("%d counselling requests, want 1", n)
	}
	if n := f.count(t, `SELECT count(*) FROM outbox.events WHERE type = 'nl.ipsbridge.counselling.requested.v1' AND client_id = $1`, id); n != 1 {
		t.Errorf("%d counselling.requested events, want 1", n)
	}
}
