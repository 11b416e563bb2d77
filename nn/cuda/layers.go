package cuda

import (
	"fmt"

	"github.com/minrl/minrl/nn"
)

// Param is a parameter's value and gradient on the device: views into a
// Params block.
type Param struct {
	Host        *nn.Param
	Value, Grad Buf
}

// Params holds a model's parameters, gradients and AdamW moments as four
// flat device arrays, in the order of the host model's Params (the order of
// nn.AdamW's flat moment vectors), so that the optimiser and the gradient
// norm each run as one kernel over everything.
type Params struct {
	List       []Param
	W, G, M, V Buf
	noDecay    Ptr // one byte per element
	byHost     map[*nn.Param]Param
	n          int
}

// NewParams allocates the device copies of ps and uploads their values.
func (c *Ctx) NewParams(ps []*nn.Param) *Params {
	p := &Params{byHost: make(map[*nn.Param]Param, len(ps))}
	for _, q := range ps {
		p.n += q.Value.Len()
	}
	p.W, p.G, p.M, p.V = c.Floats(p.n), c.Floats(p.n), c.Floats(p.n), c.Floats(p.n)
	p.noDecay = c.raw((p.n + 3) &^ 3)
	flags := make([]byte, (p.n+3)&^3)
	off := 0
	for _, q := range ps {
		n := q.Value.Len()
		dp := Param{Host: q, Value: p.W.At(off, n), Grad: p.G.At(off, n)}
		p.List = append(p.List, dp)
		p.byHost[q] = dp
		if q.NoDecay {
			for i := off; i < off+n; i++ {
				flags[i] = 1
			}
		}
		off += n
	}
	if c.err == nil && len(flags) > 0 {
		c.fail(c.Dev.CopyToDevice(p.noDecay, ptrOf(flags), len(flags)))
	}
	c.UploadValues(p)
	return p
}

// Of returns the device copy of a host parameter; it panics for one not in
// the set (a programming error).
func (p *Params) Of(q *nn.Param) Param {
	d, ok := p.byHost[q]
	if !ok {
		panic(fmt.Sprintf("cuda: parameter %s is not on the device", q.Name))
	}
	return d
}

// Len is the number of parameter elements.
func (p *Params) Len() int { return p.n }

// UploadValues copies every host value to the device.
func (c *Ctx) UploadValues(p *Params) {
	for _, q := range p.List {
		c.Upload(q.Value, q.Host.Value.Data)
	}
}

// DownloadValues copies every device value into its host parameter.
func (c *Ctx) DownloadValues(p *Params) {
	for _, q := range p.List {
		c.Download(q.Host.Value.Data, q.Value)
	}
}

// DownloadGrads copies every device gradient into its host parameter.
func (c *Ctx) DownloadGrads(p *Params) {
	for _, q := range p.List {
		c.Download(q.Host.Grad.Data, q.Grad)
	}
}

// ---- Linear ----

// Linear is nn.Linear on the device: y = x·W + b, W [In, Out].
type Linear struct {
	In, Out int
	W, B    *Param // B nil without bias
	x       Buf
	rows    int
	y, dx   Buf
}

// NewLinear mirrors l with its parameters in p.
func NewLinear(l *nn.Linear, p *Params) *Linear {
	d := &Linear{In: l.In, Out: l.Out}
	w := p.Of(l.W)
	d.W = &w
	if l.B != nil {
		b := p.Of(l.B)
		d.B = &b
	}
	return d
}

// Forward returns y [rows, Out] for x [rows, In] (layer-owned).
func (l *Linear) Forward(c *Ctx, x Buf, rows int) Buf {
	l.x, l.rows = x, rows
	y := c.Grow(&l.y, rows*l.Out)
	beta := float32(0)
	if l.B != nil {
		c.elems("fill_rows_bias", y.N, y, l.B.Value, int64(y.N), l.Out)
		beta = 1
	}
	c.Gemm(false, false, rows, l.Out, l.In, 1, x, l.In, l.W.Value, l.Out, beta, y, l.Out)
	return y
}

// Backward adds dW, db and returns dx [rows, In].
func (l *Linear) Backward(c *Ctx, dy Buf) Buf {
	c.Gemm(true, false, l.In, l.Out, l.rows, 1, l.x, l.In, dy, l.Out, 1, l.W.Grad, l.Out)
	if l.B != nil {
		c.AddColSums(l.B.Grad, dy, Buf{}, l.rows, l.Out)
	}
	dx := c.Grow(&l.dx, l.rows*l.In)
	c.Gemm(false, true, l.rows, l.In, l.Out, 1, dy, l.Out, l.W.Value, l.Out, 0, dx, l.In)
	return dx
}

// ---- LayerNorm ----

// LayerNorm is nn.LayerNorm on the device.
type LayerNorm struct {
	Dim        int
	Eps        float64
	G, B       Param
	x          Buf
	rows       int
	y, dx, xh  Buf
	mean, rstd Buf // doubles
}

// NewLayerNorm mirrors l.
func NewLayerNorm(l *nn.LayerNorm, p *Params) *LayerNorm {
	return &LayerNorm{Dim: l.Dim, Eps: l.Eps, G: p.Of(l.G), B: p.Of(l.B)}
}

// Forward normalises each of rows rows of x.
func (l *LayerNorm) Forward(c *Ctx, x Buf, rows int) Buf {
	l.x, l.rows = x, rows
	y := c.Grow(&l.y, rows*l.Dim)
	mean, rstd := c.Grow(&l.mean, 2*rows), c.Grow(&l.rstd, 2*rows)
	if rows > 0 {
		c.launch("layernorm_fwd", Dim3{rows, 1, 1}, Dim3{128, 1, 1}, y, mean, rstd, x, l.G.Value, l.B.Value, l.Dim, l.Eps)
	}
	return y
}

// Backward adds dG, dB and returns dx.
func (l *LayerNorm) Backward(c *Ctx, dy Buf) Buf {
	dx, xh := c.Grow(&l.dx, l.rows*l.Dim), c.Grow(&l.xh, l.rows*l.Dim)
	if l.rows > 0 {
		c.launch("layernorm_bwd", Dim3{l.rows, 1, 1}, Dim3{128, 1, 1}, dx, xh, dy, l.x, l.mean, l.rstd, l.G.Value, l.Dim)
	}
	c.AddColSums(l.G.Grad, dy, xh, l.rows, l.Dim)
	c.AddColSums(l.B.Grad, dy, Buf{}, l.rows, l.Dim)
	return dx
}

// ---- Activation, Dropout ----

// Activation is nn.Activation on the device.
type Activation struct {
	Kind   Act
	x, out Buf
	y, dx  Buf
}

// Forward returns act(x) (layer-owned).
func (a *Activation) Forward(c *Ctx, x Buf) Buf {
	a.x = x
	y := c.Grow(&a.y, x.N)
	c.ActForward(y, x, a.Kind)
	a.out = y
	return y
}

// Backward returns dx.
func (a *Activation) Backward(c *Ctx, dy Buf) Buf {
	dx := c.Grow(&a.dx, dy.N)
	c.ActBackward(dx, dy, a.x, a.out, a.Kind)
	return dx
}

// Dropout drives an nn.Dropout's masks on the device: the host layer keeps
// the seed and call counter (so checkpoints and resume are unchanged), the
// device applies the mask.
type Dropout struct {
	Host   *nn.Dropout
	active bool
	key    uint64
	thresh uint64
	scale  float32
	y, dx  Buf
}

// Forward applies the mask of the host layer's next call, or returns x in
// evaluation mode or with P = 0.
func (d *Dropout) Forward(c *Ctx, x Buf) Buf {
	d.key, d.thresh, d.scale, d.active = d.Host.NextMask()
	if !d.active {
		return x
	}
	y := c.Grow(&d.y, x.N)
	c.Dropout(y, x, d.key, d.thresh, d.scale)
	return y
}

// Backward applies the same mask to dy.
func (d *Dropout) Backward(c *Ctx, dy Buf) Buf {
	if !d.active {
		return dy
	}
	dx := c.Grow(&d.dx, dy.N)
	c.Dropout(dx, dy, d.key, d.thresh, d.scale)
	return dx
}

// ---- MLP ----

// MLP is nn.MLP on the device: OutDrop(Proj(HiddenDrop(Act(FC(x))))).
type MLP struct {
	FC, Proj            *Linear
	Act                 Activation
	HiddenDrop, OutDrop Dropout
	rows                int
}

// NewMLP mirrors m.
func NewMLP(m *nn.MLP, p *Params) (*MLP, error) {
	k, err := ActOf(m.Act.Kind)
	if err != nil {
		return nil, err
	}
	return &MLP{FC: NewLinear(m.FC, p), Proj: NewLinear(m.Proj, p), Act: Activation{Kind: k},
		HiddenDrop: Dropout{Host: m.HiddenDrop}, OutDrop: Dropout{Host: m.OutDrop}}, nil
}

// Forward maps x [rows, In] to [rows, Out].
func (m *MLP) Forward(c *Ctx, x Buf, rows int) Buf {
	m.rows = rows
	h := m.FC.Forward(c, x, rows)
	h = m.Act.Forward(c, h)
	h = m.HiddenDrop.Forward(c, h)
	h = m.Proj.Forward(c, h, rows)
	return m.OutDrop.Forward(c, h)
}

// Backward returns dx.
func (m *MLP) Backward(c *Ctx, dy Buf) Buf {
	d := m.OutDrop.Backward(c, dy)
	d = m.Proj.Backward(c, d)
	d = m.HiddenDrop.Backward(c, d)
	d = m.Act.Backward(c, d)
	return m.FC.Backward(c, d)
}

// ---- MinRNN ----

// MinRNN is an nn.MinGRU or nn.MinLSTM layer (linear-space scan, zero
// initial state) on the device: the input projection is one SGEMM and the
// gates and scan one fused kernel sequence; a, b are never stored.
type MinRNN struct {
	Cell  Cell
	Inner int
	Proj  *Linear
	Out   *Linear // nil when Inner == Dim
	dims  Dims
	pre   Buf
	keep  Buf
	h     Buf
	dpre  Buf
}

// NewMinRNN mirrors a host layer (its Proj/Out and configuration).
func NewMinRNN(cell Cell, inner int, proj, out *nn.Linear, p *Params) *MinRNN {
	m := &MinRNN{Cell: cell, Inner: inner, Proj: NewLinear(proj, p)}
	if out != nil {
		m.Out = NewLinear(out, p)
	}
	return m
}

// Forward runs x [B, T, Dim] with step mask keep (B·T, or the zero Buf).
func (m *MinRNN) Forward(c *Ctx, x Buf, B, T int, keep Buf) Buf {
	m.dims = Dims{B, T, m.Inner}
	m.keep = keep
	m.pre = m.Proj.Forward(c, x, B*T)
	h := c.Grow(&m.h, B*T*m.Inner)
	c.GateScanForward(h, m.pre, keep, Buf{}, m.Cell, m.dims)
	if m.Out != nil {
		return m.Out.Forward(c, h, B*T)
	}
	return h
}

// Backward returns dx.
func (m *MinRNN) Backward(c *Ctx, dy Buf) Buf {
	dh := dy
	if m.Out != nil {
		dh = m.Out.Backward(c, dy)
	}
	dpre := c.Grow(&m.dpre, m.dims.Len()*m.Cell.Width())
	c.GateScanBackward(dpre, Buf{}, dh, m.pre, m.keep, m.h.At(0, m.dims.Len()), Buf{}, m.Cell, m.dims)
	return m.Proj.Backward(c, dpre)
}

// ---- Embedding ----

// Embedding is nn.Embedding's backward on the device (its forward is fused
// into the token stacking of the model that uses it).
type Embedding struct {
	Num, Dim int
	W        Param
	order    []int32
	start    []int32
	rows     []int32
	end      []int32 // nn.GroupByIndex's run ends
	packed   []int32
	dev      Buf // order | start | rows as int32 words
}

// NewEmbedding mirrors e.
func NewEmbedding(e *nn.Embedding, p *Params) *Embedding {
	return &Embedding{Num: e.Num, Dim: e.Dim, W: p.Of(e.W)}
}

// Backward adds dW[idx[p]] += dy[p] for every position, grouping positions
// by index on the host (nn.GroupByIndex, the CPU layer's stable counting
// sort) so that each row's sum runs in position order on the device.
func (e *Embedding) Backward(c *Ctx, dy Buf, idx []int32) {
	e.end, e.order = nn.GroupByIndex(idx, e.Num, e.end, e.order)
	// One segment per index that occurs: its row and where its run starts.
	e.rows, e.start = e.rows[:0], e.start[:0]
	first := int32(0)
	for v, end := range e.end {
		if end > first {
			e.rows = append(e.rows, int32(v))
			e.start = append(e.start, first)
		}
		first = end
	}
	e.start = append(e.start, int32(len(idx)))
	segs := len(e.rows)
	e.packed = append(append(append(e.packed[:0], e.order...), e.start...), e.rows...)
	buf := c.Grow(&e.dev, len(e.packed))
	c.UploadInt32(buf, e.packed)
	no, ns := len(e.order), len(e.start)
	c.elems("embedding_bwd", segs*e.Dim, e.W.Grad, dy, buf.At(0, no), buf.At(no, ns), buf.At(no+ns, segs), segs, e.Dim)
}
