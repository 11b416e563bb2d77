package dataset

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestFitNormalizer(t *testing.T) {
	const n, dim = 5003, 4
	rng := rand.New(rand.NewPCG(3, 4))
	rows := make([]float32, n*dim)
	for i := range n {
		rows[i*dim] = float32(rng.NormFloat64()*3 + 100)
		rows[i*dim+1] = float32(rng.Float64())
		rows[i*dim+2] = 7 // constant feature
		rows[i*dim+3] = float32(rng.ExpFloat64() * 1e-3)
	}
	nz, err := FitNormalizer(rows, dim)
	if err != nil {
		t.Fatal(err)
	}
	// Reference: Welford's one-pass update per column (a different
	// algorithm from the two passes under test).
	for j := range dim {
		mean, m2 := 0.0, 0.0
		for i := range n {
			x := float64(rows[i*dim+j])
			delta := x - mean
			mean += delta / float64(i+1)
			m2 += delta * (x - mean)
		}
		std := math.Sqrt(m2/n) + 1e-6
		if math.Abs(nz.Mean[j]-mean) > 1e-12*math.Max(1, math.Abs(mean)) {
			t.Errorf("feature %d: mean %v, want %v", j, nz.Mean[j], mean)
		}
		if math.Abs(nz.Std[j]-std) > 1e-9*std {
			t.Errorf("feature %d: std %v, want %v", j, nz.Std[j], std)
		}
	}
	if nz.Std[2] != 1e-6 || nz.Mean[2] != 7 {
		t.Errorf("constant feature: mean %v std %v, want 7 and 1e-6", nz.Mean[2], nz.Std[2])
	}
	out := make([]float32, dim)
	nz.Transform(out, rows[:dim])
	if out[2] != 0 {
		t.Errorf("constant feature normalises to %v", out[2])
	}

	if _, err := FitNormalizer(rows[:7], dim); !errors.Is(err, ErrShape) {
		t.Errorf("ragged rows: %v", err)
	}
	rows[3*dim+1] = float32(math.NaN())
	if _, err := FitNormalizer(rows, dim); !errors.Is(err, ErrNonFinite) {
		t.Errorf("NaN: %v", err)
	}
}

func TestTransform(t *testing.T) {
	nz := &Normalizer{Mean: []float64{1.5, -2, 1e3}, Std: []float64{0.5, 3, 1e-6}}
	x := []float32{2, 0, 1000.000001, -1, 4, 999.5}
	got := make([]float32, len(x))
	nz.Transform(got, x)
	got64 := make([]float64, len(x))
	x64 := make([]float64, len(x))
	for i, v := range x {
		x64[i] = float64(v)
	}
	nz.Transform64(got64, x64)
	for i, v := range x {
		j := i % 3
		want := (float64(v) - nz.Mean[j]) / nz.Std[j]
		if got[i] != float32(want) {
			t.Errorf("Transform[%d] = %v, want %v", i, got[i], float32(want))
		}
		if got64[i] != want {
			t.Errorf("Transform64[%d] = %v, want %v", i, got64[i], want)
		}
	}
	// dst may alias x.
	y := append([]float32(nil), x...)
	nz.Transform(y, y)
	if !reflect.DeepEqual(y, got) {
		t.Errorf("aliased Transform %v, want %v", y, got)
	}
	defer func() {
		if recover() == nil {
			t.Error("Transform of a partial row did not panic")
		}
	}()
	nz.Transform(make([]float32, 4), make([]float32, 4))
}

func TestNormalizerStorage(t *testing.T) {
	nz := &Normalizer{Mean: []float64{0.1, -3e7, math.Pi}, Std: []float64{1 + 1e-6, 2.5e-6, math.E}}
	js, _ := json.Marshal(nz)
	var back Normalizer
	if err := json.Unmarshal(js, &back); err != nil || !reflect.DeepEqual(&back, nz) {
		t.Fatalf("JSON round trip %+v (%v)", back, err)
	}
	bad := &Normalizer{Mean: []float64{0}, Std: []float64{0}}
	if err := bad.Check(); !errors.Is(err, ErrNonFinite) {
		t.Errorf("zero std: %v", err)
	}
}
