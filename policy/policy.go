// Package policy holds minrl's policies: the Decision model (a
// Decision-Transformer-style sequence model whose mixer is minGRU, minLSTM
// or GPT-2 attention), an MLP behaviour-cloning baseline, the actors that
// play them in environments, and their checkpoints.
//
// A trainer runs, per step:
//
//	batch (dataset.Batch) -> model.Forward(batch) -> predicted actions
//	-> MaskedMSE(pred, batch, dPred) -> model.Backward(dPred)
//	-> AdamW over model.Params()
//
// A runner plays N episodes in lockstep through the Policy interface:
// Reset(N) once, Act with the N observations (and the rewards of the
// previous actions) each step, ResetEnv(i) whenever env i starts a new
// episode. Actors allocate nothing per Act in steady state.
//
// The Decision model has two context modes. "window" trains on K-step
// windows and acts by re-running the last K steps every env step (the
// Decision Transformer's evaluate_episode_rtg). "episode" (minGRU/minLSTM
// only) trains on whole right-padded episodes with the parallel scan and
// acts statefully: each env step feeds its three tokens through every
// block's sequential form, O(1) work per step.
//
// Checkpoints are safetensors files: the weights as F32 tensors and, in
// the metadata, the config, the state normaliser, the env id, the target
// returns and free-form strings; optimiser state can ride along as extra
// tensors.
package policy

import (
	"errors"
	"fmt"
	"math"

	"github.com/minrl/minrl/dataset"
	"github.com/minrl/minrl/eval"
	"github.com/minrl/minrl/nn"
)

// Model is a trainable policy network: Decision or MLP.
type Model interface {
	nn.Module
	ObsDim() int
	ActDim() int
	// SetTrain switches dropout on (training) or off (evaluation).
	SetTrain(train bool)
	// Forward returns predicted actions [B, K, ActDim] for the batch,
	// owned by the model and valid until its next Forward.
	Forward(b *dataset.Batch) *nn.Tensor
	// Backward adds the parameter gradients for ∂L/∂(predicted actions).
	Backward(dPred *nn.Tensor)
}

// DropoutResumer is a Model with dropout that can resume its masks: a
// trainer resuming at step n sets every dropout's count of training
// Forwards to n, so later masks match an uninterrupted run's. Decision
// and MLP implement it.
type DropoutResumer interface {
	SetDropoutCalls(n uint64)
}

// MaskedMSE is the Decision Transformer's loss: the mean squared error
// between predicted and dataset actions over the real steps (Mask ≠ 0),
// averaged over steps and action dimensions,
//
//	L = Σ_{real i, j} (pred_ij − a_ij)² / (N_real · ActDim).
//
// It writes ∂L/∂pred into dPred (resized to pred's shape; zero on padded
// steps) and returns L, summed in float64. With no real step, L = 0.
func MaskedMSE(pred *nn.Tensor, b *dataset.Batch, dPred *nn.Tensor) float64 {
	n, A := b.B*b.K, b.ActDim
	if pred.Len() != n*A || len(b.Actions) < n*A || len(b.Mask) < n {
		panic(fmt.Sprintf("policy: MaskedMSE: prediction shape %v for a batch B=%d K=%d act %d", pred.Shape, b.B, b.K, A))
	}
	dPred.Resize(pred.Shape...)
	real := 0
	for _, m := range b.Mask[:n] {
		if m != 0 {
			real++
		}
	}
	if real == 0 {
		dPred.Zero()
		return 0
	}
	inv := 1 / float64(real*A)
	var sum float64
	for i := 0; i < n; i++ {
		p, a, d := pred.Data[i*A:(i+1)*A], b.Actions[i*A:(i+1)*A], dPred.Data[i*A:(i+1)*A]
		if b.Mask[i] == 0 {
			clear(d)
			continue
		}
		for j, v := range p {
			e := float64(v) - float64(a[j])
			sum += e * e
			d[j] = float32(2 * inv * e)
		}
	}
	return sum * inv
}

// Normalizer standardises states with the training data's statistics:
// dataset's type, so that the statistics a dataset carries are the ones a
// checkpoint stores and an actor applies. Empty statistics are the
// identity.
type Normalizer = dataset.Normalizer

// Policy is what a runner plays: n environments in lockstep. It is
// eval.Policy (ObsDim, ActDim, Reset(n), Act) plus ResetEnv, for runners
// whose environments auto-reset one at a time. minrl's actors' Act reads
// the n observations [n·ObsDim] and the rewards [n] received for the
// previous actions (ignored at an episode's first step) and writes the n
// actions [n·ActDim]; non-finite observations or rewards are errors, and
// so is an action that overflowed (ErrNonFiniteAction).
type Policy interface {
	eval.Policy
	// ResetEnv starts a fresh episode in env i (after an auto-reset).
	ResetEnv(i int)
}

// ErrNotReset is returned by Act before Reset.
var ErrNotReset = errors.New("policy: Act before Reset")

func checkAct(n, obsDim, actDim int, obs, rewards, actions []float64) error {
	if n == 0 {
		return ErrNotReset
	}
	if len(obs) != n*obsDim || len(rewards) != n || len(actions) != n*actDim {
		return fmt.Errorf("policy: Act with %d observation, %d reward and %d action values for %d envs (obs %d, act %d)",
			len(obs), len(rewards), len(actions), n, obsDim, actDim)
	}
	for i, v := range obs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("policy: observation %d of env %d is %g", i%obsDim, i/obsDim, v)
		}
	}
	for i, v := range rewards {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("policy: reward of env %d is %g", i, v)
		}
	}
	return nil
}

// ErrNonFiniteAction is returned by Act when the model's output overflowed,
// for instance on an observation far outside float32 range once normalised.
var ErrNonFiniteAction = errors.New("policy: the model produced a non-finite action (an input out of float32 range?)")

func checkActions(actions []float64) error {
	for _, v := range actions {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return ErrNonFiniteAction
		}
	}
	return nil
}

// DecisionActor plays a Decision model, conditioned on a target return:
// the return-to-go starts at target/RTGScale and drops by reward/RTGScale
// each step (evaluate_episode_rtg). Timesteps past MaxEpLen−1 are clipped.
//
// In window context it keeps each env's last K steps as a left-padded
// window and re-runs the model over it every step; in episode context it
// keeps each env's recurrent state and feeds only the new tokens. Act puts
// the model in evaluation mode (a trainer sets training mode again before
// its next step) and uses the model's layers: do not train and act at the
// same time.
type DecisionActor struct {
	m       *Decision
	norm    Normalizer
	target  float64
	context string

	n    int
	t    []int     // step index of each env's episode
	togo []float64 // raw return-to-go of each env

	// window context
	win dataset.Batch
	// episode context
	state                *RecurrentState
	rtg, obs, act        []float32
	ts                   []int32
	obsDim, actDim, winK int
}

// NewDecisionActor returns an actor for m with state statistics norm and a
// target return (raw, not scaled). context is "window", "episode" or ""
// (the model's own); episode context needs a recurrent model.
func NewDecisionActor(m *Decision, norm Normalizer, target float64, context string) (*DecisionActor, error) {
	c := m.Config()
	if context == "" {
		context = c.Context
	}
	switch context {
	case ContextWindow:
	case ContextEpisode:
		if !c.Recurrent() {
			return nil, fmt.Errorf("policy: episode context needs a recurrent model, not %q", c.Model)
		}
	default:
		return nil, fmt.Errorf("policy: context %q, want \"window\" or \"episode\"", context)
	}
	if err := norm.Validate(c.ObsDim); err != nil {
		return nil, err
	}
	if err := checkTarget(target, c.RTGScale); err != nil {
		return nil, err
	}
	return &DecisionActor{m: m, norm: norm, target: target, context: context,
		obsDim: c.ObsDim, actDim: c.ActDim, winK: c.K}, nil
}

// ObsDim and ActDim implement Policy.
func (a *DecisionActor) ObsDim() int { return a.obsDim }
func (a *DecisionActor) ActDim() int { return a.actDim }

// Context is "window" or "episode".
func (a *DecisionActor) Context() string { return a.context }

// SetTarget changes the target return of episodes started from now on.
func (a *DecisionActor) SetTarget(target float64) error {
	if err := checkTarget(target, a.m.Config().RTGScale); err != nil {
		return err
	}
	a.target = target
	return nil
}

// checkTarget accepts a target return that the model reads as a finite
// float32 return-to-go.
func checkTarget(target, rtgScale float64) error {
	if r := float32(target / rtgScale); math.IsNaN(float64(r)) || math.IsInf(float64(r), 0) {
		return fmt.Errorf("policy: target return %g: want a finite value whose target/rtg_scale (%g) fits a float32", target, rtgScale)
	}
	return nil
}

// Reset implements Policy.
func (a *DecisionActor) Reset(n int) {
	if n <= 0 {
		panic(fmt.Sprintf("policy: Reset(%d)", n))
	}
	a.n = n
	a.t = grow(a.t, n)
	a.togo = grow(a.togo, n)
	if a.context == ContextWindow {
		a.win.Resize(n, a.winK, a.obsDim, a.actDim)
	} else {
		if a.state == nil || a.state.N != n {
			a.state = a.m.NewRecurrentState(n)
		}
		a.rtg = grow(a.rtg, n)
		a.ts = grow(a.ts, n)
		a.obs = grow(a.obs, n*a.obsDim)
		a.act = grow(a.act, n*a.actDim)
	}
	for i := 0; i < n; i++ {
		a.ResetEnv(i)
	}
}

// ResetEnv implements Policy.
func (a *DecisionActor) ResetEnv(i int) {
	if i < 0 || i >= a.n {
		panic(fmt.Sprintf("policy: ResetEnv(%d) with %d envs", i, a.n))
	}
	a.t[i], a.togo[i] = 0, a.target
	if a.context == ContextEpisode {
		a.m.ResetSequence(a.state, i)
		return
	}
	// An empty window: every step padding (zeros, mask 0).
	K, w := a.winK, &a.win
	clear(w.States[i*K*a.obsDim : (i+1)*K*a.obsDim])
	clear(w.Actions[i*K*a.actDim : (i+1)*K*a.actDim])
	clear(w.Rewards[i*K : (i+1)*K])
	clear(w.RTG[i*K : (i+1)*K])
	clear(w.Timesteps[i*K : (i+1)*K])
	clear(w.Mask[i*K : (i+1)*K])
}

// Act implements Policy.
func (a *DecisionActor) Act(obs, rewards, actions []float64) error {
	if err := checkAct(a.n, a.obsDim, a.actDim, obs, rewards, actions); err != nil {
		return err
	}
	a.m.SetTrain(false)
	c := a.m.Config()
	for i := 0; i < a.n; i++ {
		if a.t[i] > 0 {
			a.togo[i] -= rewards[i]
		}
	}
	if a.context == ContextEpisode {
		a.actEpisode(obs, actions, c)
	} else {
		a.actWindow(obs, actions, c)
	}
	for i := range a.t[:a.n] {
		a.t[i]++
	}
	return checkActions(actions)
}

func (a *DecisionActor) timestep(i int, c Config) int32 { return int32(min(a.t[i], c.MaxEpLen-1)) }

// actWindow shifts each env's window one step left, appends the new step
// (action placeholder 0) and reads the prediction at the last state token.
func (a *DecisionActor) actWindow(obs, actions []float64, c Config) {
	K, O, A, w := a.winK, a.obsDim, a.actDim, &a.win
	for i := 0; i < a.n; i++ {
		copy(w.States[i*K*O:], w.States[i*K*O+O:(i+1)*K*O])
		copy(w.Actions[i*K*A:], w.Actions[i*K*A+A:(i+1)*K*A])
		copy(w.RTG[i*K:], w.RTG[i*K+1:(i+1)*K])
		copy(w.Timesteps[i*K:], w.Timesteps[i*K+1:(i+1)*K])
		copy(w.Mask[i*K:], w.Mask[i*K+1:(i+1)*K])
		last := i*K + K - 1
		a.norm.Apply(w.States[last*O:(last+1)*O], obs[i*O:(i+1)*O])
		clear(w.Actions[last*A : (last+1)*A])
		w.RTG[last] = float32(a.togo[i] / c.RTGScale)
		w.Timesteps[last] = a.timestep(i, c)
		w.Mask[last] = 1
	}
	pred := a.m.Forward(w)
	for i := 0; i < a.n; i++ {
		last := i*K + K - 1
		p := pred.Data[last*A : (last+1)*A]
		copy(w.Actions[last*A:(last+1)*A], p)
		for j, v := range p {
			actions[i*A+j] = float64(v)
		}
	}
}

// actEpisode feeds the new step's return and state tokens, predicts, and
// feeds the action token.
func (a *DecisionActor) actEpisode(obs, actions []float64, c Config) {
	for i := 0; i < a.n; i++ {
		a.rtg[i] = float32(a.togo[i] / c.RTGScale)
		a.ts[i] = a.timestep(i, c)
	}
	a.norm.Apply(a.obs, obs)
	a.m.StepPredict(a.state, a.rtg, a.obs, a.ts, a.act)
	a.m.StepAction(a.state, a.act, a.ts)
	for i, v := range a.act {
		actions[i] = float64(v)
	}
}

// MLPActor plays an MLP policy: normalise the observation, predict.
type MLPActor struct {
	m    *MLP
	norm Normalizer
	n    int
	x    nn.Tensor
	rows [2]int
}

// NewMLPActor returns an actor for m with state statistics norm.
func NewMLPActor(m *MLP, norm Normalizer) (*MLPActor, error) {
	if err := norm.Validate(m.ObsDim()); err != nil {
		return nil, err
	}
	return &MLPActor{m: m, norm: norm}, nil
}

// ObsDim and ActDim implement Policy.
func (a *MLPActor) ObsDim() int { return a.m.ObsDim() }
func (a *MLPActor) ActDim() int { return a.m.ActDim() }

// Reset implements Policy.
func (a *MLPActor) Reset(n int) {
	if n <= 0 {
		panic(fmt.Sprintf("policy: Reset(%d)", n))
	}
	a.n = n
	a.rows = [2]int{n, a.m.ObsDim()}
	a.x.Resize(a.rows[:]...)
}

// ResetEnv implements Policy: the MLP keeps no history.
func (a *MLPActor) ResetEnv(i int) {
	if i < 0 || i >= a.n {
		panic(fmt.Sprintf("policy: ResetEnv(%d) with %d envs", i, a.n))
	}
}

// Act implements Policy; it puts the model in evaluation mode.
func (a *MLPActor) Act(obs, rewards, actions []float64) error {
	if err := checkAct(a.n, a.m.ObsDim(), a.m.ActDim(), obs, rewards, actions); err != nil {
		return err
	}
	a.m.SetTrain(false)
	a.norm.Apply(a.x.Data, obs)
	y := a.m.ForwardObs(&a.x)
	for i, v := range y.Data {
		actions[i] = float64(v)
	}
	return checkActions(actions)
}
