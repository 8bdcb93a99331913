package app

import (
	"testing"
	"time"

	"github.com/ipsbridge/ipsbridge/internal/smallgroups"
	"github.com/ipsbridge/ipsbridge/services/employment/store"
)

func d(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }

func TestOutcomesSuppressSmallGroups(t *testing.T) {
	today := d("2026-06-15")
	var jobs []store.JobSpan
	// Six jobs started in January, all still held; two in March, one ended.
	for range 6 {
		jobs = append(jobs, store.JobSpan{Start: d("2026-01-10")})
	}
	jobs = append(jobs, store.JobSpan{Start: d("2026-03-01")}, store.JobSpan{Start: d("2026-03-02"), End: d("2026-03-20")})
	var intakes []store.IntakeContact
	for range 6 {
		intakes = append(intakes, store.IntakeContact{Intake: d("2026-02-01"), FirstContact: d("2026-02-05")})
	}
	intakes = append(intakes, store.IntakeContact{Intake: d("2026-02-01"), FirstContact: d("2026-03-20")}, store.IntakeContact{Intake: d("2026-05-01")})

	o := Outcomes(jobs, intakes, d("2026-01-01"), 6, today)
	if len(o.JobStartsPerMonth) != 6 || o.JobStartsPerMonth[0].Month != "2026-01" || o.JobStartsPerMonth[5].Month != "2026-06" {
		t.Fatalf("months: %+v", o.JobStartsPerMonth)
	}
	if got := o.JobStartsPerMonth[0].JobStarts; got != (smallgroups.Cell{Count: 6}) {
		t.Errorf("January: %+v", got)
	}
	if got := o.JobStartsPerMonth[2].JobStarts; !got.Suppressed {
		t.Errorf("March's 2 job starts shown: %+v", got)
	}
	// 6 within a week, 1 after 47 days, 1 without contact: the small
	// groups are hidden, and so is the week, since it would give them away.
	for _, b := range o.IntakeToContact {
		if !b.Clients.Suppressed && b.Clients.Count > 0 && b.Clients.Count < smallgroups.Minimum {
			t.Errorf("bucket %d-%d shows %d", b.Min, b.Max, b.Clients.Count)
		}
	}
	if !o.NoContactYet.Suppressed || !o.IntakeToContact[2].Clients.Suppressed {
		t.Errorf("small groups shown: %+v %+v", o.NoContactYet, o.IntakeToContact)
	}
	if !o.HasMedian || o.MedianDays != 4 {
		t.Errorf("median %v %v, want 4 days", o.HasMedian, o.MedianDays)
	}
	// Three months on: 8 jobs, 7 kept; the share would tell that exactly
	// one job was lost, so it is not shown.
	r3 := o.Retention[0]
	if r3.Months != 3 || r3.JobStarts.Count != 8 || r3.HasShare || !r3.Retained.Suppressed {
		t.Errorf("3-month retention: %+v", r3)
	}
	// Without the lost job the share is shown.
	o = Outcomes(jobs[:7], intakes, d("2026-01-01"), 6, today)
	if r3 := o.Retention[0]; !r3.HasShare || r3.Share != 1 || r3.Retained.Count != 7 {
		t.Errorf("3-month retention, none lost: %+v", r3)
	}
	if r6 := o.Retention[1]; r6.JobStarts.Count != 0 || r6.HasShare {
		t.Errorf("6-month retention: %+v", r6)
	}
}
