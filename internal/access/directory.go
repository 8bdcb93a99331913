package access

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ipsbridge/ipsbridge/internal/apperr"
	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/database"
)

// Organization is a directory entry as the policy needs it.
type Organization struct {
	ID, Kind, RegionID string
	TeamIDs            []string
}

// ErrUnknownOrganization: the directory has no such organisation; a caller
// of it is refused.
// It is a permission denial, never an outage.
var ErrUnknownOrganization = fmt.Errorf("%w: organisation not in the directory", apperr.ErrPermissionDenied)

// Directory reads organisations from the clients schema's organization_of
// function, cached: an entry is fresh for FreshFor; after that it is
// looked up again, and while the lookup fails (the database restarting)
// the last known entry is used for up to StaleFor more, so that an outage
// never reads as "unknown caller". Past that a failed lookup is
// ErrUnavailable, never a denial.
type Directory struct {
	pool     *pgxpool.Pool
	FreshFor time.Duration
	StaleFor time.Duration
	now      func() time.Time

	mu   sync.Mutex
	orgs map[string]cachedOrg
}

type cachedOrg struct {
	org     Organization
	fetched time.Time
}

// NewDirectory returns a directory reading through pool.
func NewDirectory(pool *pgxpool.Pool) *Directory {
	return &Directory{pool: pool, FreshFor: 30 * time.Second, StaleFor: 10 * time.Minute, now: time.Now, orgs: map[string]cachedOrg{}}
}

// Organization returns the organisation with id.
func (d *Directory) Organization(ctx context.Context, id string) (Organization, error) {
	now := d.now()
	d.mu.Lock()
	c, ok := d.orgs[id]
	d.mu.Unlock()
	if ok && now.Sub(c.fetched) < d.FreshFor {
		return c.org, nil
	}
	org, err := d.lookup(ctx, id)
	switch {
	case err == nil:
		d.mu.Lock()
		if len(d.orgs) > 10000 {
			clear(d.orgs) // bounded; the directory is small in practice
		}
		d.orgs[id] = cachedOrg{org: org, fetched: now}
		d.mu.Unlock()
		return org, nil
	case errors.Is(err, ErrUnknownOrganization):
		return Organization{}, err
	case ok && now.Sub(c.fetched) < d.FreshFor+d.StaleFor:
		return c.org, nil
	default:
		return Organization{}, fmt.Errorf("%w: look up organisation %s: %w", apperr.ErrUnavailable, id, err)
	}
}

func (d *Directory) lookup(ctx context.Context, id string) (Organization, error) {
	var o Organization
	err := d.pool.QueryRow(ctx, `SELECT id, kind, region_id, team_ids FROM clients.organization_of($1)`, id).
		Scan(&o.ID, &o.Kind, &o.RegionID, &o.TeamIDs)
	if errors.Is(err, pgx.ErrNoRows) {
		return Organization{}, fmt.Errorf("%w: %s", ErrUnknownOrganization, id)
	}
	if err != nil {
		return Organization{}, fmt.Errorf("load organisation %s: %w", id, err)
	}
	return o, nil
}

// Subject turns a verified principal into a policy subject: the
// organisation's kind and region from the directory, and only those of the
// token's teams that belong to the organisation, whatever the token claims.
func (d *Directory) Subject(ctx context.Context, p authn.Principal) (authz.Subject, error) {
	org, err := d.Organization(ctx, p.OrgID)
	if err != nil {
		return authz.Subject{}, err
	}
	sub := authz.Subject{UserID: p.Subject, OrgID: org.ID, OrgKind: org.Kind, RegionID: org.RegionID, Role: p.Role}
	for _, t := range p.Teams {
		if slices.Contains(org.TeamIDs, t) {
			sub.Teams = append(sub.Teams, t)
		}
	}
	if p.Role == FidelityReviewer && org.Kind == "independent" {
		if sub.ReviewTeams, err = d.reviewTeams(ctx, p.Subject); err != nil {
			return authz.Subject{}, err
		}
	}
	return sub, nil
}

// FidelityReviewer is the role whose open reviews give it the "review"
// relation to the reviewed teams' clients.
const FidelityReviewer = "fidelity_reviewer"

// reviewTeams are the teams of the open fidelity reviews assigned to a
// reviewer, from the fidelity schema's published open_review_teams. Never
// cached: a review's close must end the access on the next request. Where
// the fidelity schema is not deployed there are none.
func (d *Directory) reviewTeams(ctx context.Context, reviewerID string) ([]string, error) {
	rows, err := d.pool.Query(ctx, `SELECT team_id FROM fidelity.open_review_teams($1)`, reviewerID)
	if err == nil {
		var teams []string
		teams, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err == nil {
			return teams, nil
		}
	}
	if c := database.Code(err); c == "3F000" || c == "42883" { // no such schema or function
		return nil, nil
	}
	return nil, fmt.Errorf("%w: open reviews of %s: %w", apperr.ErrUnavailable, reviewerID, err)
}

// User is a directory user as another service needs to know them: their
// organisation and role.
type User struct {
	ID, OrgID, Role string
}

// User returns the directory's user with id from the clients schema's
// published user_of function; ErrNotFound when there is none.
func (d *Directory) User(ctx context.Context, id string) (User, error) {
	var u User
	err := d.pool.QueryRow(ctx, `SELECT id, org_id, role FROM clients.user_of($1)`, id).Scan(&u.ID, &u.OrgID, &u.Role)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("user %s: %w", id, apperr.ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("%w: look up user %s: %w", apperr.ErrUnavailable, id, err)
	}
	return u, nil
}
