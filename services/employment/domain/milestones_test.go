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

func TestEvidence(t *testing.T) {
	a := Placement{ID: "a", Start: day("2025-02-01"), End: day("2025-03-31"), Terms: []Terms{{Effective: day("2025-02-01"), HoursPerWeek: 8}}}
	b := Placement{ID: "b", Start: day("2025-02-01"), Terms: []Terms{{Effective: day("2025-02-01"), HoursPerWeek: 8}}}
	c := Placement{ID: "c", Start: day("2025-04-01"), Terms: []Terms{{Effective: day("2025-04-01"), HoursPerWeek: 8}}}
	// a and b add up to 16 hours until a ends; c brings b back to 16 from
	// April: a run from 1 February with a and b, then b and c.
	ps := []Placement{a, b, c}
	ms := Milestones(Date{}, nil, ps, day("2025-09-01"))
	want := map[MilestoneKind][]string{JobStart: {"a", "b"}, Employed3Months: {"a", "b", "c"}, Employed6Months: {"a", "b", "c"}, FirstEmployerContact: nil}
	for _, m := range ms {
		got := Evidence(m, ps)
		if len(got) != len(want[m.Kind]) {
			t.Errorf("%s (%s %s): evidence %v, want %v", m.Kind, m.State, FormatDate(m.Reached), got, want[m.Kind])
			continue
		}
		for i := range got {
			if got[i] != want[m.Kind][i] {
				t.Errorf("%s: evidence %v, want %v", m.Kind, got, want[m.Kind])
			}
		}
	}
	// A later job does not count for a run completed before it started.
	early := Placement{ID: "early", Start: day("2024-01-01"), End: day("2024-12-31"), Terms: []Terms{{Effective: day("2024-01-01"), HoursPerWeek: 20}}}
	late := Placement{ID: "late", Start: day("2025-06-01"), Terms: []Terms{{Effective: day("2025-06-01"), HoursPerWeek: 20}}}
	for _, m := range Milestones(Date{}, nil, []Placement{early, late}, day("2025-09-01")) {
		if m.Kind == Employed6Months {
			if got := Evidence(m, []Placement{early, late}); len(got) != 1 || got[0] != "early" {
				t.Errorf("six months: evidence %v, want [early]", got)
			}
		}
	}
}

func TestTermsOn(t *testing.T) {
	p := Placement{Start: day("2025-02-01"), Terms: []Terms{
		{Effective: day("2025-02-01"), HoursPerWeek: 16}, {Effective: day("2025-03-01"), HoursPerWeek: 20}, {Effective: day("2025-03-01"), HoursPerWeek: 24}}}
	for d, want := range map[string]float64{"2025-01-31": 0, "2025-02-01": 16, "2025-02-28": 16, "2025-03-01": 24, "2026-01-01": 24} {
		got, ok := p.TermsOn(day(d))
		if got.HoursPerWeek != want || ok != (want != 0) {
			t.Errorf("%s: %g %v, want %g", d, got.HoursPerWeek, ok, want)
		}
	}
}
