package policy

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/internal/par"
	"github.com/minrl/minrl/nn"
)

// ModelKind names a policy's model: a Decision model's sequence mixer
// (ModelMinGRU, ModelMinLSTM, ModelDT) or the MLP (ModelBC). Configs,
// checkpoints and the CLI spell kinds this way.
type ModelKind string

// Model kinds.
const (
	ModelMinGRU  ModelKind = "mingru"
	ModelMinLSTM ModelKind = "minlstm"
	ModelDT      ModelKind = "dt" // GPT-2 style Decision Transformer
	ModelBC      ModelKind = "bc" // behaviour cloning with an MLP (MLPConfig)
)

// ModelKinds lists every model kind.
func ModelKinds() []ModelKind { return []ModelKind{ModelMinGRU, ModelMinLSTM, ModelDT, ModelBC} }

// Recurrent reports whether the kind is a minRNN.
func (k ModelKind) Recurrent() bool { return k == ModelMinGRU || k == ModelMinLSTM }

// Context modes of a Decision model.
const (
	// ContextWindow trains on K-step windows and acts by re-running the last
	// K steps from a fresh state at every env step, as the Decision
	// Transformer does.
	ContextWindow = "window"
	// ContextEpisode trains on whole (right-padded) episodes with the
	// parallel scan and acts statefully, O(1) work per env step. Recurrent
	// models only.
	ContextEpisode = "episode"
)

// Config configures a Decision model. DefaultConfig gives the published
// defaults (Decision Transformer's gym/experiment.py, Decision Mamba's for
// the recurrent blocks).
type Config struct {
	// Model is the sequence mixer: ModelMinGRU, ModelMinLSTM or ModelDT.
	Model ModelKind `json:"model"`
	// ObsDim and ActDim are the state and action sizes.
	ObsDim int `json:"obs_dim"`
	ActDim int `json:"act_dim"`
	// Embed is the token width h (128).
	Embed int `json:"embed"`
	// Layers is the number of blocks (3).
	Layers int `json:"layers"`
	// Heads is the number of attention heads (1); dt only, must divide Embed.
	Heads int `json:"heads"`
	// Dropout is the drop probability of the embedding, residual, attention
	// and MLP dropouts (0.1).
	Dropout float64 `json:"dropout"`
	// Act is the activation of the block MLP: "relu", "gelu" or "tanh".
	// Empty means the model's default: relu for dt (the official DT), gelu
	// for the minRNN blocks (Decision Mamba).
	Act string `json:"act"`
	// Expansion is the minRNN state expansion α (1): round(α·Embed) units,
	// projected back to Embed when α ≠ 1.
	Expansion float64 `json:"expansion"`
	// Conv puts a causal depthwise convolution of ConvKernel taps (4)
	// before each minRNN, as the official minRNN code's option.
	Conv       bool `json:"conv"`
	ConvKernel int  `json:"conv_kernel"`
	// MaxEpLen is the size of the timestep table (1000); timesteps must lie
	// in [0, MaxEpLen).
	MaxEpLen int `json:"max_ep_len"`
	// K is the context window in env steps (20): 3K tokens.
	K int `json:"k"`
	// RTGScale divides returns-to-go (1000 for the Gym locomotion tasks).
	RTGScale float64 `json:"rtg_scale"`
	// Context is "window" (default) or "episode" (recurrent models only).
	Context string `json:"context"`
	// NoRTG zeroes the return-to-go input in training and acting alike:
	// the return-to-go ablation (the same architecture and tokens, the
	// return token carrying no information). Absent in older checkpoints.
	NoRTG bool `json:"no_rtg,omitempty"`
}

// DefaultConfig returns the defaults for model (ModelMinGRU, ModelMinLSTM
// or ModelDT) on a task with the given state and action sizes.
func DefaultConfig(model ModelKind, obsDim, actDim int) Config {
	return Config{
		Model: model, ObsDim: obsDim, ActDim: actDim,
		Embed: 128, Layers: 3, Heads: 1, Dropout: 0.1,
		Expansion: 1, ConvKernel: 4,
		MaxEpLen: 1000, K: 20, RTGScale: 1000, Context: ContextWindow,
	}
}

// Recurrent reports whether the model is a minRNN (not the transformer).
func (c Config) Recurrent() bool { return c.Model.Recurrent() }

// Activation is the block MLP's activation, with the model default applied.
func (c Config) Activation() string {
	if c.Act != "" {
		return c.Act
	}
	if c.Model == ModelDT {
		return "relu"
	}
	return "gelu"
}

// maxSize bounds every size in a config, so that a corrupt file cannot ask
// for an absurd model; it is far above anything minrl trains.
const maxSize = 1 << 24

// MaxK bounds the context window.
const MaxK = 4096

// Validate reports every bad field, naming it.
func (c Config) Validate() error {
	var errs []error
	bad := func(field string, v any, why string) {
		errs = append(errs, &FieldError{"Config", field, v, why})
	}
	size := func(field string, v int) {
		if v <= 0 || v > maxSize {
			bad(field, v, fmt.Sprintf("must be in [1, %d]", maxSize))
		}
	}
	switch c.Model {
	case ModelMinGRU, ModelMinLSTM, ModelDT:
	default:
		bad("Model", strconv.Quote(string(c.Model)), `want "mingru", "minlstm" or "dt"`)
	}
	size("ObsDim", c.ObsDim)
	size("ActDim", c.ActDim)
	size("Embed", c.Embed)
	if c.Layers <= 0 || c.Layers > 1024 {
		bad("Layers", c.Layers, "must be in [1, 1024]")
	}
	if c.Model == ModelDT && (c.Heads <= 0 || c.Embed <= 0 || c.Embed%c.Heads != 0) {
		bad("Heads", c.Heads, fmt.Sprintf("must be positive and divide Embed (%d)", c.Embed))
	}
	if !(c.Dropout >= 0 && c.Dropout < 1) {
		bad("Dropout", c.Dropout, "must be in [0, 1)")
	}
	if _, err := nn.ParseAct(c.Activation()); err != nil {
		bad("Act", strconv.Quote(c.Act), err.Error())
	}
	if c.Recurrent() {
		inner := math.Round(c.Expansion * float64(c.Embed))
		if !(c.Expansion > 0) || math.IsInf(c.Expansion, 0) || inner < 1 || inner > maxSize {
			bad("Expansion", c.Expansion, "must be positive, giving between 1 and 2^24 state units")
		}
	}
	if c.Conv {
		if !c.Recurrent() {
			bad("Conv", c.Conv, "the convolution applies to the minRNN blocks only")
		}
		if c.ConvKernel <= 0 || c.ConvKernel > 1024 {
			bad("ConvKernel", c.ConvKernel, "must be in [1, 1024]")
		}
	}
	size("MaxEpLen", c.MaxEpLen)
	// No weight depends on K, so only this bound keeps a hostile file from
	// asking for windows (and DT attention matrices, 9·K² per head) that
	// cannot be allocated.
	if c.K <= 0 || c.K > MaxK {
		bad("K", c.K, fmt.Sprintf("must be in [1, %d]", MaxK))
	}
	// Returns-to-go enter the model as float32(R/RTGScale).
	if !(c.RTGScale >= 1e-6 && c.RTGScale <= 1e9) {
		bad("RTGScale", c.RTGScale, "must be in [1e-6, 1e9]")
	}
	switch c.Context {
	case ContextWindow:
	case ContextEpisode:
		if !c.Recurrent() {
			bad("Context", strconv.Quote(c.Context), "episode context needs a recurrent model (mingru or minlstm)")
		}
	default:
		bad("Context", strconv.Quote(c.Context), `want "window" or "episode"`)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("policy: invalid config: %w", err)
	}
	return nil
}

// block is one residual block of the backbone over the token sequence.
type block interface {
	params() []*nn.Param
	setTrain(train bool)
	// forward maps x [B, T, h] with a token mask keep [B·T] to the block's
	// output (block-owned); backward returns dx (block-owned).
	forward(x *nn.Tensor, keep []float32) *nn.Tensor
	backward(dy *nn.Tensor) *nn.Tensor
	scratchBytes() int
	setDropoutCalls(n uint64)
}

// Decision is a Decision-Transformer-style sequence model: the tokens
// (R̂_t, s_t, a_t) of each step, embedded and interleaved, run through a
// stack of causal blocks (minGRU, minLSTM or GPT-2 attention), and the
// output at each state token predicts a_t.
//
//	e_R = Linear(R̂_t) + E[t],  e_s = Linear(s_t) + E[t],  e_a = Linear(a_t) + E[t]
//	x = Dropout(LN([e_R1, e_s1, e_a1, e_R2, …]))            [B, 3K, h]
//	minRNN block:  x += Dropout(minRNN(Conv?(LN(x))));  x += MLP(LN(x))
//	GPT-2 block:   x += Attn(LN(x));                    x += MLP(LN(x))
//	â_t = tanh(Linear(LN(x)[state token of step t]))
//
// Padded steps (Mask 0) influence no real step: attention gives their keys
// zero weight, a minRNN treats them as the identity of its recurrence, and
// their inputs to the convolution are zeroed. Forward and Backward follow
// nn's conventions (layer-owned outputs, gradients added to Param.Grad, no
// allocation after the first call at a shape).
type Decision struct {
	cfg Config

	EmbedReturn, EmbedState, EmbedAction *nn.Linear
	EmbedTime                            *nn.Embedding
	EmbedLN                              *nn.LayerNorm
	EmbedDrop                            *nn.Dropout
	blocks                               []block
	FinalLN                              *nn.LayerNorm
	Head                                 *nn.Linear // predict_action: h -> act, then tanh
	tanh                                 *nn.Activation
	params                               []*nn.Param

	// Forward state.
	b, k               int
	rIn, sIn, aIn      nn.Tensor // views of the batch
	zeroRTG            []float32 // the return input under NoRTG
	x0                 nn.Tensor // stacked token embeddings [B, 3K, h]
	keep               []float32 // token mask [B·3K]
	hs                 nn.Tensor // outputs at the state tokens [B, K, h]
	eR, eS, eA, eT     *nn.Tensor
	dy                 nn.Tensor // [B, 3K, h]
	dx0                *nn.Tensor
	deR, deS, deA, deT nn.Tensor
	stackK, unstackK   par.Func
	timeShape          [2]int
	step               stepScratch
	recurrentBlocks    []*rnnBlock
}

// NewDecision builds a model, drawing every initial weight from rng:
// PyTorch defaults for the embeddings, head and minRNN blocks; GPT-2's
// initialisation for the transformer blocks (weights N(0, 0.02²), biases 0,
// the two c_proj weights of each block scaled by 1/√(2·Layers)). It starts
// in evaluation mode (no dropout); call SetTrain(true) to train.
func NewDecision(cfg Config, rng *rand.Rand) (*Decision, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	act, _ := nn.ParseAct(cfg.Activation())
	h := cfg.Embed
	m := &Decision{cfg: cfg}
	m.EmbedTime = nn.NewEmbedding("embed_timestep", cfg.MaxEpLen, h, rng)
	m.EmbedReturn = nn.NewLinear("embed_return", 1, h, true, rng)
	m.EmbedState = nn.NewLinear("embed_state", cfg.ObsDim, h, true, rng)
	m.EmbedAction = nn.NewLinear("embed_action", cfg.ActDim, h, true, rng)
	m.EmbedLN = nn.NewLayerNorm("embed_ln", h)
	m.EmbedDrop = nn.NewDropout(cfg.Dropout, rng)
	for l := 0; l < cfg.Layers; l++ {
		name := fmt.Sprintf("blocks.%d", l)
		if cfg.Model == ModelDT {
			m.blocks = append(m.blocks, newDTBlock(name, cfg, act, rng))
		} else {
			b := newRNNBlock(name, cfg, act, rng)
			m.blocks = append(m.blocks, b)
			m.recurrentBlocks = append(m.recurrentBlocks, b)
		}
	}
	m.FinalLN = nn.NewLayerNorm("ln_f", h)
	m.Head = nn.NewLinear("predict_action", h, cfg.ActDim, true, rng)
	m.tanh = nn.NewActivation(nn.ActTanh)

	m.params = append(m.params, m.EmbedTime.Params()...)
	m.params = append(m.params, m.EmbedReturn.Params()...)
	m.params = append(m.params, m.EmbedState.Params()...)
	m.params = append(m.params, m.EmbedAction.Params()...)
	m.params = append(m.params, m.EmbedLN.Params()...)
	for _, b := range m.blocks {
		m.params = append(m.params, b.params()...)
	}
	m.params = append(m.params, m.FinalLN.Params()...)
	m.params = append(m.params, m.Head.Params()...)
	m.stackK, m.unstackK = m.stackRange, m.unstackRange
	m.SetTrain(false)
	return m, nil
}

// Config returns the model's configuration.
func (m *Decision) Config() Config { return m.cfg }

// ObsDim and ActDim are the state and action sizes.
func (m *Decision) ObsDim() int { return m.cfg.ObsDim }
func (m *Decision) ActDim() int { return m.cfg.ActDim }

// Params implements nn.Module, in a fixed order.
func (m *Decision) Params() []*nn.Param { return m.params }

// SetDropoutCalls sets every dropout's count of training Forwards. With
// the model rebuilt from the same seed, setting it to the number of
// training steps taken resumes the exact dropout masks of an uninterrupted
// run.
func (m *Decision) SetDropoutCalls(n uint64) {
	m.EmbedDrop.SetDropoutCalls(n)
	for _, b := range m.blocks {
		b.setDropoutCalls(n)
	}
}

// SetTrain switches every dropout between training and evaluation.
func (m *Decision) SetTrain(train bool) {
	m.EmbedDrop.SetTrain(train)
	for _, b := range m.blocks {
		b.setTrain(train)
	}
}

// view points t at data with shape [b, k, d], without copying.
func view(t *nn.Tensor, data []float32, b, k, d int) {
	t.Shape = append(t.Shape[:0], b, k, d)
	t.Data = data[:b*k*d]
}

func (m *Decision) mustBatch(b *dataset.Batch) {
	c := m.cfg
	n := b.B * b.K
	if b.B <= 0 || b.K <= 0 || b.ObsDim != c.ObsDim || b.ActDim != c.ActDim ||
		len(b.States) < n*c.ObsDim || len(b.Actions) < n*c.ActDim || len(b.RTG) < n ||
		len(b.Timesteps) < n || len(b.Mask) < n {
		panic(fmt.Sprintf("policy: Decision.Forward: batch B=%d K=%d obs %d act %d (%d states, %d actions, %d rtg, %d timesteps, %d mask values); model obs %d act %d",
			b.B, b.K, b.ObsDim, b.ActDim, len(b.States), len(b.Actions), len(b.RTG), len(b.Timesteps), len(b.Mask), c.ObsDim, c.ActDim))
	}
}

// Forward returns the predicted actions [B, K, ActDim] (tanh outputs) for a
// batch of sequences. Padded steps get predictions too, which a loss must
// skip (MaskedMSE does). The batch is read, not copied: leave it unchanged
// until Backward. Timesteps outside [0, MaxEpLen) panic.
func (m *Decision) Forward(b *dataset.Batch) *nn.Tensor {
	m.mustBatch(b)
	B, K, h := b.B, b.K, m.cfg.Embed
	m.b, m.k = B, K
	view(&m.rIn, m.rtgInput(b.RTG[:B*K]), B, K, 1)
	view(&m.sIn, b.States, B, K, m.cfg.ObsDim)
	view(&m.aIn, b.Actions, B, K, m.cfg.ActDim)
	m.eR = m.EmbedReturn.Forward(&m.rIn)
	m.eS = m.EmbedState.Forward(&m.sIn)
	m.eA = m.EmbedAction.Forward(&m.aIn)
	m.timeShape = [2]int{B, K}
	m.eT = m.EmbedTime.Forward(b.Timesteps[:B*K], m.timeShape[:]...)

	m.x0.Resize(B, 3*K, h)
	par.For(B*K, par.Grain(B*K, 16), m.stackK)
	m.keep = tokenMask(m.keep, b.Mask[:B*K])

	x := m.EmbedDrop.Forward(m.EmbedLN.Forward(&m.x0))
	for _, blk := range m.blocks {
		x = blk.forward(x, m.keep)
	}
	y := m.FinalLN.Forward(x)
	m.hs.Resize(B, K, h)
	for i := 0; i < B*K; i++ {
		copy(m.hs.Data[i*h:(i+1)*h], y.Data[(3*i+1)*h:(3*i+2)*h])
	}
	return m.tanh.Forward(m.Head.Forward(&m.hs))
}

// rtgInput is the return-to-go input the model embeds: rtg, or zeros of
// its length under NoRTG.
func (m *Decision) rtgInput(rtg []float32) []float32 {
	if !m.cfg.NoRTG {
		return rtg
	}
	m.zeroRTG = grow(m.zeroRTG, len(rtg))
	clear(m.zeroRTG)
	return m.zeroRTG
}

// stackRange interleaves the token embeddings of steps [lo, hi), each with
// its timestep embedding added: x0[3i+j] = e_j[i] + E[t_i].
func (m *Decision) stackRange(lo, hi int) {
	h := m.cfg.Embed
	for i := lo; i < hi; i++ {
		et := m.eT.Data[i*h : (i+1)*h]
		for j, e := range [3]*nn.Tensor{m.eR, m.eS, m.eA} {
			src, dst := e.Data[i*h:(i+1)*h], m.x0.Data[(3*i+j)*h:(3*i+j+1)*h]
			for c, v := range src {
				dst[c] = v + et[c]
			}
		}
	}
}

// Backward takes ∂L/∂(predicted actions) [B, K, ActDim] and adds every
// parameter's gradient. Rows of padded steps should be zero (MaskedMSE
// makes them so); then no gradient comes from padding.
//
//	dz = dPred·(1 − â²);  dHead, d(state-token outputs) from the head
//	blocks in reverse;  embedding LN;  d e_j[i] = dx0[3i+j],  dE[t_i] += Σ_j dx0[3i+j]
func (m *Decision) Backward(dPred *nn.Tensor) {
	if m.eR == nil {
		panic("policy: Decision.Backward before Forward")
	}
	B, K, h := m.b, m.k, m.cfg.Embed
	dhs := m.Head.Backward(m.tanh.Backward(dPred))
	m.dy.Resize(B, 3*K, h)
	m.dy.Zero()
	for i := 0; i < B*K; i++ {
		copy(m.dy.Data[(3*i+1)*h:(3*i+2)*h], dhs.Data[i*h:(i+1)*h])
	}
	d := m.FinalLN.Backward(&m.dy)
	for l := len(m.blocks) - 1; l >= 0; l-- {
		d = m.blocks[l].backward(d)
	}
	m.dx0 = m.EmbedLN.Backward(m.EmbedDrop.Backward(d))
	for _, t := range []*nn.Tensor{&m.deR, &m.deS, &m.deA, &m.deT} {
		t.Resize(B, K, h)
	}
	par.For(B*K, par.Grain(B*K, 16), m.unstackK)
	m.EmbedReturn.Backward(&m.deR)
	m.EmbedState.Backward(&m.deS)
	m.EmbedAction.Backward(&m.deA)
	m.EmbedTime.Backward(&m.deT)
}

// unstackRange splits dx0 into the three token gradients and their sum
// (the timestep embedding's) for steps [lo, hi).
func (m *Decision) unstackRange(lo, hi int) {
	h := m.cfg.Embed
	for i := lo; i < hi; i++ {
		dr, ds, da := m.deR.Data[i*h:(i+1)*h], m.deS.Data[i*h:(i+1)*h], m.deA.Data[i*h:(i+1)*h]
		copy(dr, m.dx0.Data[3*i*h:(3*i+1)*h])
		copy(ds, m.dx0.Data[(3*i+1)*h:(3*i+2)*h])
		copy(da, m.dx0.Data[(3*i+2)*h:(3*i+3)*h])
		dt := m.deT.Data[i*h : (i+1)*h]
		for c := range dt {
			dt[c] = dr[c] + ds[c] + da[c]
		}
	}
}

// ScratchBytes is the memory the model holds for activations, gradients and
// scratch (its layers included).
func (m *Decision) ScratchBytes() int {
	n := m.EmbedReturn.ScratchBytes() + m.EmbedState.ScratchBytes() + m.EmbedAction.ScratchBytes() +
		m.EmbedTime.ScratchBytes() + m.EmbedLN.ScratchBytes() + m.EmbedDrop.ScratchBytes() +
		m.FinalLN.ScratchBytes() + m.Head.ScratchBytes() + m.tanh.ScratchBytes()
	for _, b := range m.blocks {
		n += b.scratchBytes()
	}
	for _, t := range []*nn.Tensor{&m.x0, &m.hs, &m.dy, &m.deR, &m.deS, &m.deA, &m.deT} {
		n += t.CapBytes()
	}
	return n + 4*cap(m.keep)
}

// ---- blocks ----

// recurrent is what a block needs from nn.MinGRU and nn.MinLSTM.
type recurrent interface {
	Params() []*nn.Param
	ForwardMasked(x *nn.Tensor, h0, keep []float32) *nn.Tensor
	Backward(dy *nn.Tensor) *nn.Tensor
	Step(y, x, state []float32)
	FinalState(dst []float32)
	InitialState(dst []float32)
	ScratchBytes() int
}

// rnnBlock is x += Dropout(minRNN(Conv?(LN(x)))); x += MLP(LN(x)).
type rnnBlock struct {
	h, inner int
	LN1      *nn.LayerNorm
	Conv     *nn.CausalConv1d // nil without the convolution
	RNN      recurrent
	Drop     *nn.Dropout
	LN2      *nn.LayerNorm
	MLP      *nn.MLP

	keep          []float32
	cin, dcin     nn.Tensor // masked convolution input and its gradient
	x1, out       nn.Tensor
	dx1, dx       nn.Tensor
	addX1, addOut residual
	addDX1, addDX residual
}

func newRNNBlock(name string, cfg Config, act nn.ActKind, rng *rand.Rand) *rnnBlock {
	h := cfg.Embed
	b := &rnnBlock{h: h, LN1: nn.NewLayerNorm(name+".ln1", h)}
	if cfg.Conv {
		b.Conv = nn.NewCausalConv1d(name+".conv", h, cfg.ConvKernel, rng)
	}
	rc := nn.MinRNNConfig{Dim: h, Expansion: cfg.Expansion}
	if cfg.Model == ModelMinGRU {
		g := nn.NewMinGRU(name+".rnn", rc, rng)
		b.RNN, b.inner = g, g.Inner
	} else {
		l := nn.NewMinLSTM(name+".rnn", rc, rng)
		b.RNN, b.inner = l, l.Inner
	}
	b.Drop = nn.NewDropout(cfg.Dropout, rng)
	b.LN2 = nn.NewLayerNorm(name+".ln2", h)
	b.MLP = nn.NewMLP(name+".mlp", h, 4*h, h, act, cfg.Dropout, rng)
	b.addX1.init()
	b.addOut.init()
	b.addDX1.init()
	b.addDX.init()
	return b
}

func (b *rnnBlock) params() []*nn.Param {
	ps := append([]*nn.Param(nil), b.LN1.Params()...)
	if b.Conv != nil {
		ps = append(ps, b.Conv.Params()...)
	}
	ps = append(ps, b.RNN.Params()...)
	ps = append(ps, b.LN2.Params()...)
	return append(ps, b.MLP.Params()...)
}

func (b *rnnBlock) setTrain(train bool) {
	b.Drop.SetTrain(train)
	b.MLP.SetTrain(train)
}

// forward: u = Conv(LN1(x) ⊙ keep) (or LN1(x)); x1 = x + Drop(minRNN(u; keep));
// out = x1 + MLP(LN2(x1)).
func (b *rnnBlock) forward(x *nn.Tensor, keep []float32) *nn.Tensor {
	b.keep = keep
	u := b.LN1.Forward(x)
	if b.Conv != nil {
		b.cin.Resize(u.Shape...)
		maskRows(b.cin.Data, u.Data, keep, b.h)
		u = b.Conv.Forward(&b.cin)
	}
	r := b.Drop.Forward(b.RNN.ForwardMasked(u, nil, keep))
	b.x1.Resize(x.Shape...)
	b.addX1.run(b.x1.Data, x.Data, r.Data)
	m := b.MLP.Forward(b.LN2.Forward(&b.x1))
	b.out.Resize(x.Shape...)
	b.addOut.run(b.out.Data, b.x1.Data, m.Data)
	return &b.out
}

// backward: dx1 = dy + LN2ᵀ(MLPᵀ(dy)); du = minRNNᵀ(Dropᵀ(dx1)), through the
// convolution and the mask; dx = dx1 + LN1ᵀ(du).
func (b *rnnBlock) backward(dy *nn.Tensor) *nn.Tensor {
	d2 := b.LN2.Backward(b.MLP.Backward(dy))
	b.dx1.Resize(dy.Shape...)
	b.addDX1.run(b.dx1.Data, dy.Data, d2.Data)
	du := b.RNN.Backward(b.Drop.Backward(&b.dx1))
	if b.Conv != nil {
		dc := b.Conv.Backward(du)
		b.dcin.Resize(dc.Shape...)
		maskRows(b.dcin.Data, dc.Data, b.keep, b.h)
		du = &b.dcin
	}
	d1 := b.LN1.Backward(du)
	b.dx.Resize(dy.Shape...)
	b.addDX.run(b.dx.Data, b.dx1.Data, d1.Data)
	return &b.dx
}

func (b *rnnBlock) setDropoutCalls(n uint64) {
	b.Drop.SetDropoutCalls(n)
	b.MLP.SetDropoutCalls(n)
}

func (b *rnnBlock) scratchBytes() int {
	n := b.LN1.ScratchBytes() + b.RNN.ScratchBytes() + b.Drop.ScratchBytes() + b.LN2.ScratchBytes() + b.MLP.ScratchBytes()
	if b.Conv != nil {
		n += b.Conv.ScratchBytes()
	}
	for _, t := range []*nn.Tensor{&b.cin, &b.dcin, &b.x1, &b.out, &b.dx1, &b.dx} {
		n += t.CapBytes()
	}
	return n
}

// dtBlock is GPT-2's block: x += Attn(LN(x)); x += MLP(LN(x)).
type dtBlock struct {
	LN1  *nn.LayerNorm
	Attn *nn.CausalSelfAttention
	LN2  *nn.LayerNorm
	MLP  *nn.MLP

	x1, out       nn.Tensor
	dx1, dx       nn.Tensor
	addX1, addOut residual
	addDX1, addDX residual
}

func newDTBlock(name string, cfg Config, act nn.ActKind, rng *rand.Rand) *dtBlock {
	h := cfg.Embed
	b := &dtBlock{
		LN1:  nn.NewLayerNorm(name+".ln_1", h),
		Attn: nn.NewCausalSelfAttention(name+".attn", h, cfg.Heads, cfg.Dropout, cfg.Dropout, rng),
		LN2:  nn.NewLayerNorm(name+".ln_2", h),
		MLP:  nn.NewMLP(name+".mlp", h, 4*h, h, act, cfg.Dropout, rng),
	}
	// GPT-2: every Linear N(0, 0.02²) with zero bias; the residual
	// projections (c_proj) scaled by 1/√(2·n_layer).
	projStd := 0.02 / math.Sqrt(2*float64(cfg.Layers))
	nn.InitNormal(b.Attn.Proj.W, rng, projStd)
	nn.InitNormal(b.MLP.FC.W, rng, 0.02)
	nn.InitConst(b.MLP.FC.B, 0)
	nn.InitNormal(b.MLP.Proj.W, rng, projStd)
	nn.InitConst(b.MLP.Proj.B, 0)
	b.addX1.init()
	b.addOut.init()
	b.addDX1.init()
	b.addDX.init()
	return b
}

func (b *dtBlock) setDropoutCalls(n uint64) {
	b.Attn.SetDropoutCalls(n)
	b.MLP.SetDropoutCalls(n)
}

func (b *dtBlock) params() []*nn.Param {
	ps := append([]*nn.Param(nil), b.LN1.Params()...)
	ps = append(ps, b.Attn.Params()...)
	ps = append(ps, b.LN2.Params()...)
	return append(ps, b.MLP.Params()...)
}

func (b *dtBlock) setTrain(train bool) {
	b.Attn.Train = train
	b.MLP.SetTrain(train)
}

func (b *dtBlock) forward(x *nn.Tensor, keep []float32) *nn.Tensor {
	a := b.Attn.ForwardMasked(b.LN1.Forward(x), keep)
	b.x1.Resize(x.Shape...)
	b.addX1.run(b.x1.Data, x.Data, a.Data)
	m := b.MLP.Forward(b.LN2.Forward(&b.x1))
	b.out.Resize(x.Shape...)
	b.addOut.run(b.out.Data, b.x1.Data, m.Data)
	return &b.out
}

func (b *dtBlock) backward(dy *nn.Tensor) *nn.Tensor {
	d2 := b.LN2.Backward(b.MLP.Backward(dy))
	b.dx1.Resize(dy.Shape...)
	b.addDX1.run(b.dx1.Data, dy.Data, d2.Data)
	d1 := b.LN1.Backward(b.Attn.Backward(&b.dx1))
	b.dx.Resize(dy.Shape...)
	b.addDX.run(b.dx.Data, b.dx1.Data, d1.Data)
	return &b.dx
}

func (b *dtBlock) scratchBytes() int {
	n := b.LN1.ScratchBytes() + b.Attn.ScratchBytes() + b.LN2.ScratchBytes() + b.MLP.ScratchBytes()
	for _, t := range []*nn.Tensor{&b.x1, &b.out, &b.dx1, &b.dx} {
		n += t.CapBytes()
	}
	return n
}

// residual computes dst = a + b in parallel with a pre-bound kernel, so the
// residual adds allocate nothing.
type residual struct {
	dst, a, b []float32
	fn        par.Func
}

func (r *residual) init() { r.fn = r.kernel }

func (r *residual) run(dst, a, b []float32) {
	r.dst, r.a, r.b = dst, a, b
	par.For(len(dst), 1<<14, r.fn)
	r.dst, r.a, r.b = nil, nil, nil
}

func (r *residual) kernel(lo, hi int) {
	dst, a, b := r.dst[lo:hi], r.a[lo:hi], r.b[lo:hi]
	for i := range dst {
		dst[i] = a[i] + b[i]
	}
}

// tokenMask sets dst (grown to 3·len(steps)) to the token mask of the step
// mask: each step's three tokens (R̂, s, a) share its value.
func tokenMask(dst, steps []float32) []float32 {
	dst = grow(dst, 3*len(steps))
	for i, v := range steps {
		dst[3*i], dst[3*i+1], dst[3*i+2] = v, v, v
	}
	return dst
}

// maskRows sets dst row r = src row r where keep[r] ≠ 0, else 0 (rows of
// width w).
func maskRows(dst, src, keep []float32, w int) {
	for r, k := range keep {
		if k != 0 {
			copy(dst[r*w:(r+1)*w], src[r*w:(r+1)*w])
		} else {
			clear(dst[r*w : (r+1)*w])
		}
	}
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// ---- stateful (episode-mode) inference ----

// RecurrentState is the carried state of n sequences for stateful
// inference with a recurrent Decision model: per block, the convolution's
// last ConvKernel−1 inputs and the minRNN state; and each sequence's last
// action, whose token is fed with the next step's tokens.
type RecurrentState struct {
	N    int
	conv [][]float32 // per block [N, ConvKernel−1, h]
	rnn  [][]float32 // per block [N, Inner]
	// The action of the previous step, not yet fed, per sequence.
	pending    []float32 // [N, ActDim]
	pendingT   []int32
	hasPending []bool
}

// stepScratch holds the buffers of one stateful step for n sequences.
type stepScratch struct {
	x, cur    nn.Tensor // [n, 3, h]: the step's tokens (a_{t−1}, R̂_t, s_t)
	emb       []float32 // [n, h]
	keep      []float32 // [n·3]
	tok, conv []float32 // [n, h]: one token of every sequence
	last      nn.Tensor // [n, h]: the state tokens' outputs
}

// NewRecurrentState returns fresh states for n sequences. It panics for the
// transformer, which has no recurrent form.
func (m *Decision) NewRecurrentState(n int) *RecurrentState {
	if !m.cfg.Recurrent() {
		panic("policy: NewRecurrentState: the dt model has no recurrent form")
	}
	s := &RecurrentState{N: n, pending: make([]float32, n*m.cfg.ActDim), pendingT: make([]int32, n), hasPending: make([]bool, n)}
	for _, b := range m.recurrentBlocks {
		if b.Conv != nil {
			s.conv = append(s.conv, make([]float32, n*(b.Conv.K-1)*b.h))
		} else {
			s.conv = append(s.conv, nil)
		}
		s.rnn = append(s.rnn, make([]float32, n*b.inner))
	}
	for i := 0; i < n; i++ {
		m.ResetSequence(s, i)
	}
	return s
}

// ResetSequence gives sequence i a fresh state, as at the start of an
// episode.
func (m *Decision) ResetSequence(s *RecurrentState, i int) {
	if i < 0 || i >= s.N {
		panic(fmt.Sprintf("policy: ResetSequence(%d) with %d sequences", i, s.N))
	}
	for l, b := range m.recurrentBlocks {
		if c := s.conv[l]; c != nil {
			w := (b.Conv.K - 1) * b.h
			clear(c[i*w : (i+1)*w])
		}
		b.RNN.InitialState(s.rnn[l][i*b.inner : (i+1)*b.inner])
	}
	s.hasPending[i] = false
}

// StepPredict feeds the current step of every sequence — the previous
// step's action token (given to StepAction), then the return-to-go and
// state tokens (rtg [n] already divided by RTGScale, states [n·ObsDim]
// normalised, timesteps [n] in [0, MaxEpLen)) — and writes the predicted
// actions [n·ActDim]. Follow it with StepAction.
//
// The work is O(1) in the number of steps so far: each block runs the
// three new tokens from its carried state (a sequence at its first step
// has no previous action: that token is masked, the identity of the
// recurrence). Feeding a step's tokens together reads every weight once
// per env step instead of once per token. The result matches Forward over
// the whole episode so far to float32 rounding. It uses the model's
// layers, so it must not run concurrently with Forward.
func (m *Decision) StepPredict(s *RecurrentState, rtg, states []float32, timesteps []int32, actions []float32) {
	c := m.cfg
	if len(rtg) != s.N || len(states) != s.N*c.ObsDim || len(timesteps) != s.N || len(actions) != s.N*c.ActDim {
		panic(fmt.Sprintf("policy: StepPredict: %d rtg, %d state, %d timestep and %d action values for %d sequences (obs %d, act %d)",
			len(rtg), len(states), len(timesteps), len(actions), s.N, c.ObsDim, c.ActDim))
	}
	if !c.Recurrent() {
		panic("policy: the dt model has no recurrent form")
	}
	if len(s.rnn) != len(m.recurrentBlocks) {
		panic("policy: RecurrentState from another model")
	}
	for i, t := range timesteps {
		if t < 0 || int(t) >= c.MaxEpLen {
			panic(fmt.Sprintf("policy: timestep %d of sequence %d outside [0, %d)", t, i, c.MaxEpLen))
		}
	}
	n, h := s.N, c.Embed
	st := &m.step
	st.x.Resize(n, 3, h)
	st.keep = grow(st.keep, 3*n)
	st.emb = grow(st.emb, n*h)
	// Tokens (a_{t−1}, R̂_t, s_t), each embedded plus its timestep's row.
	put := func(tok int, ts []int32) {
		for i := 0; i < n; i++ {
			x, e, te := st.x.Data[(i*3+tok)*h:(i*3+tok+1)*h], st.emb[i*h:(i+1)*h], m.EmbedTime.W.Value.Data[int(ts[i])*h:(int(ts[i])+1)*h]
			for k := range x {
				x[k] = e[k] + te[k]
			}
		}
	}
	m.EmbedAction.Apply(st.emb, s.pending, n)
	put(0, s.pendingT)
	m.EmbedReturn.Apply(st.emb, m.rtgInput(rtg), n)
	put(1, timesteps)
	m.EmbedState.Apply(st.emb, states, n)
	put(2, timesteps)
	for i := 0; i < n; i++ {
		st.keep[3*i], st.keep[3*i+1], st.keep[3*i+2] = 0, 1, 1
		if s.hasPending[i] {
			st.keep[3*i] = 1
		}
	}
	u := m.EmbedLN.Forward(&st.x)
	st.cur.Resize(n, 3, h)
	copy(st.cur.Data, u.Data)
	for l, b := range m.recurrentBlocks {
		b.stepTokens(st, &st.cur, s.conv[l], s.rnn[l])
	}
	st.last.Resize(n, h)
	for i := 0; i < n; i++ {
		copy(st.last.Data[i*h:(i+1)*h], st.cur.Data[(i*3+2)*h:(i*3+3)*h])
	}
	y := m.FinalLN.Forward(&st.last)
	m.Head.Apply(actions, y.Data, n)
	nn.Tanh(actions, actions)
}

// StepAction records the action tokens [n·ActDim] of the current step (the
// actions taken, normally StepPredict's) with their timesteps [n]; the
// next StepPredict feeds them.
func (m *Decision) StepAction(s *RecurrentState, actions []float32, timesteps []int32) {
	if len(actions) != s.N*m.cfg.ActDim || len(timesteps) != s.N {
		panic(fmt.Sprintf("policy: StepAction: %d action and %d timestep values for %d sequences (act %d)",
			len(actions), len(timesteps), s.N, m.cfg.ActDim))
	}
	copy(s.pending, actions)
	copy(s.pendingT, timesteps)
	for i := range s.hasPending {
		s.hasPending[i] = true
	}
}

// stepTokens advances the block over the tokens x [n, L, h] of every
// sequence from its carried state, updating x in place: the block's
// forward (masked tokens are the identity of the recurrence and zero into
// the convolution, as in training), with the states carried in and out.
func (b *rnnBlock) stepTokens(st *stepScratch, x *nn.Tensor, conv, state []float32) {
	n, L, h := x.Shape[0], x.Shape[1], x.Shape[2]
	u := b.LN1.Forward(x)
	src := u
	if b.Conv != nil {
		// The convolution runs token by token from its carried inputs.
		b.cin.Resize(n, L, h)
		maskRows(b.cin.Data, u.Data, st.keep, h)
		st.tok, st.conv = grow(st.tok, n*h), grow(st.conv, n*h)
		for j := 0; j < L; j++ {
			for i := 0; i < n; i++ {
				copy(st.tok[i*h:(i+1)*h], b.cin.Data[(i*L+j)*h:(i*L+j+1)*h])
			}
			b.Conv.Step(st.conv, st.tok, conv, n)
			for i := 0; i < n; i++ {
				copy(b.cin.Data[(i*L+j)*h:(i*L+j+1)*h], st.conv[i*h:(i+1)*h])
			}
		}
		src = &b.cin
	}
	y := b.RNN.ForwardMasked(src, state, st.keep)
	b.RNN.FinalState(state)
	for i, v := range y.Data {
		x.Data[i] += v
	}
	m := b.MLP.Forward(b.LN2.Forward(x))
	for i, v := range m.Data {
		x.Data[i] += v
	}
}

// FieldError is one bad field of a Config or MLPConfig; Validate joins
// them. Config layers above (configs) map Field to their own key names.
type FieldError struct {
	Type  string // "Config" or "MLPConfig"
	Field string // the Go field name, e.g. "Embed"
	Value any
	Why   string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("%s.%s = %v: %s", e.Type, e.Field, e.Value, e.Why)
}
