package domain

import (
	"fmt"
	"sort"
	"time"
)

// The income-effect rules read their figures from these dated tables: a
// new year's figures are a new row, not new code. A row applies from its
// ValidFrom date until the next row's. RULES.md names the source of each
// rule and what is simplified.

// ParticipatiewetRelease is the earnings release for part-time work
// (Participatiewet art. 31 lid 2 onder n): a share of the earnings is not
// deducted, up to a monthly cap, for at most a number of months.
type ParticipatiewetRelease struct {
	ValidFrom time.Time
	Percent   int64 // of monthly earnings
	CapCents  int64 // per month
	MaxMonths int   // from the job's start
}

// IncomeDeduction is the share of earnings deducted from an earnings-related
// benefit (WIA WGA: art. 61 WIA; IVA: art. 52 WIA; WW: art. 35 WW).
type IncomeDeduction struct {
	ValidFrom time.Time
	Kind      Kind
	Percent   int64
}

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

// ReleaseTable: the cap is indexed every 1 January and 1 July with the
// statutory minimum wage. Figures: see RULES.md.
var ReleaseTable = []ParticipatiewetRelease{
	{ValidFrom: day("2025-01-01"), Percent: 25, CapCents: 26_019, MaxMonths: 6},
	{ValidFrom: day("2025-07-01"), Percent: 25, CapCents: 26_420, MaxMonths: 6},
	{ValidFrom: day("2026-01-01"), Percent: 25, CapCents: 26_917, MaxMonths: 6},
}

// DeductionTable: shares of earnings deducted from earnings-related
// benefits.
var DeductionTable = []IncomeDeduction{
	{ValidFrom: day("2025-01-01"), Kind: WIAWGA, Percent: 70},
	{ValidFrom: day("2025-01-01"), Kind: WIAIVA, Percent: 75},
	{ValidFrom: day("2025-01-01"), Kind: WW, Percent: 70},
}

// releaseOn returns the release row in force on d.
func releaseOn(d time.Time) (ParticipatiewetRelease, bool) {
	rows := append([]ParticipatiewetRelease(nil), ReleaseTable...)
	sort.Slice(rows, func(i, j int) bool { return rows[i].ValidFrom.Before(rows[j].ValidFrom) })
	var out ParticipatiewetRelease
	found := false
	for _, r := range rows {
		if !r.ValidFrom.After(d) {
			out, found = r, true
		}
	}
	return out, found
}

// deductionOn returns the deduction row of kind k in force on d.
func deductionOn(k Kind, d time.Time) (IncomeDeduction, bool) {
	var out IncomeDeduction
	found := false
	for _, r := range DeductionTable {
		if r.Kind == k && !r.ValidFrom.After(d) && (!found || r.ValidFrom.After(out.ValidFrom)) {
			out, found = r, true
		}
	}
	return out, found
}

// Job is a job offer or a job held.
type Job struct {
	HoursPerWeek    int32
	HourlyWageCents int64
	Start           time.Time
}

// MonthlyEarnings converts a weekly wage to a month: hours × wage × 52 / 12,
// rounded down to the cent.
func (j Job) MonthlyEarnings() int64 {
	return int64(j.HoursPerWeek) * j.HourlyWageCents * 52 / 12
}

// Line is one line of a calculation.
type Line struct {
	Code        string
	Description string
	AmountCents int64
	BenefitID   string
	RuleVersion string
}

// IncomeEffect is the result of a calculation.
type IncomeEffect struct {
	WithoutJobCents int64
	WithJobCents    int64
	EarningsCents   int64
	Lines           []Line
	Caveats         []string
}

// Difference is the change the job makes to the monthly income.
func (e IncomeEffect) Difference() int64 { return e.WithJobCents - e.WithoutJobCents }

// addMonths returns t plus n calendar months (Go normalises overflowing
// days, e.g. 31 August + 6 months is 3 March; acceptable here).
func addMonths(t time.Time, n int) time.Time { return t.AddDate(0, n, 0) }

// CalculateIncomeEffect computes the monthly income on date on with and
// without the job, from the benefits active that day. Every benefit is
// computed from the same earnings, independently of the others (see
// RULES.md).
func CalculateIncomeEffect(benefits []Benefit, job Job, on time.Time) (IncomeEffect, error) {
	if job.HoursPerWeek < 0 || job.HourlyWageCents < 0 {
		return IncomeEffect{}, fmt.Errorf("%w: hours and wage cannot be negative", ErrInvalid)
	}
	if on.Before(job.Start) {
		return IncomeEffect{}, fmt.Errorf("%w: calculation_date %s is before job_start_date %s", ErrInvalid,
			on.Format(time.DateOnly), job.Start.Format(time.DateOnly))
	}
	e := IncomeEffect{EarningsCents: job.MonthlyEarnings()}
	e.WithJobCents = e.EarningsCents
	e.Lines = append(e.Lines, Line{Code: "earnings", Description: fmt.Sprintf("gross earnings: %d h/week × %d ct × 52 / 12", job.HoursPerWeek, job.HourlyWageCents), AmountCents: e.EarningsCents})
	for _, b := range benefits {
		if !b.ActiveOn(on) {
			continue
		}
		e.WithoutJobCents += b.MonthlyAmountCents
		e.WithJobCents += b.MonthlyAmountCents
		e.Lines = append(e.Lines, Line{Code: "benefit", Description: fmt.Sprintf("%s paid by %s", b.Kind, b.PayerOrgID), AmountCents: b.MonthlyAmountCents, BenefitID: b.ID})
		var lines []Line
		switch b.Kind {
		case Participatiewet:
			lines = participatiewet(b, job, e.EarningsCents, on, &e.Caveats)
		case WIAWGA, WIAIVA, WW:
			lines = deduction(b, e.EarningsCents, on, &e.Caveats)
		default:
			e.Caveats = append(e.Caveats, fmt.Sprintf("%s: the effect of earnings is not modelled; the benefit is shown unchanged", b.Kind))
		}
		for _, l := range lines {
			e.WithJobCents += l.AmountCents
			e.Lines = append(e.Lines, l)
		}
	}
	return e, nil
}

// participatiewet: earnings are deducted from social assistance in full,
// less the release while it lasts; the assistance does not go below zero.
func participatiewet(b Benefit, job Job, earnings int64, on time.Time, caveats *[]string) []Line {
	r, ok := releaseOn(on)
	version := "participatiewet/none"
	release := int64(0)
	if ok {
		version = "participatiewet/" + r.ValidFrom.Format(time.DateOnly)
		if on.Before(addMonths(job.Start, r.MaxMonths)) {
			release = min(earnings*r.Percent/100, r.CapCents)
		}
	} else {
		*caveats = append(*caveats, "participatiewet: no release figures for this date; no release applied")
	}
	deducted := min(earnings-release, b.MonthlyAmountCents)
	lines := []Line{{Code: "participatiewet_earnings_deduction", Description: "earnings deducted from social assistance",
		AmountCents: -(earnings - release), BenefitID: b.ID, RuleVersion: version}}
	if release > 0 {
		lines[0].Description = fmt.Sprintf("earnings deducted from social assistance, less the part-time release of %d ct (25%%, capped, first %d months)", release, r.MaxMonths)
	}
	if deducted < earnings-release {
		lines[0].AmountCents = -deducted
		lines[0].Description += "; limited to the assistance itself"
	}
	return lines
}

// deduction: a share of the earnings is deducted from an earnings-related
// benefit, down to zero.
func deduction(b Benefit, earnings int64, on time.Time, caveats *[]string) []Line {
	r, ok := deductionOn(b.Kind, on)
	if !ok {
		*caveats = append(*caveats, fmt.Sprintf("%s: no deduction figures for this date; the benefit is shown unchanged", b.Kind))
		return nil
	}
	amount := min(earnings*r.Percent/100, b.MonthlyAmountCents)
	return []Line{{Code: string(b.Kind) + "_income_deduction",
		Description: fmt.Sprintf("%d%% of earnings deducted from %s (limited to the benefit)", r.Percent, b.Kind),
		AmountCents: -amount, BenefitID: b.ID, RuleVersion: string(b.Kind) + "/" + r.ValidFrom.Format(time.DateOnly)}}
}
