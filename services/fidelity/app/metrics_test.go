package app

import (
	"testing"
)

func TestMetricsWithoutDataAreNotMeasured(t *testing.T) {
	m := Metrics(EmploymentFigures{}, CaseloadFigures{}, BenefitsFigures{})
	for name, v := range m {
		if v.ok {
			t.Errorf("%s measured from no data: %v", name, v.value)
		}
	}
	if len(m) != 10 {
		t.Errorf("%d metrics, want the 10 measured items", len(m))
	}
}

func TestMetricsFromFigures(t *testing.T) {
	m := Metrics(
		EmploymentFigures{FaceToFaceContacts: 120, Weeks: 10, Intakes: 4, IntakesContacted: 3, MeanDaysToContact: 21,
			JobStarts: 8, DistinctTitles: 6, DistinctEmployers: 8, CompetitiveStarts: 7, EmployedMonths: 20, EmployedMonthsWithContact: 19},
		CaseloadFigures{ActiveClients: 40, Specialists: 2, WithClinicalInput: 36, Referrals: 20, NotTakenOn: 1,
			NotTakenOnReasons: map[string]int{"b": 1, "a": 0}},
		BenefitsFigures{OnBenefits: 10, OfferedCounselling: 9},
	)
	want := map[string]float64{
		"clients_per_specialist": 20, "clinical_input_share": 90, "referrals_not_taken_on_share": 5,
		"benefits_counselling_share": 90, "distinct_job_types_share": 75, "distinct_employers_share": 100,
		"competitive_jobs_share": 87.5, "follow_along_month_share": 95, "employer_contacts_per_specialist_week": 6,
		"days_intake_to_first_contact": 21,
	}
	for name, w := range want {
		if v := m[name]; !v.ok || v.value != w {
			t.Errorf("%s = %v (measured %v), want %v", name, v.value, v.ok, w)
		}
	}
	// Reasons come in a stable order.
	figs := m["referrals_not_taken_on_share"].figures
	if figs[len(figs)-2].Name != "reason: a" || figs[len(figs)-1].Name != "reason: b" {
		t.Errorf("reasons out of order: %v", figs)
	}
}

func TestPseudonymsAreStablePerReview(t *testing.T) {
	k1, k2 := []byte("key of review one"), []byte("key of review two")
	id := "0b8e6c1e-3f1b-4c1e-9b1e-1e2f3a4b5c6d"
	first, second := Pseudonym(k1, id), Pseudonym(append([]byte(nil), k1...), id)
	if first != second {
		t.Error("a pseudonym changed within a review")
	}
	if Pseudonym(k1, id) == Pseudonym(k2, id) {
		t.Error("the same pseudonym in two reviews links them")
	}
	if Pseudonym(k1, id) == Pseudonym(k1, "another-client") {
		t.Error("two clients share a pseudonym")
	}
}
