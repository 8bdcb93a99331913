// Package seed describes the demo regions used by the local setup and the
// tests: organisations of every kind, MHA teams and a user of every role.
// The clients service loads it into its directory tables when seeding is on;
// scripts/token looks users up in it.
package seed

// Organisation kinds.
const (
	KindMHA          = "mha"
	KindUWV          = "uwv"
	KindMunicipality = "municipality"
	KindIndependent  = "independent"
)

type Region struct {
	ID   string
	Name string
}

type Organization struct {
	ID       string
	Name     string
	Kind     string
	RegionID string
	// WebhookHosts are where the organisation's data-carrying webhook
	// endpoints may be (DemoWebhookHosts for every demo organisation).
	WebhookHosts []string
}

// DemoWebhookHosts are the registered webhook hosts of the demo
// organisations: the local machine, where scripts/receiver and the tests'
// receivers listen.
var DemoWebhookHosts = []string{"localhost", "127.0.0.1", "::1"}

type Team struct {
	ID    string
	OrgID string
	Name  string
}

type User struct {
	ID    string
	Name  string
	OrgID string
	Role  string
	Teams []string
}

// Demo is the seeded data: region Noord (one MHA with two teams, UWV's
// regional office, a municipality) and region Oost with a second MHA, whose
// users must never see Noord's clients.
var Demo = struct {
	Regions       []Region
	Organizations []Organization
	Teams         []Team
	Users         []User
}{
	Regions: []Region{
		{ID: "region-noord", Name: "Regio Noord"},
		{ID: "region-oost", Name: "Regio Oost"},
	},
	Organizations: []Organization{
		{ID: "mha-noord", Name: "GGZ Noord", Kind: KindMHA, RegionID: "region-noord"},
		{ID: "uwv-noord", Name: "UWV Noord", Kind: KindUWV, RegionID: "region-noord"},
		{ID: "gem-groningen", Name: "Gemeente Groningen", Kind: KindMunicipality, RegionID: "region-noord"},
		{ID: "ips-fidelity", Name: "IPS Fidelity Reviews", Kind: KindIndependent, RegionID: "region-noord"},
		{ID: "mha-oost", Name: "GGZ Oost", Kind: KindMHA, RegionID: "region-oost"},
	},
	Teams: []Team{
		{ID: "noord-team-a", OrgID: "mha-noord", Name: "Team Stad"},
		{ID: "noord-team-b", OrgID: "mha-noord", Name: "Team Ommeland"},
		{ID: "oost-team-a", OrgID: "mha-oost", Name: "Team Twente"},
	},
	Users: []User{
		{ID: "es-anna", Name: "Anna de Vries", OrgID: "mha-noord", Role: "employment_specialist", Teams: []string{"noord-team-a"}},
		{ID: "es-bram", Name: "Bram Jansen", OrgID: "mha-noord", Role: "employment_specialist", Teams: []string{"noord-team-b"}},
		{ID: "cl-carla", Name: "Carla Bakker", OrgID: "mha-noord", Role: "clinician", Teams: []string{"noord-team-a"}},
		{ID: "cl-daan", Name: "Daan Visser", OrgID: "mha-noord", Role: "clinician", Teams: []string{"noord-team-b"}},
		{ID: "sup-eva", Name: "Eva Smit", OrgID: "mha-noord", Role: "ips_supervisor", Teams: []string{"noord-team-a"}},
		{ID: "admin-noord", Name: "Frank Mulder", OrgID: "mha-noord", Role: "org_admin"},
		{ID: "uwv-gijs", Name: "Gijs de Boer", OrgID: "uwv-noord", Role: "benefits_officer"},
		{ID: "uwv-hanna", Name: "Hanna Meijer", OrgID: "uwv-noord", Role: "labour_expert"},
		{ID: "uwv-system", Name: "UWV koppelvlak", OrgID: "uwv-noord", Role: "partner_system"},
		{ID: "admin-uwv", Name: "Ruud Smits", OrgID: "uwv-noord", Role: "org_admin"},
		{ID: "gem-ivo", Name: "Ivo de Groot", OrgID: "gem-groningen", Role: "client_manager"},
		{ID: "gem-jet", Name: "Jet Bos", OrgID: "gem-groningen", Role: "benefits_officer"},
		{ID: "gem-karin", Name: "Karin Vos", OrgID: "gem-groningen", Role: "benefits_counsellor"},
		{ID: "gem-system", Name: "Gemeente koppelvlak", OrgID: "gem-groningen", Role: "partner_system"},
		{ID: "dm-lucas", Name: "Lucas Peters", OrgID: "gem-groningen", Role: "decision_maker"},
		{ID: "admin-gem", Name: "Sara Willems", OrgID: "gem-groningen", Role: "org_admin"},
		{ID: "fr-maria", Name: "Maria Hendriks", OrgID: "ips-fidelity", Role: "fidelity_reviewer"},
		{ID: "fo-nina", Name: "Nina Postma", OrgID: "mha-noord", Role: "funding_officer"},
		{ID: "fo-otto", Name: "Otto Brouwer", OrgID: "uwv-noord", Role: "funding_officer"},
		{ID: "fo-pien", Name: "Pien Schouten", OrgID: "gem-groningen", Role: "funding_officer"},
		{ID: "es-olaf", Name: "Olaf Dekker", OrgID: "mha-oost", Role: "employment_specialist", Teams: []string{"oost-team-a"}},
		{ID: "cl-petra", Name: "Petra Kok", OrgID: "mha-oost", Role: "clinician", Teams: []string{"oost-team-a"}},
	},
}

// FindUser returns the first user with the given role in the given
// organisation, or the user with the given id when id is not empty.
func FindUser(role, orgID, id string) (User, bool) {
	for _, u := range Demo.Users {
		if id != "" {
			if u.ID == id && (role == "" || u.Role == role) && (orgID == "" || u.OrgID == orgID) {
				return u, true
			}
			continue
		}
		if u.Role == role && u.OrgID == orgID {
			return u, true
		}
	}
	return User{}, false
}

// FindOrganization returns an organisation by id.
func FindOrganization(id string) (Organization, bool) {
	for _, o := range Demo.Organizations {
		if o.ID == id {
			return o, true
		}
	}
	return Organization{}, false
}
