package server_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/consumer"
	"github.com/ipsbridge/ipsbridge/internal/outbox"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
	employmentv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/employment/v1"
	clientsserver "github.com/ipsbridge/ipsbridge/services/clients/server"
)

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func (f *fixture) phaseEvents(t *testing.T, clientID string) []string {
	t.Helper()
	rows, err := f.p.Pool.Query(context.Background(), `SELECT change->>'to' FROM events.log
		WHERE client_id = $1 AND type = $2 ORDER BY position`, clientID, string(outbox.PhaseChanged))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var to string
		if err := rows.Scan(&to); err != nil {
			t.Fatal(err)
		}
		out = append(out, to)
	}
	return out
}

// The job start's answer is lost with the process that committed it: the
// employment service here cannot reach the clients service at all, and
// nobody retries. The committed JobStarted event alone moves the
// trajectory to employed, within seconds, audited as the platform; the job
// end moves it back; each move is reported once; a replay of the events
// changes nothing (issue 17, item 4).
func TestCommittedJobStartMovesThePhaseWithoutTheCaller(t *testing.T) {
	f := newFixtureWith(t, closedAddr(t), true)
	id, intake := f.enrol(t, "phase-client-1")
	anna := f.as(t, "es-anna")

	job, err := f.startJob(t, anna, id, d(intake, 10), 16, 1450, "phase-start-1")
	if err != nil {
		t.Fatalf("job start with the clients service unreachable: %v", err)
	}
	took := testplatform.Eventually(t, 5*time.Second, "employed after the job start", func() bool {
		return f.trajectory(t, id).GetPhase() == clientsv1.Phase_PHASE_EMPLOYED
	})
	t.Logf("phase employed %s after the job start's answer", took)
	var actor string
	if err := f.p.Pool.QueryRow(context.Background(), `SELECT actor_id FROM audit.events
		WHERE client_id = $1 AND service = 'clients' AND action = 'write' AND 'trajectory' = ANY (sections)
		ORDER BY seq DESC LIMIT 1`, id).Scan(&actor); err != nil || actor != "system:phase" {
		t.Errorf("the move is audited as %q (%v), want system:phase", actor, err)
	}

	// A second job: still employed, no new phase change. Its end leaves
	// one job: still employed. The last end: back to job search.
	second, err := f.startJob(t, anna, id, d(intake, 20), 8, 1500, "phase-start-2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.emp.EndPlacement(anna, endReq(id, second.GetPlacementId(), d(intake, 30), second.GetVersion())); err != nil {
		t.Fatal(err)
	}
	if _, err := f.emp.EndPlacement(anna, endReq(id, job.GetPlacementId(), d(intake, 40), job.GetVersion())); err != nil {
		t.Fatal(err)
	}
	testplatform.Eventually(t, 5*time.Second, "job search after the last job ended", func() bool {
		return f.trajectory(t, id).GetPhase() == clientsv1.Phase_PHASE_JOB_SEARCH
	})
	// Every job event handled: the consumer's cursor is at the log's last
	// job event.
	testplatform.Eventually(t, 5*time.Second, "every job event handled", func() bool {
		var behind bool
		err := f.p.Pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM events.log
			WHERE type IN ($1, $2) AND position > (SELECT position FROM consumer.cursors WHERE name = 'clients.phase'))`,
			string(outbox.JobStarted), string(outbox.JobEnded)).Scan(&behind)
		return err == nil && !behind
	})
	// The consumer's PhaseChanged reaches the log when the relay moves it.
	want := "[intake job_search employed job_search]"
	testplatform.Eventually(t, 5*time.Second, "phase changes "+want, func() bool {
		return fmtList(f.phaseEvents(t, id)) == want
	})
	if got := f.phaseEvents(t, id); fmtList(got) != want {
		t.Fatalf("phase changes %v, want %s", got, want)
	}

	// Replay: the cursor goes back to the start and the consumer handles
	// every job event again. The phase already follows; nothing changes.
	if _, err := f.p.Pool.Exec(context.Background(), `UPDATE consumer.cursors SET position = 0 WHERE name = 'clients.phase'`); err != nil {
		t.Fatal(err)
	}
	az, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	cfgs := clientsserver.Consumers(clientsserver.Deps{Pool: f.p.Pool, Authz: az, Logger: testplatform.Logger()})
	c := consumer.New(f.p.Pool, cfgs[0], testplatform.Logger())
	if _, err := c.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := f.phaseEvents(t, id); fmtList(got) != want {
		t.Fatalf("after a replay the phase changes are %v, want %s", got, want)
	}
	if ph := f.trajectory(t, id).GetPhase(); ph != clientsv1.Phase_PHASE_JOB_SEARCH {
		t.Fatalf("after a replay the phase is %s", ph)
	}
}

// A phase the specialist set by hand is left alone: a job start during
// intake does not skip job search.
func TestJobStartLeavesIntakeAlone(t *testing.T) {
	f := newFollowingFixture(t)
	anna := f.as(t, "es-anna")
	resp, err := f.cli.CreateClient(anna, &clientsv1.CreateClientRequest{RequestId: "phase-intake-1", Client: &clientsv1.Client{
		Identity:   &clientsv1.Identity{GivenName: "Sanne", FamilyName: "Kuipers"},
		Trajectory: &clientsv1.Trajectory{TeamId: "noord-team-a"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetClient().GetClientId()
	f.transition(t, id, clientsv1.Phase_PHASE_INTAKE)
	if _, err := f.startJob(t, anna, id, time.Now().Format(time.DateOnly), 16, 1450, "phase-intake-job"); err != nil {
		t.Fatal(err)
	}
	testplatform.Eventually(t, 5*time.Second, "the job start handled", func() bool {
		var n int
		err := f.p.Pool.QueryRow(context.Background(), `SELECT handled FROM consumer.cursors WHERE name = 'clients.phase'`).Scan(&n)
		return err == nil && n >= 1
	})
	if ph := f.trajectory(t, id).GetPhase(); ph != clientsv1.Phase_PHASE_INTAKE {
		t.Fatalf("phase %s, want intake", ph)
	}
}

func endReq(clientID, placementID, end string, version int64) *employmentv1.EndPlacementRequest {
	return &employmentv1.EndPlacementRequest{ClientId: clientID, PlacementId: placementID, EndDate: end,
		EndReason: "contract not renewed", Version: version}
}

func fmtList(s []string) string { return "[" + strings.Join(s, " ") + "]" }
