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
