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
	// Name is how people know the organisation, e.g. "UWV Noord".
	Name string
}

// ErrUnknownOrganization: the directory has no such organisation; a caller
// of it is refused.
// It is a permission denial, never an outage.
var ErrUnknownOrganization = fmt.Errorf("%w: organisation not in the directory", apperr.ErrPermissionDenied)

// ErrUnknownUser: the directory has no such user, or not in the
// organisation or with the role the token claims (removed, moved or given
// another role since the token was issued). A permission denial.
var ErrUnknownUser = fmt.Errorf("%w: user not in the directory as the token claims", apperr.ErrPermissionDenied)

// User is a directory entry of a person or partner system: the
// organisation, role and teams the directory gives it now.
type User struct {
	ID, OrgID, Role string
	TeamIDs         []string
}

// Directory reads organisations and users from the clients schema's
// organization_of and user_of functions, cached: an entry is fresh for
// FreshFor; after that it is looked up again, and while the lookup fails
// (the database restarting) the last known entry is used for up to
// StaleFor more, so that an outage never reads as "unknown caller". Past
// that a failed lookup is ErrUnavailable, never a denial. A user removed or
// changed in the directory is refused, or decided with its new role and
// teams, at most FreshFor later.
type Directory struct {
	pool     *pgxpool.Pool
	FreshFor time.Duration
	StaleFor time.Duration
	now      func() time.Time

	mu    sync.Mutex
	orgs  map[string]cached[Organization]
	users map[string]cached[User]
}

type cached[T any] struct {
	v       T
	fetched time.Time
}

// NewDirectory returns a directory reading through pool.
func NewDirectory(pool *pgxpool.Pool) *Directory {
	return &Directory{pool: pool, FreshFor: 30 * time.Second, StaleFor: 10 * time.Minute, now: time.Now,
		orgs: map[string]cached[Organization]{}, users: map[string]cached[User]{}}
}

// SetClock replaces the directory's clock (tests of the cache period).
func (d *Directory) SetClock(now func() time.Time) { d.now = now }

// Organization returns the organisation with id.
func (d *Directory) Organization(ctx context.Context, id string) (Organization, error) {
	return lookupCached(ctx, d, d.orgs, id, "organisation", ErrUnknownOrganization, d.lookup)
}

// User returns the user with id.
func (d *Directory) User(ctx context.Context, id string) (User, error) {
	return lookupCached(ctx, d, d.users, id, "user", ErrUnknownUser, d.lookupUser)
}

func lookupCached[T any](ctx context.Context, d *Directory, m map[string]cached[T], id, what string, unknown error,
	lookup func(context.Context, string) (T, error)) (T, error) {
	var zero T
	now := d.now()
	d.mu.Lock()
	c, ok := m[id]
	d.mu.Unlock()
	if ok && now.Sub(c.fetched) < d.FreshFor {
		return c.v, nil
	}
	v, err := lookup(ctx, id)
	switch {
	case err == nil:
		d.mu.Lock()
		if len(m) > 10000 {
			clear(m) // bounded; the directory is small in practice
		}
		m[id] = cached[T]{v: v, fetched: now}
		d.mu.Unlock()
		return v, nil
	case errors.Is(err, unknown):
		d.mu.Lock()
		delete(m, id) // removed: no stale entry may serve it any more
		d.mu.Unlock()
		return zero, err
	case ok && now.Sub(c.fetched) < d.FreshFor+d.StaleFor:
		return c.v, nil
	default:
		return zero, fmt.Errorf("%w: look up %s %s: %w", apperr.ErrUnavailable, what, id, err)
	}
}

func (d *Directory) lookupUser(ctx context.Context, id string) (User, error) {
	var u User
	err := d.pool.QueryRow(ctx, `SELECT id, org_id, role, team_ids FROM clients.user_of($1)`, id).
		Scan(&u.ID, &u.OrgID, &u.Role, &u.TeamIDs)
	if errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("%w: %s", ErrUnknownUser, id)
	}
	if err != nil {
		return User{}, fmt.Errorf("load user %s: %w", id, err)
	}
	return u, nil
}

func (d *Directory) lookup(ctx context.Context, id string) (Organization, error) {
	var o Organization
	err := d.pool.QueryRow(ctx, `SELECT id, kind, region_id, team_ids, name FROM clients.organization_of($1)`, id).
		Scan(&o.ID, &o.Kind, &o.RegionID, &o.TeamIDs, &o.Name)
	if errors.Is(err, pgx.ErrNoRows) {
		return Organization{}, fmt.Errorf("%w: %s", ErrUnknownOrganization, id)
	}
	if err != nil {
		return Organization{}, fmt.Errorf("load organisation %s: %w", id, err)
	}
	return o, nil
}

// Name returns an organisation's name for people to read: the id when the
// directory does not know it or cannot be asked now (a name is never worth
// failing a request for).
func (d *Directory) Name(ctx context.Context, id string) string {
	if o, err := d.Organization(ctx, id); err == nil && o.Name != "" {
		return o.Name
	}
	return id
}

// Subject turns a verified principal into a policy subject. The token says
// who the caller is; the directory says what the caller is now: the user
// must be in the directory with the organisation and role the token
// claims, and the teams are the directory's (of the caller's
// organisation), whatever the token claims. The organisation's kind and
// region come from the directory too.
func (d *Directory) Subject(ctx context.Context, p authn.Principal) (authz.Subject, error) {
	org, err := d.Organization(ctx, p.OrgID)
	if err != nil {
		return authz.Subject{}, err
	}
	u, err := d.User(ctx, p.Subject)
	if err != nil {
		return authz.Subject{}, err
	}
	if u.OrgID != p.OrgID || u.Role != p.Role {
		return authz.Subject{}, fmt.Errorf("%w: the token says %s at %s, the directory %s at %s",
			ErrUnknownUser, p.Role, p.OrgID, u.Role, u.OrgID)
	}
	sub := authz.Subject{UserID: p.Subject, OrgID: org.ID, OrgKind: org.Kind, RegionID: org.RegionID, Role: u.Role}
	for _, t := range u.TeamIDs {
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
