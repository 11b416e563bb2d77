// Package kernels holds minrl's CUDA kernels: the CUDA C source
// (minrl.cu), the PTX that `go generate` makes from it (embedded, loaded by
// the driver at run time: nothing compiles or downloads then), and a CPU
// emulator that runs the same source, one CUDA thread at a time, so that
// the code driving the kernels is tested without a GPU.
package kernels

import _ "embed"

// The PTX targets compute_80 (Ampere and later): the driver JIT-compiles it
// for the GPU it runs on. Regenerate with `go generate ./nn/cuda/kernels`
// after sourcing scripts/cuda_toolchain.sh --env (Debian's CUDA 11.8 nvcc);
// CI checks that the committed PTX is what the source makes.
//
//go:generate sh -c "nvcc -ptx -arch=compute_80 -allow-unsupported-compiler -o minrl.ptx minrl.cu"

// PTX is the compiled module.
//
//go:embed minrl.ptx
var PTX string

// Source is the CUDA C source the PTX and the emulator were built from.
//
//go:embed minrl.cu
var Source string
