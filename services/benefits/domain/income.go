package domain

import (
	"fmt"
	"time"
)

// The income-effect calculation: per calendar month of a period, the
// client's income without and with a job, line by line, from the benefits
// in force that month and the rule parameters (params.go) in force then.
// RULES.md states each rule, its source and what is simplified; the lines
// and notes carry a code and figures, and package explain puts them into
// words.

// Job is a job offer or a job held.
type Job struct {
	HoursPerWeek    int32
	HourlyWageCents int64
	Start           time.Time
	End             *time.Time // nil: open-ended
}

// MonthlyEarnings converts a weekly wage to a month: hours × wage × 52 / 12,
// rounded down to the cent.
func (j Job) MonthlyEarnings() int64 {
	return int64(j.HoursPerWeek) * j.HourlyWageCents * 52 / 12
}

// MaxMonths bounds a calculation's period.
const MaxMonths = 36

// Query is an income-effect question.
type Query struct {
	Job Job
	// From is any day of the first month; Months the number of months.
	From   time.Time
	Months int
	// NetEarningsCents is the net monthly wage from a payslip; nil means the
	// net assumption where a rule needs net earnings.
	NetEarningsCents *int64
}

// Args are the figures a line or note states.
type Args struct {
	Hours     int32
	WageCents int64
	// BaseCents is what a percentage is taken of, or the figure the text
	// is about.
	BaseCents int64
	// LimitCents is a cap, threshold or comparison figure.
	LimitCents int64
	Percent    Percent
	// Month is month n of a phase or of the job, of OfMonths.
	Month, OfMonths int
	Date            time.Time
	Disability      int32
}

// Line is one amount of a month's income. Codes: see package explain.
type Line struct {
	Code        string
	AmountCents int64
	BenefitID   string
	Kind        Kind
	PayerOrgID  string
	// Rule is the parameter row applied (zero when none), RuleVersion its
	// name, e.g. "participatiewet/2026-01-01".
	Rule        Row
	RuleVersion string
	Args        Args
}

// Note is a statement about a month or the whole calculation: a warning,
// what a rule means for the client, or an assumption.
type Note struct {
	Code        string
	Warning     bool
	BenefitID   string
	Kind        Kind
	PayerOrgID  string
	Rule        Row
	RuleVersion string
	Args        Args
}

// Month is one calendar month of a calculation.
type Month struct {
	Month time.Time // its first day
	// Ref is the day whose amounts and rules apply: the first of the
	// month, or the job's first day when the job starts in it.
	Ref time.Time
	// JobMonth is the job's month number (1 for the month it starts in),
	// 0 when the client has no job on Ref.
	JobMonth int
	// Net: a Participatiewet benefit applies, whose norm is net, so every
	// amount is net; otherwise all are gross.
	Net           bool
	EarningsCents int64 // gross
	WithoutCents  int64
	WithCents     int64
	Without, With []Line
	Notes         []Note
}

// Difference is what the job changes in the month's income.
func (m Month) Difference() int64 { return m.WithCents - m.WithoutCents }

// Result is a calculation.
type Result struct {
	Months      []Month
	Assumptions []Note
}

func firstOfMonth(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// monthsFrom counts calendar months from a's month to b's (0 when equal).
func monthsFrom(a, b time.Time) int {
	return (b.Year()-a.Year())*12 + int(b.Month()) - int(a.Month())
}

// Calculate computes the income effect of q.Job for each month of the
// period, from the benefits given (those the caller may see).
func (p Params) Calculate(benefits []Benefit, q Query) (Result, error) {
	j := q.Job
	switch {
	case j.HoursPerWeek < 0 || j.HoursPerWeek > 60:
		return Result{}, fmt.Errorf("%w: hours_per_week %d is not between 0 and 60", ErrInvalid, j.HoursPerWeek)
	case j.HourlyWageCents < 0 || j.HourlyWageCents > 100_000:
		return Result{}, fmt.Errorf("%w: hourly_wage_cents %d is not between 0 and 100000", ErrInvalid, j.HourlyWageCents)
	case j.Start.IsZero():
		return Result{}, fmt.Errorf("%w: job_start_date is required", ErrInvalid)
	case j.End != nil && !j.End.After(j.Start):
		return Result{}, fmt.Errorf("%w: the job's end is not after its start", ErrInvalid)
	case q.Months < 1 || q.Months > MaxMonths:
		return Result{}, fmt.Errorf("%w: months %d is not between 1 and %d", ErrInvalid, q.Months, MaxMonths)
	case q.NetEarningsCents != nil && (*q.NetEarningsCents < 0 || *q.NetEarningsCents > j.MonthlyEarnings()):
		return Result{}, fmt.Errorf("%w: net_monthly_earnings_cents must be between 0 and the gross earnings %d", ErrInvalid, j.MonthlyEarnings())
	}
	from := q.From
	if from.IsZero() {
		from = j.Start
	}
	first := firstOfMonth(from)
	var res Result
	net, gross := false, false
	for i := range q.Months {
		m := p.month(benefits, q, first.AddDate(0, i, 0), true)
		net, gross = net || m.Net, gross || !m.Net
		res.Months = append(res.Months, m)
	}
	res.Assumptions = append(res.Assumptions, Note{Code: "assume_month"}, Note{Code: "assume_rounding"}, Note{Code: "assume_gross_earnings"})
	if net {
		if q.NetEarningsCents != nil {
			res.Assumptions = append(res.Assumptions, Note{Code: "assume_net_payslip", Args: Args{BaseCents: *q.NetEarningsCents}})
		} else if r, ok := on(p.Net, first); ok {
			res.Assumptions = append(res.Assumptions, Note{Code: "assume_net", Rule: r.Row, RuleVersion: r.version("net"), Args: Args{Percent: r.NetPercent}})
		}
	}
	if gross {
		res.Assumptions = append(res.Assumptions, Note{Code: "assume_gross"})
	}
	res.Assumptions = append(res.Assumptions, Note{Code: "assume_adult_minimum_wage"}, Note{Code: "assume_no_supplements"})
	return res, nil
}

// month computes one month; lookahead adds what the end of the
// Participatiewet release will mean.
func (p Params) month(benefits []Benefit, q Query, start time.Time, lookahead bool) Month {
	j := q.Job
	m := Month{Month: start, Ref: start}
	if !j.Start.Before(start) && j.Start.Before(start.AddDate(0, 1, 0)) {
		m.Ref = j.Start
	}
	if !m.Ref.Before(j.Start) && (j.End == nil || m.Ref.Before(*j.End)) {
		m.JobMonth = monthsFrom(j.Start, start) + 1
		m.EarningsCents = j.MonthlyEarnings()
	}

	type active struct {
		b Benefit
		a Amount
	}
	var in []active
	var assistance *active
	for _, b := range benefits {
		if m.Ref.Before(b.Start) || b.End != nil && !m.Ref.Before(*b.End) {
			continue
		}
		a, ok := b.AmountOn(m.Ref)
		if !ok {
			continue
		}
		if a.Suspended {
			m.Notes = append(m.Notes, Note{Code: "benefit_suspended", BenefitID: b.ID, Kind: b.Kind, PayerOrgID: b.PayerOrgID, Args: Args{Date: a.From}})
			continue
		}
		if a.EarningsOffsetCents > 0 {
			m.Notes = append(m.Notes, Note{Code: "payer_offset", BenefitID: b.ID, Kind: b.Kind, PayerOrgID: b.PayerOrgID,
				Args: Args{Date: a.From, BaseCents: a.Cents, LimitCents: a.EarningsOffsetCents}})
		}
		x := active{b, a}
		if b.Kind == Participatiewet && assistance == nil {
			assistance = &x
			continue
		}
		in = append(in, x)
	}
	m.Net = assistance != nil

	// Earnings, converted to net where the month is net.
	netRule, haveNet := on(p.Net, m.Ref)
	toNet := func(gross int64) int64 {
		if !m.Net || !haveNet {
			return gross
		}
		return netRule.NetPercent.Of(gross)
	}
	earnings := m.EarningsCents
	if m.JobMonth > 0 {
		args := Args{Hours: j.HoursPerWeek, WageCents: j.HourlyWageCents, BaseCents: m.EarningsCents}
		switch {
		case !m.Net:
			m.With = append(m.With, Line{Code: "earnings", AmountCents: earnings, Args: args})
		case q.NetEarningsCents != nil:
			earnings = *q.NetEarningsCents
			m.With = append(m.With, Line{Code: "earnings_net_payslip", AmountCents: earnings, Args: args})
		default:
			earnings = toNet(m.EarningsCents)
			args.Percent = netRule.NetPercent
			m.With = append(m.With, Line{Code: "earnings_net", AmountCents: earnings, Args: args, Rule: netRule.Row, RuleVersion: netRule.version("net")})
		}
		if w, ok := on(p.MinimumWage, m.Ref); ok && j.HourlyWageCents < w.HourlyCents {
			m.Notes = append(m.Notes, Note{Code: "below_minimum_wage", Warning: true, Rule: w.Row, RuleVersion: w.version("minimum_wage"),
				Args: Args{WageCents: j.HourlyWageCents, LimitCents: w.HourlyCents, Date: w.ValidFrom.Time}})
		}
	} else {
		m.Notes = append(m.Notes, Note{Code: "no_job_this_month"})
	}

	// The other benefits, gross, each from the gross earnings; where the
	// month is net, each converted.
	var otherChange int64 // net: what the other benefits lose (−) or gain (+) with the job
	for _, x := range in {
		without, with, notes := p.benefit(x.b, x.a, m)
		var gw, gj int64
		for _, l := range without {
			gw += l.AmountCents
		}
		for _, l := range with {
			gj += l.AmountCents
		}
		if m.Net && haveNet {
			ref := Line{Code: "to_net", BenefitID: x.b.ID, Kind: x.b.Kind, PayerOrgID: x.b.PayerOrgID, Rule: netRule.Row, RuleVersion: netRule.version("net"),
				Args: Args{Percent: netRule.NetPercent}}
			lw, lj := ref, ref
			lw.Args.BaseCents, lw.AmountCents = gw, toNet(gw)-gw
			lj.Args.BaseCents, lj.AmountCents = gj, toNet(gj)-gj
			without, with = append(without, lw), append(with, lj)
			otherChange += toNet(gj) - toNet(gw)
		}
		m.Without, m.With, m.Notes = append(m.Without, without...), append(m.With, with...), append(m.Notes, notes...)
	}

	if assistance != nil {
		without, with, notes := p.participatiewet(assistance.b, assistance.a, m, earnings, otherChange)
		m.Without, m.With, m.Notes = append(m.Without, without...), append(m.With, with...), append(m.Notes, notes...)
	}

	for _, l := range m.Without {
		m.WithoutCents += l.AmountCents
	}
	for _, l := range m.With {
		m.WithCents += l.AmountCents
	}
	if assistance != nil && lookahead && m.JobMonth > 0 {
		m.Notes = append(m.Notes, p.releaseEnd(benefits, q, m)...)
	}
	m.Notes = append(m.Notes, Note{Code: "summary", Args: Args{BaseCents: m.Difference(), Date: m.Month}})
	return m
}

func benefitLine(b Benefit, a Amount) Line {
	return Line{Code: "benefit", AmountCents: a.Cents, BenefitID: b.ID, Kind: b.Kind, PayerOrgID: b.PayerOrgID, Args: Args{Date: a.From}}
}

// offset is the line for a share of the earnings offset against a benefit,
// down to zero.
func offset(code string, b Benefit, amount, earnings int64, pct Percent, r Row, version string, args Args) Line {
	args.Percent, args.BaseCents = pct, earnings
	return Line{Code: code, AmountCents: -min(pct.Of(earnings), amount), BenefitID: b.ID, Kind: b.Kind, PayerOrgID: b.PayerOrgID,
		Rule: r, RuleVersion: version, Args: args}
}

// benefit computes a UWV benefit (or a supplement) without and with the
// job's gross earnings.
func (p Params) benefit(b Benefit, a Amount, m Month) (without, with []Line, notes []Note) {
	earnings := m.EarningsCents
	base := benefitLine(b, a)
	note := func(code string, warning bool, args Args) Note {
		return Note{Code: code, Warning: warning, BenefitID: b.ID, Kind: b.Kind, PayerOrgID: b.PayerOrgID, Args: args}
	}
	phaseMonth := monthsFrom(b.Start, m.Month) + 1
	switch b.Kind {
	case WW:
		r, ok := on(p.WW, m.Ref)
		if !ok {
			return []Line{base}, []Line{base}, []Note{note("no_rule", true, Args{})}
		}
		pct := r.Percent
		if phaseMonth <= r.FirstMonths {
			pct = r.FirstPercent
		}
		v := r.version("ww")
		if prev := b.Basis.PreviousWageCents; prev > 0 && earnings > 0 && earnings >= r.EndPercent.Of(prev) {
			end := Line{Code: "ww_ends", AmountCents: -a.Cents, BenefitID: b.ID, Kind: b.Kind, PayerOrgID: b.PayerOrgID, Rule: r.Row, RuleVersion: v,
				Args: Args{BaseCents: earnings, LimitCents: r.EndPercent.Of(prev), Percent: r.EndPercent}}
			return []Line{base}, []Line{base, end}, []Note{note("ww_ends", true, end.Args)}
		}
		return []Line{base}, []Line{base, offset("ww_offset", b, a.Cents, earnings, pct, r.Row, v, Args{Month: phaseMonth, OfMonths: r.FirstMonths})}, nil
	case WIAWGA:
		return p.wga(b, a, m, phaseMonth, note)
	case WIAIVA:
		r, ok := on(p.IVA, m.Ref)
		if !ok {
			return []Line{base}, []Line{base}, []Note{note("no_rule", true, Args{})}
		}
		return []Line{base}, []Line{base, offset("iva_offset", b, a.Cents, earnings, r.Percent, r.Row, r.version("iva"), Args{})}, nil
	case Wajong:
		r, ok := on(p.Wajong, m.Ref)
		if !ok {
			return []Line{base}, []Line{base}, []Note{note("no_rule", true, Args{})}
		}
		return []Line{base}, []Line{base, offset("wajong_offset", b, a.Cents, earnings, r.Percent, r.Row, r.version("wajong"), Args{})},
			[]Note{note("wajong_simplified", false, Args{})}
	default:
		return []Line{base}, []Line{base}, []Note{note("not_modelled", true, Args{})}
	}
}

// wga: the wage-related benefit offsets a share of the earnings; after it,
// the wage supplement (earnings at least half the residual earning
// capacity) or the much lower follow-up benefit.
func (p Params) wga(b Benefit, a Amount, m Month, phaseMonth int, note func(string, bool, Args) Note) (without, with []Line, notes []Note) {
	earnings := m.EarningsCents
	base := benefitLine(b, a)
	r, ok := on(p.WGA, m.Ref)
	if !ok {
		return []Line{base}, []Line{base}, []Note{note("no_rule", true, Args{})}
	}
	v := r.version("wga")
	x := b.Basis
	threshold := r.SupplementThresholdPercent.Of(x.ResidualCapacityCents)
	if x.PreviousWageCents > 0 && earnings > 0 && earnings >= r.EndPercent.Of(x.PreviousWageCents) {
		notes = append(notes, note("wga_may_end", true, Args{BaseCents: earnings, LimitCents: r.EndPercent.Of(x.PreviousWageCents), Percent: r.EndPercent}))
	}
	if x.WageRelatedEnd == nil || m.Ref.Before(*x.WageRelatedEnd) {
		pct := r.Percent
		if phaseMonth <= r.FirstMonths {
			pct = r.FirstPercent
		}
		if x.WageRelatedEnd == nil {
			notes = append(notes, note("wga_phase_unknown", true, Args{}))
		} else {
			n := note("wga_wage_related", false, Args{Date: *x.WageRelatedEnd, LimitCents: threshold, BaseCents: x.ResidualCapacityCents})
			n.Rule, n.RuleVersion = r.Row, v
			notes = append(notes, n)
		}
		return []Line{base}, []Line{base, offset("wga_wage_related_offset", b, a.Cents, earnings, pct, r.Row, v, Args{Month: phaseMonth, OfMonths: r.FirstMonths})}, notes
	}
	w, okw := on(p.MinimumWage, m.Ref)
	vuPct, okc := r.followUpPercent(x.DisabilityPercent)
	if x.PreviousWageCents == 0 || x.DisabilityPercent == 0 || !okw || !okc {
		return []Line{base}, []Line{base}, append(notes, note("wga_follow_up_unknown", true, Args{Date: *x.WageRelatedEnd}))
	}
	vuBase := min(w.MonthlyCents(), x.PreviousWageCents)
	followUp := Line{Code: "wga_follow_up", AmountCents: vuPct.Of(vuBase), BenefitID: b.ID, Kind: b.Kind, PayerOrgID: b.PayerOrgID,
		Rule: r.Row, RuleVersion: v, Args: Args{Percent: vuPct, BaseCents: vuBase, Disability: x.DisabilityPercent}}
	supplement := func(e int64) Line {
		limit := max(x.ResidualCapacityCents, e)
		return Line{Code: "wga_supplement", AmountCents: r.SupplementPercent.Of(max(x.PreviousWageCents-limit, 0)), BenefitID: b.ID, Kind: b.Kind,
			PayerOrgID: b.PayerOrgID, Rule: r.Row, RuleVersion: v, Args: Args{Percent: r.SupplementPercent, BaseCents: x.PreviousWageCents, LimitCents: limit}}
	}
	without = []Line{followUp}
	if threshold == 0 {
		without = []Line{supplement(0)}
	}
	args := Args{BaseCents: earnings, LimitCents: threshold, Percent: r.SupplementThresholdPercent}
	if earnings >= threshold {
		n := note("wga_supplement_earned", false, args)
		n.Rule, n.RuleVersion = r.Row, v
		return without, []Line{supplement(earnings)}, append(notes, n)
	}
	n := note("wga_follow_up_below", true, args)
	n.Rule, n.RuleVersion = r.Row, v
	return without, []Line{followUp}, append(notes, n)
}

// participatiewet: the assistance is a net amount; the net earnings are
// deducted less the release while it lasts, and what the other benefits
// change with the job changes the assistance the other way. It never goes
// below zero.
func (p Params) participatiewet(b Benefit, a Amount, m Month, netEarnings, otherChange int64) (without, with []Line, notes []Note) {
	base := benefitLine(b, a)
	mk := func(code string, cents int64, r Row, v string, args Args) Line {
		return Line{Code: code, AmountCents: cents, BenefitID: b.ID, Kind: b.Kind, PayerOrgID: b.PayerOrgID, Rule: r, RuleVersion: v, Args: args}
	}
	with = []Line{base}
	r, ok := on(p.Participatiewet, m.Ref)
	v := ""
	if ok {
		v = r.version("participatiewet")
	}
	if m.JobMonth > 0 {
		with = append(with, mk("pw_earnings", -netEarnings, Row{}, "", Args{BaseCents: netEarnings}))
		switch {
		case !ok:
			notes = append(notes, Note{Code: "no_rule", Warning: true, BenefitID: b.ID, Kind: b.Kind, PayerOrgID: b.PayerOrgID})
		case m.JobMonth <= r.MaxMonths && netEarnings > 0:
			release := min(r.Percent.Of(netEarnings), r.CapCents)
			with = append(with, mk("pw_release", release, r.Row, v, Args{BaseCents: netEarnings, Percent: r.Percent, LimitCents: r.CapCents,
				Month: m.JobMonth, OfMonths: r.MaxMonths}))
		}
	}
	if otherChange != 0 {
		with = append(with, mk("pw_other_benefits", -otherChange, Row{}, "", Args{BaseCents: -otherChange}))
	}
	var sum int64
	for _, l := range with {
		sum += l.AmountCents
	}
	if sum < 0 {
		with = append(with, mk("pw_floor", -sum, Row{}, "", Args{}))
	}
	return []Line{base}, with, notes
}

// releaseEnd says in words where the client stands with the release: which
// month of it this is and what the job brings once it has ended, or that
// it has ended.
func (p Params) releaseEnd(benefits []Benefit, q Query, m Month) []Note {
	r, ok := on(p.Participatiewet, m.Ref)
	if !ok {
		return nil
	}
	lastMonth := firstOfMonth(q.Job.Start).AddDate(0, r.MaxMonths-1, 0)
	after := lastMonth.AddDate(0, 1, 0)
	args := Args{Month: m.JobMonth, OfMonths: r.MaxMonths, Date: lastMonth}
	mk := func(code string, args Args) Note {
		return Note{Code: code, Kind: Participatiewet, Rule: r.Row, RuleVersion: r.version("participatiewet"), Args: args}
	}
	if m.JobMonth <= r.MaxMonths {
		later := p.month(benefits, q, after, false)
		if later.JobMonth == 0 {
			return []Note{mk("pw_release_month", args)}
		}
		args.BaseCents = later.Difference()
		code := "pw_release_then_gain"
		if later.Difference() <= 0 {
			code = "pw_release_then_nothing"
		}
		return []Note{mk("pw_release_month", args), mk(code, Args{Date: after, BaseCents: later.Difference(), OfMonths: r.MaxMonths})}
	}
	args.BaseCents = m.Difference()
	if m.Difference() <= 0 {
		return []Note{mk("pw_release_over_nothing", args)}
	}
	return []Note{mk("pw_release_over_gain", args)}
}
