package domain

import (
	"testing"
	"time"
)

func day(s string) Date { d, _ := time.Parse(time.DateOnly, s); return d }

func TestMilestones(t *testing.T) {
	intake := day("2025-01-01")
	job := Placement{Start: day("2025-02-01"), Terms: []Terms{{Effective: day("2025-02-01"), HoursPerWeek: 16}}}
	tests := []struct {
		name     string
		contacts []Date
		ps       []Placement
		now      string
		want     [4]Milestone
	}{
		{"nothing yet", nil, nil, "2025-01-10", [4]Milestone{
			{FirstEmployerContact, Pending, Date{}, day("2025-01-31")}, {JobStart, Pending, Date{}, Date{}},
			{Employed3Months, Pending, Date{}, Date{}}, {Employed6Months, Pending, Date{}, Date{}}}},
		{"contact too late", []Date{day("2025-02-15")}, nil, "2025-03-01", [4]Milestone{
			{FirstEmployerContact, Missed, Date{}, Date{}}, {JobStart, Pending, Date{}, Date{}},
			{Employed3Months, Pending, Date{}, Date{}}, {Employed6Months, Pending, Date{}, Date{}}}},
		{"employed 4 months", []Date{day("2025-01-20"), day("2025-01-05")}, []Placement{job}, "2025-06-01", [4]Milestone{
			{FirstEmployerContact, Reached, day("2025-01-05"), Date{}}, {JobStart, Reached, day("2025-02-01"), Date{}},
			{Employed3Months, Reached, day("2025-05-01"), Date{}}, {Employed6Months, Pending, Date{}, day("2025-08-01")}}},
		{"hours dropped below 12 for a month", nil, []Placement{{Start: day("2025-02-01"), Terms: []Terms{
			{Effective: day("2025-02-01"), HoursPerWeek: 16}, {Effective: day("2025-03-01"), HoursPerWeek: 8}, {Effective: day("2025-04-01"), HoursPerWeek: 20}}}},
			"2025-08-01", [4]Milestone{
				{FirstEmployerContact, Missed, Date{}, Date{}}, {JobStart, Reached, day("2025-02-01"), Date{}},
				{Employed3Months, Reached, day("2025-07-01"), Date{}}, {Employed6Months, Pending, Date{}, day("2025-10-01")}}},
		{"two part-time jobs add up, then one ends", nil, []Placement{
			{Start: day("2025-02-01"), Terms: []Terms{{Effective: day("2025-02-01"), HoursPerWeek: 8}}},
			{Start: day("2025-02-01"), End: day("2025-04-15"), Terms: []Terms{{Effective: day("2025-02-01"), HoursPerWeek: 8}}}},
			"2025-09-01", [4]Milestone{
				{FirstEmployerContact, Missed, Date{}, Date{}}, {JobStart, Reached, day("2025-02-01"), Date{}},
				{Employed3Months, Pending, Date{}, Date{}}, {Employed6Months, Pending, Date{}, Date{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Milestones(intake, tt.contacts, tt.ps, day(tt.now))
			for i, w := range tt.want {
				g := got[i]
				if g.Kind != w.Kind || g.State != w.State || !g.Reached.Equal(w.Reached) || !g.Expected.Equal(w.Expected) {
					t.Errorf("%s: got %s reached %s expected %s, want %s reached %s expected %s", w.Kind,
						g.State, FormatDate(g.Reached), FormatDate(g.Expected), w.State, FormatDate(w.Reached), FormatDate(w.Expected))
				}
			}
		})
	}
}

func TestPlacementValidation(t *testing.T) {
	base := func() Placement {
		return Placement{EmployerName: "Bakkerij", JobTitle: "Baker", Start: day("2025-02-01"), ContractKind: Permanent,
			Terms: []Terms{{Effective: day("2025-02-01"), HoursPerWeek: 16, HourlyWageCents: 1500}}}
	}
	for name, tc := range map[string]struct {
		mut   func(*Placement) error
		field string
	}{
		"zero hours":    {func(p *Placement) error { p.Terms[0].HoursPerWeek = 0; return p.Check() }, "placement.hours_per_week"},
		"absurd hours":  {func(p *Placement) error { p.Terms[0].HoursPerWeek = 61; return p.Check() }, "placement.hours_per_week"},
		"negative wage": {func(p *Placement) error { p.Terms[0].HourlyWageCents = -1; return p.Check() }, "placement.hourly_wage_cents"},
		"end before":    {func(p *Placement) error { return p.EndOn(day("2025-01-31"), "x") }, "end_date"},
		"change earlier": {func(p *Placement) error {
			return p.ChangeTerms(Terms{Effective: day("2025-01-01"), HoursPerWeek: 8, HourlyWageCents: 1500})
		}, "terms.effective_date"},
		"no reason": {func(p *Placement) error { return p.EndOn(day("2025-03-01"), " ") }, "end_reason"},
	} {
		p := base()
		err := tc.mut(&p)
		fe, ok := err.(*FieldError)
		if !ok || fe.Field != tc.field {
			t.Errorf("%s: got %v, want an error naming %s", name, err, tc.field)
		}
	}
}
