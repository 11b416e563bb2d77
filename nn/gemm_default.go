//go:build !openblas

package nn

func defaultGemm() Gemm { return VekGemm{} }
