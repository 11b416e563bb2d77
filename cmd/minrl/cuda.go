//go:build cuda

package main

// A -tags cuda build links the CUDA driver (gorgonia.org/cu): --device cuda
// then works, and the binary needs an NVIDIA driver to start at all.
import _ "github.com/minrl/minrl/nn/cuda/driver"
