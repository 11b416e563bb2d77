package scan

// The sequential forms, one time step at a time: what a recurrent policy
// runs at inference (O(1) work per step). They bypass the Backend.

// Step advances one time step of every channel in place: h = a*h + b.
func Step(h, a, b []float32) {
	if len(a) != len(h) || len(b) != len(h) {
		panic("scan: Step: h, a and b differ in length")
	}
	for k := range h {
		h[k] = a[k]*h[k] + b[k]
	}
}

// LogStep advances one log-space step in place:
// logh = log(exp(loga + logh) + exp(logb)). Use −Inf for an absent state.
func LogStep(logh, loga, logb []float32) {
	if len(loga) != len(logh) || len(logb) != len(logh) {
		panic("scan: LogStep: logh, loga and logb differ in length")
	}
	for k := range logh {
		logh[k] = float32(logAddExp(float64(loga[k])+float64(logh[k]), float64(logb[k])))
	}
}
