package domain

import (
	"slices"
	"time"
)

// MilestoneKind names a pay-for-performance milestone.
type MilestoneKind string

// The milestones of DESIGN.md's funding agreements.
const (
	FirstEmployerContact MilestoneKind = "first_employer_contact"
	JobStart             MilestoneKind = "job_start"
	Employed3Months      MilestoneKind = "employed_3_months"
	Employed6Months      MilestoneKind = "employed_6_months"
)

// MilestoneState says whether a milestone was reached.
type MilestoneState string

// Milestone states.
const (
	Reached MilestoneState = "reached"
	Pending MilestoneState = "pending"
	Missed  MilestoneState = "missed"
)

// Milestone is one derived milestone: the date it was reached, or the date
// it is expected when the current course reaches it.
type Milestone struct {
	Kind     MilestoneKind
	State    MilestoneState
	Reached  Date
	Expected Date
}

// FirstContactDays is the IPS rapid job search window after intake.
const FirstContactDays = 30

// Milestones derives the milestones from the intake date (zero when the
// trajectory has not reached intake or the caller may not see it), the
// client's employer contact dates and placements, as of now. It is a pure
// function: the same history gives the same milestones, so a correction of
// the history is reflected on the next read.
func Milestones(intake Date, contacts []Date, placements []Placement, now time.Time) []Milestone {
	today := Today(now)
	return []Milestone{
		firstContact(intake, contacts, today),
		jobStart(placements, today),
		continuous(Employed3Months, 3, placements, today),
		continuous(Employed6Months, 6, placements, today),
	}
}

func firstContact(intake Date, contacts []Date, today Date) Milestone {
	m := Milestone{Kind: FirstEmployerContact, State: Pending}
	if intake.IsZero() {
		return m // no intake yet: no window to count
	}
	deadline := intake.AddDate(0, 0, FirstContactDays)
	var first Date
	for _, c := range contacts {
		if !c.Before(intake) && !c.After(today) && (first.IsZero() || c.Before(first)) {
			first = c
		}
	}
	switch {
	case !first.IsZero() && !first.After(deadline):
		m.State, m.Reached = Reached, first
	case today.After(deadline):
		m.State = Missed
	default:
		m.Expected = deadline // reachable until the deadline
	}
	return m
}

func jobStart(placements []Placement, today Date) Milestone {
	m := Milestone{Kind: JobStart, State: Pending}
	var first Date
	for _, p := range placements {
		if first.IsZero() || p.Start.Before(first) {
			first = p.Start
		}
	}
	switch {
	case first.IsZero():
	case !first.After(today):
		m.State, m.Reached = Reached, first
	default:
		m.Expected = first
	}
	return m
}

// segment is a run of days [from, to) with the same total weekly hours.
type segment struct {
	from, to Date
	hours    float64
}

// hoursSegments cuts time at every start, end and terms change and sums the
// hours of all jobs held on each day (jobs may overlap).
func hoursSegments(placements []Placement) []segment {
	var cuts []Date
	for _, p := range placements {
		cuts = append(cuts, p.Start)
		for _, t := range p.Terms {
			cuts = append(cuts, t.Effective)
		}
		if !p.End.IsZero() {
			cuts = append(cuts, p.End.AddDate(0, 0, 1))
		}
	}
	slices.SortFunc(cuts, func(a, b Date) int { return a.Compare(b) })
	cuts = slices.CompactFunc(cuts, func(a, b Date) bool { return a.Equal(b) })
	var segs []segment
	for i, from := range cuts {
		var to Date // zero: open-ended
		if i+1 < len(cuts) {
			to = cuts[i+1]
		}
		segs = append(segs, segment{from: from, to: to, hours: hoursOn(placements, from)})
	}
	return segs
}

// hoursOn sums the hours a week in effect on day d over all jobs held.
func hoursOn(placements []Placement, d Date) float64 {
	var sum float64
	for _, p := range placements {
		if d.Before(p.Start) || (!p.End.IsZero() && d.After(p.End)) {
			continue
		}
		var h float64
		for _, t := range p.Terms { // sorted by effective date
			if !t.Effective.After(d) {
				h = t.HoursPerWeek
			}
		}
		sum += h
	}
	return sum
}

// continuous finds the first run of employment of at least
// MinHoursForMilestones a week lasting the given months. Reached on the day
// the run completes them; expected then when the run is still going.
func continuous(kind MilestoneKind, months int, placements []Placement, today Date) Milestone {
	m, _ := continuousRun(kind, months, placements, today)
	return m
}

// continuousRun is continuous, also returning the first day of the run the
// milestone is reached or expected with.
func continuousRun(kind MilestoneKind, months int, placements []Placement, today Date) (m Milestone, runStart Date) {
	m = Milestone{Kind: kind, State: Pending}
	inRun := false
	for _, s := range hoursSegments(placements) {
		if s.from.After(today) {
			break // the future is not employment yet
		}
		if s.hours < MinHoursForMilestones {
			inRun = false
			continue
		}
		if !inRun {
			runStart, inRun = s.from, true
		}
		due := runStart.AddDate(0, months, 0)
		// The run covers [runStart, s.to); it completes the months when it
		// lasts until due.
		if (s.to.IsZero() || !s.to.Before(due)) && !due.After(today) {
			m.State, m.Reached = Reached, due
			return m, runStart
		}
		if s.to.IsZero() || s.to.After(today) {
			m.Expected = due // still employed now: reached on due if it lasts
			return m, runStart
		}
	}
	return m, Date{}
}

// Next returns the first milestone not yet reached that can still be, in
// the order of the trajectory, or false.
func Next(ms []Milestone) (Milestone, bool) {
	for _, m := range ms {
		if m.State == Pending {
			return m, true
		}
	}
	return Milestone{}, false
}

// monthsOf is the number of months of continuous employment a milestone
// counts, 0 for the others.
func monthsOf(k MilestoneKind) int {
	switch k {
	case Employed3Months:
		return 3
	case Employed6Months:
		return 6
	}
	return 0
}

// Evidence returns the placements a reached milestone was derived from, by
// start date: for the job start the job(s) that started on its date, for
// continuous employment every job held during the run that completed the
// months. Nil for the first employer contact and for a milestone not
// reached.
func Evidence(m Milestone, placements []Placement) []string {
	if m.State != Reached {
		return nil
	}
	var ids []string
	switch m.Kind {
	case JobStart:
		for _, p := range placements {
			if p.Start.Equal(m.Reached) {
				ids = append(ids, p.ID)
			}
		}
	case Employed3Months, Employed6Months:
		// The same history up to the reached date gives the same first run.
		run, from := continuousRun(m.Kind, monthsOf(m.Kind), placements, m.Reached)
		if run.State != Reached {
			return nil
		}
		for _, p := range placements {
			if p.Start.Before(run.Reached) && (p.Active() || !p.End.Before(from)) {
				ids = append(ids, p.ID)
			}
		}
	}
	return ids
}
