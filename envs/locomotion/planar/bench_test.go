package planar

import (
	"math/rand/v2"
	"testing"

	"github.com/minrl/minrl/envs"
)

// benchStep steps a registered env with uniform random actions (drawn
// ahead of time), resetting at the end of each episode.
func benchStep(b *testing.B, id string) {
	e, err := envs.Make(id)
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	rng := rand.New(rand.NewPCG(1, 1))
	dim := e.ActionSpace().Dim()
	acts := make([][]float64, 1024)
	for i := range acts {
		acts[i] = make([]float64, dim)
		for j := range acts[i] {
			acts[i][j] = 2*rng.Float64() - 1
		}
	}
	if _, _, err := e.Reset(envs.WithSeed(1)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r, err := e.Step(acts[i%len(acts)])
		if err != nil {
			b.Fatal(err)
		}
		if r.Done() {
			if _, _, err := e.Reset(envs.NoSeed); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "steps/s")
}

func BenchmarkStep(b *testing.B) {
	for _, id := range []string{"minrl/Hopper-v0", "minrl/Walker2d-v0", "minrl/HalfCheetah-v0"} {
		b.Run(id[6:len(id)-3], func(b *testing.B) { benchStep(b, id) })
	}
}
