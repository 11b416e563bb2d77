// Package cudatest gives tests a cuda.Device: the GPU in binaries built with
// -tags cuda, else the CPU emulator (which needs cgo; without cgo the tests
// that need a device are skipped).
package cudatest

import "math"

// RelErr is ‖got − want‖ / ‖want‖ in float64 (‖got − want‖ when want is
// zero; +Inf when the lengths differ): the error measure of the device
// tests.
func RelErr(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var d, n float64
	for i := range want {
		e := float64(got[i]) - float64(want[i])
		d += e * e
		n += float64(want[i]) * float64(want[i])
	}
	if n == 0 {
		return math.Sqrt(d)
	}
	return math.Sqrt(d / n)
}
