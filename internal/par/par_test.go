package par

import (
	"runtime"
	"sync/atomic"
	"testing"
)

func TestForCoversEveryIndexOnce(t *testing.T) {
	for _, tc := range []struct{ n, grain int }{{0, 4}, {1, 1}, {7, 3}, {1000, 7}, {1 << 16, 1000}} {
		hits := make([]int32, tc.n)
		For(tc.n, tc.grain, func(lo, hi int) {
			if hi-lo > tc.grain || lo < 0 || hi > tc.n {
				t.Errorf("n=%d grain=%d: bad range [%d,%d)", tc.n, tc.grain, lo, hi)
			}
			for i := lo; i < hi; i++ {
				atomic.AddInt32(&hits[i], 1)
			}
		})
		for i, h := range hits {
			if h != 1 {
				t.Fatalf("n=%d grain=%d: index %d visited %d times", tc.n, tc.grain, i, h)
			}
		}
	}
}

func TestNestedForDoesNotDeadlock(t *testing.T) {
	var total atomic.Int64
	For(64, 1, func(lo, hi int) {
		For(100, 10, func(lo, hi int) { total.Add(int64(hi - lo)) })
	})
	if got := total.Load(); got != 6400 {
		t.Fatalf("nested total %d, want 6400", got)
	}
}

var sink atomic.Int64

func addRange(lo, hi int) { sink.Add(int64(hi - lo)) }

func TestForDoesNotAllocate(t *testing.T) {
	For(1000, 10, addRange) // start the pool
	if a := testing.AllocsPerRun(100, func() { For(1000, 10, addRange) }); a != 0 {
		t.Fatalf("For allocated %v times per call", a)
	}
}

func TestGrainIndependentOfWorkers(t *testing.T) {
	old := runtime.GOMAXPROCS(1)
	g1 := Grain(12345, 16)
	runtime.GOMAXPROCS(4)
	g4 := Grain(12345, 16)
	runtime.GOMAXPROCS(old)
	if g1 != g4 {
		t.Fatalf("Grain depends on GOMAXPROCS: %d vs %d", g1, g4)
	}
}
