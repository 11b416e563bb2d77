//go:build !openblas

package nn

var benchOnlyKernels []Gemm
