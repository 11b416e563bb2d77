package scan

import "fmt"

// Dims is the shape [B, T, D] of a batch of sequences.
type Dims struct{ B, T, D int }

// Len is the number of elements, B*T*D.
func (d Dims) Len() int { return d.B * d.T * d.D }

// State is the number of elements in one time step of all sequences, B*D.
func (d Dims) State() int { return d.B * d.D }

func (d Dims) String() string { return fmt.Sprintf("[B=%d T=%d D=%d]", d.B, d.T, d.D) }

// Backend computes the recurrence. Every method must give the results the
// package documentation defines, for any Dims; see the CPU backend.
type Backend interface {
	// Forward sets h_t = a_t*h_{t-1} + b_t. h0 has B*D elements or is nil
	// (zero initial state). h may alias b.
	Forward(h, a, b, h0 []float32, d Dims)
	// Backward takes dh = ∂L/∂h (the direct gradient of every h_t) and the
	// forward's a, h and h0, and sets db = ∂L/∂b, da = ∂L/∂a and, when dh0 is
	// not nil, dh0 = ∂L/∂h0. db may alias dh; da and db must not alias a or h.
	Backward(da, db, dh0, dh, a, h, h0 []float32, d Dims)
	// LogForward sets logh_t = log(exp(loga_t + logh_{t-1}) + exp(logb_t)),
	// the log of the recurrence for positive a, b. logh0 is nil for h0 = 0.
	LogForward(logh, loga, logb, logh0 []float32, d Dims)
	// LogBackward takes dlogh = ∂L/∂logh and the forward's inputs and output,
	// and sets dloga, dlogb and, when dlogh0 is not nil, dlogh0.
	LogBackward(dloga, dlogb, dlogh0, dlogh, loga, logb, logh, logh0 []float32, d Dims)
}

var backend Backend = NewCPU()

// Use installs b as the backend of the package-level functions and returns
// the previous one. It is not safe to call while scans are running.
func Use(b Backend) Backend {
	old := backend
	backend = b
	return old
}

// Forward runs the installed backend's Forward.
func Forward(h, a, b, h0 []float32, d Dims) { backend.Forward(h, a, b, h0, d) }

// Backward runs the installed backend's Backward.
func Backward(da, db, dh0, dh, a, h, h0 []float32, d Dims) {
	backend.Backward(da, db, dh0, dh, a, h, h0, d)
}

// LogForward runs the installed backend's LogForward.
func LogForward(logh, loga, logb, logh0 []float32, d Dims) {
	backend.LogForward(logh, loga, logb, logh0, d)
}

// LogBackward runs the installed backend's LogBackward.
func LogBackward(dloga, dlogb, dlogh0, dlogh, loga, logb, logh, logh0 []float32, d Dims) {
	backend.LogBackward(dloga, dlogb, dlogh0, dlogh, loga, logb, logh, logh0, d)
}

func mustLen(name string, s []float32, n int, d Dims) {
	if len(s) != n {
		panic(fmt.Sprintf("scan: %s has %d elements, want %d for %v", name, len(s), n, d))
	}
}

func mustLenOrNil(name string, s []float32, n int, d Dims) {
	if s != nil {
		mustLen(name, s, n, d)
	}
}

func (d Dims) mustValid() {
	if d.B < 0 || d.T < 0 || d.D < 0 {
		panic(fmt.Sprintf("scan: negative dimension %v", d))
	}
}
