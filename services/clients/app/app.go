// Package app holds the clients service's use cases. Each one decides
// access with the shared policy for the client at hand, does the work and
// records the access in the audit log: a write's record in the write's own
// transaction, a read's record before the data leaves. When the audit record
// cannot be written the use case fails and returns nothing.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/access"
	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	"github.com/ipsbridge/ipsbridge/internal/pagetoken"
	"github.com/ipsbridge/ipsbridge/services/clients/domain"
	"github.com/ipsbridge/ipsbridge/services/clients/store"
)

// ServiceName is how this service signs its audit records.
const ServiceName = "clients"

// Service is the clients service's application layer.
type Service struct {
	st   *store.Store
	path *access.Path
	az   *authz.Authorizer
	log  *slog.Logger
}

// New returns the application layer on the service's request path.
func New(st *store.Store, path *access.Path, log *slog.Logger) *Service {
	return &Service{st: st, path: path, az: path.Authorizer(), log: log}
}

func sectionNames(secs []authz.Section) []string {
	out := make([]string, len(secs))
	for i, s := range secs {
		out[i] = string(s)
	}
	return out
}

// View is a client as one caller may see it.
type View struct {
	Client    domain.Client
	Decision  authz.Decision
	BSNMasked bool
}

// maskFor hides the BSN from a caller who may not see it.
func maskFor(i *domain.Identity, d authz.Decision) (*domain.Identity, bool) {
	if i == nil || d.ReadBSN || i.BSN == "" {
		return i, false
	}
	c := *i
	c.BSN = domain.MaskBSN(i.BSN)
	return &c, true
}

// loadViews fills the sections each decision allows for a set of clients.
func (s *Service) loadViews(ctx context.Context, rows []store.ClientRow, decisions []authz.Decision, full bool) ([]View, error) {
	need := map[authz.Section][]string{}
	for i, r := range rows {
		for _, sec := range []authz.Section{authz.Identity, authz.Trajectory, authz.WorkGoals, authz.ClinicalInput} {
			if decisions[i].Read[sec] && (full || sec == authz.Identity || sec == authz.Trajectory) {
				need[sec] = append(need[sec], r.ID)
			}
		}
	}
	var (
		ids  map[string]*domain.Identity
		trs  map[string]*domain.Trajectory
		wgs  map[string]*domain.WorkGoals
		cins map[string]*domain.ClinicalInput
		err  error
	)
	if len(need[authz.Identity]) > 0 {
		if ids, err = s.st.Identities(ctx, need[authz.Identity]); err != nil {
			return nil, err
		}
	}
	if len(need[authz.Trajectory]) > 0 {
		if trs, err = s.st.Trajectories(ctx, need[authz.Trajectory], full); err != nil {
			return nil, err
		}
	}
	if len(need[authz.WorkGoals]) > 0 {
		if wgs, err = s.st.WorkGoals(ctx, need[authz.WorkGoals]); err != nil {
			return nil, err
		}
	}
	if len(need[authz.ClinicalInput]) > 0 {
		if cins, err = s.st.ClinicalInputs(ctx, need[authz.ClinicalInput]); err != nil {
			return nil, err
		}
		// One client's whole view carries the entries' history; a list
		// never does.
		if full && len(rows) == 1 {
			if c := cins[rows[0].ID]; c != nil {
				if c.Entries, err = s.st.ClinicalEntries(ctx, rows[0].ID); err != nil {
					return nil, err
				}
			}
		}
	}
	views := make([]View, len(rows))
	for i, r := range rows {
		d := decisions[i]
		v := View{Decision: d, Client: domain.Client{ID: r.ID, MHAOrgID: r.MHAOrgID, RegionID: r.RegionID, CreatedAt: r.CreatedAt}}
		if d.Read[authz.Identity] {
			v.Client.Identity, v.BSNMasked = maskFor(ids[r.ID], d)
		}
		if d.Read[authz.Trajectory] {
			v.Client.Trajectory = trs[r.ID]
		}
		if d.Read[authz.WorkGoals] && full {
			v.Client.WorkGoals = wgs[r.ID]
		}
		if d.Read[authz.ClinicalInput] && full {
			v.Client.ClinicalInput = cins[r.ID]
		}
		views[i] = v
	}
	return views, nil
}

// returnedSections lists the sections a view carries, for its audit record.
func returnedSections(v View) []authz.Section {
	var secs []authz.Section
	if v.Client.Identity != nil {
		secs = append(secs, authz.Identity)
	}
	if v.Client.Trajectory != nil {
		secs = append(secs, authz.Trajectory)
	}
	if v.Client.WorkGoals != nil {
		secs = append(secs, authz.WorkGoals)
	}
	if v.Client.ClinicalInput != nil {
		secs = append(secs, authz.ClinicalInput)
	}
	return secs
}

// GetClient returns every section of a client the caller may read.
func (s *Service) GetClient(ctx context.Context, clientID string) (*View, error) {
	var v View
	op := access.Op{Action: "read", Rule: func(*access.Access) string { return "" }}
	err := s.path.Read(ctx, clientID, op, func(a *access.Access) error {
		row, err := s.st.Client(ctx, clientID)
		if err != nil {
			return err
		}
		views, err := s.loadViews(ctx, []store.ClientRow{row}, []authz.Decision{a.Decision}, true)
		if err != nil {
			return err
		}
		v = views[0]
		a.Touch(returnedSections(v)...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// readSection reads one section of a client on the request path.
func readSection[T any](ctx context.Context, s *Service, clientID string, sec authz.Section, load func(d authz.Decision) (T, error)) (T, error) {
	var v T
	err := s.path.Read(ctx, clientID, access.Reading(sec), func(a *access.Access) error {
		var err error
		v, err = load(a.Decision)
		return err
	})
	return v, err
}

// writeSection writes one section of a client on the request path: fn
// runs in the transaction that records the write.
func writeSection(ctx context.Context, s *Service, clientID string, sec authz.Section, action string, fn func(tx pgx.Tx, a *access.Access) error) error {
	return s.path.Write(ctx, clientID, access.Writing(action, sec), func(ctx context.Context, tx pgx.Tx, a *access.Access) error {
		return fn(tx, a)
	})
}

// writeOnce is writeSection under the caller's idempotency key k for
// method: a retry of a write done before (replay true) runs nothing, and
// the use case answers with the resource as it is.
func writeOnce(ctx context.Context, s *Service, clientID string, sec authz.Section, method string, k idempotency.Request, fn func(tx pgx.Tx, a *access.Access) error) (replay bool, err error) {
	err = writeSection(ctx, s, clientID, sec, "write", func(tx pgx.Tx, a *access.Access) error {
		var err error
		_, replay, err = store.Keys.Once(ctx, tx, a.Key(method, k), func() (idempotency.Result, error) {
			return idempotency.Result{ResourceID: clientID}, fn(tx, a)
		})
		return err
	})
	return replay, err
}

// NewClient is an enrolment request.
type NewClient struct {
	Identity       domain.Identity
	TeamID         string
	SpecialistID   string
	InvolvedOrgIDs []string
	// Consents given at intake, recorded with the enrolment.
	Consents []ConsentGrant
	// Key is the enrolment's idempotency key.
	Key idempotency.Request
}

// ConsentGrant is one organisation's consented sections.
type ConsentGrant struct {
	OrgID    string
	Sections []authz.Section
}

// CreateClient enrols a client with the caller's MHA. A retry with the same
// request id returns the client the first request created.
func (s *Service) CreateClient(ctx context.Context, n NewClient) (*View, error) {
	c, err := access.CallerFrom(ctx)
	if err != nil {
		return nil, err
	}
	sub := c.Sub
	if err := n.Identity.Check(); err != nil {
		return nil, err
	}
	if n.SpecialistID == "" {
		n.SpecialistID = sub.UserID
	}
	secs := []authz.Section{authz.Identity, authz.Trajectory}
	// The policy is asked as for the client-to-be: in the caller's MHA,
	// team and (when the caller is the specialist) assigned.
	facts := authz.ClientFacts{MHAOrgID: sub.OrgID, RegionID: sub.RegionID, TeamID: n.TeamID, SpecialistID: n.SpecialistID}
	for _, sec := range secs {
		ok, err := s.az.Allowed(sub, facts, sec, authz.Write)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, s.path.RefuseCaller(ctx, c, "", access.Writing("create", secs...),
				fmt.Errorf("%w: role %s may not enrol clients in team %s", domain.ErrPermissionDenied, sub.Role, n.TeamID))
		}
	}
	for _, org := range n.InvolvedOrgIDs {
		if org == sub.OrgID {
			return nil, fmt.Errorf("%w: trajectory.involved_organization_ids lists the client's own MHA %s", domain.ErrInvalid, org)
		}
	}
	if len(n.Consents) > 0 {
		if ok, err := s.az.Allowed(sub, facts, authz.Consent, authz.Write); err != nil {
			return nil, err
		} else if !ok {
			return nil, s.path.RefuseCaller(ctx, c, "", access.Writing("create", authz.Consent),
				fmt.Errorf("%w: role %s may not record consents", domain.ErrPermissionDenied, sub.Role))
		}
		secs = append(secs, authz.Consent)
	}
	for _, g := range n.Consents {
		if err := checkConsentGrant(g.OrgID, sub.OrgID, n.InvolvedOrgIDs, g.Sections); err != nil {
			return nil, err
		}
	}
	var id string
	op := access.Op{Action: "create", Sections: secs, Reason: "enrolled"}
	err = s.path.WriteUnchecked(ctx, op, func(ctx context.Context, tx pgx.Tx, c access.Caller) (string, error) {
		key := c.Key("CreateClient", n.Key)
		prev, replay, err := store.Keys.Claim(ctx, tx, key)
		if err != nil {
			return "", err
		}
		if replay {
			id = prev.ResourceID
			return id, nil
		}
		if err := s.checkInvolved(ctx, tx, sub, sub.RegionID, n.InvolvedOrgIDs); err != nil {
			return "", err
		}
		hidden, err := s.matchBSN(ctx, tx, c, n.Identity.BSN, "")
		if err != nil {
			return "", err
		}
		id, err = store.CreateClient(ctx, tx, store.NewClient{
			MHAOrgID: sub.OrgID, RegionID: sub.RegionID, CreatedBy: sub.UserID, Identity: n.Identity,
			TeamID: n.TeamID, SpecialistID: n.SpecialistID, InvolvedOrgIDs: n.InvolvedOrgIDs,
		})
		if err != nil {
			return "", err
		}
		if err := s.flagBSN(ctx, tx, c, id, hidden); err != nil {
			return "", err
		}
		if err := store.Keys.Complete(ctx, tx, key, idempotency.Result{ResourceID: id}); err != nil {
			return "", err
		}
		tr, err := store.Trajectory(ctx, tx, id)
		if err != nil {
			return "", err
		}
		if err := emit(ctx, tx, enrolledEvent(id, sub.OrgID, sub.RegionID, tr)); err != nil {
			return "", err
		}
		for _, g := range n.Consents {
			cs, _, err := store.RecordConsents(ctx, tx, id, g.OrgID, sectionNames(g.Sections), sub.UserID)
			if err != nil {
				return "", err
			}
			for _, c := range cs {
				if err := emit(ctx, tx, consentGivenEvent(sub.RegionID, c)); err != nil {
					return "", err
				}
			}
		}
		return id, nil
	})
	if err != nil {
		return nil, err
	}
	v, err := s.GetClient(ctx, id)
	if err != nil {
		// The enrolment is committed: its answer must say so, even when the
		// client cannot be read back just now.
		s.log.WarnContext(ctx, "enrolled client not read back", "client", id, "err", err)
		return &View{Client: domain.Client{ID: id, MHAOrgID: sub.OrgID, RegionID: sub.RegionID}}, nil
	}
	return v, nil
}

// ListFilter narrows a client list. Specialist and team make it a caseload.
type ListFilter = store.ListFilter

// Load is one specialist's number of clients matching a caseload filter.
type Load = store.Load

// ListClients lists, in enrolment order, the clients the caller may see that
// match f. With a specialist or team filter it also counts every matching
// client per specialist (loads), whatever the page.
func (s *Service) ListClients(ctx context.Context, pageSize int, pageToken string, f ListFilter) ([]View, string, []Load, error) {
	c, err := access.CallerFrom(ctx)
	if err != nil {
		return nil, "", nil, err
	}
	sub := c.Sub
	if pageSize <= 0 {
		pageSize = 25
	}
	f.Name = strings.TrimSpace(f.Name)
	query := pagetoken.Query{"clients.list", sub.OrgID, sub.UserID, f.Phase, f.SpecialistID, f.TeamID, strconv.FormatBool(f.OpenOnly), f.Name}
	var cur store.Cursor
	if err := pagetoken.Decode(query, pageToken, &cur); err != nil {
		return nil, "", nil, err
	}
	var loads []Load
	if f.SpecialistID != "" || f.TeamID != "" {
		if loads, err = s.st.Loads(ctx, sub, f); err != nil {
			return nil, "", nil, err
		}
	}
	views, next, err := s.listClients(ctx, sub, pageSize, cur, f, query)
	return views, next, loads, err
}

func (s *Service) listClients(ctx context.Context, sub authz.Subject, pageSize int, cur store.Cursor, f ListFilter, query pagetoken.Query) ([]View, string, error) {
	var rows []store.ClientRow
	var views []View
	// Candidates the policy rejects are skipped; keep reading until the page
	// is full or the candidates run out. Each batch of candidates is decided
	// and recorded at once on the request path.
	for len(rows) <= pageSize {
		batch, err := s.st.Candidates(ctx, sub, cur, f, pageSize+1)
		if err != nil {
			return nil, "", err
		}
		ids := make([]string, len(batch))
		for i, r := range batch {
			ids[i] = r.ID
		}
		op := access.Op{Action: "list", Rule: func(*access.Access) string { return "" }}
		err = s.path.ReadMany(ctx, ids, op, func(allowed map[string]*access.Access) error {
			var take []store.ClientRow
			var decisions []authz.Decision
			for _, r := range batch {
				cur = store.Cursor{CreatedAt: r.CreatedAt, ID: r.ID}
				// A name search shows only clients whose name the caller
				// may read: a match must not reveal a name otherwise.
				if a := allowed[r.ID]; a != nil && (f.Name == "" || a.Decision.Read[authz.Identity]) {
					take, decisions = append(take, r), append(decisions, a.Decision)
					if len(rows)+len(take) > pageSize {
						break
					}
				}
			}
			// The one past the page is looked at only for the next token:
			// it is neither loaded nor recorded.
			show := take
			if len(rows)+len(show) > pageSize {
				show, decisions = show[:len(show)-1], decisions[:len(decisions)-1]
			}
			vs, err := s.loadViews(ctx, show, decisions, false)
			if err != nil {
				return err
			}
			for _, v := range vs {
				allowed[v.Client.ID].Touch(returnedSections(v)...)
			}
			rows, views = append(rows, take...), append(views, vs...)
			return nil
		})
		if err != nil {
			return nil, "", err
		}
		if len(batch) <= pageSize {
			break
		}
	}
	next := ""
	if len(rows) > pageSize {
		last := rows[pageSize-1]
		var err error
		if next, err = pagetoken.Encode(query, store.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}); err != nil {
			return nil, "", err
		}
	}
	return views, next, nil
}

// GetIdentity returns the identity section, its BSN masked unless the caller
// may see it.
func (s *Service) GetIdentity(ctx context.Context, clientID string) (*domain.Identity, bool, error) {
	var masked bool
	i, err := readSection(ctx, s, clientID, authz.Identity, func(d authz.Decision) (*domain.Identity, error) {
		m, err := s.st.Identities(ctx, []string{clientID})
		if err != nil {
			return nil, err
		}
		var i *domain.Identity
		i, masked = maskFor(m[clientID], d)
		return i, nil
	})
	return i, masked, err
}

// UpdateIdentity applies a change to the identity section.
func (s *Service) UpdateIdentity(ctx context.Context, clientID string, version int64, apply func(*domain.Identity) error, k idempotency.Request) (*domain.Identity, bool, error) {
	var out *domain.Identity
	var readBSN bool
	var replay bool
	err := writeSection(ctx, s, clientID, authz.Identity, "write", func(tx pgx.Tx, a *access.Access) error {
		sub, facts := a.Sub, a.Facts
		var err error
		readBSN, err = s.az.Allowed(sub, facts, authz.Identity, authz.ReadBSN)
		if err != nil {
			return err
		}
		var hidden []string
		_, replay, err = store.Keys.Once(ctx, tx, a.Key("UpdateIdentity", k), func() (idempotency.Result, error) {
			var err error
			out, err = store.UpdateIdentity(ctx, tx, clientID, version, func(i *domain.Identity) error {
				before := i.BSN
				if err := apply(i); err != nil {
					return err
				}
				if err := i.Check(); err != nil {
					return err
				}
				if i.BSN == before {
					return nil
				}
				var err error
				hidden, err = s.matchBSN(ctx, tx, a.Caller, i.BSN, clientID)
				return err
			})
			return idempotency.Result{ResourceID: clientID}, err
		})
		if err != nil || replay {
			return err
		}
		return s.flagBSN(ctx, tx, a.Caller, clientID, hidden)
	})
	if err == nil && replay {
		var m map[string]*domain.Identity
		m, err = s.st.Identities(ctx, []string{clientID})
		out = m[clientID]
	}
	if err != nil {
		return nil, false, err
	}
	i, masked := maskFor(out, authz.Decision{ReadBSN: readBSN})
	return i, masked, nil
}

// GetTrajectory returns the trajectory with its phase history.
func (s *Service) GetTrajectory(ctx context.Context, clientID string) (*domain.Trajectory, error) {
	t, err := readSection(ctx, s, clientID, authz.Trajectory, func(authz.Decision) (*domain.Trajectory, error) {
		m, err := s.st.Trajectories(ctx, []string{clientID}, true)
		if err != nil {
			return nil, err
		}
		return m[clientID], nil
	})
	return t, err
}

// UpdateTrajectory changes team, specialist or involved organisations.
func (s *Service) UpdateTrajectory(ctx context.Context, clientID string, version int64, apply func(*domain.Trajectory) error, k idempotency.Request) (*domain.Trajectory, error) {
	var out *domain.Trajectory
	_, err := writeOnce(ctx, s, clientID, authz.Trajectory, "UpdateTrajectory", k, func(tx pgx.Tx, a *access.Access) error {
		sub, facts := a.Sub, a.Facts
		var err error
		out, err = updateTrajectory(ctx, tx, clientID, facts.RegionID, version, sub.UserID, func(t *domain.Trajectory) (string, error) {
			before := slices.Clone(t.InvolvedOrgIDs)
			if err := apply(t); err != nil {
				return "", err
			}
			if slices.Contains(t.InvolvedOrgIDs, facts.MHAOrgID) {
				return "", fmt.Errorf("%w: trajectory.involved_organization_ids lists the client's own MHA", domain.ErrInvalid)
			}
			var added []string
			for _, org := range t.InvolvedOrgIDs {
				if !slices.Contains(before, org) {
					added = append(added, org)
				}
			}
			return "", s.checkInvolved(ctx, tx, sub, facts.RegionID, added)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.reloadTrajectory(ctx, clientID, out)
}

// reloadTrajectory returns the trajectory with its phase history after a
// committed write.
func (s *Service) reloadTrajectory(ctx context.Context, clientID string, written *domain.Trajectory) (*domain.Trajectory, error) {
	m, err := s.st.Trajectories(ctx, []string{clientID}, true)
	if err != nil {
		return nil, err
	}
	if t := m[clientID]; t != nil {
		return t, nil
	}
	return written, nil
}

// TransitionPhase moves the trajectory to another phase if IPS allows it.
func (s *Service) TransitionPhase(ctx context.Context, clientID string, to domain.Phase, reason string, version int64, k idempotency.Request) (*domain.Trajectory, error) {
	var out *domain.Trajectory
	_, err := writeOnce(ctx, s, clientID, authz.Trajectory, "TransitionPhase", k, func(tx pgx.Tx, a *access.Access) error {
		sub, facts := a.Sub, a.Facts
		var err error
		out, err = updateTrajectory(ctx, tx, clientID, facts.RegionID, version, sub.UserID, func(t *domain.Trajectory) (string, error) {
			if err := domain.CheckTransition(t.Phase, to, reason); err != nil {
				return "", err
			}
			t.Phase = to
			if to == domain.Closed {
				t.ClosingReason = reason
			} else {
				t.ClosingReason = ""
			}
			return reason, nil
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.reloadTrajectory(ctx, clientID, out)
}

// GetWorkGoals returns the vocational profile.
func (s *Service) GetWorkGoals(ctx context.Context, clientID string) (*domain.WorkGoals, error) {
	w, err := readSection(ctx, s, clientID, authz.WorkGoals, func(authz.Decision) (*domain.WorkGoals, error) {
		m, err := s.st.WorkGoals(ctx, []string{clientID})
		if err != nil {
			return nil, err
		}
		return m[clientID], nil
	})
	return w, err
}

// UpdateWorkGoals changes the vocational profile.
func (s *Service) UpdateWorkGoals(ctx context.Context, clientID string, version int64, apply func(*domain.WorkGoals) error, k idempotency.Request) (*domain.WorkGoals, error) {
	var out *domain.WorkGoals
	replay, err := writeOnce(ctx, s, clientID, authz.WorkGoals, "UpdateWorkGoals", k, func(tx pgx.Tx, a *access.Access) error {
		var err error
		out, err = store.UpdateWorkGoals(ctx, tx, clientID, version, a.Sub.UserID, apply)
		return err
	})
	if err == nil && replay {
		var m map[string]*domain.WorkGoals
		m, err = s.st.WorkGoals(ctx, []string{clientID})
		out = m[clientID]
	}
	return out, err
}

// GetClinicalInput returns the clinical input.
func (s *Service) GetClinicalInput(ctx context.Context, clientID string) (*domain.ClinicalInput, error) {
	c, err := readSection(ctx, s, clientID, authz.ClinicalInput, func(authz.Decision) (*domain.ClinicalInput, error) {
		m, err := s.st.ClinicalInputs(ctx, []string{clientID})
		if err != nil {
			return nil, err
		}
		c := m[clientID]
		if c != nil {
			if c.Entries, err = s.st.ClinicalEntries(ctx, clientID); err != nil {
				return nil, err
			}
		}
		return c, nil
	})
	return c, err
}

// AddClinicalEntry adds a dated entry to a client's clinical input, by the
// caller. A retry with the same key adds nothing and returns the first
// entry; the key with other content is refused (the shared idempotency
// store), and the entry's own key column guards the same.
func (s *Service) AddClinicalEntry(ctx context.Context, clientID string, e domain.ClinicalEntry, k idempotency.Request) (domain.ClinicalEntry, error) {
	var out domain.ClinicalEntry
	replay, err := writeOnce(ctx, s, clientID, authz.ClinicalInput, "AddClinicalEntry", k, func(tx pgx.Tx, a *access.Access) error {
		e.AuthorID = a.Sub.UserID
		var err error
		out, _, err = store.AddClinicalEntry(ctx, tx, clientID, k.Key, e)
		return err
	})
	if err == nil && replay {
		return s.st.ClinicalEntry(ctx, clientID, k.Key)
	}
	return out, err
}

// UpdateClinicalInput changes the clinical input.
func (s *Service) UpdateClinicalInput(ctx context.Context, clientID string, version int64, apply func(*domain.ClinicalInput) error, k idempotency.Request) (*domain.ClinicalInput, error) {
	var out *domain.ClinicalInput
	replay, err := writeOnce(ctx, s, clientID, authz.ClinicalInput, "UpdateClinicalInput", k, func(tx pgx.Tx, a *access.Access) error {
		var err error
		out, err = store.UpdateClinicalInput(ctx, tx, clientID, version, a.Sub.UserID, apply)
		return err
	})
	if err == nil && replay {
		var m map[string]*domain.ClinicalInput
		m, err = s.st.ClinicalInputs(ctx, []string{clientID})
		out = m[clientID]
	}
	return out, err
}

// ListConsents lists a client's consents.
func (s *Service) ListConsents(ctx context.Context, clientID string) ([]domain.Consent, error) {
	c, err := readSection(ctx, s, clientID, authz.Consent, func(authz.Decision) ([]domain.Consent, error) {
		return s.st.Consents(ctx, clientID)
	})
	return c, err
}

// RecordConsent records the client's consent for an organisation involved in
// the trajectory to see the given sections.
// RecordConsents already makes a repeated grant change nothing; with a key
// a retry returns the consents without writing or reporting anything.
func (s *Service) RecordConsent(ctx context.Context, clientID, orgID string, sections []authz.Section, k idempotency.Request) ([]domain.Consent, error) {
	var out []domain.Consent
	replay, err := writeOnce(ctx, s, clientID, authz.Consent, "RecordConsent", k, func(tx pgx.Tx, a *access.Access) error {
		sub, facts := a.Sub, a.Facts
		if err := checkConsentGrant(orgID, facts.MHAOrgID, facts.InvolvedOrgIDs, sections); err != nil {
			return err
		}
		var created []bool
		var err error
		out, created, err = store.RecordConsents(ctx, tx, clientID, orgID, sectionNames(sections), sub.UserID)
		if err != nil {
			return err
		}
		// A section consented already (or a retry) changes nothing and
		// reports nothing.
		for i, c := range out {
			if created[i] {
				if err := emit(ctx, tx, consentGivenEvent(facts.RegionID, c)); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil && replay {
		// The consents this request recorded, as they are now.
		var cs []domain.Consent
		cs, err = s.st.Consents(ctx, clientID)
		for _, c := range cs {
			if c.OrgID == orgID && c.RevokedAt == nil && slices.Contains(sections, authz.Section(c.Section)) {
				out = append(out, c)
			}
		}
	}
	return out, err
}

// checkConsentGrant: consent is for an organisation involved in the
// trajectory, outside the client's MHA, and never for clinical input.
func checkConsentGrant(orgID, mhaOrgID string, involved []string, sections []authz.Section) error {
	if orgID == mhaOrgID {
		return fmt.Errorf("%w: organization_id is the client's own MHA, which needs no consent", domain.ErrInvalid)
	}
	if !slices.Contains(involved, orgID) {
		return fmt.Errorf("%w: organisation %s is not involved in this trajectory; add it to trajectory.involved_organization_ids first", domain.ErrInvalid, orgID)
	}
	if slices.Contains(sections, authz.ClinicalInput) {
		return fmt.Errorf("%w: clinical input never leaves the MHA and cannot be consented", domain.ErrInvalid)
	}
	return nil
}

// RevokeConsent revokes a consent; it takes effect on the next request.
func (s *Service) RevokeConsent(ctx context.Context, clientID, consentID string, k idempotency.Request) (domain.Consent, error) {
	var out domain.Consent
	replay, err := writeOnce(ctx, s, clientID, authz.Consent, "RevokeConsent", k, func(tx pgx.Tx, a *access.Access) error {
		sub, facts := a.Sub, a.Facts
		var revoked bool
		var err error
		out, revoked, err = store.RevokeConsent(ctx, tx, clientID, consentID, sub.UserID)
		if err != nil || !revoked {
			return err
		}
		return emit(ctx, tx, consentRevokedEvent(facts.RegionID, out))
	})
	if err == nil && replay {
		var cs []domain.Consent
		cs, err = s.st.Consents(ctx, clientID)
		for _, c := range cs {
			if c.ID == consentID {
				out = c
			}
		}
	}
	return out, err
}

// AccessFilter narrows a client's access history.
type AccessFilter struct {
	RefusalsOnly bool
	// OtherOrganizations leaves out the client's own MHA's accesses.
	OtherOrganizations bool
}

// ListAccessEvents lists the audit trail of one client, for its own MHA.
func (s *Service) ListAccessEvents(ctx context.Context, clientID string, f AccessFilter, pageSize int, pageToken string) ([]audit.Event, string, error) {
	var events []audit.Event
	var next string
	err := s.path.Read(ctx, clientID, access.Reading(authz.Audit), func(a *access.Access) error {
		var af audit.Filter
		if f.RefusalsOnly {
			af.Outcome = audit.Denied
		}
		if f.OtherOrganizations {
			af.ExcludeOrg = a.Facts.MHAOrgID
		}
		var err error
		events, next, err = audit.ListFiltered(ctx, s.st.Pool(), clientID, af, pageSize, pageToken)
		if errors.Is(err, audit.ErrInvalidPageToken) {
			return fmt.Errorf("%w: page_token is not a token issued for this client's history with these filters", domain.ErrInvalid)
		}
		return err
	})
	return events, next, err
}

// CheckAccess tells a caller what it may do with a client. The client's
// trajectory facts (team, specialist, involved organisations, region) come
// back only to a caller who may read the trajectory. The check is itself an
// access to the client, and recorded as one; a caller who may see nothing
// of the client gets NotFound.
func (s *Service) CheckAccess(ctx context.Context, clientID string) (authz.Decision, authz.ClientFacts, error) {
	var d authz.Decision
	var facts authz.ClientFacts
	op := access.Op{Action: "check", Rule: func(*access.Access) string { return "" }}
	err := s.path.Read(ctx, clientID, op, func(a *access.Access) error {
		d = a.Decision
		facts = authz.ClientFacts{MHAOrgID: a.Facts.MHAOrgID, ConsentedSections: a.Facts.ConsentedSections}
		if d.Read[authz.Trajectory] {
			facts = a.Facts
			a.Touch(authz.Trajectory)
		}
		return nil
	})
	return d, facts, err
}

// matchBSN looks for other clients of the caller's MHA with this BSN. A
// match the caller may see is refused as ALREADY_EXISTS, naming it; matches
// it may not see are returned, and the change goes ahead exactly as without
// them, so the answer tells the caller nothing about clients it may not see
// (issue 14). Those matches are flagged by flagBSN.
func (s *Service) matchBSN(ctx context.Context, tx pgx.Tx, c access.Caller, bsn, self string) ([]string, error) {
	if bsn == "" {
		return nil, nil
	}
	ids, err := store.ClientsWithBSN(ctx, tx, c.Sub.OrgID, bsn, self)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	facts, err := access.Facts(ctx, tx, c.Sub.OrgID, ids, false, false)
	if err != nil {
		return nil, err
	}
	var hidden []string
	for _, id := range ids {
		ok, err := s.az.Allowed(c.Sub, facts[id], authz.Identity, authz.Read)
		if err != nil {
			return nil, err
		}
		if ok {
			return nil, fmt.Errorf("%w: a client with this BSN is already enrolled with this MHA: %s", domain.ErrAlreadyExists, id)
		}
		hidden = append(hidden, id)
	}
	return hidden, nil
}

// flagBSN records client's BSN matches with clients the caller may not see
// as possible duplicates, and tells each of those clients' access history
// (which their own team reads) that a record of the same BSN was made, so
// the team that owns the client can take it up with the MHA.
func (s *Service) flagBSN(ctx context.Context, tx pgx.Tx, c access.Caller, clientID string, hidden []string) error {
	if len(hidden) == 0 {
		return nil
	}
	if err := store.FlagPossibleDuplicates(ctx, tx, clientID, hidden, c.Sub.UserID); err != nil {
		return err
	}
	for _, other := range hidden {
		if err := access.RecordIn(ctx, tx, c.Event(ServiceName, other, []authz.Section{authz.Identity}, "match_bsn", audit.Allowed,
			"a record of another team was given this client's BSN (client "+clientID+"); flagged as a possible duplicate")); err != nil {
			return err
		}
	}
	return nil
}

// checkInvolved refuses naming an organisation of another region than the
// client's as involved, unless the client region's policy allows it
// (authz.CrossRegion): a region's agreement binds the organisations that
// read its clients, and an organisation of another region would otherwise
// be added by anyone (issue 14). Unknown organisations are left to the
// store, which refuses them.
func (s *Service) checkInvolved(ctx context.Context, tx pgx.Tx, sub authz.Subject, clientRegion string, orgs []string) error {
	if len(orgs) == 0 {
		return nil
	}
	regions, err := store.OrganizationRegions(ctx, tx, orgs)
	if err != nil {
		return err
	}
	for _, org := range orgs {
		region, ok := regions[org]
		if !ok || region == clientRegion {
			continue
		}
		allowed, err := s.az.InvolveAllowed(sub, clientRegion)
		if err != nil {
			return err
		}
		if !allowed {
			return fmt.Errorf("%w: organisation %s belongs to %s; the policy of %s does not allow involving organisations of other regions",
				domain.ErrPermissionDenied, org, region, clientRegion)
		}
	}
	return nil
}
