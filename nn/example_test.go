package nn_test

import (
	"fmt"

	"github.com/minrl/minrl/nn"
)

// A minGRU layer learns a leaky running mean of its input: Forward over
// whole sequences at once (the parallel scan), Backward with ∂L/∂y, then
// an AdamW step. Layers own their outputs and allocate nothing after the
// first step.
func ExampleMinGRU() {
	const B, T, D = 8, 32, 4
	rng := nn.NewRNG(1)
	gru := nn.NewMinGRU("gru", nn.MinRNNConfig{Dim: D}, rng)
	opt := nn.NewAdamW(gru.Params(), nn.DefaultAdamWConfig(1e-2))

	x, want, dy := nn.New(B, T, D), nn.New(B, T, D), nn.New(B, T, D)
	for i := range x.Data {
		x.Data[i] = float32(rng.Float64())
	}
	for b := range B { // want_t = 0.5·want_{t-1} + 0.5·x_t
		for t := range T {
			for d := range D {
				i := (b*T+t)*D + d
				want.Data[i] = 0.5 * x.Data[i]
				if t > 0 {
					want.Data[i] += 0.5 * want.Data[i-D]
				}
			}
		}
	}
	step := func() float64 {
		y := gru.Forward(x, nil) // h0 = 0
		var loss float64
		for i, v := range y.Data {
			e := v - want.Data[i]
			loss += float64(e * e)
			dy.Data[i] = 2 * e / float32(len(y.Data))
		}
		nn.ZeroGrads(gru)
		gru.Backward(dy)
		opt.Step(1e-2)
		return loss / float64(len(y.Data))
	}
	first := step()
	var last float64
	for range 300 {
		last = step()
	}
	fmt.Println("parameters:", nn.NumParams(gru))
	fmt.Println("loss fell tenfold:", last < first/10)
	// Output:
	// parameters: 40
	// loss fell tenfold: true
}
