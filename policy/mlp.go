package policy

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/nn"
)

// MLPConfig configures the behaviour-cloning MLP.
type MLPConfig struct {
	ObsDim int `json:"obs_dim"`
	ActDim int `json:"act_dim"`
	// Hidden are the hidden layer sizes ([128, 128], as the Decision
	// Transformer's MLPBCModel with n_layer 3, embed 128).
	Hidden []int `json:"hidden"`
	// Act is the hidden activation: "relu" (default), "gelu" or "tanh".
	Act string `json:"act"`
	// Dropout follows each hidden activation (0.1).
	Dropout float64 `json:"dropout"`
}

// DefaultMLPConfig returns the defaults for the given state and action
// sizes. Unlike DT's MLPBCModel, which reads the last K states stacked,
// this MLP reads the current state only.
func DefaultMLPConfig(obsDim, actDim int) MLPConfig {
	return MLPConfig{ObsDim: obsDim, ActDim: actDim, Hidden: []int{128, 128}, Act: "relu", Dropout: 0.1}
}

// Validate reports every bad field, naming it.
func (c MLPConfig) Validate() error {
	var errs []error
	bad := func(field string, v any, why string) {
		errs = append(errs, &FieldError{"MLPConfig", field, v, why})
	}
	if c.ObsDim <= 0 || c.ObsDim > maxSize {
		bad("ObsDim", c.ObsDim, fmt.Sprintf("must be in [1, %d]", maxSize))
	}
	if c.ActDim <= 0 || c.ActDim > maxSize {
		bad("ActDim", c.ActDim, fmt.Sprintf("must be in [1, %d]", maxSize))
	}
	if len(c.Hidden) > 1024 {
		bad("Hidden", len(c.Hidden), "more than 1024 layers")
	}
	for _, h := range c.Hidden {
		if h <= 0 || h > maxSize {
			bad("Hidden", c.Hidden, fmt.Sprintf("sizes must be in [1, %d]", maxSize))
			break
		}
	}
	if _, err := nn.ParseAct(c.Act); err != nil {
		bad("Act", strconv.Quote(c.Act), err.Error())
	}
	if !(c.Dropout >= 0 && c.Dropout < 1) {
		bad("Dropout", c.Dropout, "must be in [0, 1)")
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("policy: invalid MLP config: %w", err)
	}
	return nil
}

// MLP is the behaviour-cloning baseline: s -> [Linear -> act -> Dropout]*
// -> Linear -> tanh -> â, applied to every step of a batch on its own.
// Trained with MaskedMSE, only the real steps' states and actions count.
type MLP struct {
	cfg    MLPConfig
	Layers []*nn.Linear // net.0, net.1, …: len(Hidden)+1 layers (net's)
	net    *nn.Stack
	tanh   *nn.Activation
	params []*nn.Param

	sIn nn.Tensor // view of the batch states
}

// NewMLP builds the model with PyTorch's default initialisation from rng.
// It starts in evaluation mode.
func NewMLP(cfg MLPConfig, rng *rand.Rand) (*MLP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	act, _ := nn.ParseAct(cfg.Act)
	m := &MLP{cfg: cfg, tanh: nn.NewActivation(nn.ActTanh)}
	m.cfg.Hidden = append([]int(nil), cfg.Hidden...)
	in := cfg.ObsDim
	drops := []*nn.Dropout{}
	for i, h := range append(append([]int(nil), cfg.Hidden...), cfg.ActDim) {
		// Each layer's weights, then its dropout's seed: the order of the
		// random draws is part of a seed's meaning.
		m.Layers = append(m.Layers, nn.NewLinear(fmt.Sprintf("net.%d", i), in, h, true, rng))
		if i < len(cfg.Hidden) {
			drops = append(drops, nn.NewDropout(cfg.Dropout, rng))
		}
		in = h
	}
	m.net = nn.NewStack(m.Layers, act, drops)
	m.params = m.net.Params()
	m.SetTrain(false)
	return m, nil
}

// Config returns the model's configuration.
func (m *MLP) Config() MLPConfig {
	c := m.cfg
	c.Hidden = append([]int(nil), c.Hidden...)
	return c
}

// ObsDim and ActDim are the state and action sizes.
func (m *MLP) ObsDim() int { return m.cfg.ObsDim }
func (m *MLP) ActDim() int { return m.cfg.ActDim }

// Params implements nn.Module.
func (m *MLP) Params() []*nn.Param { return m.params }

// SetDropoutCalls sets every dropout's count of training Forwards; see
// Decision.SetDropoutCalls.
func (m *MLP) SetDropoutCalls(n uint64) { m.net.SetDropoutCalls(n) }

// SetTrain switches the dropouts between training and evaluation.
func (m *MLP) SetTrain(train bool) { m.net.SetTrain(train) }

// Forward returns predicted actions [B, K, ActDim] for the batch's states
// (padded steps included; the loss skips them).
func (m *MLP) Forward(b *dataset.Batch) *nn.Tensor {
	n := b.B * b.K
	if b.B <= 0 || b.K <= 0 || b.ObsDim != m.cfg.ObsDim || len(b.States) < n*m.cfg.ObsDim {
		panic(fmt.Sprintf("policy: MLP.Forward: batch B=%d K=%d obs %d with %d state values; model obs %d",
			b.B, b.K, b.ObsDim, len(b.States), m.cfg.ObsDim))
	}
	view(&m.sIn, b.States, b.B, b.K, m.cfg.ObsDim)
	return m.ForwardObs(&m.sIn)
}

// ForwardObs returns the predicted actions [..., ActDim] for normalised
// states x [..., ObsDim]:
//
//	h_0 = x,  h_{i+1} = Drop(act(h_i W_i + b_i)),  â = tanh(h_L W_L + b_L)
func (m *MLP) ForwardObs(x *nn.Tensor) *nn.Tensor { return m.tanh.Forward(m.net.Forward(x)) }

// Backward adds the parameter gradients for dPred [..., ActDim], running
// the layers in reverse.
func (m *MLP) Backward(dPred *nn.Tensor) { m.net.Backward(m.tanh.Backward(dPred)) }

// ScratchBytes is the memory the model holds for activations, gradients
// and scratch.
func (m *MLP) ScratchBytes() int {
	return m.tanh.ScratchBytes() + m.sIn.CapBytes() + m.net.ScratchBytes()
}
