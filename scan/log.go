package scan

import (
	"math"

	"github.com/minrl/minrl/internal/par"
)

// LogChunk is how many steps the log-space scan runs before it restarts its
// prefix sum a* from the carried log h. Heinsen's form computes
// log h_t = a*_t + LSE_j(log b_j − a*_j); without restarts a* grows linearly
// with t (≈ −0.7 per step for gates near ½) and the final subtraction of two
// large numbers loses precision.
const LogChunk = 256

// LogForward implements Backend: the Heinsen log-space scan, accumulated in
// float64 and restarted every LogChunk steps from the carried log h.
func (c *CPU) LogForward(logh, loga, logb, logh0 []float32, d Dims) {
	d.mustValid()
	n := d.Len()
	mustLen("logh", logh, n, d)
	mustLen("loga", loga, n, d)
	mustLen("logb", logb, n, d)
	mustLenOrNil("logh0", logh0, d.State(), d)
	if n == 0 {
		return
	}
	j := c.get(d)
	j.h, j.a, j.b, j.h0 = logh, loga, logb, logh0
	items, grain := j.items()
	par.For(items, grain, j.logFwd)
	c.put(j)
}

func (j *job) logForward(lo, hi int) {
	T, D := j.d.T, j.d.D
	var astar, run [blockD]float64
	for item := lo; item < hi; item++ {
		bi, d0, d1 := j.cols(item)
		w := d1 - d0
		base := bi * T * D
		for t := 0; t < T; t++ {
			o := base + t*D + d0
			if t%LogChunk == 0 {
				// Restart: the carried state is the step-0 term, a* = 0.
				for k := 0; k < w; k++ {
					astar[k] = 0
					switch {
					case t > 0:
						run[k] = float64(j.h[o-D+k])
					case j.h0 != nil:
						run[k] = float64(j.h0[bi*D+d0+k])
					default:
						run[k] = math.Inf(-1)
					}
				}
			}
			la, lb, lh := j.a[o:o+w], j.b[o:o+w], j.h[o:o+w]
			for k := range lh {
				astar[k] += float64(la[k])
				run[k] = logAddExp(run[k], float64(lb[k])-astar[k])
				lh[k] = float32(astar[k] + run[k])
			}
		}
	}
}

// logAddExp returns log(exp(p) + exp(q)) without overflow, exact when one
// side is −∞ (an absent initial state).
func logAddExp(p, q float64) float64 {
	if p < q {
		p, q = q, p
	}
	if math.IsInf(q, -1) {
		return p
	}
	return p + math.Log1p(math.Exp(q-p))
}

// LogBackward implements Backend. With w_t = exp(loga_t + logh_{t-1} − logh_t),
// the share of h_t that comes from h_{t-1}, the adjoint g of log h is
//
//	g_t = dlogh_t + w_{t+1} g_{t+1},  dloga_t = w_t g_t,
//	dlogb_t = exp(logb_t − logh_t) g_t,  dlogh0 = w_0 g_0,
//
// so dloga_t is also the term g_{t-1} receives from g_t.
func (c *CPU) LogBackward(dloga, dlogb, dlogh0, dlogh, loga, logb, logh, logh0 []float32, d Dims) {
	d.mustValid()
	n := d.Len()
	mustLen("dloga", dloga, n, d)
	mustLen("dlogb", dlogb, n, d)
	mustLen("dlogh", dlogh, n, d)
	mustLen("loga", loga, n, d)
	mustLen("logb", logb, n, d)
	mustLen("logh", logh, n, d)
	mustLenOrNil("logh0", logh0, d.State(), d)
	mustLenOrNil("dlogh0", dlogh0, d.State(), d)
	if n == 0 {
		clear(dlogh0)
		return
	}
	j := c.get(d)
	j.da, j.db, j.dh0, j.dlogh = dloga, dlogb, dlogh0, dlogh
	j.a, j.b, j.h, j.h0 = loga, logb, logh, logh0
	items, grain := j.items()
	par.For(items, grain, j.logBwd)
	c.put(j)
}

func (j *job) logBackward(lo, hi int) {
	T, D := j.d.T, j.d.D
	var carry [blockD]float64
	for item := lo; item < hi; item++ {
		bi, d0, d1 := j.cols(item)
		w := d1 - d0
		base := bi * T * D
		for k := 0; k < w; k++ {
			carry[k] = 0
		}
		for t := T - 1; t >= 0; t-- {
			o := base + t*D + d0
			la, lb, lh, g := j.a[o:o+w], j.b[o:o+w], j.h[o:o+w], j.dlogh[o:o+w]
			dla, dlb := j.da[o:o+w], j.db[o:o+w]
			var prev []float32
			switch {
			case t > 0:
				prev = j.h[o-D : o-D+w]
			case j.h0 != nil:
				prev = j.h0[bi*D+d0 : bi*D+d1]
			}
			for k := range dla {
				gt := float64(g[k]) + carry[k]
				lht := float64(lh[k])
				wt := 0.0
				if prev != nil {
					wt = math.Exp(float64(la[k]) + float64(prev[k]) - lht)
				}
				dlb[k] = float32(gt * math.Exp(float64(lb[k])-lht))
				carry[k] = gt * wt
				dla[k] = float32(carry[k])
			}
		}
		if j.dh0 != nil {
			out := j.dh0[bi*D+d0 : bi*D+d1]
			for k := range out {
				out[k] = float32(carry[k])
			}
		}
	}
}
