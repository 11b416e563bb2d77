// Package nn holds minrl's tensors, matrix-product backends, layers with
// explicit forward and backward passes, initialisers and optimisers.
//
// Conventions:
//   - Tensors are dense row-major float32. A sequence batch is [B, T, D].
//   - A layer owns its parameters, gradients and scratch. Forward returns a
//     tensor the layer owns, valid until its next Forward; Backward takes
//     ∂L/∂output, adds the parameter gradients to Param.Grad and returns
//     ∂L/∂input (also layer-owned). The input given to Forward must be left
//     unchanged until Backward: layers keep a reference, not a copy.
//   - After the first step of a given shape, Forward and Backward allocate
//     nothing.
//   - Every random choice (initialisation, dropout) comes from a seeded
//     generator, and every reduction has a fixed order, so results do not
//     depend on GOMAXPROCS.
//   - Matrix products go through MatMul, which parallelises the installed
//     Gemm kernel: VekGemm (pure Go, default) or OpenBLAS (build tag
//     openblas).
//   - Wrong shapes are programmer errors and panic with a message that names
//     the layer and the shapes.
package nn
