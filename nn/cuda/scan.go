package cuda

import "fmt"

// Dims is the shape [B, T, D] of a batch of sequences (as scan.Dims).
type Dims struct{ B, T, D int }

// Len is B·T·D.
func (d Dims) Len() int { return d.B * d.T * d.D }

// Cell selects the gates of a fused gate scan.
type Cell int

const (
	CellMinGRU        Cell = 0 // pre rows [k | u]
	CellMinLSTM       Cell = 1 // pre rows [k_f | k_i | u], normalised
	CellMinLSTMNoNorm Cell = 2
)

// Width is the number of pre-activation columns per state unit.
func (c Cell) Width() int {
	if c == CellMinGRU {
		return 2
	}
	return 3
}

// ChunkLen is the time-chunk length of the chunked scan on the device.
// Longer sequences with few channels get longer chunks (see chunking).
const ChunkLen = 64

// maxGridY is CUDA's limit on gridDim.y.
const maxGridY = 65535

// chunking returns the chunk length, chunk count and thread layout of the
// scan passes for d: x over channels, y over (sequence, chunk).
func chunking(d Dims) (chunk, chunks int, grid, block Dim3) {
	bx := 32
	for bx < d.D && bx < 128 {
		bx *= 2
	}
	by := 256 / bx
	chunk = ChunkLen
	for {
		chunks = (d.T + chunk - 1) / chunk
		if (d.B*chunks+by-1)/by <= maxGridY {
			break
		}
		chunk *= 2
	}
	grid = Dim3{(d.D + bx - 1) / bx, (d.B*chunks + by - 1) / by, 1}
	return chunk, chunks, grid, Dim3{bx, by, 1}
}

func (d Dims) check(what string, bufs ...Buf) error {
	if d.B < 0 || d.T < 0 || d.D < 0 {
		return fmt.Errorf("cuda: %s: negative dimension %v", what, d)
	}
	for _, b := range bufs {
		if b.N < d.Len() {
			return fmt.Errorf("cuda: %s: buffer of %d floats for %v", what, b.N, d)
		}
	}
	return nil
}

func (c *Ctx) scanScratch(d Dims) (prod, local, carry Buf, chunk, chunks int, grid, block Dim3) {
	chunk, chunks, grid, block = chunking(d)
	n := d.B * chunks * d.D
	all := c.Grow(&c.scanBuf, 3*n)
	if c.err != nil {
		return
	}
	return all.At(0, n), all.At(n, n), all.At(2*n, n), chunk, chunks, grid, block
}

// SetLookback selects the scan algorithm: the single-pass scan with
// decoupled look-back (true, the default: a and b cross the memory bus
// about once) or the three-pass chunked scan (false: reads a and b twice,
// no inter-block waits). Both give the same results to rounding.
func (c *Ctx) SetLookback(on bool) { c.noLookback = !on }

// lookback returns the look-back scan's scratch and launch shape for d:
// one published state and flag per (chunk, sequence, channel), a zeroed
// ticket counter, a fresh epoch.
func (c *Ctx) lookback(d Dims) (val, flag, counter Buf, epoch uint32, chunk, chunks int, grid, block Dim3) {
	bx := 32
	for bx < d.D && bx < 128 {
		bx *= 2
	}
	chunk = ChunkLen
	chunks = (d.T + chunk - 1) / chunk
	n := chunks * d.B * d.D
	all := c.Grow(&c.lbBuf, 2*n+1)
	if c.err != nil {
		return
	}
	val, flag, counter = all.At(0, n), all.At(n, n), all.At(2*n, 1)
	c.ZeroBuf(counter)
	c.epoch++
	if c.epoch == 0 { // wrapped: old flags could match; start clean
		c.ZeroBuf(flag)
		c.epoch = 1
	}
	tickets := chunks * d.B * ((d.D + bx - 1) / bx)
	return val, flag, counter, c.epoch, chunk, chunks, Dim3{tickets, 1, 1}, Dim3{bx, 1, 1}
}

func (c *Ctx) carryLaunch(kernel string, d Dims, args ...any) {
	n := d.B * d.D
	c.launch(kernel, Dim3{(n + 127) / 128, 1, 1}, Dim3{128, 1, 1}, args...)
}

// ScanForward sets h_t = a_t*h_{t-1} + b_t over [B, T, D]; h0 (B·D) may be
// the zero Buf for a zero initial state. h may alias b.
func (c *Ctx) ScanForward(h, a, b, h0 Buf, d Dims) {
	c.fail(d.check("ScanForward", h, a, b))
	if c.err != nil || d.Len() == 0 {
		return
	}
	if !c.noLookback {
		val, flag, counter, epoch, chunk, chunks, grid, block := c.lookback(d)
		c.launch("scan_fwd_lb_plain", grid, block, h, a, b, h0, val, flag, counter, epoch, d.B, d.T, d.D, chunk, chunks)
		return
	}
	prod, local, carry, chunk, chunks, grid, block := c.scanScratch(d)
	c.launch("scan_fwd_local_plain", grid, block, prod, local, a, b, d.B, d.T, d.D, chunk, chunks)
	c.carryLaunch("scan_carry_fwd", d, carry, prod, local, h0, d.B, d.D, chunks)
	c.launch("scan_fwd_apply_plain", grid, block, h, carry, a, b, d.B, d.T, d.D, chunk, chunks)
}

// ScanBackward takes dh = ∂L/∂h and the forward's a, h, h0 and sets db, da
// and, unless dh0 is the zero Buf, dh0. db may alias dh.
func (c *Ctx) ScanBackward(da, db, dh0, dh, a, h, h0 Buf, d Dims) {
	c.fail(d.check("ScanBackward", da, db, dh, a, h))
	if c.err != nil || d.Len() == 0 {
		return
	}
	if !c.noLookback {
		val, flag, counter, epoch, chunk, chunks, grid, block := c.lookback(d)
		c.launch("scan_bwd_lb_plain", grid, block, da, db, dh0, dh, a, h, h0, val, flag, counter, epoch, d.B, d.T, d.D, chunk, chunks)
		return
	}
	prod, local, carry, chunk, chunks, grid, block := c.scanScratch(d)
	c.launch("scan_bwd_local_plain", grid, block, prod, local, dh, a, d.B, d.T, d.D, chunk, chunks)
	c.carryLaunch("scan_carry_bwd", d, carry, prod, local, d.B, d.D, chunks)
	c.launch("scan_bwd_apply_plain", grid, block, da, db, dh0, carry, dh, a, h, h0, d.B, d.T, d.D, chunk, chunks)
}

// GateScanForward is a minGRU/minLSTM layer's gates and scan in one: from
// the pre-activations pre [B·T, Width·D] it computes a_t, b_t on the fly
// and writes the states h [B, T, D]; a and b are never stored. keep [B·T]
// (or the zero Buf) marks real steps; a masked step is the identity.
func (c *Ctx) GateScanForward(h, pre, keep, h0 Buf, cell Cell, d Dims) {
	c.fail(d.check("GateScanForward", h))
	if pre.N < d.Len()*cell.Width() {
		c.fail(fmt.Errorf("cuda: GateScanForward: %d pre-activations for %v", pre.N, d))
	}
	if c.err != nil || d.Len() == 0 {
		return
	}
	if !c.noLookback {
		val, flag, counter, epoch, chunk, chunks, grid, block := c.lookback(d)
		c.launch("scan_fwd_lb_gates", grid, block, h, pre, keep, int(cell), h0, val, flag, counter, epoch, d.B, d.T, d.D, chunk, chunks)
		return
	}
	prod, local, carry, chunk, chunks, grid, block := c.scanScratch(d)
	c.launch("scan_fwd_local_gates", grid, block, prod, local, pre, keep, int(cell), d.B, d.T, d.D, chunk, chunks)
	c.carryLaunch("scan_carry_fwd", d, carry, prod, local, h0, d.B, d.D, chunks)
	c.launch("scan_fwd_apply_gates", grid, block, h, carry, pre, keep, int(cell), d.B, d.T, d.D, chunk, chunks)
}

// GateScanBackward takes dh = ∂L/∂h and writes dpre, the gradient of the
// pre-activations (zero on masked steps), recomputing the gates from pre;
// dh0 as in ScanBackward.
func (c *Ctx) GateScanBackward(dpre, dh0, dh, pre, keep, h, h0 Buf, cell Cell, d Dims) {
	c.fail(d.check("GateScanBackward", dh, h))
	if pre.N < d.Len()*cell.Width() || dpre.N < d.Len()*cell.Width() {
		c.fail(fmt.Errorf("cuda: GateScanBackward: %d pre-activations, %d gradients for %v", pre.N, dpre.N, d))
	}
	if c.err != nil || d.Len() == 0 {
		return
	}
	if !c.noLookback {
		val, flag, counter, epoch, chunk, chunks, grid, block := c.lookback(d)
		c.launch("scan_bwd_lb_gates", grid, block, dpre, dh0, dh, pre, keep, int(cell), h, h0, val, flag, counter, epoch, d.B, d.T, d.D, chunk, chunks)
		return
	}
	prod, local, carry, chunk, chunks, grid, block := c.scanScratch(d)
	c.launch("scan_bwd_local_gates", grid, block, prod, local, dh, pre, keep, int(cell), d.B, d.T, d.D, chunk, chunks)
	c.carryLaunch("scan_carry_bwd", d, carry, prod, local, d.B, d.D, chunks)
	c.launch("scan_bwd_apply_gates", grid, block, dpre, dh0, carry, dh, pre, keep, int(cell), h, h0, d.B, d.T, d.D, chunk, chunks)
}

// LogScanForward is the log-space scan (the paper's form, a, b > 0):
// logh_t = log(exp(loga_t + logh_{t-1}) + exp(logb_t)); logh0 may be the
// zero Buf (h0 = 0). Sequential over T per channel: an option and an oracle.
func (c *Ctx) LogScanForward(logh, loga, logb, logh0 Buf, d Dims) {
	c.fail(d.check("LogScanForward", logh, loga, logb))
	if c.err != nil || d.Len() == 0 {
		return
	}
	c.carryLaunch("log_scan_fwd", d, logh, loga, logb, logh0, d.B, d.T, d.D)
}

// LogScanBackward takes dlogh and the forward's tensors and sets dloga,
// dlogb and, unless it is the zero Buf, dlogh0.
func (c *Ctx) LogScanBackward(dloga, dlogb, dlogh0, dlogh, loga, logb, logh, logh0 Buf, d Dims) {
	c.fail(d.check("LogScanBackward", dloga, dlogb, dlogh, loga, logb, logh))
	if c.err != nil || d.Len() == 0 {
		return
	}
	c.carryLaunch("log_scan_bwd", d, dloga, dlogb, dlogh0, dlogh, loga, logb, logh, logh0, d.B, d.T, d.D)
}
