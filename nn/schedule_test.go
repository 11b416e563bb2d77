package nn

import (
	"math"
	"testing"
)

func TestSchedules(t *testing.T) {
	mk := func(s Schedule, err error) Schedule {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	c := mk(Constant(3e-4))
	lw := mk(LinearWarmup(6e-4, 10))
	lw0 := mk(LinearWarmup(6e-4, 0))
	wc := mk(WarmupCosine(1e-3, 10, 110, 1e-4))
	wcFlat := mk(WarmupCosine(1e-3, 5, 5, 1e-4)) // no decay phase
	cases := []struct {
		name string
		s    Schedule
		step int
		want float64
	}{
		{"constant 0", c, 0, 3e-4},
		{"constant late", c, 1 << 30, 3e-4},
		{"warmup -1", lw, -1, 6e-4 / 10},
		{"warmup 0", lw, 0, 6e-4 / 10},
		{"warmup 4", lw, 4, 6e-4 * 5 / 10},
		{"warmup 8", lw, 8, 6e-4 * 9 / 10},
		{"warmup 9 (warmup-1)", lw, 9, 6e-4},
		{"warmup 10 (warmup)", lw, 10, 6e-4},
		{"warmup late", lw, 1000, 6e-4},
		{"no warmup 0", lw0, 0, 6e-4},
		{"cosine 0", wc, 0, 1e-3 / 10},
		{"cosine 9 (warmup-1)", wc, 9, 1e-3},
		{"cosine 10 (warmup)", wc, 10, 1e-3},
		{"cosine 60 (midpoint)", wc, 60, 1e-4 + 0.5*(1e-3-1e-4)},
		{"cosine 35 (quarter)", wc, 35, 1e-4 + 0.5*(1e-3-1e-4)*(1+math.Sqrt(0.5))},
		{"cosine 109 (total-1)", wc, 109, 1e-4 + 0.5*(1e-3-1e-4)*(1+math.Cos(math.Pi*99/100))},
		{"cosine 110 (total)", wc, 110, 1e-4},
		{"cosine late", wc, 5000, 1e-4},
		{"flat 4", wcFlat, 4, 1e-3},
		{"flat 5", wcFlat, 5, 1e-4},
	}
	for _, tc := range cases {
		if got := tc.s.LR(tc.step); math.Abs(got-tc.want) > 1e-15 {
			t.Errorf("%s: LR(%d) = %.17g, want %.17g", tc.name, tc.step, got, tc.want)
		}
	}
	// The cosine phase decreases monotonically.
	for s := 10; s < 110; s++ {
		if wc.LR(s+1) > wc.LR(s) {
			t.Fatalf("cosine LR rises from step %d to %d", s, s+1)
		}
	}
}

func TestScheduleErrors(t *testing.T) {
	bad := map[string]func() (Schedule, error){
		"constant 0":        func() (Schedule, error) { return Constant(0) },
		"constant negative": func() (Schedule, error) { return Constant(-1e-3) },
		"constant NaN":      func() (Schedule, error) { return Constant(math.NaN()) },
		"constant Inf":      func() (Schedule, error) { return Constant(math.Inf(1)) },
		"warmup lr":         func() (Schedule, error) { return LinearWarmup(0, 10) },
		"warmup steps":      func() (Schedule, error) { return LinearWarmup(1e-3, -1) },
		"cosine lr":         func() (Schedule, error) { return WarmupCosine(-1, 1, 10, 0) },
		"cosine warmup":     func() (Schedule, error) { return WarmupCosine(1e-3, -1, 10, 0) },
		"cosine total 0":    func() (Schedule, error) { return WarmupCosine(1e-3, 0, 0, 0) },
		"total < warmup":    func() (Schedule, error) { return WarmupCosine(1e-3, 10, 9, 0) },
		"min negative":      func() (Schedule, error) { return WarmupCosine(1e-3, 1, 10, -1e-5) },
		"min above base":    func() (Schedule, error) { return WarmupCosine(1e-3, 1, 10, 2e-3) },
		"min NaN":           func() (Schedule, error) { return WarmupCosine(1e-3, 1, 10, math.NaN()) },
	}
	for name, f := range bad {
		if s, err := f(); err == nil || s != nil {
			t.Errorf("%s: got (%v, %v), want an error", name, s, err)
		}
	}
}
