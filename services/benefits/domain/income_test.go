package domain

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// testParams are fixed figures for the worked examples, so that a new row
// in parameters.json does not move them; they follow its 2025-07 and 2026
// rows.
var testParams = func() Params {
	p, err := ParseParams([]byte(`{
	  "minimum_wage": [
	    {"valid_from": "2025-07-01", "hourly_cents": 1440, "month_hours": 36, "source": {"nl": "WML", "en": "WML"}},
	    {"valid_from": "2026-01-01", "hourly_cents": 1471, "month_hours": 36, "source": {"nl": "WML", "en": "WML"}}
	  ],
	  "net_assumption": [{"valid_from": "2024-01-01", "net_percent": "80", "source": {"nl": "assumption", "en": "assumption"}}],
	  "participatiewet": [{"valid_from": "2026-01-01", "release_percent": "25", "release_cap_cents": 26917, "release_months": 6, "source": {"nl": "PW 31.2.n", "en": "PW 31.2.n"}}],
	  "ww": [{"valid_from": "2015-07-01", "first_months": 2, "first_percent": "75", "percent": "70", "end_percent": "87.5", "source": {"nl": "WW", "en": "WW"}}],
	  "wga": [{"valid_from": "2017-01-01", "first_months": 2, "first_percent": "75", "percent": "70", "supplement_percent": "70",
	    "supplement_threshold_percent": "50", "end_percent": "65",
	    "follow_up": [{"from_disability": 35, "percent": "28"}, {"from_disability": 45, "percent": "35"}, {"from_disability": 55, "percent": "42"},
	      {"from_disability": 65, "percent": "50.75"}, {"from_disability": 80, "percent": "70"}], "source": {"nl": "WIA", "en": "WIA"}}],
	  "iva": [{"valid_from": "2017-01-01", "percent": "75", "source": {"nl": "WIA", "en": "WIA"}}],
	  "wajong": [{"valid_from": "2021-01-01", "percent": "70", "source": {"nl": "Wajong", "en": "Wajong"}}]
	}`))
	if err != nil {
		panic(err)
	}
	return p
}()

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func benefit(k Kind, cents int64, start string) Benefit {
	b := Benefit{ID: string(k), Kind: k, PayerOrgID: "payer", MonthlyAmountCents: cents, Start: day(start), Status: Active}
	b.SetInitialAmount()
	return b
}

func calc(t *testing.T, bs []Benefit, job Job, from string, months int) []Month {
	t.Helper()
	r, err := testParams.Calculate(bs, Query{Job: job, From: day(from), Months: months})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range r.Months {
		var w, j int64
		for _, l := range m.Without {
			w += l.AmountCents
		}
		for _, l := range m.With {
			j += l.AmountCents
		}
		if w != m.WithoutCents || j != m.WithCents {
			t.Fatalf("%s: lines add up to %d and %d, totals are %d and %d", m.Month.Format("2006-01"), w, j, m.WithoutCents, m.WithCents)
		}
	}
	return r.Months
}

type want struct {
	month         string // YYYY-MM
	without, with int64
	notes         []string // codes that must be there
	absent        []string // codes that must not
}

func check(t *testing.T, months []Month, wants ...want) {
	t.Helper()
	for _, w := range wants {
		i := slices.IndexFunc(months, func(m Month) bool { return m.Month.Format("2006-01") == w.month })
		if i < 0 {
			t.Fatalf("no month %s", w.month)
		}
		m := months[i]
		if m.WithoutCents != w.without || m.WithCents != w.with {
			t.Errorf("%s: without %d, with %d; want %d, %d\nwithout %+v\nwith %+v", w.month, m.WithoutCents, m.WithCents, w.without, w.with, m.Without, m.With)
		}
		var codes []string
		for _, n := range m.Notes {
			codes = append(codes, n.Code)
		}
		for _, c := range w.notes {
			if !slices.Contains(codes, c) {
				t.Errorf("%s: no note %s in %v", w.month, c, codes)
			}
		}
		for _, c := range w.absent {
			if slices.Contains(codes, c) {
				t.Errorf("%s: note %s should not be there (%v)", w.month, c, codes)
			}
		}
	}
}

// Participatiewet: the assistance of €1,400.00 is net; the job starts on
// 1 January 2026 at €14.00 an hour (below the minimum wage of €14.71).
// Net earnings are 80% of gross (the assumption row), the release is 25% of
// the net earnings, at most €269.17, in job months 1 to 6.
func TestParticipatiewetWorkedExamples(t *testing.T) {
	pw := []Benefit{benefit(Participatiewet, 140000, "2025-01-01")}
	job := func(h int32) Job { return Job{HoursPerWeek: h, HourlyWageCents: 1400, Start: day("2026-01-01")} }

	t.Run("0 hours", func(t *testing.T) {
		// Earnings 0 × 1400 × 52 / 12 = 0: nothing deducted, nothing
		// released; with the job 0 + 140000 = 140000 in every month.
		check(t, calc(t, pw, job(0), "2026-01-01", 7),
			want{"2026-01", 140000, 140000, []string{"pw_release_month"}, nil},
			want{"2026-06", 140000, 140000, nil, nil},
			want{"2026-07", 140000, 140000, []string{"pw_release_over_nothing"}, nil})
	})
	t.Run("16 hours", func(t *testing.T) {
		// Gross 16 × 1400 × 52 / 12 = 1164800 / 12 = 97066 (rounded down);
		// net 80% = 77652 (77652.8 rounded down).
		// Months 1–6: release 25% × 77652 = 19413 (under the cap 26917);
		// assistance 140000 − 77652 + 19413 = 81761; with the job
		// 77652 + 81761 = 159413, 19413 more than without.
		// Month 7: no release; assistance 140000 − 77652 = 62348; with the
		// job 77652 + 62348 = 140000: the job brings nothing extra.
		months := calc(t, pw, job(16), "2026-01-01", 7)
		check(t, months,
			want{"2026-01", 140000, 159413, []string{"pw_release_month", "pw_release_then_nothing", "below_minimum_wage"}, nil},
			want{"2026-06", 140000, 159413, []string{"pw_release_month", "pw_release_then_nothing"}, nil},
			want{"2026-07", 140000, 140000, []string{"pw_release_over_nothing"}, []string{"pw_release_month"}})
		if !months[0].Net {
			t.Error("a Participatiewet month is not net")
		}
	})
	t.Run("36 hours", func(t *testing.T) {
		// Gross 36 × 1400 × 52 / 12 = 2620800 / 12 = 218400; net 80% =
		// 174720. Months 1–6: release 25% = 43680, capped at 26917;
		// assistance 140000 − 174720 + 26917 = −7803, so none (a line of
		// +7803 brings it to zero); with the job 174720. Month 7: 140000 −
		// 174720 = −34720, none; with the job 174720, still 34720 more.
		check(t, calc(t, pw, job(36), "2026-01-01", 7),
			want{"2026-01", 140000, 174720, []string{"pw_release_month", "pw_release_then_gain"}, nil},
			want{"2026-06", 140000, 174720, nil, nil},
			want{"2026-07", 140000, 174720, []string{"pw_release_over_gain"}, nil})
	})
	t.Run("net wage from the payslip", func(t *testing.T) {
		// Net 700.00 given: release 25% = 17500; assistance 140000 − 70000
		// + 17500 = 87500; with the job 70000 + 87500 = 157500.
		net := int64(70000)
		r, err := testParams.Calculate(pw, Query{Job: job(16), From: day("2026-01-01"), Months: 1, NetEarningsCents: &net})
		if err != nil {
			t.Fatal(err)
		}
		check(t, r.Months, want{"2026-01", 140000, 157500, nil, nil})
	})
}

// WGA: previous wage €3,000.00, residual earning capacity €1,250.00,
// disability 50% (class 45–55: follow-up 35% of the minimum wage), the
// wage-related phase ends on 1 April 2026; amount €2,100.00 (70% × 3000).
func TestWGAPhases(t *testing.T) {
	end := day("2026-04-01")
	wga := benefit(WIAWGA, 210000, "2025-01-01")
	wga.Basis = Basis{PreviousWageCents: 300000, ResidualCapacityCents: 125000, DisabilityPercent: 50, WageRelatedEnd: &end}
	job := Job{HoursPerWeek: 20, HourlyWageCents: 1600, Start: day("2026-01-01")}
	// Earnings 20 × 1600 × 52 / 12 = 1664000 / 12 = 138666 (gross; no
	// Participatiewet, so the month is gross).
	t.Run("wage-related, 70%", func(t *testing.T) {
		// WGA month 15: 70% × 138666 = 97066 offset; 210000 − 97066 =
		// 112934; with the job 138666 + 112934 = 251600.
		check(t, calc(t, []Benefit{wga}, job, "2026-03-01", 1), want{"2026-03", 210000, 251600, []string{"wga_wage_related"}, nil})
	})
	t.Run("wage-related, first two months 75%", func(t *testing.T) {
		// A WGA from 1 February 2026, in its first month: 75% × 138666 =
		// 103999 (103999.5 down); with the job 210000 − 103999 + 138666 =
		// 244667.
		young := wga
		young.Start, young.Amounts = day("2026-02-01"), nil
		young.SetInitialAmount()
		check(t, calc(t, []Benefit{young}, job, "2026-02-01", 1), want{"2026-02", 210000, 244667, nil, nil})
	})
	t.Run("wage supplement: earning at least half the residual capacity", func(t *testing.T) {
		// From April: 50% × 125000 = 62500 ≤ 138666, so the wage
		// supplement: 70% × (300000 − max(125000, 138666)) = 70% × 161334 =
		// 112933 (112933.8 down); with the job 138666 + 112933 = 251599.
		// Without the job (earning 0 < 62500) the follow-up benefit: the
		// minimum wage 1471 × 36 × 52 / 12 = 229476 (under the previous
		// wage), 35% = 80316 (80316.6 down).
		check(t, calc(t, []Benefit{wga}, job, "2026-04-01", 1),
			want{"2026-04", 80316, 251599, []string{"wga_supplement_earned"}, []string{"wga_follow_up_below"}})
	})
	t.Run("follow-up: earning less than half the residual capacity", func(t *testing.T) {
		// 4 h: 4 × 1600 × 52 / 12 = 332800 / 12 = 27733 < 62500: the
		// follow-up benefit 80316 stays; with the job 27733 + 80316 =
		// 108049.
		small := job
		small.HoursPerWeek = 4
		check(t, calc(t, []Benefit{wga}, small, "2026-04-01", 1),
			want{"2026-04", 80316, 108049, []string{"wga_follow_up_below"}, nil})
	})
	t.Run("phase unknown", func(t *testing.T) {
		// Without the end of the wage-related phase the wage-related rule
		// applies, with a warning: 210000 − 97066 + 138666 = 251600.
		unknown := wga
		unknown.Basis = Basis{}
		check(t, calc(t, []Benefit{unknown}, job, "2026-05-01", 1), want{"2026-05", 210000, 251600, []string{"wga_phase_unknown"}, nil})
	})
}

// WW of €1,500.00 from 1 January 2026 on a previous wage of €2,000.00;
// job 16 h × €15.00: 16 × 1500 × 52 / 12 = 1248000 / 12 = 104000.
func TestWW(t *testing.T) {
	ww := benefit(WW, 150000, "2026-01-01")
	ww.Basis.PreviousWageCents = 200000
	job := Job{HoursPerWeek: 16, HourlyWageCents: 1500, Start: day("2026-01-01")}
	// Month 1 (75%): 75% × 104000 = 78000; 150000 − 78000 + 104000 =
	// 176000. Month 3 (70%): 72800; 150000 − 72800 + 104000 = 181200.
	check(t, calc(t, []Benefit{ww}, job, "2026-01-01", 3),
		want{"2026-01", 150000, 176000, nil, nil},
		want{"2026-03", 150000, 181200, nil, nil})
	// 36 h: 36 × 1500 × 52 / 12 = 234000 ≥ 87.5% × 200000 = 175000: the
	// WW ends; with the job only the earnings 234000.
	job.HoursPerWeek = 36
	check(t, calc(t, []Benefit{ww}, job, "2026-03-01", 1), want{"2026-03", 150000, 234000, []string{"ww_ends"}, nil})
}

// The case: a WGA of €1,850.00; the job (16 h × €14.00, gross
// 97066 a month) starts on 1 January 2026. UWV reports from 1 March that it
// pays €1,170.54, having offset 70% × 97066 = 67946 of earnings (1850.00 −
// 679.46 = 1170.54). The calculation keeps starting from €1,850.00 and
// deducts the earnings once: every month without the job 185000, with it
// 185000 − 67946 + 97066 = 214120.
func TestAdjustedFromMidPeriodNoDoubleDeduction(t *testing.T) {
	end := day("2027-01-01")
	wga := benefit(WIAWGA, 185000, "2025-01-01")
	wga.Basis.WageRelatedEnd = &end
	if err := (Decision{Kind: Adjusted, Effective: day("2026-03-01"), MonthlyAmountCents: 117054, EarningsOffsetCents: 67946}).Apply(&wga); err != nil {
		t.Fatal(err)
	}
	if wga.MonthlyAmountCents != 117054 || len(wga.Amounts) != 2 {
		t.Fatalf("after the decision: %+v", wga)
	}
	job := Job{HoursPerWeek: 16, HourlyWageCents: 1400, Start: day("2026-01-01")}
	months := calc(t, []Benefit{wga}, job, "2026-01-01", 4)
	check(t, months,
		want{"2026-01", 185000, 214120, nil, []string{"payer_offset"}},
		want{"2026-02", 185000, 214120, nil, nil},
		want{"2026-03", 185000, 214120, []string{"payer_offset"}, nil},
		want{"2026-04", 185000, 214120, []string{"payer_offset"}, nil})

	// A new amount without an offset is a new benefit amount from its
	// date: from March 190000 without, 190000 − 67946 + 97066 = 219120.
	other := benefit(WIAWGA, 185000, "2025-01-01")
	other.Basis.WageRelatedEnd = &end
	if err := (Decision{Kind: Adjusted, Effective: day("2026-03-01"), MonthlyAmountCents: 190000}).Apply(&other); err != nil {
		t.Fatal(err)
	}
	check(t, calc(t, []Benefit{other}, job, "2026-02-01", 2),
		want{"2026-02", 185000, 214120, nil, nil},
		want{"2026-03", 190000, 219120, nil, nil})

	// Suspended from April: no income from it from then on.
	if err := (Decision{Kind: SuspendedFrom, Effective: day("2026-04-01")}).Apply(&other); err != nil {
		t.Fatal(err)
	}
	check(t, calc(t, []Benefit{other}, job, "2026-03-01", 2),
		want{"2026-03", 190000, 219120, nil, nil},
		want{"2026-04", 0, 97066, []string{"benefit_suspended"}, nil})
}

// The minimum wage is €14.40 from 1 July 2025 and €14.71 from 1 January
// 2026 (21 and older): €14.70 warns in 2026, €14.71 does not; €14.50 is
// fine in December 2025 and below the minimum in January 2026.
func TestMinimumWageBoundary(t *testing.T) {
	job := func(wage int64, start string) Job {
		return Job{HoursPerWeek: 16, HourlyWageCents: wage, Start: day(start)}
	}
	check(t, calc(t, nil, job(1470, "2026-01-01"), "2026-01-01", 1), want{"2026-01", 0, 16 * 1470 * 52 / 12, []string{"below_minimum_wage"}, nil})
	check(t, calc(t, nil, job(1471, "2026-01-01"), "2026-01-01", 1), want{"2026-01", 0, 16 * 1471 * 52 / 12, nil, []string{"below_minimum_wage"}})
	check(t, calc(t, nil, job(1450, "2025-12-01"), "2025-12-01", 2),
		want{"2025-12", 0, 100533, nil, []string{"below_minimum_wage"}}, // 16 × 1450 × 52 / 12 = 1206400 / 12 = 100533
		want{"2026-01", 0, 100533, []string{"below_minimum_wage"}, nil})
}

// With a Participatiewet benefit next to a WGA, the month is net: the WGA
// is converted with the same assumption, and what it loses with the job
// the assistance makes up, so the earnings are deducted once.
func TestAssistanceNextToWGA(t *testing.T) {
	end := day("2027-01-01")
	wga := benefit(WIAWGA, 100000, "2025-01-01")
	wga.Basis.WageRelatedEnd = &end
	pw := benefit(Participatiewet, 40000, "2025-01-01")
	job := Job{HoursPerWeek: 16, HourlyWageCents: 1400, Start: day("2026-01-01")}
	// Gross earnings 97066, net 80% = 77652. WGA offset 70% × 97066 =
	// 67946: gross 100000 without, 32054 with; net 80000 and 25643
	// (25643.2 down). The WGA loses 80000 − 25643 = 54357 net, which the
	// assistance makes up. Month 7 (no release): assistance 40000 − 77652
	// + 54357 = 16705. Without: 80000 + 40000 = 120000; with: 77652 +
	// 25643 + 16705 = 120000.
	check(t, calc(t, []Benefit{wga, pw}, job, "2026-07-01", 1), want{"2026-07", 120000, 120000, []string{"pw_release_over_nothing"}, nil})
}

func TestCalculateRefusesBadQuestions(t *testing.T) {
	ok := Job{HoursPerWeek: 10, HourlyWageCents: 1500, Start: day("2026-01-01")}
	neg := int64(-1)
	for name, q := range map[string]Query{
		"hours":     {Job: Job{HoursPerWeek: -1, Start: ok.Start}, Months: 1},
		"wage":      {Job: Job{HoursPerWeek: 1, HourlyWageCents: 100_001, Start: ok.Start}, Months: 1},
		"no start":  {Job: Job{HoursPerWeek: 1}, Months: 1},
		"months":    {Job: ok, Months: MaxMonths + 1},
		"no months": {Job: ok},
		"net":       {Job: ok, Months: 1, NetEarningsCents: &neg},
	} {
		if _, err := testParams.Calculate(nil, q); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The service's own parameters parse, and each rule has a row for today's
// figures with a source.
func TestParametersFile(t *testing.T) {
	for name, ok := range map[string]bool{
		"minimum wage": len(Rules.MinimumWage) > 0, "net": len(Rules.Net) > 0, "participatiewet": len(Rules.Participatiewet) > 0,
		"ww": len(Rules.WW) > 0, "wga": len(Rules.WGA) > 0, "iva": len(Rules.IVA) > 0, "wajong": len(Rules.Wajong) > 0,
	} {
		if !ok {
			t.Errorf("no %s rows", name)
		}
	}
	if _, err := ParseParams([]byte(`{"minimum_wage": [{"valid_from": "2026-01-01", "hourly_cents": 1}]}`)); err == nil {
		t.Error("a row without a source parses")
	}
	var p Percent
	if err := p.UnmarshalJSON([]byte(`"50.75"`)); err != nil || p != 5075 || p.Of(229476) != 116459 {
		t.Errorf("50.75%% = %d (%v); of 229476 = %d", p, err, p.Of(229476))
	}
}

func TestBenefitChecks(t *testing.T) {
	b := benefit(WIAWGA, 1000, "2020-01-01")
	bad := []Benefit{b, b, b, b, b}
	bad[0].Kind = "pension"
	bad[1].MonthlyAmountCents = -1
	e := day("2019-01-01")
	bad[2].End = &e
	bad[3].Basis.DisabilityPercent = 20
	bad[4].Kind = WW
	bad[4].Basis.ResidualCapacityCents = 100
	for i, x := range bad {
		if err := x.Check(); !errors.Is(err, ErrInvalid) {
			t.Errorf("case %d: %v", i, err)
		}
	}
	if err := CheckPayer(Participatiewet, "uwv"); !errors.Is(err, ErrInvalid) {
		t.Errorf("uwv paying social assistance: %v", err)
	}
	if err := CheckPayer(WIAWGA, "uwv"); err != nil {
		t.Error(err)
	}
}

func TestDecisionsOnTheHistory(t *testing.T) {
	b := benefit(WW, 150000, "2026-01-01")
	for name, d := range map[string]Decision{
		"offset on a suspension":   {Kind: SuspendedFrom, Effective: day("2026-02-01"), EarningsOffsetCents: 1},
		"negative offset":          {Kind: Adjusted, Effective: day("2026-02-01"), MonthlyAmountCents: 1, EarningsOffsetCents: -1},
		"over the maximum":         {Kind: Adjusted, Effective: day("2026-02-01"), MonthlyAmountCents: MaxMonthlyCents, EarningsOffsetCents: 1},
		"before the benefit":       {Kind: Adjusted, Effective: day("2025-12-01"), MonthlyAmountCents: 1},
		"amount with an end":       {Kind: EndedOn, Effective: day("2026-02-01"), MonthlyAmountCents: 1},
		"unknown kind of decision": {Kind: "paused", Effective: day("2026-02-01")},
	} {
		x := b
		x.Amounts = slices.Clone(b.Amounts)
		if err := d.Apply(&x); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Decisions reported out of order keep the history in date order; a
	// second report for a date replaces the first.
	x := b
	x.Amounts = slices.Clone(b.Amounts)
	for _, d := range []Decision{
		{Kind: Adjusted, Effective: day("2026-05-01"), MonthlyAmountCents: 120000},
		{Kind: Adjusted, Effective: day("2026-03-01"), MonthlyAmountCents: 130000},
		{Kind: Adjusted, Effective: day("2026-03-01"), MonthlyAmountCents: 131000},
	} {
		if err := d.Apply(&x); err != nil {
			t.Fatal(err)
		}
	}
	var got []int64
	for _, a := range x.Amounts {
		got = append(got, a.Cents)
	}
	if !slices.Equal(got, []int64{150000, 131000, 120000}) || x.MonthlyAmountCents != 120000 || x.Check() != nil {
		t.Errorf("history %v, amount %d, check %v", got, x.MonthlyAmountCents, x.Check())
	}
	if a, _ := x.AmountOn(day("2026-04-30")); a.Cents != 131000 {
		t.Errorf("amount on 30 April: %d", a.Cents)
	}
	// A correction changes the latest row only, and leaves a suspension
	// suspended.
	if err := (Decision{Kind: SuspendedFrom, Effective: day("2026-07-01")}).Apply(&x); err != nil {
		t.Fatal(err)
	}
	x.CorrectAmount(125000)
	last := x.Amounts[len(x.Amounts)-1]
	if len(x.Amounts) != 4 || !last.Suspended || last.Cents != 125000 || last.Source != FromCorrection || x.Amounts[2].Cents != 120000 {
		t.Errorf("after the correction: %+v", x.Amounts)
	}
}

// BenchmarkCalculate36Months: the longest period with a Participatiewet
// benefit next to a WGA (each month looks ahead to the month after the
// release as well).
func BenchmarkCalculate36Months(b *testing.B) {
	end := day("2027-01-01")
	wga := benefit(WIAWGA, 185000, "2025-01-01")
	wga.Basis = Basis{PreviousWageCents: 300000, ResidualCapacityCents: 125000, DisabilityPercent: 50, WageRelatedEnd: &end}
	bs := []Benefit{wga, benefit(Participatiewet, 40000, "2025-01-01")}
	q := Query{Job: Job{HoursPerWeek: 16, HourlyWageCents: 1400, Start: day("2026-01-01")}, From: day("2026-01-01"), Months: MaxMonths}
	for b.Loop() {
		if _, err := Rules.Calculate(bs, q); err != nil {
			b.Fatal(err)
		}
	}
}
