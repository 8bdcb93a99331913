package authz_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/ipsbridge/ipsbridge/internal/authz"
	"github.com/ipsbridge/ipsbridge/internal/authz/authztest"
)

// TestMatrix runs every role × organisation kind × relation × section ×
// action × consent state through the policy and compares it with the table.
func TestMatrix(t *testing.T) {
	a, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	client := authz.ClientFacts{
		MHAOrgID: "mha-1", RegionID: "region-1", TeamID: "team-a", SpecialistID: "u-assigned",
		InvolvedOrgIDs: []string{"uwv-1", "gem-1"},
		// uwv-1 funds the client under an agreement with mha-1; gem-1 is
		// involved without funding.
		FundingOrgIDs: []string{"mha-1", "uwv-1"},
	}
	// Callers standing in every relation the policy distinguishes.
	type caller struct {
		name string
		s    authz.Subject
	}
	var callers []caller
	for _, kind := range authz.OrgKinds {
		for _, role := range authz.Roles {
			base := authz.Subject{Role: role, OrgKind: kind}
			add := func(name string, mod func(*authz.Subject)) {
				s := base
				mod(&s)
				callers = append(callers, caller{fmt.Sprintf("%s@%s/%s", role, kind, name), s})
			}
			if kind == "mha" {
				add("assigned", func(s *authz.Subject) { s.UserID, s.OrgID, s.RegionID = "u-assigned", "mha-1", "region-1" })
				add("same-team", func(s *authz.Subject) {
					s.UserID, s.OrgID, s.RegionID, s.Teams = "u-x", "mha-1", "region-1", []string{"team-a"}
				})
				add("other-team", func(s *authz.Subject) {
					s.UserID, s.OrgID, s.RegionID, s.Teams = "u-y", "mha-1", "region-1", []string{"team-b"}
				})
				add("other-mha", func(s *authz.Subject) {
					s.UserID, s.OrgID, s.RegionID, s.Teams = "u-z", "mha-2", "region-2", []string{"team-a"}
				})
				add("mha-in-region", func(s *authz.Subject) { s.UserID, s.OrgID, s.RegionID = "u-w", "mha-3", "region-1" })
				continue
			}
			add("involved", func(s *authz.Subject) { s.UserID, s.OrgID, s.RegionID = "u-i", "uwv-1", "region-1" })
			add("involved-unfunded", func(s *authz.Subject) { s.UserID, s.OrgID, s.RegionID = "u-g", "gem-1", "region-1" })
			add("not-involved", func(s *authz.Subject) { s.UserID, s.OrgID, s.RegionID = "u-n", "uwv-9", "region-1" })
			add("other-region", func(s *authz.Subject) { s.UserID, s.OrgID, s.RegionID = "u-o", "uwv-8", "region-2" })
			// The reviewer of an open fidelity review of the client's team,
			// and of another team.
			add("reviewing-team", func(s *authz.Subject) {
				s.UserID, s.OrgID, s.RegionID, s.ReviewTeams = "u-r", "rev-1", "region-2", []string{"team-a"}
			})
			add("reviewing-other-team", func(s *authz.Subject) {
				s.UserID, s.OrgID, s.RegionID, s.ReviewTeams = "u-r", "rev-1", "region-2", []string{"team-b"}
			})
		}
	}
	cells, denials := 0, 0
	for _, c := range callers {
		rels := authz.Relations(c.s, client)
		for _, section := range authz.Sections {
			for _, action := range authz.Actions {
				for _, consented := range []bool{false, true} {
					facts := client
					if consented {
						facts.ConsentedSections = []authz.Section{section}
					} else {
						// Consent for other sections never opens this one.
						facts.ConsentedSections = otherSections(section)
					}
					got, err := a.Allowed(c.s, facts, section, action)
					if err != nil {
						t.Fatal(err)
					}
					want := authztest.Expected(c.s.OrgKind, c.s.Role, rels, consented, section, action)
					if got != want {
						t.Errorf("%s rels=%v %s %s consented=%v: got %v, want %v", c.name, rels, action, section, consented, got, want)
					}
					cells++
					if !got {
						denials++
					}
				}
			}
		}
	}
	t.Logf("%d cells checked, %d denials", cells, denials)
	if denials == 0 || denials == cells {
		t.Fatalf("matrix is degenerate: %d of %d denied", denials, cells)
	}
}

func otherSections(s authz.Section) []authz.Section {
	var out []authz.Section
	for _, x := range authz.Sections {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

func TestClinicalInputNeverLeavesTheMHA(t *testing.T) {
	a, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	facts := authz.ClientFacts{MHAOrgID: "mha-1", TeamID: "t", InvolvedOrgIDs: []string{"x"}, ConsentedSections: authz.Sections}
	for _, kind := range []string{"uwv", "municipality", "independent"} {
		for _, role := range authz.Roles {
			for _, action := range authz.Actions {
				ok, err := a.Allowed(authz.Subject{Role: role, OrgKind: kind, OrgID: "x"}, facts, authz.ClinicalInput, action)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					t.Errorf("%s at %s may %s clinical input", role, kind, action)
				}
			}
		}
	}
}

func TestRegionalPolicyTightens(t *testing.T) {
	a, err := authz.New("p, region-strict, uwv, benefits_officer, identity, read_bsn, *, none, deny")
	if err != nil {
		t.Fatal(err)
	}
	facts := authz.ClientFacts{MHAOrgID: "mha-1", InvolvedOrgIDs: []string{"uwv-1"}, ConsentedSections: []authz.Section{authz.Identity}}
	for _, tc := range []struct {
		region string
		want   bool
	}{{"region-strict", false}, {"region-other", true}} {
		s := authz.Subject{Role: "benefits_officer", OrgKind: "uwv", OrgID: "uwv-1", RegionID: tc.region}
		got, err := a.Allowed(s, facts, authz.Identity, authz.ReadBSN)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("region %s: read_bsn = %v, want %v", tc.region, got, tc.want)
		}
		// The deny line removes only the BSN, not the identity itself.
		if ok, _ := a.Allowed(s, facts, authz.Identity, authz.Read); !ok {
			t.Errorf("region %s: identity read denied", tc.region)
		}
	}
}

// Issue 14, finding 6: a region's deny lines follow its clients: they bind
// a caller of another region who reads them, not only the region's own
// callers; and naming an organisation of another region as involved needs
// the client region's policy.
func TestRegionalPolicyFollowsTheClientsRegion(t *testing.T) {
	a, err := authz.New("p, region-strict, uwv, benefits_officer, identity, read_bsn, *, none, deny",
		"p, region-open, mha, employment_specialist, cross_region, write, *, none, allow")
	if err != nil {
		t.Fatal(err)
	}
	officer := func(region string) authz.Subject {
		return authz.Subject{Role: "benefits_officer", OrgKind: "uwv", OrgID: "uwv-1", RegionID: region}
	}
	client := func(region string) authz.ClientFacts {
		return authz.ClientFacts{MHAOrgID: "mha-1", RegionID: region, InvolvedOrgIDs: []string{"uwv-1"},
			ConsentedSections: []authz.Section{authz.Identity}}
	}
	for _, tc := range []struct {
		caller, client string
		want           bool
	}{
		{"region-strict", "region-strict", false},
		{"region-other", "region-strict", false}, // the client's region binds the visitor
		{"region-strict", "region-other", false}, // and the caller's own region binds the caller
		{"region-other", "region-other", true},
	} {
		got, err := a.Allowed(officer(tc.caller), client(tc.client), authz.Identity, authz.ReadBSN)
		if err != nil {
			t.Fatal(err)
		}
		d, err := a.Decide(officer(tc.caller), client(tc.client))
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want || d.ReadBSN != tc.want {
			t.Errorf("caller of %s, client of %s: read_bsn = %v (Decide %v), want %v", tc.caller, tc.client, got, d.ReadBSN, tc.want)
		}
		if !d.Read[authz.Identity] {
			t.Errorf("caller of %s, client of %s: identity read denied", tc.caller, tc.client)
		}
	}
	es := authz.Subject{Role: "employment_specialist", OrgKind: "mha", OrgID: "mha-1", RegionID: "region-open"}
	for region, want := range map[string]bool{"region-open": true, "region-strict": false} {
		es.RegionID = region
		if got, err := a.InvolveAllowed(es, region); err != nil || got != want {
			t.Errorf("involving another region's organisation in a client of %s: %v %v, want %v", region, got, err, want)
		}
	}
	if got, _ := authz.New(); got != nil {
		if ok, _ := got.InvolveAllowed(es, "region-strict"); ok {
			t.Errorf("the default policy allows involving another region's organisations")
		}
	}
}

func TestPolicyRejectsTypos(t *testing.T) {
	for _, line := range []string{
		"p, *, mha, employment_specialst, identity, read, own, none, allow",
		"p, *, mha, clinician, identiti, read, own, none, allow",
		"p, *, mha, clinician, identity, reed, own, none, allow",
		"p, *, mha, clinician, identity, read, owner, none, allow",
		"p, *, mha, clinician, identity, read, own, maybe, allow",
		"p, *, mha, clinician, identity, read, own, none, permit",
		"p, *, hospital, clinician, identity, read, own, none, allow",
		"p, *, mha, clinician, identity, read, own, none",
		"p, *, uwv, partner_system, events, read, involved, none, allow",
		"p, *, *, org_admin, subscriptions, write, *, required, allow",
	} {
		if _, err := authz.New(line); err == nil {
			t.Errorf("policy line %q accepted", line)
		}
	}
}

func TestDecide(t *testing.T) {
	a, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	facts := authz.ClientFacts{MHAOrgID: "mha-1", RegionID: "r", TeamID: "team-a", InvolvedOrgIDs: []string{"uwv-1"},
		ConsentedSections: []authz.Section{authz.Identity, authz.Trajectory}}
	officer := authz.Subject{Role: "benefits_officer", OrgKind: "uwv", OrgID: "uwv-1", RegionID: "r"}
	d, err := a.Decide(officer, facts)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Readable(); !slices.Equal(got, []authz.Section{authz.Identity, authz.Trajectory}) {
		t.Errorf("officer readable = %v", got)
	}
	if !d.ReadBSN || !d.SeesAnything() || len(d.Writable()) != 0 {
		t.Errorf("officer decision = %+v", d)
	}
	stranger := authz.Subject{Role: "clinician", OrgKind: "mha", OrgID: "mha-1", Teams: []string{"team-b"}}
	d, err = a.Decide(stranger, facts)
	if err != nil {
		t.Fatal(err)
	}
	if d.SeesAnything() {
		t.Errorf("clinician of another team sees %v", d.Readable())
	}
}

// BenchmarkAllowed measures one decision on the memoised path every request
// takes after warm-up; BenchmarkCasbin in the package measures a cold one.
func BenchmarkAllowed(b *testing.B) {
	a, err := authz.New()
	if err != nil {
		b.Fatal(err)
	}
	s := authz.Subject{Role: "benefits_officer", OrgKind: "uwv", OrgID: "uwv-1", RegionID: "r"}
	facts := authz.ClientFacts{MHAOrgID: "mha-1", InvolvedOrgIDs: []string{"uwv-1"}, ConsentedSections: []authz.Section{authz.Placements}}
	b.Run("memoised", func(b *testing.B) {
		for b.Loop() {
			if ok, _ := a.Allowed(s, facts, authz.Placements, authz.Read); !ok {
				b.Fatal("denied")
			}
		}
	})
}

// TestOrgSections runs every role × organisation kind × organisation-level
// pseudo-section × action through the policy, as the events service's
// interceptor (RoleMay) and handlers (OrgAllowed) ask it, and compares it
// with the table. Relations and consent make no difference to these lines.
func TestOrgSections(t *testing.T) {
	a, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	allowed := 0
	for _, kind := range authz.OrgKinds {
		for _, role := range authz.Roles {
			s := authz.Subject{UserID: "u", OrgID: "org-1", OrgKind: kind, RegionID: "region-1", Role: role}
			for _, section := range authz.OrgSections {
				for _, action := range authz.Actions {
					want := authztest.ExpectedOrg(kind, role, section, action)
					got, err := a.OrgAllowed(s, section, action)
					if err != nil {
						t.Fatal(err)
					}
					may, err := a.RoleMay(s, section, action)
					if err != nil {
						t.Fatal(err)
					}
					// A client's facts change nothing.
					withClient, err := a.Allowed(s, authz.ClientFacts{MHAOrgID: "org-1", RegionID: "region-1",
						ConsentedSections: authz.Sections}, section, action)
					if err != nil {
						t.Fatal(err)
					}
					if got != want || may != want || withClient != want {
						t.Errorf("%s@%s %s %s: OrgAllowed %v, RoleMay %v, Allowed %v; want %v", role, kind, action, section, got, may, withClient, want)
					}
					if want {
						allowed++
					}
				}
			}
		}
	}
	// org_admin × 4 kinds × read, write; partner_system × 2 kinds × read;
	// fidelity: ips_supervisor@mha and fidelity_reviewer@independent ×
	// read, write, decision_maker and funding_officer × 4 kinds × read.
	if allowed != 10+12 {
		t.Errorf("%d allowed cells, want 22", allowed)
	}
	if _, err := a.OrgAllowed(authz.Subject{Role: "org_admin", OrgKind: "mha"}, authz.Identity, authz.Read); err == nil {
		t.Error("OrgAllowed answered for a client section")
	}
}
