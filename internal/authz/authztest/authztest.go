// Package authztest holds DESIGN.md's "Who sees what" table transcribed by
// hand, independently of policy.csv, so that tests can compare what the
// policy and the running services decide against what the brief says.
package authztest

import (
	"slices"
	"strings"

	"github.com/ipsbridge/ipsbridge/internal/authz"
)

// designTable transcribes DESIGN.md's "Who sees what" table, independently of
// policy.csv: R read, W write, B BSN unmasked, S benefits summary, A region
// aggregates; then the relation the cell needs ("own", "team", "involved")
// and "consented" when the client's consent is needed. "funded": the
// caller's organisation is party to a funding agreement covering the client.
// DesignTable maps a role to its row.
var DesignTable = map[string]map[authz.Section]string{
	"employment_specialist": {
		authz.Identity: "RW own", authz.Trajectory: "RW own", authz.WorkGoals: "RW own", authz.ClinicalInput: "R own",
		authz.JobSearch: "RW own", authz.Placements: "RW own", authz.Benefits: "S own", authz.Milestones: "R own",
		// DESIGN.md's table says "R own"; issue 11 has the specialist record
		// the client's signature on the application ("with the client
		// present"), a write of the funding section.
		authz.Funding: "RW own",
	},
	"clinician": {
		authz.Identity: "R own", authz.Trajectory: "R own", authz.WorkGoals: "R own", authz.ClinicalInput: "RW own",
		authz.JobSearch: "R own", authz.Placements: "R own",
	},
	// The supervisor's and the fidelity reviewer's "A region": team-level
	// figures for the measured fidelity items (issue 12), the team checked
	// by the service.
	"ips_supervisor": {
		authz.Identity: "R team", authz.Trajectory: "RW team; A region", authz.WorkGoals: "R team", authz.ClinicalInput: "R team",
		authz.JobSearch: "R team; A region", authz.Placements: "R team; A region", authz.Milestones: "R team",
		authz.Benefits: "A region", authz.Funding: "R team",
	},
	"officer": {
		authz.Identity: "RB involved consented", authz.Trajectory: "R involved consented",
		authz.Placements: "R involved consented", authz.Benefits: "RW involved consented",
		// "R for their own funding agreements": the funded relation.
		authz.Milestones: "R funded consented", authz.Funding: "R funded consented",
	},
	"benefits_counsellor": {
		authz.Identity: "R involved consented", authz.Trajectory: "R involved consented",
		authz.Placements: "R involved consented", authz.Benefits: "RW involved consented",
	},
	"decision_maker": {
		authz.Trajectory: "A region", authz.JobSearch: "A region", authz.Placements: "A region", authz.Benefits: "A region", authz.Milestones: "A region",
		authz.Funding: "A region",
	},
	// DESIGN.md: "The MHA's funding_officer reads and writes the funding
	// section and reads identity and trajectory of the clients under its
	// agreements."
	"funding_officer_mha": {
		authz.Identity: "R funded", authz.Trajectory: "R funded", authz.Milestones: "R funded", authz.Funding: "RW funded",
	},
	// "A funder's funding_officer reads what its own agreements'
	// applications and claims hold: the client's signature on the
	// application is the basis, not the per-section consent"; the job's
	// details only with placements consent (issue 11).
	"funding_officer_funder": {
		authz.Placements: "R funded consented", authz.Milestones: "R funded", authz.Funding: "RW funded",
	},
	// A fidelity reviewer: team-level figures of its region, and during an
	// open review of a team the sample of its records without identity
	// (DESIGN.md, below the table).
	"fidelity_reviewer": {
		authz.Trajectory: "R review; A region", authz.JobSearch: "R review; A region", authz.Placements: "R review; A region",
		authz.Benefits: "A region",
	},
	"org_admin": {},
}

// tableRow maps a role in an organisation kind to its row of the table.
// TableRow returns the table row of a role in an organisation kind.
func TableRow(orgKind, role string) map[authz.Section]string {
	switch {
	case orgKind == "mha" && (role == "employment_specialist" || role == "clinician" || role == "ips_supervisor"):
		return DesignTable[role]
	case orgKind == "uwv" && (role == "labour_expert" || role == "benefits_officer" || role == "partner_system"),
		orgKind == "municipality" && (role == "client_manager" || role == "benefits_officer" || role == "partner_system"):
		// DESIGN.md's organisation table: UWV has labour experts and
		// benefits officers, a municipality client managers and benefits
		// officers; each has partner systems.
		return DesignTable["officer"]
	case role == "fidelity_reviewer" && orgKind == "independent":
		// DESIGN.md's organisation table: fidelity reviewers are independent.
		return DesignTable[role]
	case role == "funding_officer" && orgKind == "mha":
		return DesignTable["funding_officer_mha"]
	case role == "funding_officer" && (orgKind == "uwv" || orgKind == "municipality"):
		return DesignTable["funding_officer_funder"]
	case role == "benefits_counsellor" || role == "decision_maker" || role == "org_admin":
		return DesignTable[role]
	}
	return map[authz.Section]string{}
}

// Expected reports whether the table lets a role of an organisation kind,
// standing in rels to a client, perform action on section. A cell may hold
// several clauses separated by ";", each with its own relation.
func Expected(orgKind, role string, rels []authz.Relation, consented bool, section authz.Section, action authz.Action) bool {
	cell, ok := TableRow(orgKind, role)[section]
	if !ok {
		return false
	}
	for _, clause := range strings.Split(cell, ";") {
		if expectedClause(clause, rels, consented, action) {
			return true
		}
	}
	return false
}

func expectedClause(clause string, rels []authz.Relation, consented bool, action authz.Action) bool {
	parts := strings.Fields(clause)
	letters, need := parts[0], authz.Relation(parts[1])
	if !slices.Contains(rels, need) {
		return false
	}
	if slices.Contains(parts, "consented") && !consented {
		return false
	}
	switch action {
	case authz.Read:
		return strings.Contains(letters, "R")
	case authz.Write:
		return strings.Contains(letters, "W")
	case authz.ReadBSN:
		return strings.Contains(letters, "B")
	case authz.ReadSummary:
		return strings.Contains(letters, "S")
	case authz.Aggregate:
		return strings.Contains(letters, "A")
	}
	return false
}

// OrgTable transcribes DESIGN.md's organisation table for the
// organisation-level pseudo-sections, independently of policy.csv: an
// org_admin "manages its own organisation's users and subscriptions", a
// partner_system is "another organisation's software, integrated by API and
// events" (the pull feed, for UWV and municipalities, the organisations that
// receive events). Per section: role → letters (R read, W write) and the
// organisation kinds ("*" any).
//
// Fidelity reviews (DESIGN.md: "a fidelity_reviewer scores a team on the
// IPS-25 fidelity scale"; a decision maker "sees ... fidelity of a region";
// the MHA's IPS supervisor requests the review of its team and
// self-assesses; a funding officer reads the bands a funding agreement may
// require).
var OrgTable = map[authz.Section]map[string]string{
	authz.Subscriptions: {"org_admin": "RW *"},
	authz.Events:        {"partner_system": "R uwv municipality"},
	authz.Fidelity: {"ips_supervisor": "RW mha", "fidelity_reviewer": "RW independent", "decision_maker": "R *",
		// Issue 11: a funding agreement may require a minimum fidelity
		// band; the funding officer reads the region's bands.
		"funding_officer": "R *"},
}

// ExpectedOrg reports whether OrgTable lets a role of an organisation kind
// perform action on an organisation-level section.
func ExpectedOrg(orgKind, role string, section authz.Section, action authz.Action) bool {
	cell, ok := OrgTable[section][role]
	if !ok {
		return false
	}
	parts := strings.Fields(cell)
	if !slices.Contains(parts[1:], "*") && !slices.Contains(parts[1:], orgKind) {
		return false
	}
	switch action {
	case authz.Read:
		return strings.Contains(parts[0], "R")
	case authz.Write:
		return strings.Contains(parts[0], "W")
	}
	return false
}
