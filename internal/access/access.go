// Package access lets a service other than the clients service authorize a
// request about a client: it asks the clients service (which owns the
// directory, trajectories and consents) for the facts, on behalf of the
// caller, and evaluates the shared policy itself. So every service enforces
// the same policy, and a revoked consent counts from the next request.
package access

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ipsbridge/ipsbridge/internal/authn"
	"github.com/ipsbridge/ipsbridge/internal/authz"
	clientsv1 "github.com/ipsbridge/ipsbridge/proto/ipsbridge/clients/v1"
)

// ErrNoAccess: the caller may see nothing of the client (or it does not
// exist); answer NotFound.
var ErrNoAccess = errors.New("no access to this client")

// Checker asks the clients service for facts and decides with the policy.
type Checker struct {
	clients clientsv1.ClientsServiceClient
	az      *authz.Authorizer

	mu      sync.Mutex
	callers map[string]cachedCaller
}

type cachedCaller struct {
	sub     authz.Subject
	fetched time.Time
}

// New returns a checker using the clients service client.
func New(clients clientsv1.ClientsServiceClient, az *authz.Authorizer) *Checker {
	return &Checker{clients: clients, az: az, callers: map[string]cachedCaller{}}
}

// Authorizer returns the policy the checker evaluates.
func (c *Checker) Authorizer() *authz.Authorizer { return c.az }

var sectionNames = map[clientsv1.Section]authz.Section{
	clientsv1.Section_SECTION_IDENTITY: authz.Identity, clientsv1.Section_SECTION_TRAJECTORY: authz.Trajectory,
	clientsv1.Section_SECTION_WORK_GOALS: authz.WorkGoals, clientsv1.Section_SECTION_CLINICAL_INPUT: authz.ClinicalInput,
	clientsv1.Section_SECTION_JOB_SEARCH: authz.JobSearch, clientsv1.Section_SECTION_PLACEMENTS: authz.Placements,
	clientsv1.Section_SECTION_BENEFITS: authz.Benefits, clientsv1.Section_SECTION_MILESTONES: authz.Milestones,
}

// ResolveSubject implements authz.SubjectResolver through the clients
// service's directory, cached per token for a minute.
func (c *Checker) ResolveSubject(ctx context.Context, p authn.Principal) (authz.Subject, error) {
	c.mu.Lock()
	cc, ok := c.callers[p.Token]
	c.mu.Unlock()
	if ok && time.Since(cc.fetched) < time.Minute {
		return cc.sub, nil
	}
	r, err := c.clients.GetCaller(authn.OutgoingContext(ctx), &clientsv1.GetCallerRequest{})
	if err != nil {
		return authz.Subject{}, fmt.Errorf("resolve caller with the clients service: %w", err)
	}
	sub := authz.Subject{UserID: r.GetUserId(), OrgID: r.GetOrganizationId(), OrgKind: r.GetOrganizationKind(),
		RegionID: r.GetRegionId(), Role: r.GetRole(), Teams: r.GetTeamIds()}
	c.mu.Lock()
	if len(c.callers) > 10000 {
		c.callers = map[string]cachedCaller{} // bounded: tokens expire anyway
	}
	c.callers[p.Token] = cachedCaller{sub: sub, fetched: time.Now()}
	c.mu.Unlock()
	return sub, nil
}

// Decide returns what the subject in ctx may do with a client. ErrNoAccess
// when the clients service says the caller may see nothing of it.
func (c *Checker) Decide(ctx context.Context, sub authz.Subject, clientID string) (authz.Decision, authz.ClientFacts, error) {
	r, err := c.clients.CheckAccess(authn.OutgoingContext(ctx), &clientsv1.CheckAccessRequest{ClientId: clientID})
	if status.Code(err) == codes.NotFound || status.Code(err) == codes.PermissionDenied {
		return authz.Decision{}, authz.ClientFacts{}, ErrNoAccess
	}
	if err != nil {
		return authz.Decision{}, authz.ClientFacts{}, fmt.Errorf("check access with the clients service: %w", err)
	}
	facts := authz.ClientFacts{
		MHAOrgID: r.GetMhaOrganizationId(), RegionID: r.GetRegionId(), TeamID: r.GetTeamId(),
		SpecialistID: r.GetEmploymentSpecialistId(), InvolvedOrgIDs: r.GetInvolvedOrganizationIds(),
	}
	for _, s := range r.GetConsentedSections() {
		facts.ConsentedSections = append(facts.ConsentedSections, sectionNames[s])
	}
	d, err := c.az.Decide(sub, facts)
	if err != nil {
		return authz.Decision{}, authz.ClientFacts{}, err
	}
	if !d.SeesAnything() {
		return authz.Decision{}, authz.ClientFacts{}, ErrNoAccess
	}
	return d, facts, nil
}
