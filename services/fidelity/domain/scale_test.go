package domain

import (
	"errors"
	"testing"
)

func ips25(t *testing.T) *Scale {
	t.Helper()
	scales, err := LoadScales()
	if err != nil {
		t.Fatal(err)
	}
	s := scales["ips25-2008"]
	if s == nil {
		t.Fatal("scale ips25-2008 not shipped")
	}
	return s
}

func TestScaleShape(t *testing.T) {
	s := ips25(t)
	if len(s.Items) != 25 || s.MinTotal != 25 || s.MaxTotal != 125 {
		t.Fatalf("items %d, totals %d–%d; want 25 items, 25–125", len(s.Items), s.MinTotal, s.MaxTotal)
	}
	perPart := map[string]int{}
	for _, it := range s.Items {
		perPart[it.Part]++
	}
	want := map[string]int{"staffing": 3, "organisation": 8, "services": 14}
	for p, n := range want {
		if perPart[p] != n {
			t.Errorf("part %s has %d items, want %d", p, perPart[p], n)
		}
	}
}

// anchorCase is a figure and the anchor it must reach.
type anchorCase struct {
	v    float64
	want int
}

func TestMeasuredAnchorsAtTheirBoundaries(t *testing.T) {
	s := ips25(t)
	cases := map[string][]anchorCase{
		// clients per specialist FTE
		"clients_per_specialist": {{0, 5}, {20, 5}, {20.1, 4}, {21, 4}, {25, 4}, {26, 3}, {30, 3}, {31, 2}, {40, 2}, {41, 1}, {80, 1}},
		// mean days from intake to first face-to-face employer contact
		"days_intake_to_first_contact": {{0, 5}, {30, 5}, {31, 4}, {60, 4}, {61, 3}, {150, 3}, {151, 2}, {270, 2}, {271, 1}},
		// face-to-face employer contacts per specialist per week
		"employer_contacts_per_specialist_week": {{0, 1}, {1.9, 1}, {2, 2}, {3.9, 2}, {4, 3}, {4.9, 3}, {5, 4}, {5.9, 4}, {6, 5}, {12, 5}},
		"distinct_job_types_share":              {{49, 1}, {50, 2}, {59, 2}, {60, 3}, {69, 3}, {70, 4}, {84, 4}, {85, 5}, {100, 5}},
		"distinct_employers_share":              {{49.9, 1}, {50, 2}, {60, 3}, {70, 4}, {85, 5}},
		"competitive_jobs_share":                {{64, 1}, {65, 2}, {74, 2}, {75, 3}, {84, 3}, {85, 4}, {94, 4}, {95, 5}, {100, 5}},
		"follow_along_month_share":              {{24, 1}, {25, 2}, {49, 2}, {50, 3}, {74, 3}, {75, 4}, {89, 4}, {90, 5}},
		"benefits_counselling_share":            {{24, 1}, {25, 2}, {50, 3}, {75, 4}, {89, 4}, {90, 5}},
		"clinical_input_share":                  {{19, 1}, {20, 2}, {39, 2}, {40, 3}, {60, 4}, {79, 4}, {80, 5}},
		// % of referrals not taken on
		"referrals_not_taken_on_share": {{0, 5}, {5, 5}, {5.1, 4}, {10, 4}, {10.1, 3}, {20, 3}, {20.1, 2}, {30, 2}, {30.1, 1}},
	}
	for metric, cs := range cases {
		it, ok := s.ItemByMetric(metric)
		if !ok {
			t.Errorf("no item measures %s", metric)
			continue
		}
		for _, c := range cs {
			if got := it.Measure.Score(c.v); got != c.want {
				t.Errorf("%s %s at %v: anchor %d, want %d", it.Code, metric, c.v, got, c.want)
			}
		}
	}
	n := 0
	for _, it := range s.Items {
		if it.Measure != nil {
			n++
		}
	}
	if n != len(cases) {
		t.Errorf("%d measured items, %d tested", n, len(cases))
	}
}

func TestBandsAtTheirBoundaries(t *testing.T) {
	s := ips25(t)
	for total, want := range map[int]string{
		25: "not_supported_employment", 73: "not_supported_employment", 74: "fair", 99: "fair",
		100: "good", 114: "good", 115: "exemplary", 125: "exemplary",
	} {
		b, ok := s.Band(total)
		if !ok || b.Code != want {
			t.Errorf("total %d: band %q (%v), want %s", total, b.Code, ok, want)
		}
	}
	for _, total := range []int{24, 126, 0} {
		if _, ok := s.Band(total); ok {
			t.Errorf("total %d has a band; it is outside the scale", total)
		}
	}
}

func TestScaleCheckRefusesBrokenVersions(t *testing.T) {
	good := ips25(t)
	clone := func() *Scale {
		c := *good
		c.Items = append([]Item(nil), good.Items...)
		c.Bands = append([]Band(nil), good.Bands...)
		return &c
	}
	s := clone()
	s.Bands[1].Min++ // a gap between bands
	if err := s.check(); err == nil {
		t.Error("a gap between bands passed the check")
	}
	s = clone()
	it := s.Items[0]
	it.Anchors = map[string]Text{"1": {"a", "b"}}
	s.Items[0] = it
	if err := s.check(); err == nil {
		t.Error("an item with one anchor passed the check")
	}
	s = clone()
	s.Items = s.Items[:24]
	if err := s.check(); err == nil {
		t.Error("24 items with totals 25–125 passed the check")
	}
}

func TestScoresOutsideTheScaleAreRefused(t *testing.T) {
	s := ips25(t)
	r := &Review{ID: "r", Status: Assigned, ScaleID: s.ID}
	for _, c := range []struct {
		item  string
		score int
	}{{"S1", 0}, {"S1", 6}, {"S1", -1}, {"X99", 3}} {
		if err := r.CheckReviewerScore(s, c.item, c.score, "seen in records"); !errors.Is(err, ErrInvalid) {
			t.Errorf("item %s score %d: %v, want invalid", c.item, c.score, err)
		}
	}
	if err := r.CheckReviewerScore(s, "S1", 3, " "); !errors.Is(err, ErrInvalid) {
		t.Errorf("score without evidence: %v, want invalid", err)
	}
	r.Status = Final
	if err := r.CheckReviewerScore(s, "S1", 3, "seen"); !errors.Is(err, ErrFailedPrecondition) {
		t.Errorf("scoring a final review: %v, want failed precondition", err)
	}
}

func TestIndependence(t *testing.T) {
	r := &Review{ID: "r", Status: Requested, OrgID: "mha-noord"}
	day := mustDate(t, "2026-12-01")
	if err := r.CheckAssign("mha-noord", "fidelity_reviewer", day); !errors.Is(err, ErrPermissionDenied) {
		t.Errorf("reviewer of the reviewed organisation: %v, want permission denied", err)
	}
	if err := r.CheckAssign("ips-fidelity", "employment_specialist", day); !errors.Is(err, ErrInvalid) {
		t.Errorf("a non-reviewer: %v, want invalid", err)
	}
	if err := r.CheckAssign("ips-fidelity", "fidelity_reviewer", day); err != nil {
		t.Errorf("independent reviewer refused: %v", err)
	}
}

func mustDate(t *testing.T, s string) Date {
	t.Helper()
	d, err := ParseDate("d", s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
