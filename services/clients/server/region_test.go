package server_test

import (
	"testing"

	"google.golang.org/grpc/codes"

	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
)

// Issue 14, finding 6: an organisation of another region cannot be named as
// involved in a client's trajectory unless the client region's policy
// allows it (the default policy does not).
func TestInvolvingAnotherRegionsOrganisationIsRefused(t *testing.T) {
	f := newFixture(t)
	ctx := f.p.As(t, "es-anna")
	_, err := f.cli.CreateClient(ctx, &clientsv1.CreateClientRequest{RequestId: "cross-region-1", Client: &clientsv1.Client{
		Identity:   &clientsv1.Identity{GivenName: "Sanne", FamilyName: "Kuipers"},
		Trajectory: &clientsv1.Trajectory{TeamId: "noord-team-a", InvolvedOrganizationIds: []string{"uwv-noord", "mha-oost"}},
	}})
	if code(err) != codes.PermissionDenied {
		t.Fatalf("enrol with mha-oost involved: %v, want PERMISSION_DENIED", err)
	}
	c := f.enrol(t, "es-anna", "", "cross-region-2")
	tr := c.GetTrajectory()
	_, err = f.cli.UpdateTrajectory(ctx, &clientsv1.UpdateTrajectoryRequest{ClientId: c.GetClientId(),
		Trajectory: &clientsv1.Trajectory{InvolvedOrganizationIds: append(tr.GetInvolvedOrganizationIds(), "mha-oost"), Version: tr.GetVersion()},
		UpdateMask: mask("involved_organization_ids")})
	if code(err) != codes.PermissionDenied {
		t.Fatalf("add mha-oost: %v, want PERMISSION_DENIED", err)
	}
	// Organisations of the client's own region stay as they were; removing
	// one is no addition.
	if _, err := f.cli.UpdateTrajectory(ctx, &clientsv1.UpdateTrajectoryRequest{ClientId: c.GetClientId(),
		Trajectory: &clientsv1.Trajectory{InvolvedOrganizationIds: []string{"uwv-noord"}, Version: tr.GetVersion()},
		UpdateMask: mask("involved_organization_ids")}); err != nil {
		t.Fatalf("drop the municipality: %v", err)
	}
	if _, err := f.cli.GetClient(f.p.As(t, "es-olaf"), &clientsv1.GetClientRequest{ClientId: c.GetClientId()}); code(err) != codes.NotFound {
		t.Errorf("es-olaf of mha-oost reads the client: %v", err)
	}
}
