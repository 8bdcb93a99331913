package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/ipsbridge/ipsbridge/internal/audit"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
)

// TestOneAuditRecordPerClientPerRequest: a GET of a whole client and a
// section each write exactly one record naming every section returned; a
// list writes one record per listed client; a refused read one denial.
func TestOneAuditRecordPerClientPerRequest(t *testing.T) {
	f := newFixture(t)
	c := f.enrol(t, "es-anna", "123456782", "one-record-1")
	other := f.enrol(t, "es-anna", "", "one-record-2")
	id := c.GetClientId()
	anna := f.p.As(t, "es-anna")

	before := auditCount(t, f, id)
	if _, err := f.cli.GetClient(anna, &clientsv1.GetClientRequest{ClientId: id}); err != nil {
		t.Fatal(err)
	}
	if n := auditCount(t, f, id) - before; n != 1 {
		t.Fatalf("GetClient wrote %d audit records, want 1", n)
	}
	var sections []string
	if err := f.p.Pool.QueryRow(context.Background(), `SELECT sections FROM audit.events WHERE client_id = $1 ORDER BY seq DESC LIMIT 1`, id).Scan(&sections); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sections) != "[identity trajectory work_goals clinical_input]" {
		t.Errorf("GetClient's record lists %v", sections)
	}

	before = auditCount(t, f, id)
	if _, err := f.cli.GetTrajectory(anna, &clientsv1.GetTrajectoryRequest{ClientId: id}); err != nil {
		t.Fatal(err)
	}
	if n := auditCount(t, f, id) - before; n != 1 {
		t.Fatalf("GetTrajectory wrote %d audit records, want 1", n)
	}

	before, beforeOther := auditCount(t, f, id), auditCount(t, f, other.GetClientId())
	if _, err := f.cli.ListClients(anna, &clientsv1.ListClientsRequest{PageSize: 10}); err != nil {
		t.Fatal(err)
	}
	if n, m := auditCount(t, f, id)-before, auditCount(t, f, other.GetClientId())-beforeOther; n != 1 || m != 1 {
		t.Fatalf("ListClients wrote %d and %d records for its two clients, want 1 each", n, m)
	}

	// A clinician of another team sees nothing: one denial, NotFound.
	before = auditCount(t, f, id)
	if _, err := f.cli.GetTrajectory(f.p.As(t, "cl-daan"), &clientsv1.GetTrajectoryRequest{ClientId: id}); err == nil {
		t.Fatal("a clinician of another team read the trajectory")
	}
	var outcome string
	if err := f.p.Pool.QueryRow(context.Background(), `SELECT outcome FROM audit.events WHERE client_id = $1 ORDER BY seq DESC LIMIT 1`, id).Scan(&outcome); err != nil {
		t.Fatal(err)
	}
	if n := auditCount(t, f, id) - before; n != 1 || outcome != "denied" {
		t.Fatalf("refused read wrote %d records, last %s; want 1 denied", n, outcome)
	}
}

// TestConcurrentReadersAndWritersKeepTheChain: many readers (group-committed
// records) and writers (records in their own transactions) at once; every
// acknowledged request is recorded once and the chain verifies end to end.
func TestConcurrentReadersAndWritersKeepTheChain(t *testing.T) {
	f := newFixture(t)
	id := f.enrol(t, "es-anna", "", "chain-client-1").GetClientId()
	anna := f.p.As(t, "es-anna")
	before := auditCount(t, f, id)

	const readers, writers, each = 12, 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, (readers+writers)*each)
	for r := range readers {
		wg.Go(func() {
			for i := range each {
				ctx := metadata.AppendToOutgoingContext(anna, "x-request-id", fmt.Sprintf("reader-%d-%d", r, i))
				if _, err := f.cli.GetTrajectory(ctx, &clientsv1.GetTrajectoryRequest{ClientId: id}); err != nil {
					errs <- err
				}
			}
		})
	}
	var okWrites sync.Map
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				g, err := f.cli.GetWorkGoals(anna, &clientsv1.GetWorkGoalsRequest{ClientId: id})
				if err != nil {
					errs <- err
					continue
				}
				_, err = f.cli.UpdateWorkGoals(anna, &clientsv1.UpdateWorkGoalsRequest{ClientId: id, WorkGoals: &clientsv1.WorkGoals{
					Goals: fmt.Sprintf("goal %d-%d", w, i), Version: g.GetWorkGoals().GetVersion()},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"goals"}}})
				switch status.Code(err) {
				case codes.OK:
					okWrites.Store(fmt.Sprint(w, i), true)
				case codes.Aborted: // another writer got there first
				default:
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	nWrites := 0
	okWrites.Range(func(any, any) bool { nWrites++; return true })
	var reads, writes int
	if err := f.p.Pool.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE action = 'read' AND outcome = 'allowed' AND request_id LIKE 'reader-%'),
		count(*) FILTER (WHERE action = 'write' AND outcome = 'allowed') FROM audit.events WHERE client_id = $1`, id).Scan(&reads, &writes); err != nil {
		t.Fatal(err)
	}
	if reads != readers*each || writes != nWrites || nWrites == 0 {
		t.Fatalf("recorded %d reads (want %d) and %d writes (want %d acknowledged)", reads, readers*each, writes, nWrites)
	}
	if got := auditCount(t, f, id) - before; got < readers*each+writers*each+nWrites {
		t.Fatalf("only %d records for %d requests", got, readers*each+writers*each+nWrites)
	}
	res, err := audit.Verify(context.Background(), f.p.Pool)
	if err != nil || !res.Intact() {
		t.Fatalf("chain after concurrent requests: %+v, %v", res, err)
	}
}

// TestPageTokenBoundToQuery: a client list's page token continues only the
// list it came from: another filter or another caller gets
// INVALID_ARGUMENT, never another list's page.
func TestPageTokenBoundToQuery(t *testing.T) {
	f := newFixture(t)
	for i := range 3 {
		f.enrol(t, "es-anna", "", fmt.Sprintf("bound-token-%d", i))
	}
	anna := f.p.As(t, "es-anna")
	r, err := f.cli.ListClients(anna, &clientsv1.ListClientsRequest{PageSize: 1, TeamId: "noord-team-a", OpenOnly: true})
	if err != nil || r.GetNextPageToken() == "" || len(r.GetLoads()) != 1 || r.GetLoads()[0].GetClients() != 3 {
		t.Fatalf("first page: %v, loads %v, %v", r.GetClients(), r.GetLoads(), err)
	}
	tok := r.GetNextPageToken()
	if _, err := f.cli.ListClients(anna, &clientsv1.ListClientsRequest{PageSize: 1, TeamId: "noord-team-a", OpenOnly: true, PageToken: tok}); err != nil {
		t.Fatalf("same query, next page: %v", err)
	}
	for name, c := range map[string]struct {
		ctx context.Context
		req *clientsv1.ListClientsRequest
	}{
		"no filter":      {anna, &clientsv1.ListClientsRequest{PageSize: 1, PageToken: tok}},
		"other team":     {anna, &clientsv1.ListClientsRequest{PageSize: 1, TeamId: "noord-team-b", OpenOnly: true, PageToken: tok}},
		"another caller": {f.p.As(t, "sup-eva"), &clientsv1.ListClientsRequest{PageSize: 1, TeamId: "noord-team-a", OpenOnly: true, PageToken: tok}},
	} {
		if _, err := f.cli.ListClients(c.ctx, c.req); status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want INVALID_ARGUMENT", name, err)
		}
	}
}

// TestClientSearchByName: a name search finds the caller's clients by any
// part of the name in any case, treats % and _ as letters, and finds
// nothing of another team's clients.
func TestClientSearchByName(t *testing.T) {
	f := newFixture(t)
	anna := f.p.As(t, "es-anna")
	for i, name := range [][2]string{{"Sanne", "Kuipers"}, {"Ruben", "de Wit"}, {"Fleur", "Mulder_100%"}} {
		if _, err := f.cli.CreateClient(anna, &clientsv1.CreateClientRequest{RequestId: fmt.Sprintf("search-client-%d", i), Client: &clientsv1.Client{
			Identity: &clientsv1.Identity{GivenName: name[0], FamilyName: name[1]}, Trajectory: &clientsv1.Trajectory{TeamId: "noord-team-a"},
		}}); err != nil {
			t.Fatal(err)
		}
	}
	search := func(ctx context.Context, q string) []string {
		t.Helper()
		r, err := f.cli.ListClients(ctx, &clientsv1.ListClientsRequest{NameContains: q})
		if err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
		var out []string
		for _, c := range r.GetClients() {
			out = append(out, c.GetIdentity().GetGivenName())
		}
		return out
	}
	for q, want := range map[string]string{"kuip": "[Sanne]", "SANNE K": "[Sanne]", "e": "[Sanne Ruben Fleur]", "%": "[Fleur]", "_": "[Fleur]", "zz": "[]"} {
		if got := fmt.Sprint(search(anna, q)); got != want {
			t.Errorf("search %q: %s, want %s", q, got, want)
		}
	}
	if got := search(f.p.As(t, "es-bram"), "Sanne"); len(got) != 0 {
		t.Errorf("another team's specialist finds %v", got)
	}
}
