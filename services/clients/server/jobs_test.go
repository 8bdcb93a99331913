package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
)

// The employment service committed a job start and died before it said
// anything to anyone: all there is, is the event in the outbox. The
// clients service moves the trajectory to employed by itself, reports the
// change once, and a job end with no other job left moves it back.
func TestJobEventsMoveThePhaseWithoutARequest(t *testing.T) {
	f := newFixture(t)
	f.p.FollowEvents(t)
	id := f.enrol(t, "es-anna", "", "jobs-phase-1").GetClientId()
	ctx := f.p.As(t, "es-anna")
	for _, ph := range []clientsv1.Phase{clientsv1.Phase_PHASE_INTAKE, clientsv1.Phase_PHASE_JOB_SEARCH} {
		tr, err := f.cli.GetTrajectory(ctx, &clientsv1.GetTrajectoryRequest{ClientId: id})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.cli.TransitionPhase(ctx, &clientsv1.TransitionPhaseRequest{ClientId: id, Phase: ph, Version: tr.GetTrajectory().GetVersion()}); err != nil {
			t.Fatal(err)
		}
	}
	phase := func() clientsv1.Phase {
		tr, err := f.cli.GetTrajectory(ctx, &clientsv1.GetTrajectoryRequest{ClientId: id})
		if err != nil {
			t.Fatal(err)
		}
		return tr.GetTrajectory().GetPhase()
	}
	emit := func(typ outbox.Type, active int) {
		err := pgx.BeginFunc(context.Background(), f.p.Pool, func(tx pgx.Tx) error {
			return outbox.Add(context.Background(), tx, "employment", outbox.Event{Type: typ, ClientID: id, RegionID: "noord",
				Subject: "placements/p1", Change: map[string]any{"placement_id": "p1", "active_placements": active}})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	emit(outbox.JobStarted, 1)
	testplatform.Eventually(t, 5*time.Second, "employed", func() bool { return phase() == clientsv1.Phase_PHASE_EMPLOYED })
	emit(outbox.JobEnded, 1) // another job goes on
	emit(outbox.JobEnded, 0)
	testplatform.Eventually(t, 5*time.Second, "job search", func() bool { return phase() == clientsv1.Phase_PHASE_JOB_SEARCH })
	var changes []string
	rows, err := f.p.Pool.Query(context.Background(), `SELECT change->>'to' FROM events.log WHERE client_id = $1 AND type = $2
		UNION ALL SELECT change->>'to' FROM outbox.events WHERE client_id = $1 AND type = $2`, id, string(outbox.PhaseChanged))
	if err != nil {
		t.Fatal(err)
	}
	changes, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	employed, back := 0, 0
	for _, c := range changes {
		switch c {
		case "employed":
			employed++
		case "job_search":
			back++
		}
	}
	if employed != 1 || back != 2 { // job_search once by hand, once after the last job
		t.Errorf("phase changes %v, want one to employed and (with the manual one) two to job_search", changes)
	}
}
