package scan

import "github.com/minrl/minrl/internal/par"

const (
	// blockD is how many channels one goroutine scans together. Whole rows
	// of a typical width (128) stream contiguously, which measured 2x the
	// bandwidth of 64-channel half rows; wider rows still split so that
	// every core gets work.
	blockD = 128
	// ChunkLen is the time-chunk length of the chunked scan. It is a
	// constant so that results never depend on the number of cores.
	ChunkLen = 512
	// minPlainItems: below this many (sequence, channel-block) work items
	// the plain scan cannot fill a many-core machine, and long sequences
	// switch to the chunked scan, which is parallel over time as well.
	minPlainItems = 8
)

// CPU is the pure-Go backend. Its zero value is not usable; call NewCPU.
// A CPU is safe for concurrent use and allocates nothing in steady state.
type CPU struct {
	jobs par.FreeList[job]
}

// NewCPU returns a CPU backend.
func NewCPU() *CPU {
	c := &CPU{}
	c.jobs.New = func() *job {
		j := new(job)
		j.fwdPlain, j.fwdReduce, j.fwdApply = j.forwardPlain, j.forwardReduce, j.forwardApply
		j.bwdPlain, j.bwdReduce, j.bwdApply = j.backwardPlain, j.backwardReduce, j.backwardApply
		j.logFwd, j.logBwd = j.logForward, j.logBackward
		return j
	}
	return c
}

// job holds one call's arguments and scratch so that parallel kernels can be
// pre-bound method values: par.For then allocates nothing.
type job struct {
	d      Dims
	nBlk   int // channel blocks per sequence
	chunks int // time chunks (chunked mode)

	// Linear form: h = a*h + b. The log form reuses them for logh, loga, logb.
	h, a, b, h0     []float32
	dh, da, db, dh0 []float32
	dlogh           []float32

	// Chunked mode: per (chunk, batch, channel) product of a and local result.
	prod, local, carry []float32

	fwdPlain, fwdReduce, fwdApply par.Func
	bwdPlain, bwdReduce, bwdApply par.Func
	logFwd, logBwd                par.Func
}

func (c *CPU) get(d Dims) *job {
	j := c.jobs.Get()
	j.d = d
	j.nBlk = (d.D + blockD - 1) / blockD
	return j
}

func (c *CPU) put(j *job) {
	j.h, j.a, j.b, j.h0, j.dh, j.da, j.db, j.dh0, j.dlogh = nil, nil, nil, nil, nil, nil, nil, nil, nil
	c.jobs.Put(j)
}

// chunked reports whether d is scanned in time chunks: few independent
// channels and a long sequence. It depends on the shape alone.
func chunked(d Dims) bool {
	items := d.B * ((d.D + blockD - 1) / blockD)
	return items < minPlainItems && d.T >= 4*ChunkLen
}

// items returns the number of (sequence, channel-block) work items and a
// grain that splits them into a fixed set of ranges.
func (j *job) items() (n, grain int) {
	n = j.d.B * j.nBlk
	return n, par.Grain(n, 1)
}

// cols maps a work item to its sequence and channel range.
func (j *job) cols(item int) (bi, d0, d1 int) {
	bi = item / j.nBlk
	d0 = (item % j.nBlk) * blockD
	return bi, d0, min(d0+blockD, j.d.D)
}

// Forward implements Backend.
func (c *CPU) Forward(h, a, b, h0 []float32, d Dims) {
	d.mustValid()
	n := d.Len()
	mustLen("h", h, n, d)
	mustLen("a", a, n, d)
	mustLen("b", b, n, d)
	mustLenOrNil("h0", h0, d.State(), d)
	if n == 0 {
		return
	}
	j := c.get(d)
	j.h, j.a, j.b, j.h0 = h, a, b, h0
	if chunked(d) {
		j.forwardChunked()
	} else {
		items, grain := j.items()
		par.For(items, grain, j.fwdPlain)
	}
	c.put(j)
}

func (j *job) forwardPlain(lo, hi int) {
	T, D := j.d.T, j.d.D
	for item := lo; item < hi; item++ {
		bi, d0, d1 := j.cols(item)
		base := bi * T * D
		var prev []float32
		if j.h0 != nil {
			prev = j.h0[bi*D+d0 : bi*D+d1]
		}
		scanRange(j.h, j.a, j.b, prev, base, 0, T, D, d0, d1)
	}
}

// scanRange runs h_t = a_t*h_{t-1} + b_t for t in [t0, t1) on channels
// [d0, d1) of the sequence starting at base, from prev (nil: zero state).
func scanRange(h, a, b, prev []float32, base, t0, t1, D, d0, d1 int) {
	w := d1 - d0
	t := t0
	if prev == nil && t < t1 {
		o := base + t*D + d0
		copy(h[o:o+w], b[o:o+w])
		prev = h[o : o+w]
		t++
	}
	for ; t < t1; t++ {
		o := base + t*D + d0
		ht, at, bt := h[o:o+w], a[o:o+w], b[o:o+w]
		prev = prev[:w]
		for k := range ht {
			ht[k] = at[k]*prev[k] + bt[k]
		}
		prev = ht
	}
}

// forwardChunked is a reduce-then-scan over time chunks: each chunk's
// product of a and its result from a zero state (parallel), then the state
// entering each chunk (sequential, tiny), then every chunk's scan from its
// entering state (parallel). The last pass is the plain recurrence, so the
// chunked result differs from the plain one only by the rounding of the
// states carried between chunks.
func (j *job) forwardChunked() {
	d := j.d
	j.chunks = (d.T + ChunkLen - 1) / ChunkLen
	j.ensureChunkScratch()
	items := d.B * j.chunks
	par.For(items, 1, j.fwdReduce)
	S := d.State()
	for c := 0; c < j.chunks; c++ {
		in := j.carry[c*S : (c+1)*S]
		switch {
		case c > 0:
			prevIn := j.carry[(c-1)*S : c*S]
			p, l := j.prod[(c-1)*S:c*S], j.local[(c-1)*S:c*S]
			for k := range in {
				in[k] = carried(p[k], prevIn[k], l[k])
			}
		case j.h0 != nil:
			copy(in, j.h0)
		default:
			clear(in)
		}
	}
	par.For(items, 1, j.fwdApply)
}

func (j *job) ensureChunkScratch() {
	n := j.chunks * j.d.State()
	if cap(j.prod) < n {
		j.prod, j.local, j.carry = make([]float32, n), make([]float32, n), make([]float32, n)
	}
	j.prod, j.local, j.carry = j.prod[:n], j.local[:n], j.carry[:n]
}

// flushTiny zeroes a chunk's running product of gates once it is below
// 2⁻¹⁰⁰ (≈8e-31). Products of hundreds of gates in (0, 1) otherwise sink
// into float32's subnormal range, where every multiply is ~100x slower;
// and a carried state scaled by such a factor is far below the rounding of
// the chunk's own result.
func flushTiny(p float32) float32 {
	if p < 0x1p-100 && p > -0x1p-100 {
		return 0
	}
	return p
}

// carried returns p·c + l, the chunk's result l plus a carry c scaled by
// the chunk's product of gates p. A zero carry adds nothing even when p
// overflowed float32 (gates above 1 for a while), where Inf·0 would be NaN
// and the plain scan gives a finite result.
func carried(p, c, l float32) float32 {
	if c == 0 {
		return l
	}
	return p*c + l
}

// chunkOf maps a chunked work item to its sequence and time range.
func (j *job) chunkOf(item int) (bi, c, t0, t1 int) {
	bi, c = item/j.chunks, item%j.chunks
	t0 = c * ChunkLen
	return bi, c, t0, min(t0+ChunkLen, j.d.T)
}

func (j *job) forwardReduce(lo, hi int) {
	T, D, S := j.d.T, j.d.D, j.d.State()
	for item := lo; item < hi; item++ {
		bi, c, t0, t1 := j.chunkOf(item)
		o := c*S + bi*D
		p, l := j.prod[o:o+D], j.local[o:o+D]
		for k := range p {
			p[k], l[k] = 1, 0
		}
		for t := t0; t < t1; t++ {
			r := (bi*T + t) * D
			at, bt := j.a[r:r+D], j.b[r:r+D]
			for k := range p {
				p[k] = flushTiny(p[k] * at[k])
				l[k] = at[k]*l[k] + bt[k]
			}
		}
	}
}

func (j *job) forwardApply(lo, hi int) {
	T, D, S := j.d.T, j.d.D, j.d.State()
	for item := lo; item < hi; item++ {
		bi, c, t0, t1 := j.chunkOf(item)
		o := c*S + bi*D
		scanRange(j.h, j.a, j.b, j.carry[o:o+D], bi*T*D, t0, t1, D, 0, D)
	}
}

// Backward implements Backend. The adjoint is the reverse recurrence
//
//	g_t = dh_t + a_{t+1} g_{t+1},  db_t = g_t,  da_t = g_t h_{t-1},  dh0 = a_0 g_0.
func (c *CPU) Backward(da, db, dh0, dh, a, h, h0 []float32, d Dims) {
	d.mustValid()
	n := d.Len()
	mustLen("da", da, n, d)
	mustLen("db", db, n, d)
	mustLen("dh", dh, n, d)
	mustLen("a", a, n, d)
	mustLen("h", h, n, d)
	mustLenOrNil("h0", h0, d.State(), d)
	mustLenOrNil("dh0", dh0, d.State(), d)
	if n == 0 {
		clear(dh0)
		return
	}
	j := c.get(d)
	j.da, j.db, j.dh0, j.dh, j.a, j.h, j.h0 = da, db, dh0, dh, a, h, h0
	if chunked(d) {
		j.backwardChunked()
	} else {
		items, grain := j.items()
		par.For(items, grain, j.bwdPlain)
	}
	c.put(j)
}

func (j *job) backwardPlain(lo, hi int) {
	for item := lo; item < hi; item++ {
		bi, d0, d1 := j.cols(item)
		j.adjointRange(bi, 0, j.d.T, d0, d1, nil)
	}
}

// adjointRange runs the reverse recurrence for t in [t1-1 .. t0] on channels
// [d0, d1) of sequence bi, in one pass: g_t = dh_t + a_{t+1} g_{t+1} into
// db, da_t = g_t h_{t-1}, and at t0 = 0 also dh0 = a_0 g_0. g_{t1} comes
// from next (nil: zero; ignored at t1 = T).
func (j *job) adjointRange(bi, t0, t1, d0, d1 int, next []float32) {
	D, T, w := j.d.D, j.d.T, d1-d0
	base := bi * T * D
	for t := t1 - 1; t >= t0; t-- {
		o := base + t*D + d0
		gt, dht, dat := j.db[o:o+w], j.dh[o:o+w], j.da[o:o+w]
		switch {
		case t == T-1 || (t == t1-1 && next == nil):
			copy(gt, dht)
		default:
			if t < t1-1 {
				next = j.db[o+D : o+D+w]
			}
			an := j.a[o+D : o+D+w]
			next = next[:w]
			for k := range gt {
				gt[k] = dht[k] + an[k]*next[k]
			}
		}
		var hp []float32
		switch {
		case t > 0:
			hp = j.h[o-D : o-D+w]
		case j.h0 != nil:
			hp = j.h0[bi*D+d0 : bi*D+d1]
		default:
			clear(dat)
			continue
		}
		hp = hp[:w]
		for k := range dat {
			dat[k] = gt[k] * hp[k]
		}
	}
	if t0 == 0 && j.dh0 != nil {
		o := base + d0
		g0, a0, out := j.db[o:o+w], j.a[o:o+w], j.dh0[bi*D+d0:bi*D+d1]
		for k := range out {
			out[k] = a0[k] * g0[k]
		}
	}
}

// backwardChunked mirrors forwardChunked in reverse time: chunk c's local
// adjoint from a zero gradient entering at its end, the gradient entering
// each chunk from the right (sequential), then every chunk's adjoint.
func (j *job) backwardChunked() {
	d := j.d
	j.chunks = (d.T + ChunkLen - 1) / ChunkLen
	j.ensureChunkScratch()
	items := d.B * j.chunks
	par.For(items, 1, j.bwdReduce)
	S := d.State()
	// carry[c] is g at the first step after chunk c (g_{t1}), zero for the last.
	for c := j.chunks - 1; c >= 0; c-- {
		out := j.carry[c*S : (c+1)*S]
		if c == j.chunks-1 {
			clear(out)
			continue
		}
		next := j.carry[(c+1)*S : (c+2)*S]
		p, l := j.prod[(c+1)*S:(c+2)*S], j.local[(c+1)*S:(c+2)*S]
		for k := range out {
			out[k] = carried(p[k], next[k], l[k])
		}
	}
	par.For(items, 1, j.bwdApply)
}

// backwardReduce: for chunk [t0, t1), local = g_{t0} with g_{t1} = 0, and
// prod = Π a_s for s in (t0, t1], the factor that carries g_{t1} to g_{t0}.
func (j *job) backwardReduce(lo, hi int) {
	T, D, S := j.d.T, j.d.D, j.d.State()
	for item := lo; item < hi; item++ {
		bi, c, t0, t1 := j.chunkOf(item)
		o := c*S + bi*D
		p, l := j.prod[o:o+D], j.local[o:o+D]
		for k := range p {
			p[k], l[k] = 1, 0
		}
		for t := t1 - 1; t >= t0; t-- {
			r := (bi*T + t) * D
			dht := j.dh[r : r+D]
			if t+1 < T {
				an := j.a[r+D : r+2*D]
				for k := range p {
					l[k] = dht[k] + an[k]*l[k]
					p[k] = flushTiny(p[k] * an[k])
				}
			} else {
				copy(l, dht)
			}
		}
	}
}

func (j *job) backwardApply(lo, hi int) {
	T, D, S := j.d.T, j.d.D, j.d.State()
	for item := lo; item < hi; item++ {
		bi, c, t0, t1 := j.chunkOf(item)
		var next []float32
		if t1 < T {
			o := c*S + bi*D
			next = j.carry[o : o+D]
		}
		j.adjointRange(bi, t0, t1, 0, D, next)
	}
}
