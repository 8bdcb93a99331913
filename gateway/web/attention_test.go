package web

import (
	"fmt"
	"testing"
)

func TestNeedsAttention(t *testing.T) {
	d := caseloadData{Limit: 20,
		Rows: []caseloadRow{
			{ID: "a", Phase: "job_search", Days: 29, HasDays: true},                                        // in touch
			{ID: "b", Phase: "job_search", Days: 30, HasDays: true},                                        // a month: look
			{ID: "c", Phase: "employed"},                                                                   // never a contact
			{ID: "d", Phase: "intake"},                                                                     // too early to count
			{ID: "e", Phase: "referral", Milestone: "first_employer_contact", MilestoneDate: "2026-11-27"}, // past expected
			{ID: "f", Phase: "job_search", Days: 1, HasDays: true, Milestone: "job_start", MilestoneDate: "2026-11-28"},
			{ID: "g", Phase: "job_search", Days: 1, HasDays: true, Milestone: "first_employer_contact", Late: true},
		},
		Loads: []loadRow{{Specialist: "Anna", Count: 20}, {Specialist: "Bram", Count: 21, Over: true}},
	}
	a := needsAttention(d, "2026-11-28")
	ids := func(rows []caseloadRow) string {
		var out []string
		for _, r := range rows {
			out = append(out, r.ID)
		}
		return fmt.Sprint(out)
	}
	if got := ids(a.NoContact); got != "[b c]" {
		t.Errorf("no contact: %s, want [b c]", got)
	}
	if got := ids(a.Overdue); got != "[e g]" {
		t.Errorf("overdue: %s, want [e g] (f is due today, not past)", got)
	}
	if len(a.Over) != 1 || a.Over[0].Specialist != "Bram" {
		t.Errorf("over the maximum: %v", a.Over)
	}
}
