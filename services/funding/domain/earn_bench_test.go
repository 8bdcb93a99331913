package domain

import (
	"fmt"
	"testing"
)

// BenchmarkDeriveClaim derives a claim of 1000 running trajectories, each
// with three jobs and four changes of hours, against earlier lines: the
// work a CreateClaim does after it has the work histories.
func BenchmarkDeriveClaim(b *testing.B) {
	type traj struct {
		a     Application
		work  []Work
		prior []Line
	}
	var ts []traj
	for i := range 1000 {
		a := running()
		a.ID, a.ClientID = fmt.Sprint("a", i), fmt.Sprint("c", i)
		var work []Work
		for j := range 3 {
			start := d("2027-02-01").AddDate(0, 4*j, 0)
			work = append(work, Work{PlacementID: fmt.Sprint("p", i, j), Start: start, End: start.AddDate(0, 3, 20),
				Hours: []HoursFrom{{start, 16}, {start.AddDate(0, 1, 0), 20}, {start.AddDate(0, 2, 0), 12}, {start.AddDate(0, 2, 15), 24}}})
		}
		prior := Derive(a, Earn(a, schedule, work, d("2027-03-31")), nil, d("2027-03-31"))
		for k := range prior {
			prior[k].ID, prior[k].State = fmt.Sprint(a.ID, k), Accepted
		}
		ts = append(ts, traj{a, work, prior})
	}
	b.ResetTimer()
	for b.Loop() {
		n := 0
		for _, t := range ts {
			n += len(Derive(t.a, Earn(t.a, schedule, t.work, d("2028-06-30")), t.prior, d("2028-06-30")))
		}
		if n == 0 {
			b.Fatal("no lines")
		}
	}
}
