package domain

import (
	"fmt"
	"slices"
)

// HoursFrom is a placement's hours a week from a date on.
type HoursFrom struct {
	From  Date
	Hours float64
}

// Work is one placement as evidence: dates and hours from the employment
// service, the job's details when the caller may see them.
type Work struct {
	PlacementID string
	Start       Date
	End         Date // the last day worked; zero while the job lasts
	Hours       []HoursFrom
	Employer    string
	JobTitle    string
}

func (w Work) hoursOn(d Date) float64 {
	if d.Before(w.Start) || (!w.End.IsZero() && d.After(w.End)) {
		return 0
	}
	h := 0.0
	for _, t := range w.Hours {
		if !t.From.After(d) {
			h = t.Hours
		}
	}
	return h
}

// Earned is a fee part a trajectory earned, with its evidence.
type Earned struct {
	Part        FeePart
	On          Date
	HoursBand   string
	PlacementID string
}

// HoursBand names the band of hours a week shown to a funder as evidence,
// rather than the exact figure.
func HoursBand(h float64) string {
	for _, b := range []struct {
		below float64
		name  string
	}{{12, "under 12"}, {16, "12-16"}, {20, "16-20"}, {24, "20-24"}, {32, "24-32"}} {
		if h < b.below {
			return b.name
		}
	}
	return "32 or more"
}

// Earn evaluates a funded application against its schedule: which parts
// the client's work history earned on or before asOf, within the funded
// period (approval to the funded period's end, or the stop or end date).
// Job start: the first job started in that window at no less than the
// part's hours. Continuous work: the first day on which the client has
// worked every day for the part's months, each day at no less than its
// hours a week in total over their jobs, counted from the approval at the
// earliest.
func Earn(a Application, s Schedule, work []Work, asOf Date) []Earned {
	if !a.State.Funded() || a.DecisionOn.After(asOf) {
		return nil
	}
	from, last := a.DecisionOn, a.LastDay()
	if asOf.Before(last) {
		last = asOf
	}
	var out []Earned
	for _, p := range s.Parts {
		switch p.Condition {
		case OnApproval:
			out = append(out, Earned{Part: p, On: a.DecisionOn})
		case OnEndReport:
			if !a.EndOn.IsZero() && !a.EndOn.After(asOf) {
				out = append(out, Earned{Part: p, On: a.EndOn})
			}
		case OnJobStart:
			if e, ok := jobStart(p, work, from, last); ok {
				out = append(out, e)
			}
		case ContinuousWork:
			if e, ok := continuous(p, work, from, last); ok {
				out = append(out, e)
			}
		}
	}
	return out
}

func jobStart(p FeePart, work []Work, from, last Date) (Earned, bool) {
	var best Earned
	found := false
	for _, w := range work {
		if w.Start.Before(from) || w.Start.After(last) {
			continue
		}
		h := w.hoursOn(w.Start)
		if h <= 0 || h < p.MinHours {
			continue
		}
		if !found || w.Start.Before(best.On) {
			best, found = Earned{Part: p, On: w.Start, HoursBand: HoursBand(h), PlacementID: w.PlacementID}, true
		}
	}
	return best, found
}

// continuous walks the days on which the total hours can change and finds
// the first run of qualifying days long enough.
func continuous(p FeePart, work []Work, from, last Date) (Earned, bool) {
	cuts := []Date{from}
	for _, w := range work {
		cuts = append(cuts, w.Start)
		if !w.End.IsZero() {
			cuts = append(cuts, w.End.AddDate(0, 0, 1))
		}
		for _, h := range w.Hours {
			cuts = append(cuts, h.From)
		}
	}
	slices.SortFunc(cuts, func(a, b Date) int { return a.Compare(b) })
	cuts = slices.Compact(cuts)
	total := func(d Date) (float64, string) {
		t, id, most := 0.0, "", 0.0
		for _, w := range work {
			h := w.hoursOn(d)
			t += h
			if h > most {
				id, most = w.PlacementID, h
			}
		}
		return t, id
	}
	var runStart Date
	inRun, least, placement := false, 0.0, ""
	for i, c := range cuts {
		if c.Before(from) {
			continue
		}
		h, id := total(c)
		ok := h > 0 && h >= p.MinHours
		if !ok {
			inRun = false
			continue
		}
		if !inRun {
			runStart, inRun, least, placement = c, true, h, id
		}
		least = min(least, h)
		reached := runStart.AddDate(0, p.Months, 0)
		if reached.After(last) {
			continue
		}
		// The run holds at least until the next cut; open-ended after the
		// last one.
		if i+1 == len(cuts) || !cuts[i+1].Before(reached) {
			return Earned{Part: p, On: reached, HoursBand: HoursBand(least), PlacementID: placement}, true
		}
	}
	return Earned{}, false
}

// LineState is where a claim line stands.
type LineState string

// The line states.
const (
	Pending  LineState = "pending"
	Accepted LineState = "approved"
	Rejected LineState = "rejected"
	// Credited: a credit line; it needs no decision.
	Credited LineState = "credited"
)

// Line is one claim line: a part earned (positive) or a credit taking a
// line back (negative).
type Line struct {
	ID            string
	ClaimID       string
	ApplicationID string
	ClientID      string
	PartID        string
	PartName      string
	Condition     Condition
	EarnedOn      Date
	AmountCents   int64
	CreditsLineID string
	// CreditsState: for a credit, the state of the line it takes back.
	CreditsState LineState
	HoursBand    string
	PlacementID  string
	Employer     string
	JobTitle     string
	State        LineState
	Reason       string
	DecidedBy    string
}

// Derive returns the new lines of one application for a claim up to asOf
// (without the job's details, which are shown only to whoever may read
// them, when read):
// a line for each part earned that no earlier line charges (a rejected
// charge is final), and a credit for each earlier charge, not rejected and
// not credited yet, whose part the history no longer earns. prior are the
// application's lines in earlier claims; nothing in them is changed.
func Derive(a Application, earned []Earned, prior []Line, asOf Date) []Line {
	credited := map[string]bool{}
	for _, l := range prior {
		if l.CreditsLineID != "" {
			credited[l.CreditsLineID] = true
		}
	}
	open := map[string][]Line{} // part → charges still standing
	rejected := map[string]bool{}
	for _, l := range prior {
		switch {
		case l.AmountCents <= 0:
		case l.State == Rejected:
			rejected[l.PartID] = true
		case !credited[l.ID]:
			open[l.PartID] = append(open[l.PartID], l)
		}
	}
	var out []Line
	earnedParts := map[string]bool{}
	for _, e := range earned {
		earnedParts[e.Part.ID] = true
		if len(open[e.Part.ID]) > 0 || rejected[e.Part.ID] {
			continue
		}
		out = append(out, Line{ApplicationID: a.ID, ClientID: a.ClientID, PartID: e.Part.ID, PartName: e.Part.Name,
			Condition: e.Part.Condition, EarnedOn: e.On, AmountCents: e.Part.AmountCents, HoursBand: e.HoursBand,
			PlacementID: e.PlacementID, State: Pending})
	}
	for part, charges := range open {
		if earnedParts[part] {
			continue
		}
		for _, c := range charges {
			out = append(out, Line{ApplicationID: a.ID, ClientID: a.ClientID, PartID: c.PartID, PartName: c.PartName,
				Condition: c.Condition, EarnedOn: asOf, AmountCents: -c.AmountCents, CreditsLineID: c.ID,
				HoursBand: c.HoursBand, PlacementID: c.PlacementID, State: Credited,
				Reason: fmt.Sprintf("no longer earned by %s: the history changed", FormatDate(asOf))})
		}
	}
	slices.SortFunc(out, func(x, y Line) int {
		if c := x.EarnedOn.Compare(y.EarnedOn); c != 0 {
			return c
		}
		return compareStrings(x.PartID, y.PartID)
	})
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Determination is what a trajectory earned in the end: the approved
// charges minus the credits of approved charges.
func Determination(lines []Line) (int64, error) {
	byID := map[string]Line{}
	for _, l := range lines {
		byID[l.ID] = l
	}
	var total int64
	for _, l := range lines {
		switch {
		case l.State == Pending:
			return 0, precondition("line %s (%s) awaits the funder's decision", l.ID, l.PartName)
		case l.AmountCents > 0 && l.State == Accepted:
			total += l.AmountCents
		case l.AmountCents < 0 && (byID[l.CreditsLineID].State == Accepted || l.CreditsState == Accepted):
			total += l.AmountCents
		}
	}
	return total, nil
}

// ClientGroups maps a client's active benefits (kind and payer) to the
// target groups the client belongs to, and says for each who pays it: a
// benefit's payer, or for a client without any benefit nobody (the
// municipality of the trajectory funds).
func ClientGroups(benefits []Benefit) map[TargetGroup]string {
	out := map[TargetGroup]string{}
	for _, b := range benefits {
		if g := b.Group(); g != "" {
			out[g] = b.PayerOrgID
		}
	}
	if len(benefits) == 0 {
		out[NoBenefit] = ""
	}
	return out
}

// Benefit is one active benefit of a client, as the benefits service
// summarises it.
type Benefit struct {
	Kind       string // wia_wga, wia_iva, wajong, ww, participatiewet, supplement
	PayerOrgID string
}

// Group is the target group a benefit puts its receiver in; "" for a
// supplement, which decides nothing.
func (b Benefit) Group() TargetGroup {
	switch b.Kind {
	case "wia_wga", "wia_iva":
		return WIA
	case "wajong":
		return Wajong
	case "ww":
		return WW
	case "participatiewet":
		return SocialAssistance
	}
	return ""
}

// Eligible decides the target group an application falls under: the
// client must be in one of the agreement's groups, paid for by the
// agreement's funder (or, without any benefit, by a municipality funder
// involved in the client's trajectory). Who pays follows from the benefit
// situation, never from what is typed.
func Eligible(ag Agreement, funderKind string, involved []string, benefits []Benefit) (TargetGroup, error) {
	groups := ClientGroups(benefits)
	for _, g := range ag.TargetGroups {
		payer, ok := groups[g]
		if !ok {
			continue
		}
		if g == NoBenefit {
			if funderKind == "municipality" && slices.Contains(involved, ag.FunderOrgID) {
				return g, nil
			}
			continue
		}
		if payer == ag.FunderOrgID {
			return g, nil
		}
	}
	return "", precondition("the client is outside the agreement's target group: the client's benefits (%v) are not %v paid by %s",
		keys(groups), ag.TargetGroups, ag.FunderOrgID)
}

func keys(m map[TargetGroup]string) []TargetGroup {
	var out []TargetGroup
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
