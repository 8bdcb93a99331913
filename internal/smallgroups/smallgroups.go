// Package smallgroups hides groups of clients too small to show, so that no
// figure a decision maker sees lets anyone recognise an individual. The
// services apply it before an aggregate leaves them; the API never carries
// a small group.
package smallgroups

import "sort"

// Minimum is the smallest group shown: groups of 1 to 4 are suppressed.
const Minimum = 5

// Cell is one group's count as it may be shown.
type Cell struct {
	// Count is 0 when Suppressed.
	Count      int
	Suppressed bool
}

// Of returns one group's cell on its own (no total is shown beside it).
func Of(n int) Cell {
	if n > 0 && n < Minimum {
		return Cell{Suppressed: true}
	}
	return Cell{Count: n}
}

// WithTotal returns the cells of groups that partition a total, and the
// total's cell. Besides every group of 1 to 4 (primary suppression), when a
// suppressed group could be derived from the total and the other groups,
// the smallest shown non-empty group is suppressed too (secondary
// suppression), and a total below Minimum is suppressed as well.
func WithTotal(counts []int) (cells []Cell, total Cell) {
	cells = make([]Cell, len(counts))
	sum := 0
	hidden := 0
	for i, n := range counts {
		sum += n
		cells[i] = Of(n)
		if cells[i].Suppressed {
			hidden++
		}
	}
	total = Of(sum)
	if total.Suppressed {
		// Nothing is shown then: every non-empty group is smaller than the
		// total, so it is small too.
		for i := range cells {
			cells[i] = Of(counts[i])
		}
		return cells, total
	}
	if hidden == 1 {
		// One hidden group equals the total minus the shown ones: hide the
		// smallest shown non-empty group as well.
		order := make([]int, len(counts))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return counts[order[a]] < counts[order[b]] })
		for _, i := range order {
			if !cells[i].Suppressed && counts[i] > 0 {
				cells[i] = Cell{Suppressed: true}
				break
			}
		}
	}
	return cells, total
}
