package export

import (
	"fmt"
	"math"
	"strconv"

	"github.com/minrl/minrl/internal/onnx"
	"github.com/minrl/minrl/policy"
)

// ONNX format constants: IR version 8 and default-domain opset 17, what
// onnx 1.12's checker (Debian python3-onnx) and every ONNX Runtime since
// 1.12 read.
const (
	IRVersion = 8
	Opset     = 17
)

// Export modes.
const (
	// ModeStep exports a recurrent policy's single-step function: the
	// carried state goes in and comes out with every step, O(1) work.
	ModeStep = "step"
	// ModeWindow exports the function of the last K steps (DT, and the
	// recurrent models acting in window context).
	ModeWindow = "window"
)

// DefaultMode is the mode that reproduces how minrl acts with the
// checkpoint: step for a recurrent model trained in episode context,
// window for DT and for recurrent models trained on windows, "" for BC.
func DefaultMode(m policy.Model) string {
	d, ok := m.(*policy.Decision)
	if !ok {
		return ""
	}
	if d.Config().Context == policy.ContextEpisode {
		return ModeStep
	}
	return ModeWindow
}

// Options choose what an export bakes in.
type Options struct {
	// Mode is ModeStep or ModeWindow for Decision models ("" = DefaultMode);
	// BC ignores it.
	Mode string
	// Target is the return the policy is conditioned on, recorded in the
	// metadata (callers feed the return-to-go themselves); NaN: the
	// checkpoint's first target.
	Target float64
	// Version is the minrl version recorded in the file.
	Version string
}

// ONNX builds the ONNX model of a checkpoint's policy. Observations go in
// raw (the normaliser is in the graph), returns-to-go raw (the graph
// divides by rtg_scale), actions and timesteps as the env gives them (the
// graph maps actions to the policy's [−1, 1] and clips timesteps); the
// action comes out in the env's units.
func ONNX(ck *policy.Checkpoint, opt Options) (*onnx.Model, error) {
	b := newBuilder(ck.Model.Params())
	meta := []onnx.KV{{Key: "minrl.env_id", Value: ck.EnvID}, {Key: "minrl.version", Value: opt.Version}}
	switch m := ck.Model.(type) {
	case *policy.MLP:
		b.mlpGraph(m, ck)
		meta = append(meta, onnx.KV{Key: "minrl.kind", Value: string(policy.ModelBC)})
	case *policy.Decision:
		c := m.Config()
		mode := opt.Mode
		if mode == "" {
			mode = DefaultMode(m)
		}
		switch {
		case mode == ModeStep && !c.Recurrent():
			return nil, fmt.Errorf("export: step mode needs a recurrent model (mingru or minlstm), not %q: use --mode window", c.Model)
		case mode != ModeStep && mode != ModeWindow:
			return nil, fmt.Errorf("export: mode %q, want %q or %q", mode, ModeStep, ModeWindow)
		}
		target := opt.Target
		if math.IsNaN(target) && len(ck.Targets) > 0 {
			target = ck.Targets[0]
		}
		if mode == ModeStep {
			b.stepGraph(c, ck)
		} else {
			b.windowGraph(c, ck)
		}
		meta = append(meta,
			onnx.KV{Key: "minrl.kind", Value: string(c.Model)},
			onnx.KV{Key: "minrl.mode", Value: mode},
			onnx.KV{Key: "minrl.k", Value: strconv.Itoa(c.K)},
			onnx.KV{Key: "minrl.max_ep_len", Value: strconv.Itoa(c.MaxEpLen)},
			onnx.KV{Key: "minrl.rtg_scale", Value: strconv.FormatFloat(c.RTGScale, 'g', -1, 64)})
		if !math.IsNaN(target) {
			meta = append(meta, onnx.KV{Key: "minrl.target_return", Value: strconv.FormatFloat(target, 'g', -1, 64)})
		}
	default:
		return nil, fmt.Errorf("export: no ONNX export for a %T", ck.Model)
	}
	b.g.Name = "minrl_policy"
	// The action first: outputs[0] in every runtime.
	for i, o := range b.g.Outputs {
		if o.Name == "action" {
			copy(b.g.Outputs[1:i+1], b.g.Outputs[:i])
			b.g.Outputs[0] = o
		}
	}
	return &onnx.Model{IRVersion: IRVersion, Opset: Opset, Producer: "minrl", ProducerVersion: opt.Version,
		Graph: b.g, Meta: meta}, nil
}

var batch = onnx.Dim{Param: "batch"}

func fixed(n int) onnx.Dim { return onnx.Dim{Value: int64(n)} }

func (b *builder) input(name string, typ onnx.DataType, doc string, shape ...onnx.Dim) string {
	b.g.Inputs = append(b.g.Inputs, onnx.Value{Name: name, Type: typ, Shape: shape, Doc: doc})
	return name
}

func (b *builder) output(name string, typ onnx.DataType, doc string, shape ...onnx.Dim) {
	b.g.Outputs = append(b.g.Outputs, onnx.Value{Name: name, Type: typ, Shape: shape, Doc: doc})
}

// normalize is (obs − mean)/std, or obs without statistics.
func (b *builder) normalize(obs string, n policy.Normalizer) string {
	if len(n.Mean) == 0 {
		return obs
	}
	mean, std := make([]float32, len(n.Mean)), make([]float32, len(n.Std))
	for i := range n.Mean {
		mean[i], std[i] = float32(n.Mean[i]), float32(n.Std[i])
	}
	d := int64(len(mean))
	return b.op("Div", []string{b.op("Sub", []string{obs, b.constF("obs_mean", mean, d)}), b.constF("obs_std", std, d)})
}

// fromUnit maps the policy's [−1, 1] actions to the env's bounds; toUnit
// maps env actions back (clipped), as policy.ActionBounds does.
func (b *builder) fromUnit(u string, bounds *policy.ActionBounds) string {
	if bounds == nil {
		return u
	}
	lo, half := boundsVecs(bounds)
	return b.op("Add", []string{b.constF("action_low", lo, int64(len(lo))),
		b.op("Mul", []string{b.op("Add", []string{u, b.scalarF(1)}), b.constF("action_half_range", half, int64(len(lo)))})})
}

func (b *builder) toUnit(a string, bounds *policy.ActionBounds) string {
	if bounds == nil {
		return a
	}
	lo, half := boundsVecs(bounds)
	u := b.op("Sub", []string{b.op("Div", []string{b.op("Sub", []string{a, b.constF("action_low", lo, int64(len(lo)))}),
		b.constF("action_half_range", half, int64(len(lo)))}), b.scalarF(1)})
	return b.op("Clip", []string{u, b.scalarF(-1), b.scalarF(1)})
}

func boundsVecs(bd *policy.ActionBounds) (lo, half []float32) {
	for i := range bd.Low {
		lo = append(lo, float32(bd.Low[i]))
		half = append(half, float32((bd.High[i]-bd.Low[i])/2))
	}
	return lo, half
}

// ---- BC ----

func (b *builder) mlpGraph(m *policy.MLP, ck *policy.Checkpoint) {
	c := m.Config()
	obs := b.input("observation", onnx.Float, "raw env observations", batch, fixed(c.ObsDim))
	h := b.normalize(obs, ck.Norm)
	for i := range len(c.Hidden) + 1 {
		h = b.linear(h, fmt.Sprintf("net.%d", i))
		if i < len(c.Hidden) {
			h = b.act(h, c.Act)
		}
	}
	b.finish(b.op("Tanh", []string{h}), ck.Bounds, c.ActDim)
}

// finish maps the unit action to the env's units into the "action" output.
func (b *builder) finish(u string, bounds *policy.ActionBounds, actDim int) {
	b.opTo("action", "Identity", []string{b.fromUnit(u, bounds)})
	b.output("action", onnx.Float, "the action, in the env's units", batch, fixed(actDim))
}

// ---- Decision models ----

// timesteps clips raw step indices into the timestep table: min(t, M−1),
// and at least 0.
func (b *builder) clipTime(t string, maxEpLen int) string {
	return b.op("Min", []string{b.op("Max", []string{t, b.constI("time_min", []int64{0})}), b.constI("time_max", []int64{int64(maxEpLen - 1)})})
}

// embed is Linear(x) + E[t] for a token kind.
func (b *builder) embed(x, prefix, ts string) string {
	e := b.linear(x, prefix)
	return b.op("Add", []string{e, b.op("Gather", []string{b.param("embed_timestep.weight"), ts}, attrI("axis", 0))})
}

// stepGraph is the recurrent single-step function, as
// policy.Decision.StepPredict and StepAction compute it: the tokens
// (a_{t−1}, R̂_t, s_t) run through every block from the carried states
// (the action token masked at t = 0).
func (b *builder) stepGraph(c policy.Config, ck *policy.Checkpoint) {
	obs := b.input("observation", onnx.Float, "raw env observation", batch, fixed(c.ObsDim))
	rtg := b.input("return_to_go", onnx.Float, "raw return-to-go: the target return minus the rewards received so far", batch)
	prev := b.input("prev_action", onnx.Float, "the previous step's action in env units (ignored at timestep 0)", batch, fixed(c.ActDim))
	t := b.input("timestep", onnx.Int64, "the step's index in the episode, 0 at reset", batch)
	h, inner := c.Embed, innerUnits(c)
	var states []string
	for l := range c.Layers {
		if c.Conv && c.ConvKernel > 1 {
			states = append(states, b.input(fmt.Sprintf("conv_state.%d", l), onnx.Float, "the block's last conv_kernel−1 convolution inputs (zeros at reset)",
				batch, fixed(c.ConvKernel-1), fixed(h)))
		}
		states = append(states, b.input(fmt.Sprintf("rnn_state.%d", l), onnx.Float, "the block's minRNN state (zeros at reset)", batch, fixed(inner)))
	}

	ts := b.clipTime(t, c.MaxEpLen)
	one := b.constI("one", []int64{1})
	prevT := b.clipTime(b.op("Sub", []string{t, one}), c.MaxEpLen)
	axis1 := b.ints("axis_1", 1)
	unsq := func(x string) string { return b.op("Unsqueeze", []string{x, axis1}) }
	rtgScaled := unsq(b.op("Div", []string{rtg, b.scalarF(float32(c.RTGScale))})) // [B, 1]
	eA := b.embed(b.toUnit(prev, ck.Bounds), "embed_action", prevT)
	eR := b.embed(rtgScaled, "embed_return", ts)
	eS := b.embed(b.normalize(obs, ck.Norm), "embed_state", ts)
	x := b.op("Concat", []string{unsq(eA), unsq(eR), unsq(eS)}, attrI("axis", 1)) // [B, 3, h]
	// keep [B, 3, 1]: the action token only after the first step.
	hasPrev := b.op("Cast", []string{b.op("Greater", []string{t, b.constI("zero", []int64{0})})}, attrI("to", int64(onnx.Float)))
	ones := b.op("Expand", []string{b.scalarF(1), b.op("Shape", []string{rtg})}) // [B]
	keep := b.op("Concat", []string{unsq(hasPrev), unsq(ones), unsq(ones)}, attrI("axis", 1))
	keep = b.op("Unsqueeze", []string{keep, b.ints("axis_2", 2)})

	x = b.layerNorm(x, "embed_ln")
	si := 0
	for l := range c.Layers {
		var conv string
		if c.Conv && c.ConvKernel > 1 {
			conv = states[si]
			si++
		}
		rnn := states[si]
		si++
		var nextConv, nextRNN string
		x, nextConv, nextRNN = b.rnnBlock(c, l, x, keep, conv, unsq(rnn), 3)
		if conv != "" {
			b.opTo("next_conv_state."+strconv.Itoa(l), "Identity", []string{nextConv})
			b.output("next_conv_state."+strconv.Itoa(l), onnx.Float, "conv_state for the next step", batch, fixed(c.ConvKernel-1), fixed(h))
		}
		b.opTo("next_rnn_state."+strconv.Itoa(l), "Identity", []string{b.op("Squeeze", []string{nextRNN, axis1})})
		b.output("next_rnn_state."+strconv.Itoa(l), onnx.Float, "rnn_state for the next step", batch, fixed(inner))
	}
	b.head(c, ck, x, 2)
}

// windowGraph is the function of the last K steps, left-padded, as
// policy.DecisionActor's window context runs it: Decision.Forward over the
// window, the prediction at the last state token.
func (b *builder) windowGraph(c policy.Config, ck *policy.Checkpoint) {
	K := c.K
	obs := b.input("observations", onnx.Float, "the last K raw observations, oldest first, left-padded", batch, fixed(K), fixed(c.ObsDim))
	rtg := b.input("returns_to_go", onnx.Float, "their raw returns-to-go", batch, fixed(K))
	act := b.input("actions", onnx.Float, "their actions in env units (the last one is not read)", batch, fixed(K), fixed(c.ActDim))
	t := b.input("timesteps", onnx.Int64, "their step indices in the episode", batch, fixed(K))
	mask := b.input("mask", onnx.Float, "1 for a real step, 0 for padding", batch, fixed(K))
	ts := b.clipTime(t, c.MaxEpLen)
	axis2 := b.ints("axis_2", 2)
	rtgScaled := b.op("Unsqueeze", []string{b.op("Div", []string{rtg, b.scalarF(float32(c.RTGScale))}), axis2})
	eR := b.embed(rtgScaled, "embed_return", ts)
	eS := b.embed(b.normalize(obs, ck.Norm), "embed_state", ts)
	eA := b.embed(b.toUnit(act, ck.Bounds), "embed_action", ts)
	// Interleave to [B, 3K, h]: R̂_1, s_1, a_1, R̂_2, …
	x := b.op("Concat", []string{b.op("Unsqueeze", []string{eR, axis2}), b.op("Unsqueeze", []string{eS, axis2}),
		b.op("Unsqueeze", []string{eA, axis2})}, attrI("axis", 2))
	x = b.op("Reshape", []string{x, b.ints("shape_tokens", 0, int64(3*K), int64(c.Embed))})
	m3 := b.op("Unsqueeze", []string{mask, axis2})
	keep := b.op("Reshape", []string{b.op("Concat", []string{m3, m3, m3}, attrI("axis", 2)), b.ints("shape_keep", 0, int64(3*K), 1)}) // [B, 3K, 1]
	x = b.layerNorm(x, "embed_ln")
	for l := range c.Layers {
		if c.Model == policy.ModelDT {
			x = b.dtBlock(c, l, x, keep)
		} else {
			x, _, _ = b.rnnBlock(c, l, x, keep, "", "", 3*K)
		}
	}
	b.head(c, ck, x, int64(3*K-2))
}

// head is tanh(Linear(LN_f(x[:, tok]))) in the env's units.
func (b *builder) head(c policy.Config, ck *policy.Checkpoint, x string, tok int64) {
	y := b.op("Gather", []string{x, b.constI("state_token", []int64{tok})}, attrI("axis", 1)) // [B, h]
	y = b.layerNorm(y, "ln_f")
	b.finish(b.op("Tanh", []string{b.linear(y, "predict_action")}), ck.Bounds, c.ActDim)
}

func innerUnits(c policy.Config) int { return int(math.Round(c.Expansion * float64(c.Embed))) }

// rnnBlock is x += minRNN(Conv?(LN1(x))); x += MLP(LN2(x)) over T tokens,
// keep [B, T, 1] the token mask, conv [B, ConvKernel−1, h] and rnn
// [B, 1, inner] the carried states ("" for fresh ones, zeros). It returns
// the block output and the states after the last token.
func (b *builder) rnnBlock(c policy.Config, l int, x, keep, conv, rnn string, T int) (out, nextConv, nextRNN string) {
	p := fmt.Sprintf("blocks.%d", l)
	u := b.layerNorm(x, p+".ln1")
	if c.Conv {
		u, nextConv = b.causalConv(c, p+".conv", b.op("Mul", []string{u, keep}), conv, T)
	}
	I := int64(innerUnits(c))
	pre := b.linear(u, p+".rnn.proj")
	var a, bb string
	gu := func(uu string) string { // g(u) = u + ½ (u ≥ 0), σ(u) (u < 0)
		return b.op("Where", []string{b.op("GreaterOrEqual", []string{uu, b.scalarF(0)}),
			b.op("Add", []string{uu, b.scalarF(0.5)}), b.sigmoid(uu)})
	}
	if c.Model == policy.ModelMinGRU {
		parts := b.opN("Split", 2, []string{pre, b.ints("split_gru", I, I)}, attrI("axis", -1))
		k, uu := parts[0], parts[1]
		a = b.sigmoid(b.op("Neg", []string{k}))
		bb = b.op("Mul", []string{b.sigmoid(k), gu(uu)})
	} else {
		// f' = f/(f+i) = σ(d), i' = σ(−d) with d = log f − log i =
		// softplus(−k_i) − softplus(−k_f): nn's exact form of the
		// normalised gates. The ratio of sigmoids would be 0/0 where
		// ONNX Runtime's sigmoid underflows to 0 (both gates far below 0).
		parts := b.opN("Split", 3, []string{pre, b.ints("split_lstm", I, I, I)}, attrI("axis", -1))
		d := b.op("Sub", []string{b.softplus(b.op("Neg", []string{parts[1]})), b.softplus(b.op("Neg", []string{parts[0]}))})
		a = b.op("Sigmoid", []string{d})
		bb = b.op("Mul", []string{b.op("Sigmoid", []string{b.op("Neg", []string{d})}), gu(parts[2])})
	}
	// A masked token is the identity of the recurrence: a = 1, b = 0.
	keepB := b.op("Cast", []string{keep}, attrI("to", int64(onnx.Bool)))
	a = b.op("Where", []string{keepB, a, b.scalarF(1)})
	bb = b.op("Where", []string{keepB, bb, b.scalarF(0)})
	hs := b.scan(a, bb, rnn, T)
	nextRNN = b.slice(hs, 1, int64(T-1), int64(T))
	y := hs
	if b.hasParam(p + ".rnn.out.weight") {
		y = b.linear(hs, p+".rnn.out")
	}
	x1 := b.op("Add", []string{x, y})
	m := b.linear(b.act(b.linear(b.layerNorm(x1, p+".ln2"), p+".mlp.fc"), c.Activation()), p+".mlp.proj")
	return b.op("Add", []string{x1, m}), nextConv, nextRNN
}

// scan returns h_t = a_t h_{t−1} + b_t for t < T along axis 1 from h0
// ([B, 1, I]; "" for zeros). A few steps run in sequence, as nn's Step;
// a window runs the Hillis-Steele doubling scan of the pairs (a, b),
// log2(T) rounds of (a, b)_t ∘= (a, b)_{t−d}.
func (b *builder) scan(a, bb, h0 string, T int) string {
	if T <= 4 {
		var hs []string
		h := h0
		for t := range T {
			at, bt := b.slice(a, 1, int64(t), int64(t+1)), b.slice(bb, 1, int64(t), int64(t+1))
			if h == "" {
				h = bt
			} else {
				h = b.op("Add", []string{b.op("Mul", []string{at, h}), bt})
			}
			hs = append(hs, h)
		}
		return b.op("Concat", hs, attrI("axis", 1))
	}
	for d := 1; d < T; d *= 2 {
		// Shift by d along time, padding with the identity (1, 0).
		pads := b.ints("pads_scan", 0, int64(d), 0, 0, 0, 0)
		aPrev := b.op("Pad", []string{b.slice(a, 1, 0, int64(T-d)), pads, b.scalarF(1)})
		bPrev := b.op("Pad", []string{b.slice(bb, 1, 0, int64(T-d)), pads, b.scalarF(0)})
		bb = b.op("Add", []string{b.op("Mul", []string{a, bPrev}), bb})
		a = b.op("Mul", []string{a, aPrev})
	}
	if h0 == "" {
		return bb
	}
	return b.op("Add", []string{b.op("Mul", []string{a, h0}), bb})
}

// causalConv is nn.CausalConv1d over T tokens x [B, T, h] from the carried
// inputs state [B, K−1, h] ("" for zeros): y_t = bias + Σ_k W[:, k]·x_{t−(K−1)+k},
// summed in nn's order. It returns y and the next state.
func (b *builder) causalConv(c policy.Config, prefix, x, state string, T int) (y, next string) {
	K := c.ConvKernel
	w := b.params[prefix+".weight"] // [C, K]
	hist := x
	if K > 1 {
		if state == "" {
			hist = b.op("Pad", []string{x, b.ints("pads_conv", 0, int64(K-1), 0, 0, 0, 0), b.scalarF(0)})
		} else {
			hist = b.op("Concat", []string{state, x}, attrI("axis", 1))
		}
	}
	y = b.param(prefix + ".bias")
	for k := range K {
		tap := make([]float32, c.Embed)
		for ch := range tap {
			tap[ch] = w.Data[ch*K+k]
		}
		wk := b.constF(fmt.Sprintf("%s.tap%d", prefix, k), tap, int64(c.Embed))
		y = b.op("Add", []string{y, b.op("Mul", []string{b.slice(hist, 1, int64(k), int64(k+T)), wk})})
	}
	if K > 1 && state != "" {
		next = b.slice(hist, 1, int64(T), int64(T+K-1))
	}
	return y, next
}

// dtBlock is GPT-2's block with the key mask: x += Attn(LN1(x)); x += MLP(LN2(x)).
func (b *builder) dtBlock(c policy.Config, l int, x, keep string) string {
	p := fmt.Sprintf("blocks.%d", l)
	T, h, H := int64(3*c.K), int64(c.Embed), int64(c.Heads)
	dh := h / H
	qkv := b.linear(b.layerNorm(x, p+".ln_1"), p+".attn.c_attn")
	parts := b.opN("Split", 3, []string{qkv, b.ints("split_qkv", h, h, h)}, attrI("axis", -1))
	heads := func(v string) string { // [B, T, h] -> [B, H, T, dh]
		r := b.op("Reshape", []string{v, b.ints("shape_heads", 0, T, H, dh)})
		return b.op("Transpose", []string{r}, attrInts("perm", 0, 2, 1, 3))
	}
	q, k, v := heads(parts[0]), heads(parts[1]), heads(parts[2])
	s := b.op("Mul", []string{b.op("MatMul", []string{q, b.op("Transpose", []string{k}, attrInts("perm", 0, 1, 3, 2))}),
		b.scalarF(float32(1 / math.Sqrt(float64(dh))))})
	// Query i sees keys j ≤ i that are real: causal ∧ keep_j.
	pos := make([]int64, T)
	for i := range pos {
		pos[i] = int64(i)
	}
	rows := b.constI("positions_rows", pos, T, 1)
	cols := b.constI("positions_cols", pos, 1, T)
	causal := b.op("LessOrEqual", []string{cols, rows}) // [T, T]
	keyKeep := b.op("Cast", []string{b.op("Reshape", []string{keep, b.ints("shape_keys", 0, 1, 1, T)})}, attrI("to", int64(onnx.Bool)))
	allowed := b.op("And", []string{causal, keyKeep}) // [B, 1, T, T]
	s = b.op("Where", []string{allowed, s, b.scalarF(-1e9)})
	o := b.op("MatMul", []string{b.op("Softmax", []string{s}, attrI("axis", -1)), v})
	o = b.op("Reshape", []string{b.op("Transpose", []string{o}, attrInts("perm", 0, 2, 1, 3)), b.ints("shape_merge", 0, T, h)})
	x1 := b.op("Add", []string{x, b.linear(o, p+".attn.c_proj")})
	m := b.linear(b.act(b.linear(b.layerNorm(x1, p+".ln_2"), p+".mlp.fc"), c.Activation()), p+".mlp.proj")
	return b.op("Add", []string{x1, m})
}
