//go:build openblas

package nn

import (
	"os"
	"testing"

	"golang.org/x/sys/cpu"
)

func init() { kernels = append(kernels, OpenBLAS{}) }

var benchOnlyKernels []Gemm

// Simulates the misdetection of Debian's OpenBLAS 0.3.21 on new CPUs: with
// the Prescott kernel forced, fixOpenBLASCore must put a vector kernel back
// and products must stay correct.
func TestOpenBLASMisdetectionIsRepaired(t *testing.T) {
	if !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		t.Skip("CPU without AVX2/FMA: the generic kernel is the right one")
	}
	if old, ok := os.LookupEnv("OPENBLAS_CORETYPE"); ok {
		defer os.Setenv("OPENBLAS_CORETYPE", old)
	} else {
		defer os.Unsetenv("OPENBLAS_CORETYPE")
	}
	orig := OpenBLASCore()
	if !forceOpenBLASCore("Prescott") || OpenBLASCore() != "Prescott" {
		t.Skipf("this OpenBLAS cannot re-select kernels (core %s)", OpenBLASCore())
	}
	os.Unsetenv("OPENBLAS_CORETYPE")
	fixOpenBLASCore()
	t.Logf("detected %s, forced Prescott, repaired to %s", orig, OpenBLASCore())
	if !betterCore(OpenBLASCore()) {
		t.Fatalf("after repair OpenBLAS runs %s", OpenBLASCore())
	}
	TestMatMulMatchesFloat64(t)
}
