package domain

import (
	"errors"
	"testing"
	"time"
)

func benefit(k Kind, cents int64) Benefit {
	return Benefit{ID: string(k), Kind: k, PayerOrgID: "payer", MonthlyAmountCents: cents, Start: day("2020-01-01"), Status: Active}
}

// TestIncomeEffectWorkedExamples: each expected figure is derived from the
// rule as RULES.md states it; the arithmetic is in the comments.
func TestIncomeEffectWorkedExamples(t *testing.T) {
	start := day("2026-01-05")
	cases := []struct {
		name                string
		b                   Benefit
		job                 Job
		on                  time.Time
		without, with, earn int64
	}{
		// Earnings 12 h × 1400 ct × 52 / 12 = 72800. Release 25% = 18200,
		// under the 2026 cap of 26917. Deducted 72800 − 18200 = 54600;
		// assistance 120000 − 54600 = 65400; with job 72800 + 65400 = 138200.
		{"participatiewet part-time, release applies", benefit(Participatiewet, 120000), Job{12, 1400, start}, start, 120000, 138200, 72800},
		// Earnings 32 × 1500 × 52 / 12 = 208000; 25% = 52000 > cap 26917, so
		// release 26917. Deducted 208000 − 26917 = 181083; assistance
		// 200000 − 181083 = 18917; with job 208000 + 18917 = 226917.
		{"participatiewet release capped", benefit(Participatiewet, 200000), Job{32, 1500, start}, start, 200000, 226917, 208000},
		// Last day of the release: six months after 5 January is 5 July,
		// so 4 July still has it: same figures as the first case.
		{"participatiewet release last day", benefit(Participatiewet, 120000), Job{12, 1400, start}, day("2026-07-04"), 120000, 138200, 72800},
		// From 5 July no release: deducted 72800; assistance 120000 − 72800
		// = 47200; with job 72800 + 47200 = 120000, no gain.
		{"participatiewet release ended", benefit(Participatiewet, 120000), Job{12, 1400, start}, day("2026-07-05"), 120000, 120000, 72800},
		// Earnings above the assistance, no release left: deduction limited
		// to the assistance 120000; with job = earnings 208000.
		{"participatiewet income above benefit", benefit(Participatiewet, 120000), Job{32, 1500, start}, day("2026-08-01"), 120000, 208000, 208000},
		// Zero hours: earnings 0, nothing deducted.
		{"zero hours", benefit(Participatiewet, 120000), Job{0, 1400, start}, start, 120000, 120000, 0},
		// WGA: earnings 20 × 1600 × 52 / 12 = 1664000 / 12 = 138666 (cent
		// rounded down); 70% = 97066 (rounded down); WGA 150000 − 97066 =
		// 52934; with job 138666 + 52934 = 191600.
		{"wga deduction", benefit(WIAWGA, 150000), Job{20, 1600, start}, start, 150000, 191600, 138666},
		// WGA 50000 < 97066: deduction limited to 50000; with job 138666.
		{"wga income above benefit", benefit(WIAWGA, 50000), Job{20, 1600, start}, start, 50000, 138666, 138666},
		// 2025 table: cap 26019 from 1 January 2025. Earnings 208000, 25% =
		// 52000, capped 26019; assistance 200000 − (208000 − 26019) = 18019;
		// with job 208000 + 18019 = 226019.
		{"dated table 2025", benefit(Participatiewet, 200000), Job{32, 1500, day("2025-03-01")}, day("2025-03-01"), 200000, 226019, 208000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, err := CalculateIncomeEffect([]Benefit{tc.b}, tc.job, tc.on)
			if err != nil {
				t.Fatal(err)
			}
			if e.WithoutJobCents != tc.without || e.WithJobCents != tc.with || e.EarningsCents != tc.earn {
				t.Fatalf("without %d with %d earnings %d; want %d, %d, %d (lines %+v)", e.WithoutJobCents, e.WithJobCents, e.EarningsCents,
					tc.without, tc.with, tc.earn, e.Lines)
			}
			var sum int64
			for _, l := range e.Lines {
				sum += l.AmountCents
			}
			if sum != e.WithJobCents {
				t.Errorf("lines add up to %d, income with job %d", sum, e.WithJobCents)
			}
		})
	}
}

func TestIncomeEffectUnmodelledAndInactive(t *testing.T) {
	w := benefit(Wajong, 90000)
	ended := benefit(WW, 80000)
	e := day("2025-06-01")
	ended.End = &e
	got, err := CalculateIncomeEffect([]Benefit{w, ended}, Job{10, 1500, day("2026-01-05")}, day("2026-01-05"))
	if err != nil {
		t.Fatal(err)
	}
	// Wajong unchanged (caveat), WW ended before the date: not counted.
	if got.WithoutJobCents != 90000 || got.WithJobCents != 90000+got.EarningsCents || len(got.Caveats) != 1 {
		t.Errorf("got %+v", got)
	}
	if _, err := CalculateIncomeEffect(nil, Job{10, 1500, day("2026-01-05")}, day("2025-01-05")); !errors.Is(err, ErrInvalid) {
		t.Errorf("date before job start: %v", err)
	}
}

func TestBenefitChecks(t *testing.T) {
	b := benefit(WIAWGA, 1000)
	bad := []Benefit{b, b, b}
	bad[0].Kind = "pension"
	bad[1].MonthlyAmountCents = -1
	e := day("2019-01-01")
	bad[2].End = &e
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
