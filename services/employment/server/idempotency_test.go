package server_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
)

// A terms change whose answer was lost is retried with the same key: as it
// was (the version now stale) and after reading the placement again (the
// new version). Either way one terms row is written and the placement comes
// back; the key with other terms is refused, naming the reuse.
func TestChangePlacementTermsRetriedWithTheSameKeyWritesOnce(t *testing.T) {
	f := newFixture(t)
	id, intake := f.enrol(t, "terms-retry-client")
	anna := f.as(t, "es-anna")
	f.setNow(intake.AddDate(0, 3, 0))
	job, err := f.startJob(t, anna, id, d(intake, 10), 20, 1500, "terms-retry-start")
	if err != nil {
		t.Fatal(err)
	}
	terms := func() int {
		var n int
		if err := f.p.Pool.QueryRow(context.Background(), `SELECT count(*) FROM employment.placement_terms WHERE placement_id = $1`,
			job.GetPlacementId()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	change := func(version int64, hours float64) (*employmentv1.Placement, error) {
		r, err := f.emp.ChangePlacementTerms(anna, &employmentv1.ChangePlacementTermsRequest{ClientId: id, PlacementId: job.GetPlacementId(),
			Version: version, RequestId: "hours-change-1", Terms: &employmentv1.Terms{EffectiveDate: d(intake, 40), HoursPerWeek: hours, HourlyWageCents: 1500}})
		return r.GetPlacement(), err
	}
	before := terms()
	first, err := change(job.GetVersion(), 24)
	if err != nil {
		t.Fatal(err)
	}
	if terms() != before+1 {
		t.Fatalf("first change: %d terms rows, want %d", terms(), before+1)
	}
	for name, version := range map[string]int64{"as sent": job.GetVersion(), "version read again": first.GetVersion()} {
		again, err := change(version, 24)
		if err != nil {
			t.Fatalf("retry %s: %v", name, err)
		}
		if again.GetVersion() != first.GetVersion() || again.GetHoursPerWeek() != 24 || len(again.GetTermsHistory()) != len(first.GetTermsHistory()) {
			t.Errorf("retry %s answered %v, want the first answer %v", name, again, first)
		}
		if n := terms(); n != before+1 {
			t.Errorf("retry %s: %d terms rows, want %d", name, n, before+1)
		}
	}
	_, err = change(first.GetVersion(), 32)
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), "different request") {
		t.Errorf("same key, other terms: got %v, want FailedPrecondition saying the key was used for a different request", err)
	}
	if n := terms(); n != before+1 {
		t.Errorf("after the refused reuse: %d terms rows, want %d", n, before+1)
	}
}
