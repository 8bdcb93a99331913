package server_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
)

// Issue 14, finding 4: enrolling (or giving) a BSN tells a specialist
// nothing about clients it may not see. A BSN of a client the caller may
// see is refused with that client's id; one of a client of another team
// answers exactly as a new BSN would, and the match goes to the owning
// team's access history and the MHA's possible duplicates.
func TestBSNOfAnotherTeamsClientRevealsNothing(t *testing.T) {
	f := newFixture(t)
	anna := f.enrol(t, "es-anna", "111222333", "bsn-anna-1") // team a
	teamB := func(bsn, key string) (*clientsv1.CreateClientResponse, error) {
		return f.cli.CreateClient(f.p.As(t, "es-bram"), &clientsv1.CreateClientRequest{RequestId: key, Client: &clientsv1.Client{
			Identity:   &clientsv1.Identity{GivenName: "Sanne", FamilyName: "Kuipers", DateOfBirth: "1991-04-12", Bsn: bsn},
			Trajectory: &clientsv1.Trajectory{TeamId: "noord-team-b"},
		}})
	}
	if _, err := f.cli.GetClient(f.p.As(t, "es-bram"), &clientsv1.GetClientRequest{ClientId: anna.GetClientId()}); code(err) != codes.NotFound {
		t.Fatalf("es-bram sees es-anna's client: %v", err)
	}

	// A BSN nobody has, and es-anna's client's BSN: the same answer.
	fresh, err := teamB("123456782", "bsn-bram-fresh")
	if err != nil {
		t.Fatalf("a new BSN: %v", err)
	}
	known, err := teamB("111222333", "bsn-bram-known")
	if err != nil {
		t.Fatalf("the BSN of another team's client: %v, want the same answer as for a new BSN", err)
	}
	if known.GetClient().GetClientId() == anna.GetClientId() || known.GetClient().GetIdentity().GetBsn() != fresh.GetClient().GetIdentity().GetBsn()[:6]+"333" {
		t.Errorf("answer for the known BSN: %v; for a new one: %v", known.GetClient(), fresh.GetClient())
	}

	// Within what es-bram sees, a BSN is still unique.
	_, err = teamB("111222333", "bsn-bram-again")
	if code(err) != codes.AlreadyExists || !strings.Contains(err.Error(), known.GetClient().GetClientId()) {
		t.Errorf("es-bram enrols his own client's BSN again: %v", err)
	}
	// And es-anna is told about her own client.
	_, err = f.cli.CreateClient(f.p.As(t, "es-anna"), &clientsv1.CreateClientRequest{RequestId: "bsn-anna-2", Client: &clientsv1.Client{
		Identity:   &clientsv1.Identity{GivenName: "S", FamilyName: "K", Bsn: "111222333"},
		Trajectory: &clientsv1.Trajectory{TeamId: "noord-team-a"},
	}})
	if code(err) != codes.AlreadyExists || !strings.Contains(err.Error(), anna.GetClientId()) {
		t.Errorf("es-anna enrols her client's BSN again: %v", err)
	}

	// Giving the fresh client the BSN of another of es-anna's clients:
	// accepted as well.
	other := f.enrol(t, "es-anna", "232262536", "bsn-anna-3")
	if _, err := f.cli.UpdateIdentity(f.p.As(t, "es-bram"), &clientsv1.UpdateIdentityRequest{ClientId: fresh.GetClient().GetClientId(),
		Identity: &clientsv1.Identity{Bsn: "232262536", Version: fresh.GetClient().GetIdentity().GetVersion()}, UpdateMask: mask("bsn")}); err != nil {
		t.Errorf("es-bram gives his client the BSN of another team's client: %v", err)
	}

	// The owning team learns of both, the MHA has them to resolve.
	var n int
	if err := f.p.Pool.QueryRow(context.Background(), `SELECT count(*) FROM clients.possible_duplicates WHERE other_client_id = ANY ($1::uuid[])`,
		[]string{anna.GetClientId(), other.GetClientId()}).Scan(&n); err != nil || n != 2 {
		t.Errorf("%d possible duplicates of es-anna's clients (%v), want 2", n, err)
	}
	matches := 0
	for _, c := range []*clientsv1.Client{anna, other} {
		h, err := f.cli.ListAccessEvents(f.p.As(t, "es-anna"), &clientsv1.ListAccessEventsRequest{ClientId: c.GetClientId()})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range h.GetAccessEvents() {
			if e.GetAction() == "match_bsn" && e.GetActorId() == "es-bram" {
				matches++
			}
		}
	}
	if matches != 2 {
		t.Errorf("es-anna's clients' access histories show %d BSN matches, want 2", matches)
	}
}
