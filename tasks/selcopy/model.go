package selcopy

import (
	"fmt"
	"math/rand/v2"

	"github.com/minrl/minrl/nn"
)

// Model names.
const (
	ModelMinGRU  = "mingru"
	ModelMinLSTM = "minlstm"
	ModelGRU     = "gru"
	ModelLSTM    = "lstm"
)

// Models lists the model names in the order reports use.
var Models = []string{ModelMinGRU, ModelMinLSTM, ModelGRU, ModelLSTM}

// ModelConfig sizes a model.
type ModelConfig struct {
	Kind      string  // mingru, minlstm, gru or lstm
	Layers    int     // residual blocks
	Dim       int     // residual width d
	Expansion float64 // recurrent state size / d (the paper: 6)
}

// Validate reports a configuration that cannot be built.
func (c ModelConfig) Validate() error {
	switch c.Kind {
	case ModelMinGRU, ModelMinLSTM, ModelGRU, ModelLSTM:
	default:
		return fmt.Errorf("selective copying: unknown model %q (want mingru, minlstm, gru or lstm)", c.Kind)
	}
	switch {
	case c.Layers < 1 || c.Layers > 16:
		return fmt.Errorf("selective copying: %d layers, want 1 to 16", c.Layers)
	case c.Dim < 1 || c.Dim > 4096:
		return fmt.Errorf("selective copying: width %d, want 1 to 4096", c.Dim)
	case !(c.Expansion > 0 && c.Expansion <= 16) || c.inner() < 1:
		return fmt.Errorf("selective copying: expansion %v, want in (0, 16] with at least one state unit", c.Expansion)
	}
	return nil
}

func (c ModelConfig) inner() int { return int(float64(c.Dim)*c.Expansion + 0.5) }

// seqLayer is a recurrent layer over [B, T, d] -> [B, T, d].
type seqLayer interface {
	nn.Module
	forward(x *nn.Tensor) *nn.Tensor
	backward(dy *nn.Tensor) *nn.Tensor
}

// minLayer wraps nn's MinGRU and MinLSTM, run in parallel mode from h0 = 0.
type minLayer struct {
	f interface {
		nn.Module
		Forward(x *nn.Tensor, h0 []float32) *nn.Tensor
		Backward(dy *nn.Tensor) *nn.Tensor
	}
}

func (l minLayer) Params() []*nn.Param               { return l.f.Params() }
func (l minLayer) forward(x *nn.Tensor) *nn.Tensor   { return l.f.Forward(x, nil) }
func (l minLayer) backward(dy *nn.Tensor) *nn.Tensor { return l.f.Backward(dy) }

// rnnLayer is a sequential GRU or LSTM of the expanded state size with a
// projection back to d, the shape of the official minRNN layers.
type rnnLayer struct {
	gru  *nn.GRU
	lstm *nn.LSTM
	out  *nn.Linear // nil when the state is d wide
}

func (l *rnnLayer) Params() []*nn.Param {
	var ps []*nn.Param
	if l.gru != nil {
		ps = l.gru.Params()
	} else {
		ps = l.lstm.Params()
	}
	if l.out != nil {
		ps = append(ps, l.out.Params()...)
	}
	return ps
}

func (l *rnnLayer) forward(x *nn.Tensor) *nn.Tensor {
	var h *nn.Tensor
	if l.gru != nil {
		h = l.gru.Forward(x, nil)
	} else {
		h = l.lstm.Forward(x, nil, nil)
	}
	if l.out != nil {
		h = l.out.Forward(h)
	}
	return h
}

func (l *rnnLayer) backward(dy *nn.Tensor) *nn.Tensor {
	if l.out != nil {
		dy = l.out.Backward(dy)
	}
	if l.gru != nil {
		return l.gru.Backward(dy)
	}
	return l.lstm.Backward(dy)
}

// block is one layer of the official model (models/model.py, without the
// optional convolution and feed-forward): x + RNN(Norm(x)).
type block struct {
	norm *nn.LayerNorm
	rnn  seqLayer
	y    nn.Tensor // x + RNN(Norm(x))
	dx   nn.Tensor
}

// Model is the official selective-copying network: embedding -> blocks of
// x + RNN(Norm(x)) -> Norm -> Linear (no bias) to the vocabulary. The
// official code offers BatchNorm or RMSNorm; minrl's nn has LayerNorm,
// which like RMSNorm normalises each position on its own. Only the last
// Tokens positions are scored, so the final norm and the head run on those
// alone (the same function: both act on each position separately).
type Model struct {
	Cfg    ModelConfig
	Emb    *nn.Embedding
	blocks []*block
	Norm   *nn.LayerNorm
	Head   *nn.Linear

	b, t, k int
	tail    nn.Tensor // [B, K, d]: the last K positions of the last block
	dh      nn.Tensor // [B, T, d]
}

// NewModel builds a model with PyTorch's default initialisations. The
// recurrent input projections (the official to_hidden_and_gate, and a
// GRU/LSTM's input and recurrent weights) are exempt from weight decay, as
// the official training script does; everything else that nn decays is.
func NewModel(cfg ModelConfig, rng *rand.Rand) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d, in := cfg.Dim, cfg.inner()
	m := &Model{Cfg: cfg, Emb: nn.NewEmbedding("emb", Vocab, d, rng)}
	for i := 0; i < cfg.Layers; i++ {
		name := fmt.Sprintf("layers.%d", i)
		bl := &block{norm: nn.NewLayerNorm(name+".norm", d)}
		mcfg := nn.MinRNNConfig{Dim: d, Expansion: float64(in) / float64(d)}
		switch cfg.Kind {
		case ModelMinGRU:
			g := nn.NewMinGRU(name+".rnn", mcfg, rng)
			g.Proj.W.NoDecay = true
			bl.rnn = minLayer{g}
		case ModelMinLSTM:
			g := nn.NewMinLSTM(name+".rnn", mcfg, rng)
			g.Proj.W.NoDecay = true
			bl.rnn = minLayer{g}
		case ModelGRU, ModelLSTM:
			r := &rnnLayer{}
			if cfg.Kind == ModelGRU {
				r.gru = nn.NewGRU(name+".rnn", d, in, rng)
				r.gru.Wx.NoDecay, r.gru.Wh.NoDecay = true, true
			} else {
				r.lstm = nn.NewLSTM(name+".rnn", d, in, rng)
				r.lstm.Wx.NoDecay, r.lstm.Wh.NoDecay = true, true
			}
			if in != d {
				r.out = nn.NewLinear(name+".rnn.out", in, d, true, rng)
			}
			bl.rnn = r
		}
		m.blocks = append(m.blocks, bl)
	}
	m.Norm = nn.NewLayerNorm("norm", d)
	m.Head = nn.NewLinear("head", d, Vocab, false, rng)
	return m, nil
}

// Params implements nn.Module.
func (m *Model) Params() []*nn.Param {
	ps := m.Emb.Params()
	for _, b := range m.blocks {
		ps = append(ps, b.norm.Params()...)
		ps = append(ps, b.rnn.Params()...)
	}
	ps = append(ps, m.Norm.Params()...)
	return append(ps, m.Head.Params()...)
}

// Forward runs inputs x [B, T] and returns the logits of the last k
// positions, [B, k, Vocab], owned by m. x must stay unchanged until
// Backward.
func (m *Model) Forward(x []int32, b, t, k int) *nn.Tensor {
	if b < 1 || t < 1 || k < 1 || k > t || len(x) != b*t {
		panic(fmt.Sprintf("selcopy: Forward with %d inputs for B=%d T=%d, scoring the last %d", len(x), b, t, k))
	}
	m.b, m.t, m.k = b, t, k
	h := m.Emb.Forward(x, b, t)
	for _, bl := range m.blocks {
		r := bl.rnn.forward(bl.norm.Forward(h))
		bl.y.Resize(h.Shape...)
		for i, v := range h.Data {
			bl.y.Data[i] = v + r.Data[i]
		}
		h = &bl.y
	}
	d := m.Cfg.Dim
	m.tail.Resize(b, k, d)
	for i := 0; i < b; i++ {
		copy(m.tail.Data[i*k*d:(i+1)*k*d], h.Data[(i*t+t-k)*d:(i+1)*t*d])
	}
	return m.Head.Forward(m.Norm.Forward(&m.tail))
}

// Backward adds every parameter's gradient for dlogits [B, k, Vocab].
func (m *Model) Backward(dlogits *nn.Tensor) {
	b, t, k, d := m.b, m.t, m.k, m.Cfg.Dim
	dtail := m.Norm.Backward(m.Head.Backward(dlogits))
	m.dh.Resize(b, t, d)
	m.dh.Zero()
	for i := 0; i < b; i++ {
		copy(m.dh.Data[(i*t+t-k)*d:(i+1)*t*d], dtail.Data[i*k*d:(i+1)*k*d])
	}
	dh := &m.dh
	for i := len(m.blocks) - 1; i >= 0; i-- {
		bl := m.blocks[i]
		dx := bl.norm.Backward(bl.rnn.backward(dh))
		bl.dx.Resize(dh.Shape...)
		for j, v := range dh.Data {
			bl.dx.Data[j] = v + dx.Data[j]
		}
		dh = &bl.dx
	}
	m.Emb.Backward(dh)
}
