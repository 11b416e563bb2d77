// Package scanop exposes minrl's linear recurrence
//
//	h_t = a_t ⊙ h_{t-1} + b_t,   t = 0..T-1,   h_{-1} = h0 (zero for Scan)
//
// as a gorgonia (gorgonia.org/gorgonia v0.9) operation, so that a gorgonia
// graph can run a minGRU/minLSTM-style scan over a whole sequence in one node
// instead of T unrolled steps. a, b and h are tensors of shape [B, T, D]
// (element (b, t, d) at (b*T+t)*D+d) and h0 is [B, D], all Float32 or all
// Float64.
//
// Float32 runs package scan's parallel CPU code (scan.Forward, and
// scan.Backward for the gradient); Float64 runs a plain sequential loop.
// The op supports symbolic differentiation: gorgonia.Grad builds the
// gradient from helper ops,
//
//	g_t = dh_t + a_{t+1} ⊙ g_{t+1},  ∂L/∂b_t = g_t,  ∂L/∂a_t = g_t ⊙ h_{t-1},  ∂L/∂h0 = a_0 ⊙ g_0,
//
// and a TapeMachine runs it. Only first derivatives are available (the
// helper ops are not differentiable themselves), and the LispMachine's
// automatic differentiation is not supported. Inputs that are views
// (slices, transposes) are copied to row-major order before the scan.
//
// Usage (see ExampleScan):
//
//	g := gorgonia.NewGraph()
//	a := gorgonia.NewTensor(g, tensor.Float32, 3, gorgonia.WithShape(B, T, D), gorgonia.WithName("a"))
//	b := gorgonia.NewTensor(g, tensor.Float32, 3, gorgonia.WithShape(B, T, D), gorgonia.WithName("b"))
//	h, _ := scanop.Scan(a, b)                 // or scanop.ScanFrom(a, b, h0)
//	loss := gorgonia.Must(gorgonia.Sum(h))
//	grads, _ := gorgonia.Grad(loss, a, b)     // ∂loss/∂a, ∂loss/∂b
//	m := gorgonia.NewTapeMachine(g)
//	defer m.Close()
//	// bind values with gorgonia.Let, then m.RunAll(); read h.Value(), grads[i].Value()
//
// Licence: gorgonia is distributed under a variant of the Apache 2.0
// licence that restricts direct commercial use by non-contributors. This
// package is therefore kept apart from the rest of minrl: no other
// non-test package imports it or gorgonia, so programs that use minrl
// without importing scanop never link gorgonia. Check gorgonia's licence
// before you import this package.
package scanop
