package authz

import "testing"

// BenchmarkCasbin measures a cold Casbin evaluation of one request, the cost
// every distinct request tuple pays once before it is memoised.
func BenchmarkCasbin(b *testing.B) {
	a, err := New()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _ := a.enforcer.Enforce("r", "uwv", "benefits_officer", "placements", "read", "involved region", "yes"); !ok {
			b.Fatal("denied")
		}
	}
}
