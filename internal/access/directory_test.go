package access_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

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

// Issue 14, finding 7: role and teams come from the directory. A user moved
// out of a team, given another role, moved to another organisation or
// removed loses what the token still claims once the cached entry is older
// than FreshFor; teams a token claims that the directory does not give
// count for nothing.
func TestDirectoryDecidesRoleAndTeams(t *testing.T) {
	p := testplatform.Start(t)
	ctx := context.Background()
	dir := access.NewDirectory(p.Pool)
	now := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	dir.SetClock(func() time.Time { return now })
	anna := authn.Principal{Subject: "es-anna", OrgID: "mha-noord", Role: "employment_specialist", Teams: []string{"noord-team-a", "noord-team-b"}}
	sub, err := dir.Subject(ctx, anna)
	if err != nil || !slices.Equal(sub.Teams, []string{"noord-team-a"}) {
		t.Fatalf("es-anna claiming team b: %+v %v, want team a only", sub, err)
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := p.Pool.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	// Moved to team b: within the cache period the old entry stands,
	// after it the new one.
	exec(`UPDATE clients.team_members SET team_id = 'noord-team-b' WHERE user_id = 'es-anna'`)
	now = now.Add(dir.FreshFor / 2)
	if sub, _ := dir.Subject(ctx, anna); !slices.Equal(sub.Teams, []string{"noord-team-a"}) {
		t.Fatalf("within the cache period: %v", sub.Teams)
	}
	now = now.Add(dir.FreshFor)
	if sub, err := dir.Subject(ctx, anna); err != nil || !slices.Equal(sub.Teams, []string{"noord-team-b"}) {
		t.Fatalf("after the cache period: %+v %v, want team b", sub, err)
	}
	// Another role: the token's is refused.
	exec(`UPDATE clients.users SET role = 'clinician' WHERE id = 'es-anna'`)
	now = now.Add(dir.FreshFor)
	if _, err := dir.Subject(ctx, anna); !errors.Is(err, access.ErrUnknownUser) || !errors.Is(err, apperr.ErrPermissionDenied) {
		t.Fatalf("token role no longer the directory's: %v", err)
	}
	// Removed: refused, and no stale entry serves it during an outage.
	exec(`DELETE FROM clients.team_members WHERE user_id = 'es-bram'`)
	exec(`DELETE FROM clients.users WHERE id = 'es-bram'`)
	now = now.Add(dir.FreshFor)
	bram := authn.Principal{Subject: "es-bram", OrgID: "mha-noord", Role: "employment_specialist", Teams: []string{"noord-team-b"}}
	if _, err := dir.Subject(ctx, bram); !errors.Is(err, access.ErrUnknownUser) {
		t.Fatalf("removed user: %v", err)
	}
	// Moved to another organisation.
	exec(`UPDATE clients.users SET org_id = 'uwv-noord' WHERE id = 'gem-jet'`)
	jet := authn.Principal{Subject: "gem-jet", OrgID: "gem-groningen", Role: "benefits_officer"}
	if _, err := dir.Subject(ctx, jet); !errors.Is(err, access.ErrUnknownUser) {
		t.Fatalf("moved user: %v", err)
	}
}
