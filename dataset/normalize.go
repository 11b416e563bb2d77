package dataset

import (
	"fmt"
	"math"
)

// NormEps is added to the standard deviation, as the Decision Transformer
// does (state_std = np.std(states) + 1e-6).
const NormEps = 1e-6

// Normalizer standardises states: (s − Mean) / Std, per feature.
//
// Std is the population standard deviation plus NormEps, the Decision
// Transformer's statistics (it uses np.std, ddof 0). A constant feature
// gets Std = 1e-6 and normalises to 0. (sklearn's StandardScaler would
// instead replace a zero variance by a scale of 1; see FitNormalizer for
// why that package is not used.)
type Normalizer struct {
	Mean []float64 `json:"mean"`
	Std  []float64 `json:"std"`
}

// FitNormalizer fits per-feature statistics to rows of width dim, in two
// float64 passes (mean, then squared deviations from it). The Decision
// Transformer computes the same statistics with numpy in float32, so its
// values can differ in the 7th significant digit. (Why not a library's
// scaler: docs/design.md, Datasets.)
func FitNormalizer(rows []float32, dim int) (*Normalizer, error) {
	if dim <= 0 || len(rows)%dim != 0 {
		return nil, fmt.Errorf("%w: %d values are not rows of width %d", ErrShape, len(rows), dim)
	}
	n := len(rows) / dim
	if n == 0 {
		return nil, fmt.Errorf("%w: no rows to fit a normaliser to", ErrShape)
	}
	if err := CheckFinite("observations", rows, dim); err != nil {
		return nil, err
	}
	nz := &Normalizer{Mean: make([]float64, dim), Std: make([]float64, dim)}
	for r := 0; r < len(rows); r += dim {
		for j, v := range rows[r : r+dim] {
			nz.Mean[j] += float64(v)
		}
	}
	for j := range nz.Mean {
		nz.Mean[j] /= float64(n)
	}
	for r := 0; r < len(rows); r += dim {
		for j, v := range rows[r : r+dim] {
			d := float64(v) - nz.Mean[j]
			nz.Std[j] += d * d
		}
	}
	for j := range nz.Std {
		nz.Std[j] = math.Sqrt(nz.Std[j]/float64(n)) + NormEps
	}
	return nz, nil
}

// FitNormalizer fits a Normalizer to all observations of the dataset.
func (d *Dataset) FitNormalizer() (*Normalizer, error) {
	return FitNormalizer(d.Observations, d.ObsDim)
}

// Dim returns the number of features.
func (n *Normalizer) Dim() int { return len(n.Mean) }

// Check verifies that Mean and Std have the same length and that every
// Std is positive and finite.
func (n *Normalizer) Check() error { return n.Validate(len(n.Mean)) }

// Validate checks the statistics against a state size: dim means and dim
// positive, finite stds. Empty statistics are the identity and fit any
// size.
func (n *Normalizer) Validate(dim int) error {
	if len(n.Mean) == 0 && len(n.Std) == 0 {
		return nil
	}
	if len(n.Mean) != dim || len(n.Std) != dim {
		return fmt.Errorf("%w: normaliser has %d means and %d stds, want %d each", ErrShape, len(n.Mean), len(n.Std), dim)
	}
	for j := range n.Mean {
		if math.IsNaN(n.Mean[j]) || math.IsInf(n.Mean[j], 0) {
			return fmt.Errorf("%w: normaliser mean %d is %g", ErrNonFinite, j, n.Mean[j])
		}
		if !(n.Std[j] > 0) || math.IsInf(n.Std[j], 0) {
			return fmt.Errorf("%w: normaliser std %d is %g, want positive and finite", ErrNonFinite, j, n.Std[j])
		}
	}
	return nil
}

// Apply writes the normalised observation (float64, as environments give
// it) into dst as float32; empty statistics copy it unchanged. An
// observation of several rows is normalised row by row.
func (n *Normalizer) Apply(dst []float32, obs []float64) {
	if len(n.Mean) == 0 {
		for i, v := range obs {
			dst[i] = float32(v)
		}
		return
	}
	d := len(n.Mean)
	for i, v := range obs {
		dst[i] = float32((v - n.Mean[i%d]) / n.Std[i%d])
	}
}

// Transform writes (x − Mean) / Std into dst for every row of x; len(x)
// must be a multiple of Dim and dst as long as x (dst may alias x). The
// arithmetic is float64, rounded once.
func (n *Normalizer) Transform(dst, x []float32) {
	d := n.mustRows(len(dst), len(x))
	for r := 0; r < len(x); r += d {
		for j, v := range x[r : r+d] {
			dst[r+j] = float32((float64(v) - n.Mean[j]) / n.Std[j])
		}
	}
}

// Transform64 is Transform for float64 rows.
func (n *Normalizer) Transform64(dst, x []float64) {
	d := n.mustRows(len(dst), len(x))
	for r := 0; r < len(x); r += d {
		for j, v := range x[r : r+d] {
			dst[r+j] = (v - n.Mean[j]) / n.Std[j]
		}
	}
}

func (n *Normalizer) mustRows(ld, lx int) int {
	d := len(n.Mean)
	if d == 0 || lx%d != 0 || ld != lx {
		panic(fmt.Sprintf("dataset: Normalizer.Transform: dst %d, x %d values for %d features", ld, lx, d))
	}
	return d
}
