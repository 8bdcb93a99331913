package access_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/apperr"
	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/testplatform"
)

// TestDirectoryOutageIsNeverADenial: an unknown organisation is a denial;
// a lookup that fails (here: the pool is closed) serves the last known
// entry while it may, and is ErrUnavailable after that, never a denial.
func TestDirectoryOutageIsNeverADenial(t *testing.T) {
	p := testplatform.Start(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, p.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	dir := access.NewDirectory(pool)
	sub, err := dir.Subject(ctx, authn.Principal{Subject: "es-anna", OrgID: "mha-noord", Role: "employment_specialist", Teams: []string{"noord-team-a", "oost-team-x"}})
	if err != nil {
		t.Fatal(err)
	}
	if sub.OrgKind != "mha" || sub.RegionID != "region-noord" || len(sub.Teams) != 1 || sub.Teams[0] != "noord-team-a" {
		t.Fatalf("subject %+v: want mha in region-noord with only its own team", sub)
	}
	if _, err := dir.Organization(ctx, "no-such-org"); !errors.Is(err, apperr.ErrPermissionDenied) || errors.Is(err, apperr.ErrUnavailable) {
		t.Fatalf("unknown organisation: %v, want a denial", err)
	}

	pool.Close() // the database is gone
	dir.FreshFor = 0
	if org, err := dir.Organization(ctx, "mha-noord"); err != nil || org.Kind != "mha" {
		t.Fatalf("during an outage the last known entry serves: %+v, %v", org, err)
	}
	dir.StaleFor = 0
	_, err = dir.Organization(ctx, "mha-noord")
	if !errors.Is(err, apperr.ErrUnavailable) || errors.Is(err, apperr.ErrPermissionDenied) {
		t.Fatalf("lookup failure after the stale window: %v, want ErrUnavailable and no denial", err)
	}
	if _, err := dir.Organization(ctx, "uwv-noord"); !errors.Is(err, apperr.ErrUnavailable) {
		t.Fatalf("never-seen organisation during an outage: %v, want ErrUnavailable", err)
	}
}
