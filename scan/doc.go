// Package scan computes the first-order linear recurrence at the heart of
// minGRU and minLSTM,
//
//	h_t = a_t ⊙ h_{t-1} + b_t,   t = 0..T-1,   h_{-1} = h0 (zero when h0 is nil),
//
// and its gradient, over float32 tensors of shape [B, T, D] stored row-major
// (time-major within each batch row: element (b, t, d) is at (b*T+t)*D+d).
//
// Forward and Backward are the linear-space form: sequential over T and
// parallel over the B·D independent channels, with a chunked two-pass scan
// that is also parallel over T when B·D is too small to keep the cores busy
// and T is long (inference on one long sequence). On a CPU this form is both
// the fastest and the most accurate.
//
// LogForward and LogBackward are the paper's log-space (Heinsen) form for
// a_t > 0 and b_t > 0: log h_t = a*_t + logcumsumexp_j(log b_j − a*_j) with
// a*_t = Σ log a. It is restarted every LogChunk steps from the carried log h,
// as the paper's authors recommend, so that a* stays small and T=100000 steps
// neither overflow nor lose precision. It serves as the paper-faithful option
// and as an oracle for the linear form.
//
// Step and LogStep advance one time step for inference: the caller owns the
// state, and the work per step is O(D), independent of how many steps came
// before.
//
// All work goes through a Backend. The CPU backend is the default; a GPU
// backend can be installed with Use without changing any caller. Results
// depend only on the inputs and shapes, never on GOMAXPROCS: every element is
// computed by one goroutine in a fixed order, and chunk sizes are constants.
//
// Shape mismatches are programmer errors and panic, as in gonum.
package scan
