// Package authz decides who may do what with a client's record. One Casbin
// model and one role-level policy express the data-sharing agreement; the
// caller's relations to the client and the client's consents are facts each
// service looks up per request and hands to the matcher, never policy lines
// per client.
package authz

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
)

//go:embed model.conf
var modelText string

//go:embed policy.csv
var policyText string

// Section is a part of a client's record; every field belongs to one.
type Section string

// The sections of DESIGN.md, two pseudo-sections for consents and the
// access history of a client, and two organisation-level pseudo-sections
// that are about no client at all: an organisation's event subscriptions and
// the pull feed of events.
const (
	Identity      Section = "identity"
	Trajectory    Section = "trajectory"
	WorkGoals     Section = "work_goals"
	ClinicalInput Section = "clinical_input"
	JobSearch     Section = "job_search"
	Placements    Section = "placements"
	Benefits      Section = "benefits"
	Milestones    Section = "milestones"
	// Funding: the client's trajectory application, its decision, stop
	// notice, end report, final determination and the claim lines earned
	// on the client (the funding service).
	Funding Section = "funding"
	Consent Section = "consent"
	Audit   Section = "audit"
	// Subscriptions: managing the organisation's own webhook subscriptions
	// and their dead letters (org_admin).
	Subscriptions Section = "subscriptions"
	// Events: reading the pull feed of domain events (partner systems).
	// Each event is then filtered by the section it belongs to, as a
	// webhook delivery is.
	Events Section = "events"
	// Fidelity: fidelity reviews of a team (services/fidelity); about a
	// team, never one client.
	Fidelity Section = "fidelity"
	// CrossRegion: naming an organisation of another region as involved
	// in a client's trajectory. No default line allows it; a region that
	// wants it says so in its policy file (region = the client's region),
	// e.g. "p, region-noord, mha, employment_specialist, cross_region,
	// write, *, none, allow".
	CrossRegion Section = "cross_region"
)

// Sections are the record sections, in display order.
var Sections = []Section{Identity, Trajectory, WorkGoals, ClinicalInput, JobSearch, Placements, Benefits, Milestones, Funding}

// OrgSections are the organisation-level pseudo-sections: their policy lines
// use relation "*" and consent "none", and OrgAllowed decides them without
// any client.
var OrgSections = []Section{Subscriptions, Events, Fidelity, CrossRegion}

// knownSections are every section a policy line may name.
func knownSections() []Section {
	return append(append(slices.Clone(Sections), Consent, Audit), OrgSections...)
}

// Action is what a caller does with a section.
type Action string

const (
	Read        Action = "read"
	Write       Action = "write"
	ReadBSN     Action = "read_bsn"
	ReadSummary Action = "read_summary"
	Aggregate   Action = "aggregate"
)

// Actions lists every action the policy knows.
var Actions = []Action{Read, Write, ReadBSN, ReadSummary, Aggregate}

// Relation is how a caller stands to a client.
type Relation string

const (
	// Own: the caller is the client's assigned employment specialist or in
	// the client's team.
	Own Relation = "own"
	// Team: the caller is in the client's team.
	Team Relation = "team"
	// Involved: the caller's organisation, outside the client's MHA, is
	// named in the trajectory.
	Involved Relation = "involved"
	// Region: the caller's organisation is in the client's region.
	Region Relation = "region"
	// Review: the caller is the assigned, independent reviewer of an open
	// fidelity review of the client's team (Subject.ReviewTeams).
	Review Relation = "review"
	// Funded: the caller's organisation is a party to a funding agreement
	// under which the client has a trajectory application (the MHA from
	// the draft on, the funder from its submission on).
	Funded Relation = "funded"
)

// AllRelations are every relation a policy line may name, the most
// favourable standing a caller can have.
var AllRelations = []Relation{Own, Team, Involved, Region, Funded, Review}

// Roles the policy knows.
var Roles = []string{
	"employment_specialist", "clinician", "ips_supervisor", "labour_expert",
	"benefits_officer", "client_manager", "benefits_counsellor", "decision_maker",
	"fidelity_reviewer", "partner_system", "org_admin", "funding_officer",
}

// OrgKinds the policy knows.
var OrgKinds = []string{"mha", "uwv", "municipality", "independent"}

// Subject is the caller as the policy sees it.
type Subject struct {
	UserID   string
	OrgID    string
	OrgKind  string
	RegionID string
	Role     string
	Teams    []string
	// ReviewTeams are the teams of the open fidelity reviews assigned to
	// the caller (a fidelity reviewer), as the directory resolves them.
	ReviewTeams []string
}

// PartnerSystem is an organisation as a whole, with no person: its partner
// system, which may read what the policy gives partner systems. What an
// organisation is told unasked (an event, a notice) is what this subject
// may read.
func PartnerSystem(orgID, orgKind, regionID string) Subject {
	return Subject{OrgID: orgID, OrgKind: orgKind, RegionID: regionID, Role: "partner_system"}
}

// ClientFacts are what the policy needs to know of one client, looked up per
// request by the service that asks.
type ClientFacts struct {
	MHAOrgID       string
	RegionID       string
	TeamID         string
	SpecialistID   string
	InvolvedOrgIDs []string
	// ConsentedSections are the sections the client has consented to the
	// caller's organisation seeing (active consents only).
	ConsentedSections []Section
	// FundingOrgIDs are the organisations party to a funding agreement
	// under which the client has an application (see Funded); loaded only
	// by request paths that ask for funding facts, empty elsewhere.
	FundingOrgIDs []string
}

// Relations returns the caller's relations to the client.
func Relations(s Subject, c ClientFacts) []Relation {
	var rels []Relation
	sameMHA := s.OrgID != "" && s.OrgID == c.MHAOrgID
	inTeam := sameMHA && c.TeamID != "" && slices.Contains(s.Teams, c.TeamID)
	if sameMHA && (inTeam || (s.UserID != "" && s.UserID == c.SpecialistID)) {
		rels = append(rels, Own)
	}
	if inTeam {
		rels = append(rels, Team)
	}
	if !sameMHA && s.OrgID != "" && slices.Contains(c.InvolvedOrgIDs, s.OrgID) {
		rels = append(rels, Involved)
	}
	if s.RegionID != "" && s.RegionID == c.RegionID {
		rels = append(rels, Region)
	}
	if !sameMHA && c.TeamID != "" && slices.Contains(s.ReviewTeams, c.TeamID) {
		rels = append(rels, Review)
	}
	if s.OrgID != "" && slices.Contains(c.FundingOrgIDs, s.OrgID) {
		rels = append(rels, Funded)
	}
	return rels
}

// Authorizer evaluates the policy. Safe for concurrent use.
type Authorizer struct {
	enforcer *casbin.SyncedEnforcer
	// Decisions depend only on the request tuple, a small finite domain, so
	// they are memoised: Casbin still makes every decision once, and a
	// request costs a map lookup however large the policy grows.
	memo sync.Map
}

// New loads the model and the default policy, plus any regional policy text
// (same CSV format; typically deny lines by which a region tightens the
// default agreement).
func New(regional ...string) (*Authorizer, error) {
	m, err := model.NewModelFromString(modelText)
	if err != nil {
		return nil, fmt.Errorf("load authorization model: %w", err)
	}
	e, err := casbin.NewSyncedEnforcer(m)
	if err != nil {
		return nil, fmt.Errorf("create enforcer: %w", err)
	}
	e.AddFunction("hasRelation", hasRelation)
	for i, text := range append([]string{policyText}, regional...) {
		rules, err := ParsePolicy(text)
		if err != nil {
			return nil, fmt.Errorf("policy %d: %w", i, err)
		}
		if len(rules) > 0 {
			if _, err := e.AddPolicies(rules); err != nil {
				return nil, fmt.Errorf("add policy %d: %w", i, err)
			}
		}
	}
	return &Authorizer{enforcer: e}, nil
}

// ParsePolicy parses and checks policy lines, so that a typo in a role,
// section or action fails at start-up instead of silently denying.
func ParsePolicy(text string) ([][]string, error) {
	var rules [][]string
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		r := csv.NewReader(strings.NewReader(line))
		r.TrimLeadingSpace = true
		fields, err := r.Read()
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		if len(fields) != 9 || fields[0] != "p" {
			return nil, fmt.Errorf("line %d: want 'p' and 8 fields, got %q", n+1, line)
		}
		rule := fields[1:]
		if err := checkRule(rule); err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		rules = append(rules, rule)
	}
	return rules, nil
}

func checkRule(rule []string) error {
	orgKind, role, section, action, rel, consent, eft := rule[1], rule[2], rule[3], rule[4], rule[5], rule[6], rule[7]
	if orgKind != "*" && !slices.Contains(OrgKinds, orgKind) {
		return fmt.Errorf("unknown organisation kind %q", orgKind)
	}
	if !slices.Contains(Roles, role) {
		return fmt.Errorf("unknown role %q", role)
	}
	if !slices.Contains(knownSections(), Section(section)) {
		return fmt.Errorf("unknown section %q", section)
	}
	if !slices.Contains(Actions, Action(action)) {
		return fmt.Errorf("unknown action %q", action)
	}
	if rel != "*" && !slices.Contains(AllRelations, Relation(rel)) {
		return fmt.Errorf("unknown relation %q", rel)
	}
	if consent != "none" && consent != "required" {
		return fmt.Errorf("consent must be none or required, not %q", consent)
	}
	if slices.Contains(OrgSections, Section(section)) && (rel != "*" || consent != "none") {
		return fmt.Errorf("section %s concerns no client: relation must be * and consent none", section)
	}
	if eft != "allow" && eft != "deny" {
		return fmt.Errorf("effect must be allow or deny, not %q", eft)
	}
	return nil
}

func hasRelation(args ...any) (any, error) {
	if len(args) != 2 {
		return false, fmt.Errorf("hasRelation wants 2 arguments, got %d", len(args))
	}
	rels, _ := args[0].(string)
	want, _ := args[1].(string)
	if want == "*" {
		return true, nil
	}
	return slices.Contains(strings.Fields(rels), want), nil
}

// Allowed reports whether the subject may perform the action on the section
// of a client with the given facts.
func (a *Authorizer) Allowed(s Subject, c ClientFacts, section Section, action Action) (bool, error) {
	return a.allowedFor(s, c.RegionID, Relations(s, c), slices.Contains(c.ConsentedSections, section), section, action)
}

// allowedFor decides for a client of clientRegion: a region's policy lines
// bind everyone who reads or writes its clients, whatever region the
// caller is from, and the caller's own region's lines bind the caller too;
// both must allow. Without a client region, the caller's decides.
func (a *Authorizer) allowedFor(s Subject, clientRegion string, rels []Relation, consented bool, section Section, action Action) (bool, error) {
	if clientRegion == "" || clientRegion == s.RegionID {
		return a.allowed(s, rels, consented, section, action)
	}
	ok, err := a.allowedIn(clientRegion, s, rels, consented, section, action)
	if err != nil || !ok || s.RegionID == "" {
		return ok, err
	}
	return a.allowed(s, rels, consented, section, action)
}

func (a *Authorizer) allowed(s Subject, rels []Relation, consented bool, section Section, action Action) (bool, error) {
	return a.allowedIn(s.RegionID, s, rels, consented, section, action)
}

func (a *Authorizer) allowedIn(region string, s Subject, rels []Relation, consented bool, section Section, action Action) (bool, error) {
	relText := joinRelations(rels)
	consent := "no"
	if consented {
		consent = "yes"
	}
	key := strings.Join([]string{region, s.OrgKind, s.Role, string(section), string(action), relText, consent}, "\x00")
	if v, ok := a.memo.Load(key); ok {
		return v.(bool), nil
	}
	ok, err := a.enforcer.Enforce(region, s.OrgKind, s.Role, string(section), string(action), relText, consent)
	if err != nil {
		return false, fmt.Errorf("enforce %s %s for %s: %w", action, section, s.Role, err)
	}
	a.memo.Store(key, ok)
	return ok, nil
}

// OrgAllowed decides an organisation-level pseudo-section (OrgSections),
// which concerns no client: no relation and no consent apply.
func (a *Authorizer) OrgAllowed(s Subject, section Section, action Action) (bool, error) {
	if !slices.Contains(OrgSections, section) {
		return false, fmt.Errorf("%s is not an organisation-level section", section)
	}
	return a.allowed(s, nil, false, section, action)
}

// InvolveAllowed reports whether the subject may name an organisation of
// another region as involved in a client of clientRegion: the client
// region's policy must allow it (CrossRegion), and the caller's own.
func (a *Authorizer) InvolveAllowed(s Subject, clientRegion string) (bool, error) {
	return a.allowedFor(s, clientRegion, nil, false, CrossRegion, Write)
}

// RoleMay reports whether the subject's role could ever perform the action
// on the section, given the most favourable relation and consent. Services'
// interceptors use it to refuse a method outright before any lookup.
func (a *Authorizer) RoleMay(s Subject, section Section, action Action) (bool, error) {
	return a.allowed(s, AllRelations, true, section, action)
}

// Decision is what one subject may do with one client.
type Decision struct {
	Read    map[Section]bool
	Write   map[Section]bool
	ReadBSN bool
	// Summary: the subject may read the benefits summary.
	Summary bool
}

// Decide evaluates every section and action for one client at once.
func (a *Authorizer) Decide(s Subject, c ClientFacts) (Decision, error) {
	d := Decision{Read: map[Section]bool{}, Write: map[Section]bool{}}
	rels := Relations(s, c)
	for _, sec := range append(slices.Clone(Sections), Consent, Audit) {
		consented := slices.Contains(c.ConsentedSections, sec)
		r, err := a.allowedFor(s, c.RegionID, rels, consented, sec, Read)
		if err != nil {
			return Decision{}, err
		}
		w, err := a.allowedFor(s, c.RegionID, rels, consented, sec, Write)
		if err != nil {
			return Decision{}, err
		}
		d.Read[sec], d.Write[sec] = r, w
	}
	var err error
	if d.ReadBSN, err = a.allowedFor(s, c.RegionID, rels, slices.Contains(c.ConsentedSections, Identity), Identity, ReadBSN); err != nil {
		return Decision{}, err
	}
	if d.Summary, err = a.allowedFor(s, c.RegionID, rels, slices.Contains(c.ConsentedSections, Benefits), Benefits, ReadSummary); err != nil {
		return Decision{}, err
	}
	return d, nil
}

// SeesAnything reports whether the decision lets the subject see any part
// of the client. When it does not, services answer NotFound so that the
// client's existence does not leak.
func (d Decision) SeesAnything() bool {
	for _, sec := range Sections {
		if d.Read[sec] {
			return true
		}
	}
	return d.Summary
}

// Readable returns the readable record sections in display order.
func (d Decision) Readable() []Section {
	var out []Section
	for _, sec := range Sections {
		if d.Read[sec] {
			out = append(out, sec)
		}
	}
	return out
}

// Writable returns the writable record sections in display order.
func (d Decision) Writable() []Section {
	var out []Section
	for _, sec := range Sections {
		if d.Write[sec] {
			out = append(out, sec)
		}
	}
	return out
}

func joinRelations(rels []Relation) string {
	s := make([]string, len(rels))
	for i, r := range rels {
		s[i] = string(r)
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}
