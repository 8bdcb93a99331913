// Package app holds the clients service's use cases. Each one decides
// access with the shared policy for the client at hand, does the work and
// records the access in the audit log: a write's record in the write's own
// transaction, a read's record before the data leaves. When the audit record
// cannot be written the use case fails and returns nothing.
package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ipsbridge/ipsbridge/internal/audit"
	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/idempotency"
	"github.com/ipsbridge/ipsbridge/internal/rpc"
	"github.com/ipsbridge/ipsbridge/services/clients/domain"
	"github.com/ipsbridge/ipsbridge/services/clients/store"
)

// ServiceName is how this service signs its audit records.
const ServiceName = "clients"

// Service is the clients service's application layer.
type Service struct {
	st  *store.Store
	az  *authz.Authorizer
	log *slog.Logger

	orgMu   sync.Mutex
	orgs    map[string]cachedOrg
	orgsTTL time.Duration
}

type cachedOrg struct {
	org     store.Organization
	fetched time.Time
}

// New returns the application layer.
func New(st *store.Store, az *authz.Authorizer, log *slog.Logger) *Service {
	return &Service{st: st, az: az, log: log, orgs: map[string]cachedOrg{}, orgsTTL: 30 * time.Second}
}

// ResolveSubject turns a verified principal into a policy subject: the
// organisation's kind and region come from the directory, and only teams of
// the caller's own organisation count, whatever the token claims.
func (s *Service) ResolveSubject(ctx context.Context, p authn.Principal) (authz.Subject, error) {
	org, err := s.organization(ctx, p.OrgID)
	if err != nil {
		return authz.Subject{}, err
	}
	sub := authz.Subject{UserID: p.Subject, OrgID: org.ID, OrgKind: org.Kind, RegionID: org.RegionID, Role: p.Role}
	for _, t := range p.Teams {
		if slices.Contains(org.TeamIDs, t) {
			sub.Teams = append(sub.Teams, t)
		}
	}
	return sub, nil
}

func (s *Service) organization(ctx context.Context, id string) (store.Organization, error) {
	s.orgMu.Lock()
	c, ok := s.orgs[id]
	s.orgMu.Unlock()
	if ok && time.Since(c.fetched) < s.orgsTTL {
		return c.org, nil
	}
	org, err := s.st.Organization(ctx, id)
	if err != nil {
		return store.Organization{}, err
	}
	s.orgMu.Lock()
	s.orgs[id] = cachedOrg{org: org, fetched: time.Now()}
	s.orgMu.Unlock()
	return org, nil
}

func caller(ctx context.Context) (authz.Subject, authn.Principal, error) {
	sub, ok := authz.SubjectFromContext(ctx)
	p, ok2 := authn.FromContext(ctx)
	if !ok || !ok2 {
		return authz.Subject{}, authn.Principal{}, fmt.Errorf("%w: no verified caller", domain.ErrPermissionDenied)
	}
	return sub, p, nil
}

func sectionNames(secs []authz.Section) []string {
	out := make([]string, len(secs))
	for i, s := range secs {
		out[i] = string(s)
	}
	return out
}

func event(ctx context.Context, sub authz.Subject, p authn.Principal, clientID string, secs []authz.Section, action string, outcome audit.Outcome, reason string) audit.Event {
	info := rpc.InfoFromContext(ctx)
	return audit.Event{
		Service: ServiceName, ActorID: p.Subject, OnBehalfOf: p.OnBehalfOf, OrgID: sub.OrgID, Role: sub.Role,
		ClientID: clientID, Sections: sectionNames(secs), Action: action, Outcome: outcome, Reason: reason,
		RequestID: info.RequestID, Purpose: info.Purpose, RemoteAddr: info.RemoteAddr,
	}
}

// record writes an audit record outside a write transaction (reads and
// denials). Its failure fails the request.
func (s *Service) record(ctx context.Context, e audit.Event) error {
	if err := audit.Record(ctx, s.st.Pool(), e); err != nil {
		s.log.ErrorContext(ctx, "audit record failed", "err", err, "client", e.ClientID, "action", e.Action)
		return fmt.Errorf("%w: %v", domain.ErrAuditUnavailable, err)
	}
	return nil
}

// deny audits a refusal and returns the error the caller gets: NotFound when
// the caller may see nothing of the client, so that existence does not leak.
func (s *Service) deny(ctx context.Context, sub authz.Subject, p authn.Principal, clientID string, secs []authz.Section, action string, seesAnything bool, reason string) error {
	if err := s.record(ctx, event(ctx, sub, p, clientID, secs, action, audit.Denied, reason)); err != nil {
		return err
	}
	if !seesAnything {
		return fmt.Errorf("client %s: %w", clientID, domain.ErrNotFound)
	}
	return fmt.Errorf("%w: %s", domain.ErrPermissionDenied, reason)
}

// decide loads a client's facts and evaluates the policy for the caller.
func (s *Service) decide(ctx context.Context, tx pgx.Tx, sub authz.Subject, clientID string) (authz.Decision, authz.ClientFacts, bool, error) {
	facts, found, err := s.st.Facts(ctx, tx, clientID, sub.OrgID)
	if err != nil || !found {
		return authz.Decision{}, facts, false, err
	}
	d, err := s.az.Decide(sub, facts)
	if err != nil {
		return authz.Decision{}, facts, false, err
	}
	return d, facts, true, nil
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
	sub, p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	d, _, found, err := s.decide(ctx, nil, sub, clientID)
	if err != nil {
		return nil, err
	}
	if !found || !d.SeesAnything() {
		return nil, s.deny(ctx, sub, p, clientID, nil, "read", false, "no access to this client")
	}
	row, err := s.st.Client(ctx, clientID)
	if err != nil {
		return nil, err
	}
	views, err := s.loadViews(ctx, []store.ClientRow{row}, []authz.Decision{d}, true)
	if err != nil {
		return nil, err
	}
	v := views[0]
	if err := s.record(ctx, event(ctx, sub, p, clientID, returnedSections(v), "read", audit.Allowed, "")); err != nil {
		return nil, err
	}
	return &v, nil
}

// readSection authorises and audits a read of one section, then loads it
// with load.
func readSection[T any](ctx context.Context, s *Service, clientID string, sec authz.Section, load func(d authz.Decision) (T, error)) (T, authz.Decision, error) {
	var zero T
	sub, p, err := caller(ctx)
	if err != nil {
		return zero, authz.Decision{}, err
	}
	d, _, found, err := s.decide(ctx, nil, sub, clientID)
	if err != nil {
		return zero, d, err
	}
	if !found || !d.Read[sec] {
		return zero, d, s.deny(ctx, sub, p, clientID, []authz.Section{sec}, "read", found && d.SeesAnything(),
			fmt.Sprintf("role %s may not read %s of this client", sub.Role, sec))
	}
	v, err := load(d)
	if err != nil {
		return zero, d, err
	}
	if err := s.record(ctx, event(ctx, sub, p, clientID, []authz.Section{sec}, "read", audit.Allowed, "")); err != nil {
		return zero, d, err
	}
	return v, d, nil
}

// writeSection authorises a write of one section inside a transaction, runs
// fn and records the audit event in the same transaction. A refusal is
// audited outside the (rolled back) transaction.
func writeSection(ctx context.Context, s *Service, clientID string, sec authz.Section, action string, fn func(tx pgx.Tx, sub authz.Subject, p authn.Principal, facts authz.ClientFacts) error) error {
	sub, p, err := caller(ctx)
	if err != nil {
		return err
	}
	type refusal struct {
		sees   bool
		reason string
	}
	var refused *refusal
	errRefused := errors.New("refused")
	err = s.st.InTx(ctx, func(tx pgx.Tx) error {
		refused = nil
		d, facts, found, err := s.decide(ctx, tx, sub, clientID)
		if err != nil {
			return err
		}
		if !found || !d.Write[sec] {
			refused = &refusal{sees: found && d.SeesAnything(), reason: fmt.Sprintf("role %s may not %s %s of this client", sub.Role, action, sec)}
			return errRefused
		}
		if err := fn(tx, sub, p, facts); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, event(ctx, sub, p, clientID, []authz.Section{sec}, action, audit.Allowed, "")); err != nil {
			return fmt.Errorf("%w: %v", domain.ErrAuditUnavailable, err)
		}
		return nil
	})
	if refused != nil {
		return s.deny(ctx, sub, p, clientID, []authz.Section{sec}, action, refused.sees, refused.reason)
	}
	return err
}

// NewClient is an enrolment request.
type NewClient struct {
	Identity       domain.Identity
	TeamID         string
	SpecialistID   string
	InvolvedOrgIDs []string
	// Consents given at intake, recorded with the enrolment.
	Consents  []ConsentGrant
	RequestID string
	// Fingerprint identifies the request's content for the idempotency key.
	Fingerprint []byte
}

// ConsentGrant is one organisation's consented sections.
type ConsentGrant struct {
	OrgID    string
	Sections []authz.Section
}

// CreateClient enrols a client with the caller's MHA. A retry with the same
// request id returns the client the first request created.
func (s *Service) CreateClient(ctx context.Context, n NewClient) (*View, error) {
	sub, p, err := caller(ctx)
	if err != nil {
		return nil, err
	}
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
			return nil, s.deny(ctx, sub, p, "", secs, "create", true,
				fmt.Sprintf("role %s may not enrol clients in team %s", sub.Role, n.TeamID))
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
			return nil, s.deny(ctx, sub, p, "", []authz.Section{authz.Consent}, "create", true,
				fmt.Sprintf("role %s may not record consents", sub.Role))
		}
		secs = append(secs, authz.Consent)
	}
	for _, g := range n.Consents {
		if err := checkConsentGrant(g.OrgID, sub.OrgID, n.InvolvedOrgIDs, g.Sections); err != nil {
			return nil, err
		}
	}
	key := idempotency.Key{ActorID: sub.UserID, Method: "CreateClient", Key: n.RequestID, Request: n.Fingerprint}
	var id string
	err = s.st.InTx(ctx, func(tx pgx.Tx) error {
		prev, err := store.Keys.Claim(ctx, tx, key)
		if err != nil {
			return err
		}
		if prev != "" {
			id = prev
			return nil
		}
		id, err = store.CreateClient(ctx, tx, store.NewClient{
			MHAOrgID: sub.OrgID, RegionID: sub.RegionID, CreatedBy: sub.UserID, Identity: n.Identity,
			TeamID: n.TeamID, SpecialistID: n.SpecialistID, InvolvedOrgIDs: n.InvolvedOrgIDs,
		})
		if err != nil {
			return err
		}
		if err := store.Keys.Complete(ctx, tx, key, id); err != nil {
			return err
		}
		tr, err := store.Trajectory(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := emit(ctx, tx, enrolledEvent(id, sub.OrgID, sub.RegionID, tr)); err != nil {
			return err
		}
		for _, g := range n.Consents {
			cs, _, err := store.RecordConsents(ctx, tx, id, g.OrgID, sectionNames(g.Sections), sub.UserID)
			if err != nil {
				return err
			}
			for _, c := range cs {
				if err := emit(ctx, tx, consentGivenEvent(sub.RegionID, c)); err != nil {
					return err
				}
			}
		}
		if err := audit.Record(ctx, tx, event(ctx, sub, p, id, secs, "create", audit.Allowed, "enrolled")); err != nil {
			return fmt.Errorf("%w: %v", domain.ErrAuditUnavailable, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.GetClient(ctx, id)
}

// ListClients lists, in enrolment order, the clients the caller may see.
func (s *Service) ListClients(ctx context.Context, pageSize int, pageToken, phase string) ([]View, string, error) {
	sub, p, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	if pageSize <= 0 {
		pageSize = 25
	}
	cur, err := decodeCursor(pageToken)
	if err != nil {
		return nil, "", err
	}
	var rows []store.ClientRow
	var decisions []authz.Decision
	// Candidates the policy rejects are skipped; keep reading until the page
	// is full or the candidates run out.
	for len(rows) <= pageSize {
		batch, err := s.st.Candidates(ctx, sub, cur, phase, pageSize+1)
		if err != nil {
			return nil, "", err
		}
		for _, r := range batch {
			cur = store.Cursor{CreatedAt: r.CreatedAt, ID: r.ID}
			d, _, found, err := s.decide(ctx, nil, sub, r.ID)
			if err != nil {
				return nil, "", err
			}
			if found && d.SeesAnything() {
				rows, decisions = append(rows, r), append(decisions, d)
				if len(rows) > pageSize {
					break
				}
			}
		}
		if len(batch) <= pageSize {
			break
		}
	}
	next := ""
	if len(rows) > pageSize {
		rows, decisions = rows[:pageSize], decisions[:pageSize]
		last := rows[len(rows)-1]
		next = encodeCursor(store.Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	views, err := s.loadViews(ctx, rows, decisions, false)
	if err != nil {
		return nil, "", err
	}
	// One audit record per listed client, so each client's access history
	// shows the list; all in one transaction.
	err = s.st.InTx(ctx, func(tx pgx.Tx) error {
		for _, v := range views {
			if secs := returnedSections(v); len(secs) > 0 {
				if err := audit.Record(ctx, tx, event(ctx, sub, p, v.Client.ID, secs, "list", audit.Allowed, "")); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("%w: %v", domain.ErrAuditUnavailable, err)
	}
	return views, next, nil
}

func encodeCursor(c store.Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + "|" + c.ID))
}

func decodeCursor(token string) (store.Cursor, error) {
	if token == "" {
		return store.Cursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	bad := fmt.Errorf("%w: page_token is not a token this service issued", domain.ErrInvalid)
	if err != nil {
		return store.Cursor{}, bad
	}
	ts, id, ok := strings.Cut(string(b), "|")
	us, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil || len(id) != 36 {
		return store.Cursor{}, bad
	}
	return store.Cursor{CreatedAt: time.UnixMicro(us), ID: id}, nil
}

// GetIdentity returns the identity section, its BSN masked unless the caller
// may see it.
func (s *Service) GetIdentity(ctx context.Context, clientID string) (*domain.Identity, bool, error) {
	var masked bool
	i, _, err := readSection(ctx, s, clientID, authz.Identity, func(d authz.Decision) (*domain.Identity, error) {
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
func (s *Service) UpdateIdentity(ctx context.Context, clientID string, version int64, apply func(*domain.Identity) error) (*domain.Identity, bool, error) {
	var out *domain.Identity
	var readBSN bool
	err := writeSection(ctx, s, clientID, authz.Identity, "write", func(tx pgx.Tx, sub authz.Subject, _ authn.Principal, facts authz.ClientFacts) error {
		var err error
		readBSN, err = s.az.Allowed(sub, facts, authz.Identity, authz.ReadBSN)
		if err != nil {
			return err
		}
		out, err = store.UpdateIdentity(ctx, tx, clientID, version, func(i *domain.Identity) error {
			if err := apply(i); err != nil {
				return err
			}
			return i.Check()
		})
		return err
	})
	if err != nil {
		return nil, false, err
	}
	i, masked := maskFor(out, authz.Decision{ReadBSN: readBSN})
	return i, masked, nil
}

// GetTrajectory returns the trajectory with its phase history.
func (s *Service) GetTrajectory(ctx context.Context, clientID string) (*domain.Trajectory, error) {
	t, _, err := readSection(ctx, s, clientID, authz.Trajectory, func(authz.Decision) (*domain.Trajectory, error) {
		m, err := s.st.Trajectories(ctx, []string{clientID}, true)
		if err != nil {
			return nil, err
		}
		return m[clientID], nil
	})
	return t, err
}

// UpdateTrajectory changes team, specialist or involved organisations.
func (s *Service) UpdateTrajectory(ctx context.Context, clientID string, version int64, apply func(*domain.Trajectory) error) (*domain.Trajectory, error) {
	var out *domain.Trajectory
	err := writeSection(ctx, s, clientID, authz.Trajectory, "write", func(tx pgx.Tx, sub authz.Subject, _ authn.Principal, facts authz.ClientFacts) error {
		var err error
		out, err = updateTrajectory(ctx, tx, clientID, facts.RegionID, version, sub.UserID, func(t *domain.Trajectory) (string, error) {
			if err := apply(t); err != nil {
				return "", err
			}
			if slices.Contains(t.InvolvedOrgIDs, facts.MHAOrgID) {
				return "", fmt.Errorf("%w: trajectory.involved_organization_ids lists the client's own MHA", domain.ErrInvalid)
			}
			return "", nil
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
func (s *Service) TransitionPhase(ctx context.Context, clientID string, to domain.Phase, reason string, version int64) (*domain.Trajectory, error) {
	var out *domain.Trajectory
	err := writeSection(ctx, s, clientID, authz.Trajectory, "write", func(tx pgx.Tx, sub authz.Subject, _ authn.Principal, facts authz.ClientFacts) error {
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
	w, _, err := readSection(ctx, s, clientID, authz.WorkGoals, func(authz.Decision) (*domain.WorkGoals, error) {
		m, err := s.st.WorkGoals(ctx, []string{clientID})
		if err != nil {
			return nil, err
		}
		return m[clientID], nil
	})
	return w, err
}

// UpdateWorkGoals changes the vocational profile.
func (s *Service) UpdateWorkGoals(ctx context.Context, clientID string, version int64, apply func(*domain.WorkGoals) error) (*domain.WorkGoals, error) {
	var out *domain.WorkGoals
	err := writeSection(ctx, s, clientID, authz.WorkGoals, "write", func(tx pgx.Tx, sub authz.Subject, _ authn.Principal, _ authz.ClientFacts) error {
		var err error
		out, err = store.UpdateWorkGoals(ctx, tx, clientID, version, sub.UserID, apply)
		return err
	})
	return out, err
}

// GetClinicalInput returns the clinical input.
func (s *Service) GetClinicalInput(ctx context.Context, clientID string) (*domain.ClinicalInput, error) {
	c, _, err := readSection(ctx, s, clientID, authz.ClinicalInput, func(authz.Decision) (*domain.ClinicalInput, error) {
		m, err := s.st.ClinicalInputs(ctx, []string{clientID})
		if err != nil {
			return nil, err
		}
		return m[clientID], nil
	})
	return c, err
}

// UpdateClinicalInput changes the clinical input.
func (s *Service) UpdateClinicalInput(ctx context.Context, clientID string, version int64, apply func(*domain.ClinicalInput) error) (*domain.ClinicalInput, error) {
	var out *domain.ClinicalInput
	err := writeSection(ctx, s, clientID, authz.ClinicalInput, "write", func(tx pgx.Tx, sub authz.Subject, _ authn.Principal, _ authz.ClientFacts) error {
		var err error
		out, err = store.UpdateClinicalInput(ctx, tx, clientID, version, sub.UserID, apply)
		return err
	})
	return out, err
}

// ListConsents lists a client's consents.
func (s *Service) ListConsents(ctx context.Context, clientID string) ([]domain.Consent, error) {
	c, _, err := readSection(ctx, s, clientID, authz.Consent, func(authz.Decision) ([]domain.Consent, error) {
		return s.st.Consents(ctx, clientID)
	})
	return c, err
}

// RecordConsent records the client's consent for an organisation involved in
// the trajectory to see the given sections.
func (s *Service) RecordConsent(ctx context.Context, clientID, orgID string, sections []authz.Section, requestID string, fingerprint []byte) ([]domain.Consent, error) {
	var out []domain.Consent
	err := writeSection(ctx, s, clientID, authz.Consent, "write", func(tx pgx.Tx, sub authz.Subject, _ authn.Principal, facts authz.ClientFacts) error {
		if err := checkConsentGrant(orgID, facts.MHAOrgID, facts.InvolvedOrgIDs, sections); err != nil {
			return err
		}
		key := idempotency.Key{ActorID: sub.UserID, Method: "RecordConsent", Key: requestID, Request: fingerprint}
		if requestID != "" {
			if _, err := store.Keys.Claim(ctx, tx, key); err != nil {
				return err
			}
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
func (s *Service) RevokeConsent(ctx context.Context, clientID, consentID string) (domain.Consent, error) {
	var out domain.Consent
	err := writeSection(ctx, s, clientID, authz.Consent, "write", func(tx pgx.Tx, sub authz.Subject, _ authn.Principal, facts authz.ClientFacts) error {
		var revoked bool
		var err error
		out, revoked, err = store.RevokeConsent(ctx, tx, clientID, consentID, sub.UserID)
		if err != nil || !revoked {
			return err
		}
		return emit(ctx, tx, consentRevokedEvent(facts.RegionID, out))
	})
	return out, err
}

// ListAccessEvents lists the audit trail of one client, for its own MHA.
func (s *Service) ListAccessEvents(ctx context.Context, clientID string, pageSize int, pageToken string) ([]audit.Event, string, error) {
	type page struct {
		events []audit.Event
		next   string
	}
	pg, _, err := readSection(ctx, s, clientID, authz.Audit, func(authz.Decision) (page, error) {
		ev, next, err := audit.List(ctx, s.st.Pool(), clientID, pageSize, pageToken)
		if errors.Is(err, audit.ErrInvalidPageToken) {
			return page{}, fmt.Errorf("%w: page_token is not a token this service issued", domain.ErrInvalid)
		}
		return page{ev, next}, err
	})
	return pg.events, pg.next, err
}

// CheckAccess tells another service what the caller may do with a client.
// A caller who may see nothing gets NotFound, audited as a denial here; the
// calling service audits the access it then makes.
func (s *Service) CheckAccess(ctx context.Context, clientID string) (authz.Decision, authz.ClientFacts, error) {
	sub, p, err := caller(ctx)
	if err != nil {
		return authz.Decision{}, authz.ClientFacts{}, err
	}
	d, facts, found, err := s.decide(ctx, nil, sub, clientID)
	if err != nil {
		return authz.Decision{}, authz.ClientFacts{}, err
	}
	if !found || !d.SeesAnything() {
		return authz.Decision{}, authz.ClientFacts{}, s.deny(ctx, sub, p, clientID, nil, "check", false, "no access to this client")
	}
	return d, facts, nil
}
