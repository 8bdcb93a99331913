package smallgroups

import (
	"reflect"
	"testing"
)

func TestOf(t *testing.T) {
	for n, want := range map[int]Cell{0: {}, 1: {Suppressed: true}, 4: {Suppressed: true}, 5: {Count: 5}, 40: {Count: 40}} {
		if got := Of(n); got != want {
			t.Errorf("Of(%d) = %+v, want %+v", n, got, want)
		}
	}
}

func TestWithTotal(t *testing.T) {
	s := Cell{Suppressed: true}
	cases := []struct {
		counts []int
		cells  []Cell
		total  Cell
	}{
		{[]int{10, 7, 0}, []Cell{{Count: 10}, {Count: 7}, {}}, Cell{Count: 17}},
		// One small group: the smallest shown one is hidden too.
		{[]int{10, 3, 6}, []Cell{{Count: 10}, s, s}, Cell{Count: 19}},
		// Two small groups hide each other.
		{[]int{10, 3, 2}, []Cell{{Count: 10}, s, s}, Cell{Count: 15}},
		// A small total hides everything.
		{[]int{2, 1, 0}, []Cell{s, s, {}}, s},
		{[]int{0, 0}, []Cell{{}, {}}, Cell{}},
	}
	for _, c := range cases {
		cells, total := WithTotal(c.counts)
		if !reflect.DeepEqual(cells, c.cells) || total != c.total {
			t.Errorf("WithTotal(%v) = %+v, %+v; want %+v, %+v", c.counts, cells, total, c.cells, c.total)
		}
		// Whatever is shown, no shown figure is between 1 and 4.
		for _, x := range append(cells, total) {
			if !x.Suppressed && x.Count > 0 && x.Count < Minimum {
				t.Errorf("WithTotal(%v) shows a small group: %+v", c.counts, x)
			}
		}
	}
}

func FuzzWithTotal(f *testing.F) {
	f.Add(uint8(3), uint8(7), uint8(0), uint8(12))
	f.Fuzz(func(t *testing.T, a, b, c, d uint8) {
		counts := []int{int(a), int(b), int(c), int(d)}
		cells, total := WithTotal(counts)
		hidden, sum, shown := 0, 0, 0
		for i, x := range cells {
			sum += counts[i]
			if x.Suppressed {
				hidden++
				continue
			}
			if x.Count != counts[i] || x.Count > 0 && x.Count < Minimum {
				t.Fatalf("%v: cell %d shows %+v", counts, i, x)
			}
			shown += x.Count
		}
		if !total.Suppressed && hidden == 1 {
			t.Fatalf("%v: one hidden group can be derived from the total: %+v %+v", counts, cells, total)
		}
		_ = shown
		if !total.Suppressed && total.Count != sum {
			t.Fatalf("%v: total %+v", counts, total)
		}
	})
}
