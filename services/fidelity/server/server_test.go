package server_test

import (
	"context"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	fidelityv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/fidelity/v1"
	"github.com/ipsbridge/ipsbridge/services/fidelity/server"
)

func start(t *testing.T) (*testplatform.Platform, fidelityv1.FidelityServiceClient) {
	t.Helper()
	p := testplatform.Start(t)
	if err := server.Migrate(context.Background(), p.Pool); err != nil {
		t.Fatal(err)
	}
	az, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	srv, _, err := server.Build(server.Deps{Pool: p.RuntimePool(t, server.Runtime), Verifier: p.Verifier, Authz: az, Logger: testplatform.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	return p, fidelityv1.NewFidelityServiceClient(testplatform.Dial(t, testplatform.Serve(t, srv)))
}

func assigned(t *testing.T, p *testplatform.Platform, cli fidelityv1.FidelityServiceClient) *fidelityv1.Review {
	t.Helper()
	r, err := cli.RequestReview(p.As(t, "sup-eva"), &fidelityv1.RequestReviewRequest{TeamId: "noord-team-a",
		PeriodFrom: "2026-01-01", PeriodTo: "2026-06-30", RequestId: "srv-req-1"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := cli.AssignReviewer(p.As(t, "fr-maria"), &fidelityv1.AssignReviewerRequest{ReviewId: r.GetReview().GetReviewId(),
		ReviewerId: "fr-maria", ScheduledOn: "2026-07-01", Version: r.GetReview().GetVersion(), RequestId: "srv-assign-1"})
	if err != nil {
		t.Fatal(err)
	}
	return a.GetReview()
}

// Two reviewers' edits of the same version: one wins, the other is told to
// read again; a retry of the winner's request changes nothing.
func TestConcurrentScoresAndRetries(t *testing.T) {
	p, cli := start(t)
	r := assigned(t, p, cli)
	ctx := p.As(t, "fr-maria")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = cli.ScoreItem(ctx, &fidelityv1.ScoreItemRequest{ReviewId: r.GetReviewId(), ScaleId: r.GetScaleId(),
				ItemCode: "S1", Score: int32(3 + i), Evidence: "caseload lists", Version: r.GetVersion(), RequestId: "srv-score-" + string(rune('a'+i))})
		}()
	}
	wg.Wait()
	ok, aborted := 0, 0
	for _, err := range errs {
		switch status.Code(err) {
		case codes.OK:
			ok++
		case codes.Aborted:
			aborted++
		default:
			t.Fatalf("concurrent score: %v", err)
		}
	}
	if ok != 1 || aborted != 1 {
		t.Fatalf("%d succeeded, %d aborted; want 1 and 1", ok, aborted)
	}
	got, err := cli.GetReview(ctx, &fidelityv1.GetReviewRequest{ReviewId: r.GetReviewId()})
	if err != nil {
		t.Fatal(err)
	}
	winner := got.GetReview().GetScores()[0].GetScore()
	// The retry of either request: the winner's replays, the loser's is
	// still a conflict; neither changes the score.
	for i := range 2 {
		_, _ = cli.ScoreItem(ctx, &fidelityv1.ScoreItemRequest{ReviewId: r.GetReviewId(), ScaleId: r.GetScaleId(),
			ItemCode: "S1", Score: int32(3 + i), Evidence: "caseload lists", Version: r.GetVersion(), RequestId: "srv-score-" + string(rune('a'+i))})
	}
	again, err := cli.GetReview(ctx, &fidelityv1.GetReviewRequest{ReviewId: r.GetReviewId()})
	if err != nil {
		t.Fatal(err)
	}
	if s := again.GetReview().GetScores(); len(s) != 1 || s[0].GetScore() != winner || again.GetReview().GetVersion() != got.GetReview().GetVersion() {
		t.Fatalf("a retry changed the review: %v", again.GetReview())
	}
	if again.GetReview().GetTotal() != winner || again.GetReview().GetComplete() {
		t.Errorf("total %d complete %v, want %d and incomplete", again.GetReview().GetTotal(), again.GetReview().GetComplete(), winner)
	}
}

// Who may do what with a review, beyond the policy's role lines.
func TestRowRules(t *testing.T) {
	p, cli := start(t)
	r := assigned(t, p, cli)
	for _, c := range []struct {
		user string
		want codes.Code
	}{
		{"sup-eva", codes.OK},               // the team's supervisor
		{"es-anna", codes.PermissionDenied}, // no fidelity role
		{"dm-lucas", codes.NotFound},        // not final yet
		{"uwv-gijs", codes.PermissionDenied},
		{"fo-otto", codes.NotFound}, // bands only, never a review
	} {
		_, err := cli.GetReview(p.As(t, c.user), &fidelityv1.GetReviewRequest{ReviewId: r.GetReviewId()})
		if status.Code(err) != c.want {
			t.Errorf("%s reads the review: %v, want %v", c.user, status.Code(err), c.want)
		}
	}
	// A funding officer reads its region's bands (a funding agreement may
	// require a minimum band), not another region's.
	if _, err := cli.ListTeamBands(p.As(t, "fo-otto"), &fidelityv1.ListTeamBandsRequest{}); err != nil {
		t.Errorf("funding officer reading the bands: %v", err)
	}
	if _, err := cli.ListTeamBands(p.As(t, "fo-otto"), &fidelityv1.ListTeamBandsRequest{RegionId: "region-oost"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("funding officer reading another region's bands: %v, want PermissionDenied", err)
	}
	// Only the assigned reviewer scores.
	_, err := cli.ScoreItem(p.As(t, "sup-eva"), &fidelityv1.ScoreItemRequest{ReviewId: r.GetReviewId(), ItemCode: "S1", Score: 5,
		Evidence: "x", Version: r.GetVersion(), RequestId: "srv-sup-score"})
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("supervisor scoring: %v", err)
	}
	// The sample is closed to everyone without a sampler and to others.
	_, err = cli.ListSampleRecords(p.As(t, "sup-eva"), &fidelityv1.ListSampleRecordsRequest{ReviewId: r.GetReviewId()})
	if status.Code(err) != codes.NotFound {
		t.Errorf("supervisor sampling: %v", err)
	}
}
